"""Safe fixes: ``gorules scan --fix`` and ``--diff``.

A rule may attach a fix to a finding (``Finding.fix``; the shape is checked by
``reporters.sarif.fix_problems`` and documented in docs/output-formats.md)::

    {"description": "mark golang.org/x/sys as // indirect",
     "replacements": [{"path": "go.mod", "start_line": 7, "end_line": 7,
                       "new_text": "\\tgolang.org/x/sys v0.1.0 // indirect"}]}

Each replacement replaces the text of lines ``start_line``..``end_line``
(1-based, inclusive, without the last line's terminator) with ``new_text``.

Only fixes of rules in :data:`SAFE_CODES` are applied: fixes that cannot
change what the program does. Today that is GR006 (``// indirect`` markers
added or removed: go.mod comments that ``go mod tidy`` would write; the build
list does not change).

Guarantees:

- a file is written only if its bytes still hash to what the scan read
  (``ScanResult.files``); otherwise it is left alone and reported;
- every byte outside the replaced lines is kept, including each line's
  terminator (LF or CRLF), a missing final newline, and the file mode;
- the write is atomic (a temporary file in the same directory, then rename);
- overlapping fixes in one file: the first (in report order) wins, the rest
  wait for the next run.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .fsutil import write_atomic

#: Rules whose fixes cannot change behaviour.
SAFE_CODES = frozenset({"GR006"})


@dataclass
class Edit:
    start: int
    end: int
    new_text: str
    finding: object


@dataclass
class FilePlan:
    path: str  # relative to the scan root
    abs_path: Path
    expected_sha256: str
    edits: list[Edit] = field(default_factory=list)
    findings: list = field(default_factory=list)  # findings all of whose edits are in this plan


@dataclass
class FixReport:
    fixed: list = field(default_factory=list)  # findings whose fix was applied (or would be, for --diff)
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    diff: str = ""


def plan(result, codes: frozenset[str] = SAFE_CODES) -> tuple[list[FilePlan], list[tuple[str, str]]]:
    """Group the safe fixes of ``result`` by file; drop overlapping ones."""
    from .reporters.sarif import fix_problems

    root = Path(os.path.abspath(result.root))
    hashes: dict[str, str] = getattr(result, "files", {}) or {}
    plans: dict[str, FilePlan] = {}
    skipped: list[tuple[str, str]] = []
    for f in result.findings:
        if not f.fix or f.code not in codes:
            continue
        problems = fix_problems(f.fix)
        if problems:
            skipped.append((f.path, f"{f.code} at line {f.line} offered a malformed fix ({'; '.join(problems)})"))
            continue
        reps = f.fix["replacements"]
        if len({r["path"] for r in reps}) != 1:
            skipped.append((f.path, f"{f.code} at line {f.line}: a fix spanning several files is not applied"))
            continue
        rel = reps[0]["path"]
        fp = plans.get(rel)
        if fp is None:
            expected = hashes.get(rel, "")
            if not expected:
                skipped.append((rel, "gorules did not record what it read of this file (scan with --fix or --diff)"))
                continue
            fp = plans[rel] = FilePlan(rel, root / rel, expected)
        edits = [Edit(r["start_line"], r["end_line"], r["new_text"], f) for r in reps]
        if any(e.start <= o.end and o.start <= e.end for e in edits for o in fp.edits):
            skipped.append((rel, f"the fix of {f.code} at line {f.line} overlaps another fix; run --fix again"))
            continue
        fp.edits.extend(edits)
        fp.findings.append(f)
    return [plans[k] for k in sorted(plans)], skipped


_LINE_RE = re.compile(rb"[^\n]*\n|[^\n]+")


def split_lines(data: bytes) -> list[tuple[bytes, bytes]]:
    """``data`` as (content, terminator) pairs; terminator is b"\\r\\n", b"\\n" or b"" (last line)."""
    out = []
    for m in _LINE_RE.finditer(data):
        chunk = m.group()
        if chunk.endswith(b"\r\n"):
            out.append((chunk[:-2], b"\r\n"))
        elif chunk.endswith(b"\n"):
            out.append((chunk[:-1], b"\n"))
        else:
            out.append((chunk, b""))
    return out


def apply_edits(data: bytes, edits: list[Edit]) -> bytes:
    """The new bytes: each edit's lines replaced, everything else byte for byte.

    ``new_text`` is UTF-8; a newline inside it takes the terminator of the
    replaced block's last line (so a CRLF file stays CRLF).
    """
    lines = split_lines(data)
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        if e.start < 1 or e.end > len(lines):
            raise ValueError(f"lines {e.start}-{e.end} are outside the file ({len(lines)} lines)")
        term = lines[e.end - 1][1]
        body = e.new_text.replace("\r\n", "\n").encode("utf-8")
        if term:
            body = body.replace(b"\n", term)
        lines[e.start - 1 : e.end] = [(body, term)]
    return b"".join(c + t for c, t in lines)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unified_diff(path: str, old: bytes, new: bytes) -> str:
    """A ``git apply``/``patch -p1`` compatible diff of one file."""
    a = [(c + t).decode("utf-8", "surrogateescape") for c, t in split_lines(old)]
    b = [(c + t).decode("utf-8", "surrogateescape") for c, t in split_lines(new)]
    out = []
    for line in difflib.unified_diff(a, b, f"a/{path}", f"b/{path}", n=3):
        if line.startswith(("--- ", "+++ ")):
            line = line.rstrip("\n") + "\n"
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _write_atomic(path: Path, data: bytes) -> None:
    real = Path(os.path.realpath(path))
    mode = os.stat(real).st_mode & 0o7777
    write_atomic(real, data, prefix=f".{real.name}.", suffix=".gorules-fix", mode=mode)


def run(result, *, write: bool, codes: frozenset[str] = SAFE_CODES) -> FixReport:
    """Apply (``write=True``) or only diff the safe fixes of ``result``.

    With ``write`` the fixed findings are removed from ``result.findings``.
    """
    plans, skipped = plan(result, codes)
    report = FixReport(skipped=list(skipped))
    diffs = []
    for fp in plans:
        try:
            data = fp.abs_path.read_bytes()
        except OSError as exc:
            report.skipped.append((fp.path, f"cannot read it any more ({exc.strerror or exc})"))
            continue
        if _sha256(data) != fp.expected_sha256:
            report.skipped.append((fp.path, "changed on disk since gorules read it; not touched (scan again to fix it)"))
            continue
        try:
            new = apply_edits(data, fp.edits)
        except ValueError as exc:
            report.skipped.append((fp.path, str(exc)))
            continue
        if new == data:
            continue
        diffs.append(unified_diff(fp.path, data, new))
        if write:
            try:
                _write_atomic(fp.abs_path, new)
            except OSError as exc:
                report.skipped.append((fp.path, f"cannot write it ({exc.strerror or exc})"))
                continue
        report.files.append(fp.path)
        report.fixed.extend(fp.findings)
    report.diff = "".join(diffs)
    if write and report.fixed:
        done = {id(f) for f in report.fixed}
        result.findings = [f for f in result.findings if id(f) not in done]
    return report


# ---------------------------------------------------------------------------
# Fix builders the checks call


def gomod_indirect_fix(modfile, directive, indirect: bool) -> dict | None:
    """The GR006 fix for one ``require`` line: add or remove ``// indirect``.

    The comment is edited the way ``go mod tidy`` does (x/mod's ``setIndirect``):
    no comment -> ``// indirect``; ``// keep`` -> ``// indirect; keep``;
    ``// indirect`` -> no comment; ``// indirect; keep`` -> ``// keep``.
    The rest of the line (indentation, module, version, spacing) is kept.
    None when the line is not a plain require entry (e.g. ``require ( a v1 )``).
    """
    from .gomod import _split_comment

    path = modfile.path
    if not path or path.startswith("/") or "\\" in path or ".." in path.split("/"):
        return None  # outside the scan root: a fix must name a root-relative file
    text = modfile.line_text(directive.line)
    code, comment = _split_comment(text)
    if "(" in code or ")" in code or not code.strip():
        return None
    has_comment = "//" in text[len(code):] if len(text) > len(code) else False
    module = directive.args[0]
    body = code.rstrip()
    if indirect:
        if not has_comment:
            new = f"{body} // indirect"
        elif comment == "":
            new = f"{body} // indirect"
        else:
            new = f"{body} // indirect; {comment}"
        desc = f"mark {module} as indirect: add // indirect (as go mod tidy does)"
    else:
        if comment == "indirect":
            new = body
        elif comment.startswith("indirect;"):
            rest = comment[len("indirect;"):]
            new = f"{body} //{rest}" if rest.strip() else body
        else:
            return None
        desc = f"{module} is imported directly: remove // indirect (as go mod tidy does)"
    if new == text:
        return None
    return {"description": desc,
            "replacements": [{"path": modfile.path, "start_line": directive.line, "end_line": directive.line, "new_text": new}]}
