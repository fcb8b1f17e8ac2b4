"""GitLab Code Quality report (``artifacts:reports:codequality``).

A JSON array of CodeClimate-style issues. GitLab's parser stops at the first
entry that fails its per-entry JSON schema and silently drops the rest, and it
merges entries that share a fingerprint; so every entry is validated here
against a copy of that schema (:data:`GITLAB_ENTRY_SCHEMA`, equal to GitLab's
``app/validators/json_schemas/codeclimate.json``) and against our stricter one
(:data:`ENTRY_SCHEMA`) before anything is written, and fingerprints are
unique. If any entry fails, :func:`render` raises and nothing is written.
The text is plain UTF-8 JSON without a byte-order mark.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from ..model import Finding
from .fingerprints import report_fingerprints

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Pack
    from ..engine import ScanResult

#: SARIF-style level -> GitLab severity (GitLab order: blocker > critical > major > minor > info).
SEVERITY = {"error": "critical", "warning": "major", "note": "minor"}
GITLAB_SEVERITIES = ("info", "minor", "major", "critical", "blocker")

#: CodeClimate categories by rule tag; the first tag that maps wins, else "Bug Risk".
CATEGORY_BY_TAG = {
    "security": "Security",
    "performance": "Performance",
    "style": "Style",
    "docs": "Style",
    "clarity": "Clarity",
    "complexity": "Complexity",
    "compatibility": "Compatibility",
    "dependencies": "Compatibility",
    "modules": "Compatibility",
    "supply-chain": "Security",
}

#: GitLab's own per-entry check, key for key (codeclimate.json, no "$schema": json_schemer's default draft).
GITLAB_ENTRY_SCHEMA: dict[str, Any] = {
    "description": "Codequality used by codeclimate parser",
    "type": "object",
    "required": ["description", "fingerprint", "severity", "location"],
    "properties": {
        "description": {"type": "string"},
        "fingerprint": {"type": "string"},
        "severity": {"type": "string"},
        "location": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "lines": {"type": "object", "properties": {"begin": {"type": "integer"}}},
                "positions": {
                    "type": "object",
                    "properties": {
                        "begin": {"type": "object", "properties": {"line": {"type": "integer"}}}
                    },
                },
            },
        },
    },
    "additionalProperties": True,
}

#: What we promise on top: the fields GitLab reads are present and well-formed.
ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "check_name", "description", "fingerprint", "severity", "categories", "location"],
    "properties": {
        "type": {"const": "issue"},
        "check_name": {"type": "string", "pattern": "^gorules/[A-Z]+[0-9]+$"},
        "description": {"type": "string", "minLength": 1, "pattern": "^[^\\n\\r]*$"},
        "fingerprint": {"type": "string", "minLength": 1, "pattern": "^\\S+$"},
        "severity": {"enum": list(GITLAB_SEVERITIES)},
        "categories": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "location": {
            "type": "object",
            "required": ["path", "lines"],
            "properties": {
                # relative, forward slashes: no leading "/", no backslash, no drive letter
                "path": {"type": "string", "minLength": 1, "pattern": "^(?![/\\\\])(?![A-Za-z]:)[^\\\\]*$"},
                "lines": {
                    "type": "object",
                    "required": ["begin", "end"],
                    "properties": {
                        "begin": {"type": "integer", "minimum": 1},
                        "end": {"type": "integer", "minimum": 1},
                    },
                },
            },
        },
    },
}

_GITLAB = Draft202012Validator(GITLAB_ENTRY_SCHEMA)
_OURS = Draft202012Validator(ENTRY_SCHEMA)


def entry_problems(entry: Any) -> list[str]:
    """Why ``entry`` would be dropped by GitLab or breaks our promises (empty: valid)."""
    errs = [f"GitLab schema: {e.message} at {'/'.join(map(str, e.absolute_path)) or '(entry)'}"
            for e in _GITLAB.iter_errors(entry)]
    errs += [f"gorules schema: {e.message} at {'/'.join(map(str, e.absolute_path)) or '(entry)'}"
             for e in _OURS.iter_errors(entry)]
    if isinstance(entry, dict):
        lines = (entry.get("location") or {}).get("lines") or {}
        b, e = lines.get("begin"), lines.get("end")
        if isinstance(b, int) and isinstance(e, int) and e < b:
            errs.append("location.lines.end is before location.lines.begin")
    return errs


def _category(tags: tuple[str, ...]) -> str:
    for t in tags:
        if t.lower() in CATEGORY_BY_TAG:
            return CATEGORY_BY_TAG[t.lower()]
    return "Bug Risk"


def _entry(f: Finding, fingerprint: str, tags: tuple[str, ...]) -> dict[str, Any]:
    message = " ".join((f.message or "").split())
    line = f.line
    return {
        "type": "issue",
        "check_name": f"gorules/{f.code}",
        "description": f"{f.code} {f.slug}: {message}" if message else f"{f.code} {f.slug}",
        "fingerprint": fingerprint,
        "severity": SEVERITY.get(f.severity, f"unknown severity {f.severity!r}"),
        "categories": [_category(tags)],
        "location": {"path": f.path, "lines": {"begin": line, "end": max(f.end_line or line, line)}},
    }


def build(result: "ScanResult") -> list[dict[str, Any]]:
    """The entries, each validated; raises ValueError naming the first bad one."""
    findings = list(result.findings)
    fps = report_fingerprints(findings)
    entries = []
    for f, fp in zip(findings, fps):
        info = result.rules.get(f.code)
        entry = _entry(f, fp, info.tags if info else ())
        problems = entry_problems(entry)
        if problems:
            raise ValueError(
                f"{f.path}:{f.line}: the GitLab Code Quality entry for {f.code} is invalid "
                f"({'; '.join(problems)}); nothing was written, because GitLab would drop this "
                "entry and every one after it. This is a gorules bug: please report it"
            )
        entries.append(entry)
    seen = [e["fingerprint"] for e in entries]
    if len(seen) != len(set(seen)):  # report_fingerprints guarantees this; keep GitLab safe regardless
        raise ValueError("duplicate fingerprints in the GitLab report; GitLab would merge those findings")
    return entries


def render(result: "ScanResult", *, tool_version: str, pack: "Pack | None" = None) -> str:
    """The report as JSON text: an array (``[]`` when clean), UTF-8, no BOM, no trailing newline.

    ``tool_version`` and ``pack`` are accepted for a uniform reporter interface;
    the Code Quality format has no place for them.
    """
    return json.dumps(build(result), indent=2, ensure_ascii=False)
