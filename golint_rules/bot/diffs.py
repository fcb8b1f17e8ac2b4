"""Which lines of a file an MR adds, from GitLab's per-file unified diff.

GitLab's ``/merge_requests/:iid/diffs`` gives each changed file's hunks
(``@@ -a,b +c,d @@`` then `` ``/``+``/``-`` lines, ``\\ No newline`` markers).
A thread can be attached to an added line with ``new_line`` alone; other lines
are not in the diff as far as a comment on an added line is concerned, so the
bot lists findings there in the summary note instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class FileDiff:
    old_path: str
    new_path: str
    new_file: bool = False
    deleted_file: bool = False
    renamed_file: bool = False
    generated: bool = False
    collapsed: bool = False  # GitLab sent no hunks (too large / collapsed)
    added: set[int] = field(default_factory=set)  # new-side line numbers
    removed: set[int] = field(default_factory=set)  # old-side line numbers
    context: dict[int, int] = field(default_factory=dict)  # new line -> old line

    @classmethod
    def from_api(cls, entry: Mapping[str, Any]) -> "FileDiff":
        fd = cls(
            old_path=entry.get("old_path") or entry.get("new_path") or "",
            new_path=entry.get("new_path") or entry.get("old_path") or "",
            new_file=bool(entry.get("new_file")),
            deleted_file=bool(entry.get("deleted_file")),
            renamed_file=bool(entry.get("renamed_file")),
            generated=bool(entry.get("generated_file")),
        )
        text = entry.get("diff") or ""
        fd.collapsed = not text.strip() and bool(entry.get("collapsed") or entry.get("too_large"))
        parse_hunks(text, fd)
        return fd


def parse_hunks(text: str, fd: FileDiff) -> None:
    old = new = 0
    old_left = new_left = 0
    for line in text.split("\n"):
        m = _HUNK.match(line)
        if m:
            old, new = int(m.group(1)), int(m.group(3))
            old_left = int(m.group(2)) if m.group(2) is not None else 1
            new_left = int(m.group(4)) if m.group(4) is not None else 1
            continue
        if old_left <= 0 and new_left <= 0:
            continue
        tag = line[:1]
        if tag == "+":
            fd.added.add(new)
            new += 1
            new_left -= 1
        elif tag == "-":
            fd.removed.add(old)
            old += 1
            old_left -= 1
        elif tag in (" ", ""):  # an empty context line may have lost its space
            fd.context[new] = old
            old += 1
            new += 1
            old_left -= 1
            new_left -= 1
        # "\\ No newline at end of file" and anything else: not a line of the file
