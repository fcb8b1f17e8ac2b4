"""What a cold scan parses, and why: bytes and files handed to tree-sitter, by call site.

    python benchmarks/parsed.py TREE [--top N]

Runs one scan in this process (``--jobs 1``, no cache) with ``parsing.parse`` wrapped,
and prints the parsed megabytes per call path (the engine's own parse of a file a rule
runs on, a package-view look-up in another file, GR008's route registrations...), then
the total against the tree's size. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import collections
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golint_rules import config as config_mod, engine, parsing  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path)
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    real = parsing.parse
    files: collections.Counter[str] = collections.Counter()
    size: collections.Counter[str] = collections.Counter()

    def parse(data: bytes):
        frames = [f for f in traceback.extract_stack(limit=10)[:-1] if "golint_rules" in f.filename]
        key = " < ".join(f.name for f in reversed(frames))[:140]
        files[key] += 1
        size[key] += len(data)
        return real(data)

    parsing.parse = parse  # type: ignore[assignment]
    eng = engine.Engine(config_mod.load_config(), engine.ScanOptions(jobs=1, cache=False))
    result = eng.scan([args.tree])
    for key, n in size.most_common(args.top):
        print(f"{n / 1e6:8.2f} MB {files[key]:6d} files  {key}")
    total = sum(size.values())
    read = result.bytes_read or sum(p.stat().st_size for p in args.tree.rglob("*.go"))
    print(f"parsed {total / 1e6:.1f} MB in {sum(files.values())} parses, of {read / 1e6:.1f} MB read "
          f"({100 * total / max(read, 1):.1f} %); {len(result.findings)} findings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
