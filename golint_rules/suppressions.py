"""``// gorules:ignore`` comments.

Forms (in .go, go.mod and go.work files)::

    x := f() // gorules:ignore GR001 -- reason        (this line)
    // gorules:ignore GR001,GR004 -- reason           (the next line)
    // gorules:ignore-file GR004 -- reason            (the whole file)

A reason after ``--`` is required: a suppression without one suppresses nothing
and is reported itself (GR000), as is a suppression naming an unknown code.
``--report-unused-ignores`` reports suppressions that suppressed nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_RE = re.compile(
    rb"//\s*gorules:ignore(?P<file>-file)?(?![\w-])(?P<rest>[^\r\n]*)"
)
_CODES_RE = re.compile(r"^\s*(?P<codes>[A-Za-z0-9_,\s-]*?)\s*(?:--\s*(?P<reason>.*))?$")


@dataclass
class Suppression:
    line: int  # 1-based line of the comment
    codes: tuple[str, ...]
    reason: str
    whole_file: bool
    covers: tuple[int, ...]  # lines it applies to (empty for whole_file)
    used: set[str] = field(default_factory=set)

    @property
    def valid(self) -> bool:
        return bool(self.reason) and bool(self.codes)


def parse(data: bytes) -> list[Suppression]:
    if b"gorules:ignore" not in data:
        return []
    out: list[Suppression] = []
    for m in _RE.finditer(data):
        line = data.count(b"\n", 0, m.start()) + 1
        line_start = data.rfind(b"\n", 0, m.start()) + 1
        standalone = data[line_start : m.start()].strip() == b""
        rest = m.group("rest").decode("utf-8", "replace")
        cm = _CODES_RE.match(rest)
        codes_text = cm.group("codes") if cm else rest
        reason = ((cm.group("reason") if cm else None) or "").strip()
        codes = tuple(c.strip().upper() for c in re.split(r"[,\s]+", codes_text) if c.strip())
        whole = bool(m.group("file"))
        covers: tuple[int, ...] = () if whole else ((line + 1,) if standalone else (line,))
        out.append(Suppression(line, codes, reason, whole, covers))
    return out


class SuppressionIndex:
    def __init__(self, items: list[Suppression]) -> None:
        self.items = items
        self._by_line: dict[int, list[Suppression]] = {}
        self._file: list[Suppression] = []
        for s in items:
            if not s.valid:
                continue
            if s.whole_file:
                self._file.append(s)
            for ln in s.covers:
                self._by_line.setdefault(ln, []).append(s)

    def suppresses(self, code: str, line: int) -> bool:
        for s in self._by_line.get(line, ()):
            if code in s.codes:
                s.used.add(code)
                return True
        for s in self._file:
            if code in s.codes:
                s.used.add(code)
                return True
        return False
