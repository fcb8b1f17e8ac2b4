"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

One run, one tool (``gorules``), every rule of the policy with its doc page as
help, columns in UTF-16 code units, repository-relative URIs under
``%SRCROOT%`` (the scan root), ``automationDetails.id = "gorules/"``, GitHub's
``primaryLocationLineHash`` computed exactly as ``codeql-action`` would (see
:mod:`.fingerprints`) plus our own line-number-free ``gorules/v1`` fingerprint,
and rule fixes as SARIF ``fixes``. The output is deterministic: no timestamps,
no absolute paths. docs/output-formats.md describes every field.
"""

from __future__ import annotations

import gzip
import inspect
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..model import Finding, RuleInfo
from .fingerprints import FINGERPRINT_KEY, file_line_hashes, read_source_text, report_fingerprints

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Pack
    from ..engine import ScanResult

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "gorules"
AUTOMATION_ID = "gorules/"
SRCROOT = "%SRCROOT%"
LEVELS = ("error", "warning", "note")
#: GitHub's per-field limits (characters), see sarif-notes.md.
_DESC_LIMIT = 1024
_NAME_LIMIT = 255


# ---------------------------------------------------------------------------
# Fixes: the shape a rule attaches to Finding.fix


def fix_problems(fix: Any) -> list[str]:
    """What is wrong with a ``Finding.fix`` value (empty list: well-formed).

    Shape (docs/output-formats.md, "Fixes")::

        {"description": "add // indirect",
         "replacements": [{"path": "go.mod", "start_line": 7, "end_line": 7,
                           "new_text": "\\tgolang.org/x/sys v0.1.0 // indirect"}]}

    Each replacement replaces the text of lines ``start_line``..``end_line``
    (1-based, inclusive, without the last line's line terminator) with
    ``new_text``; replacements of one file must not overlap.
    """
    problems: list[str] = []
    if not isinstance(fix, dict):
        return [f"fix must be a dict, not {type(fix).__name__}"]
    unknown = set(fix) - {"description", "replacements"}
    if unknown:
        problems.append(f"unknown fix key(s) {sorted(unknown)}; allowed: description, replacements")
    desc = fix.get("description")
    if not isinstance(desc, str) or not desc.strip():
        problems.append("fix.description must be a non-empty string")
    reps = fix.get("replacements")
    if not isinstance(reps, list) or not reps:
        problems.append("fix.replacements must be a non-empty list")
        return problems
    spans: dict[str, list[tuple[int, int]]] = {}
    for i, r in enumerate(reps):
        where = f"fix.replacements[{i}]"
        if not isinstance(r, dict):
            problems.append(f"{where} must be a dict")
            continue
        unknown = set(r) - {"path", "start_line", "end_line", "new_text"}
        if unknown:
            problems.append(f"{where}: unknown key(s) {sorted(unknown)}; allowed: path, start_line, end_line, new_text")
        path = r.get("path")
        if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path or ".." in path.split("/"):
            problems.append(f"{where}.path must be a scan-root-relative path with forward slashes, got {path!r}")
        s, e = r.get("start_line"), r.get("end_line")
        if not (isinstance(s, int) and not isinstance(s, bool) and s >= 1):
            problems.append(f"{where}.start_line must be an integer >= 1, got {s!r}")
            continue
        if not (isinstance(e, int) and not isinstance(e, bool) and e >= s):
            problems.append(f"{where}.end_line must be an integer >= start_line ({s}), got {e!r}")
            continue
        if not isinstance(r.get("new_text"), str):
            problems.append(f"{where}.new_text must be a string (use \"\" to empty the lines)")
        if isinstance(path, str):
            for (s2, e2) in spans.get(path, []):
                if s <= e2 and s2 <= e:
                    problems.append(f"{where} overlaps lines {s2}-{e2} of {path}")
            spans.setdefault(path, []).append((s, e))
    return problems


def check_fix(f: Finding) -> None:
    """Raise ValueError naming the rule and place if ``f.fix`` is malformed."""
    if f.fix is None:
        return
    problems = fix_problems(f.fix)
    if problems:
        raise ValueError(
            f"{f.path}:{f.line}: {f.code} attached a malformed fix ({'; '.join(problems)}). "
            f"This is a bug in the rule: re-run with --ignore {f.code} to get a report, and report it"
        )


# ---------------------------------------------------------------------------
# Helpers


def artifact_uri(path: str, root: Path) -> tuple[str, str | None]:
    """``(uri, uriBaseId)`` for a finding path: relative under %SRCROOT%, or absolute outside it."""
    if path.startswith("../") or path == ".." or path.startswith("/"):
        return (root / path).resolve().as_uri(), None
    # RFC 3986 path segments; ':' is escaped so "a:b.go" cannot read as a scheme.
    return quote(path, safe="/-._~!$&'()*+,;=@"), SRCROOT


def _pascal(slug: str) -> str:
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", slug) if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or slug


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def doc_page(code: str, info: RuleInfo | None) -> str:
    """The rule's doc page: RuleInfo.doc (custom rules) or the check module's docstring."""
    if info is not None and info.doc.strip():
        return inspect.cleandoc(info.doc)
    try:
        from ..checks import module_doc

        return inspect.cleandoc(module_doc(code) or "")
    except Exception:  # a broken check module must not break the report
        return ""


def _paragraphs(doc: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", doc) if p.strip()]


def rule_descriptor(code: str, info: RuleInfo | None, docs_url: str) -> dict[str, Any]:
    slug = info.slug if info else code.lower()
    summary = (info.summary if info else "") or slug
    doc = doc_page(code, info)
    paras = _paragraphs(doc)
    # the doc page's first line is its title; the paragraph after it says why
    full = paras[1] if len(paras) > 1 and not paras[1].startswith(("#", "`")) else (paras[0] if paras else summary)
    full = " ".join(full.split())
    url = f"{docs_url.rstrip('/')}/{code}" if docs_url else ""
    if doc:
        help_md = f"# {code} {slug}\n\n{doc}"
        help_text = f"{code} {slug}\n\n{doc}"
    else:
        lines = [f"{code} {slug}: {summary}"]
        if info and info.messages:
            lines.append("")
            lines.append("Messages:")
            lines.extend(f"- {k}: {v}" for k, v in sorted(info.messages.items()))
        lines.append("")
        lines.append(f"Suppress with `// gorules:ignore {code} -- <reason>` on the line or the line above.")
        help_text = help_md = "\n".join(lines)
    if url:
        help_md += f"\n\n[{code} documentation]({url})"
        help_text += f"\n\nDocumentation: {url}"
    tags = [t for t in (info.tags if info else ()) if t][:20]
    desc: dict[str, Any] = {
        "id": code,
        "name": _clip(_pascal(slug), _NAME_LIMIT),
        "shortDescription": {"text": _clip(summary, _DESC_LIMIT)},
        "fullDescription": {"text": _clip(full, _DESC_LIMIT)},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": info.severity if info else "warning"},
        "properties": {"tags": tags, "precision": getattr(info, "precision", None) or "high"},
    }
    if info is not None and not info.enabled:
        desc["defaultConfiguration"]["enabled"] = False
    if url:
        desc["helpUri"] = url
    return desc


def _region(f: Finding) -> dict[str, Any]:
    line = max(f.line, 1)
    end_line = max(f.end_line or line, line)
    col = max(f.column_utf16 or 1, 1)
    region: dict[str, Any] = {"startLine": line, "startColumn": col, "endLine": end_line}
    end_col = f.end_column_utf16
    if not end_col and f.source_line and end_line == line:
        end_col = len(f.source_line.encode("utf-16-le")) // 2 + 1
    if end_col and (end_line > line or end_col >= col):
        region["endColumn"] = end_col
    return region


class _Sources:
    """Lazily read files under the scan root, for line hashes and fix regions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lines: dict[str, list[str] | None] = {}

    def lines(self, path: str) -> list[str] | None:
        if path not in self._lines:
            text = read_source_text(self.root / path)
            self._lines[path] = None if text is None else re.split(r"\r\n|\r|\n", text)
        return self._lines[path]


def _fix(f: Finding, root: Path, sources: _Sources) -> dict[str, Any]:
    assert f.fix is not None
    changes: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(f.fix["replacements"], key=lambda r: (r["path"], r["start_line"])):
        deleted: dict[str, Any] = {"startLine": r["start_line"], "startColumn": 1, "endLine": r["end_line"]}
        lines = sources.lines(r["path"])
        if lines is not None and r["end_line"] <= len(lines):
            # the end of the last line, before its terminator, in UTF-16 units
            deleted["endColumn"] = len(lines[r["end_line"] - 1].encode("utf-16-le")) // 2 + 1
        # (without the file, SARIF's default endColumn is that same end of line)
        changes.setdefault(r["path"], []).append(
            {"deletedRegion": deleted, "insertedContent": {"text": r["new_text"]}}
        )
    artifact_changes = []
    for path, reps in changes.items():
        uri, base = artifact_uri(path, root)
        loc: dict[str, Any] = {"uri": uri}
        if base:
            loc["uriBaseId"] = base
        artifact_changes.append({"artifactLocation": loc, "replacements": reps})
    return {"description": {"text": f.fix["description"]}, "artifactChanges": artifact_changes}


# ---------------------------------------------------------------------------


def build(result: "ScanResult", *, tool_version: str, pack: "Pack | None" = None) -> dict[str, Any]:
    """The SARIF log as a dict (see :func:`render`)."""
    if pack is None:
        from ..config import load_pack

        pack = load_pack()
    root = Path(result.root)
    findings: list[Finding] = list(result.findings)
    for f in findings:
        check_fix(f)
        if f.severity not in LEVELS:
            raise ValueError(f"{f.path}:{f.line}: {f.code} has severity {f.severity!r}; expected one of {', '.join(LEVELS)}")

    codes = sorted(set(result.rules) | {f.code for f in findings})
    rules = [rule_descriptor(c, result.rules.get(c), pack.docs) for c in codes]
    index = {c: i for i, c in enumerate(codes)}

    sources = _Sources(root)
    wanted: dict[str, set[int]] = {}
    for f in findings:
        if artifact_uri(f.path, root)[1] is not None:
            wanted.setdefault(f.path, set()).add(max(f.line, 1))
    hashes = {p: file_line_hashes(root / p, lines) for p, lines in sorted(wanted.items())}

    fps = report_fingerprints(findings)
    results = []
    for f, fp in zip(findings, fps):
        uri, base = artifact_uri(f.path, root)
        loc: dict[str, Any] = {"uri": uri}
        if base:
            loc["uriBaseId"] = base
        partial: dict[str, str] = {}
        line_hash = hashes.get(f.path, {}).get(max(f.line, 1))
        if line_hash:
            partial["primaryLocationLineHash"] = line_hash
        partial[FINGERPRINT_KEY] = fp
        res: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": f.severity,
            "message": {"text": f.message or f"{f.code} {f.slug}"},
            "locations": [{"physicalLocation": {"artifactLocation": loc, "region": _region(f)}}],
            "partialFingerprints": partial,
        }
        if f.fix:
            res["fixes"] = [_fix(f, root, sources)]
        results.append(res)

    invocation: dict[str, Any] = {"executionSuccessful": not result.internal_errors}
    notes = [{"level": "error", "message": {"text": p}} for p in getattr(result, "problems", [])]
    if notes:
        invocation["toolExecutionNotifications"] = notes

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "semanticVersion": tool_version,
                "version": tool_version,
                **({"informationUri": pack.docs} if pack.docs else {}),
                "rules": rules,
                "properties": {"pack": pack.name, "packVersion": pack.version},
            }
        },
        "automationDetails": {"id": AUTOMATION_ID},
        "columnKind": "utf16CodeUnits",
        "originalUriBaseIds": {
            SRCROOT: {"description": {"text": "The scan root: the git work tree containing the scanned paths."}}
        },
        "invocations": [invocation],
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render(result: "ScanResult", *, tool_version: str, pack: "Pack | None" = None) -> str:
    """The SARIF log as JSON text (no trailing newline).

    ``pack`` is the policy pack of the scan (``Config.pack``); it gives the docs
    URL and the pack name and version. Default: the shipped ``v2.3`` pack.
    Raises ValueError if a rule attached a malformed fix or an unknown severity.
    """
    return json.dumps(build(result, tool_version=tool_version, pack=pack), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------
# GitHub's ingestion rules that the JSON schema cannot express (sarif-notes.md §2)

GITHUB_LIMITS = {"runs": 20, "results": 25_000, "rules": 25_000, "locations": 1_000, "tags": 20}


def github_problems(log: dict[str, Any], text: str | None = None) -> list[str]:
    """Reasons GitHub code scanning would reject or misread ``log`` (empty: fine)."""
    out: list[str] = []
    if log.get("version") != SARIF_VERSION:
        out.append(f"version must be {SARIF_VERSION}")
    runs = log.get("runs") or []
    if not runs:
        out.append("no runs")
    if len(runs) > GITHUB_LIMITS["runs"]:
        out.append(f"{len(runs)} runs: GitHub accepts at most {GITHUB_LIMITS['runs']}")
    cats = [((r.get("tool") or {}).get("driver", {}).get("name"), (r.get("automationDetails") or {}).get("id")) for r in runs]
    if len(cats) != len(set(cats)):
        out.append("several runs share tool and category: GitHub rejects such an upload")
    for n, run in enumerate(runs):
        driver = (run.get("tool") or {}).get("driver") or {}
        if not driver.get("name"):
            out.append(f"run {n}: tool.driver.name is required")
        if run.get("columnKind") not in ("utf16CodeUnits", "unicodeCodePoints"):
            out.append(f"run {n}: columnKind must be declared")
        rules = driver.get("rules") or []
        if len(rules) > GITHUB_LIMITS["rules"]:
            out.append(f"run {n}: {len(rules)} rules, GitHub accepts at most {GITHUB_LIMITS['rules']}")
        for r in rules:
            rid = r.get("id") or "?"
            for key in ("shortDescription", "fullDescription", "help"):
                t = (r.get(key) or {}).get("text")
                if not t:
                    out.append(f"rule {rid}: {key}.text is required and must not be empty")
                elif key != "help" and len(t) > _DESC_LIMIT:
                    out.append(f"rule {rid}: {key}.text is longer than {_DESC_LIMIT} characters")
            if len(r.get("name") or "") > _NAME_LIMIT:
                out.append(f"rule {rid}: name is longer than {_NAME_LIMIT} characters")
            tags = (r.get("properties") or {}).get("tags") or []
            if len(tags) > GITHUB_LIMITS["tags"]:
                out.append(f"rule {rid}: {len(tags)} tags, GitHub accepts at most {GITHUB_LIMITS['tags']}")
        ids = [r.get("id") for r in rules]
        results = run.get("results") or []
        if len(results) > GITHUB_LIMITS["results"]:
            out.append(f"run {n}: {len(results)} results, GitHub accepts at most {GITHUB_LIMITS['results']} per run")
        for i, res in enumerate(results):
            where = f"run {n} result {i}"
            if not (res.get("message") or {}).get("text"):
                out.append(f"{where}: message.text is required")
            ri = res.get("ruleIndex")
            if ri is not None and (ri >= len(ids) or ids[ri] != res.get("ruleId")):
                out.append(f"{where}: ruleIndex {ri} does not point at rule {res.get('ruleId')}")
            locs = res.get("locations") or []
            if not locs:
                out.append(f"{where}: at least one location is needed or GitHub does not display the alert")
                continue
            if len(locs) > GITHUB_LIMITS["locations"]:
                out.append(f"{where}: more than {GITHUB_LIMITS['locations']} locations")
            phys = locs[0].get("physicalLocation") or {}
            if not (phys.get("artifactLocation") or {}).get("uri"):
                out.append(f"{where}: physicalLocation.artifactLocation.uri is required")
            reg = phys.get("region") or {}
            for key in ("startLine", "startColumn", "endLine", "endColumn"):
                if key not in reg:
                    out.append(f"{where}: region.{key} missing")
            if reg.get("endLine", 0) < reg.get("startLine", 0):
                out.append(f"{where}: region endLine before startLine")
            if reg.get("endLine") == reg.get("startLine") and reg.get("endColumn", 1 << 62) < reg.get("startColumn", 0):
                out.append(f"{where}: region endColumn before startColumn")
            if not (res.get("partialFingerprints") or {}).get("primaryLocationLineHash"):
                out.append(f"{where}: no partialFingerprints.primaryLocationLineHash (file not readable?)")
    if text is not None and len(gzip.compress(text.encode("utf-8"))) > 10 * 1024 * 1024:
        out.append("the log is larger than GitHub's 10 MB (gzip) upload limit")
    return out
