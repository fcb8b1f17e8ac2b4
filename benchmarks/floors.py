"""The floors: what any Python tool must pay before a rule runs.

    python benchmarks/floors.py MODE TREE [--jobs N]

MODE:
- ``read``: read every ``.go`` file's bytes.
- ``parse``: read and parse every file with py-tree-sitter (tree-sitter-go).
- ``prefilter-issue``: read every file, keep those passing the issue's byte
  prefilter (imports ``net/http``, a web framework or ``context``; or a
  ``_test.go`` with ``func Fuzz``; or ``defer`` with a go statement, ``.Go(`` or
  ``AfterFunc``), parse what it keeps. The issue's "floor of this approach".
- ``prefilter-gorules``: the same with gorules' own per-file tokens (``needs`` and
  ``needs_also``) and its generated-file rule. The engine parses less than this: its
  package gates (GR001, GR008) come after, and need the package's other files
  (``benchmarks/parsed.py`` shows what a real scan parses).

Work is split over N forked processes (default: one per core), largest files
first; the output is one JSON line: files, bytes, kept files, kept bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FRAMEWORKS = (b'"net/http"', b'"context"', b"github.com/gin-gonic/gin", b"github.com/labstack/echo",
              b"github.com/gofiber/fiber", b"github.com/go-chi/chi", b"github.com/gorilla/mux")
GO_STMT = re.compile(rb"(?m)^\s*go\s|[;{]\s*go\s")


def issue_prefilter(name: str, data: bytes) -> bool:
    if any(t in data for t in FRAMEWORKS):
        return True
    if name.endswith("_test.go") and b"func Fuzz" in data:
        return True
    return b"defer" in data and (b".Go(" in data or b"AfterFunc" in data or GO_STMT.search(data) is not None)


_GORULES = None


def gorules_prefilter(name: str, data: bytes) -> bool:
    global _GORULES
    if _GORULES is None:
        from golint_rules.checks import all_analyzers
        from golint_rules.source import GENERATED_RE, PACKAGE_RE

        _GORULES = ([a for a in all_analyzers() if a.kind == "go"], GENERATED_RE, PACKAGE_RE)
    analyzers, gen_re, pkg_re = _GORULES
    pkg = pkg_re.search(data)
    head = data[: pkg.start()] if pkg else data[:4096]
    if gen_re.search(head):
        return False
    return any(a.can_fire(data) for a in analyzers)


def work(args: tuple[str, list[str]]) -> tuple[int, int, int, int]:
    mode, paths = args
    parser = None
    if mode != "read":
        import tree_sitter as ts
        import tree_sitter_go as tsgo

        parser = ts.Parser(ts.Language(tsgo.language()))
    files = nbytes = kept = kept_bytes = 0
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        files += 1
        nbytes += len(data)
        if mode == "read":
            continue
        if mode == "prefilter-issue" and not issue_prefilter(p, data):
            continue
        if mode == "prefilter-gorules" and not gorules_prefilter(p, data):
            continue
        assert parser is not None
        parser.parse(data)
        kept += 1
        kept_bytes += len(data)
    return files, nbytes, kept, kept_bytes


def go_files(root: Path) -> list[tuple[int, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (d in ("vendor", "testdata") or d.startswith((".", "_")))]
        for n in filenames:
            if n.endswith(".go"):
                p = os.path.join(dirpath, n)
                out.append((os.stat(p).st_size, p))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("read", "parse", "prefilter-issue", "prefilter-gorules"))
    ap.add_argument("tree", type=Path)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    files = sorted(go_files(args.tree), reverse=True)
    shares: list[list[str]] = [[] for _ in range(args.jobs * 8)]
    loads = [0] * len(shares)
    for size, p in files:  # largest first onto the lightest share
        i = loads.index(min(loads))
        shares[i].append(p)
        loads[i] += size
    if args.jobs == 1:
        parts = [work((args.mode, [p for s in shares for p in s]))]
    else:
        with get_context("fork").Pool(args.jobs) as pool:
            parts = pool.map(work, [(args.mode, s) for s in shares], chunksize=1)
    tot = [sum(x) for x in zip(*parts)]
    print(json.dumps({"mode": args.mode, "files": tot[0], "bytes": tot[1], "kept_files": tot[2], "kept_bytes": tot[3]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
