"""Baselines: record today's findings, report only new ones from now on.

``gorules baseline PATH -o .gorules-baseline.json`` writes every finding's
stable fingerprint (the engine's ``Finding.fingerprint``: rule, file, the
normalised source of the finding's line and its two neighbours, and an
occurrence index; never the line number). ``gorules scan --baseline FILE``
then hides findings whose fingerprint is in the file, and counts

- *baselined*: findings hidden because the baseline knows them;
- *fixed*: baseline entries no finding matches any more, among the files this
  scan read and the rules it ran (entries of files or rules outside the scan
  are neither matched nor fixed). ``gorules baseline --shrink`` drops them.

Editing code above a baselined finding moves it without changing its
fingerprint; editing the finding's line or a neighbour, or moving the file,
makes it new. The file is sorted JSON without line numbers, so it changes
only when findings appear or go.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

FORMAT = 1
KEY = "gorules-baseline"


class BaselineError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Entry:
    fingerprint: str
    code: str
    path: str
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "source": self.source, "fingerprint": self.fingerprint}


@dataclass
class Baseline:
    entries: list[Entry] = field(default_factory=list)
    path: Path | None = None

    @classmethod
    def from_findings(cls, findings: Iterable) -> "Baseline":
        entries = [
            Entry(f.fingerprint, f.code, f.path, (f.source_line or "").strip())
            for f in findings
            if f.fingerprint and not (f.code == "GR000" and f.slug == "internal-error")
        ]
        return cls(entries)

    def to_json(self, *, tool_version: str, pack: str) -> str:
        entries = sorted(self.entries, key=lambda e: (e.path, e.code, e.source, e.fingerprint))
        doc = {
            KEY: FORMAT,
            "tool": f"gorules {tool_version}",
            "pack": pack,
            "about": "Findings recorded by `gorules baseline`; `gorules scan --baseline FILE` reports only findings "
                     "not listed here. Matched by fingerprint (rule, file, source of the line and its neighbours), "
                     "not by line number.",
            "count": len(entries),
            "findings": [e.to_dict() for e in entries],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    def write(self, path: Path, *, tool_version: str, pack: str) -> None:
        text = self.to_json(tool_version=tool_version, pack=pack)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "Baseline":
        hint = f"record one with `gorules baseline . -o {path}`"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BaselineError(f"--baseline {path}: no such file; {hint}") from None
        except IsADirectoryError:
            raise BaselineError(f"--baseline {path} is a directory; give the baseline file ({hint})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"--baseline {path}: cannot read it ({exc}); {hint}") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); fix it or {hint}") from None
        if not isinstance(doc, dict) or KEY not in doc:
            raise BaselineError(f"{path} is not a gorules baseline (no {KEY!r} key); {hint}")
        if doc[KEY] != FORMAT:
            raise BaselineError(f"{path} has baseline format {doc[KEY]!r}, this gorules reads format {FORMAT}; {hint}")
        raw = doc.get("findings")
        if not isinstance(raw, list):
            raise BaselineError(f"{path}: 'findings' must be a list; {hint}")
        entries = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item.get(k) for k in ("fingerprint", "code", "path")):
                raise BaselineError(f"{path}: findings[{i}] needs string fields fingerprint, code and path; {hint}")
            entries.append(Entry(item["fingerprint"], item["code"], item["path"], str(item.get("source", ""))))
        return cls(entries, path)


@dataclass
class Outcome:
    baselined: int = 0  # findings hidden
    fixed: list[Entry] = field(default_factory=list)  # entries in scope that matched nothing
    kept: list[Entry] = field(default_factory=list)  # entries still matched, or out of scope


def apply(result, baseline: Baseline, in_scope: Callable[[Entry], bool]) -> Outcome:
    """Remove baselined findings from ``result`` (a ScanResult); count baselined and fixed entries."""
    available = Counter(e.fingerprint for e in baseline.entries)
    out = Outcome()
    reported = []
    for f in result.findings:
        if f.fingerprint and available[f.fingerprint] > 0 and not (f.code == "GR000" and f.slug == "internal-error"):
            available[f.fingerprint] -= 1
            out.baselined += 1
        else:
            reported.append(f)
    result.findings = reported
    for e in baseline.entries:
        if available[e.fingerprint] > 0:  # an entry nothing matched
            available[e.fingerprint] -= 1
            if in_scope(e):
                out.fixed.append(e)
                continue
        out.kept.append(e)
    return out


def scope(result, active: Callable[[str], bool]) -> Callable[[Entry], bool]:
    """Entries the scan could have matched: a file it read, a rule it ran."""
    files = set(getattr(result, "files", {}) or {})
    return lambda e: e.path in files and active(e.code)
