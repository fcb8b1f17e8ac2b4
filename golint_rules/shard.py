"""``gorules scan --shard I/N``: one of N deterministic slices of a scan.

The unit of work is a package directory: its ``.go`` files together with a
``go.mod``/``go.work`` in the same directory. A package is never split, so
package-level checks see the whole package, and every file (hence every
finding) lands in exactly one shard. Units are balanced by bytes with the
longest-processing-time rule: biggest unit first, each to the shard with the
fewest bytes so far (ties: the lower shard). The split depends only on the
discovered files and their sizes, so every CI job computes the same one.

Module-level context (GR006's import set) is built from the module's own walk
(``golint_rules/module.py``), not from the shard, so the union of the shards'
findings equals an unsharded scan; ``gorules merge`` joins their reports.

``I`` is 1-based like GitLab's ``CI_NODE_INDEX``: ``--shard $CI_NODE_INDEX/$CI_NODE_TOTAL``.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from pathlib import Path


class ShardError(ValueError):
    pass


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4); a ShardError that says how to write it otherwise."""
    raw = (text or "").strip()
    parts = raw.split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        hint = (" ($CI_NODE_INDEX and $CI_NODE_TOTAL are empty: give the job `parallel: N`)"
                if raw in ("", "/") else "")
        raise ShardError(f"--shard {raw!r}: write I/N with 1 <= I <= N, e.g. --shard 2/4{hint}")
    index, total = int(parts[0]), int(parts[1])
    if total < 1 or not 1 <= index <= total:
        raise ShardError(f"--shard {raw}: I must be between 1 and N (GitLab's CI_NODE_INDEX starts at 1), e.g. --shard 1/{max(total, 1)}")
    return index, total


def _size(p: Path) -> int:
    try:
        return os.lstat(p).st_size
    except OSError:
        return 0


def units(disc) -> dict[Path, int]:
    """Package directory -> bytes of its files (Go files and module files)."""
    out: dict[Path, int] = {}
    for directory, files in disc.packages.items():
        out[directory] = out.get(directory, 0) + sum(_size(f) for f in files)
    for m in disc.module_files:
        out[m.parent] = out.get(m.parent, 0) + _size(m)
    return out


def assign(unit_bytes: dict[Path, int], total: int, root: Path | None = None) -> dict[Path, int]:
    """Unit -> shard (1-based), balanced by bytes, deterministic.

    Units are ordered by size (descending), then by path relative to ``root``
    (so the split does not depend on where the checkout lives).
    """
    def key(d: Path) -> str:
        if root is None:
            return d.as_posix()
        try:
            return d.relative_to(root).as_posix()
        except ValueError:
            return d.as_posix()

    order = sorted(unit_bytes, key=lambda d: (-unit_bytes[d], key(d)))
    heap = [(0, i) for i in range(1, total + 1)]  # (bytes so far, shard)
    out: dict[Path, int] = {}
    for d in order:
        load, shard = heapq.heappop(heap)
        out[d] = shard
        heapq.heappush(heap, (load + unit_bytes[d], shard))
    return out


@dataclass(frozen=True)
class Shard:
    """A discovery filter (``ScanOptions.file_filters``): keep the units of shard ``index`` of ``total``."""

    index: int
    total: int

    def apply(self, disc) -> None:
        if self.total == 1:
            return
        plan = assign(units(disc), self.total, Path(disc.root))
        for directory in list(disc.packages):
            if plan.get(directory) != self.index:
                del disc.packages[directory]
        disc.module_files[:] = [m for m in disc.module_files if plan.get(m.parent) == self.index]


def describe(disc, total: int) -> list[tuple[int, int, int]]:
    """(shard, units, bytes) for each shard: how balanced a split is."""
    ub = units(disc)
    plan = assign(ub, total, Path(disc.root))
    rows = []
    for s in range(1, total + 1):
        ds = [d for d, k in plan.items() if k == s]
        rows.append((s, len(ds), sum(ub[d] for d in ds)))
    return rows
