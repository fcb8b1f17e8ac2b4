"""The benchmark trees, built from Debian's Go source packages.

Every tool of a benchmark scans the same files, so the trees hold exactly what
gorules discovers: ``.go``, ``go.mod`` and ``go.work`` files, no ``vendor/``,
``testdata/`` or ``.``/``_`` directories (which ast-grep and semgrep would
otherwise walk), regular files only. The files are hard links into
``/usr/share`` (no copy, same page cache) when the output directory is on the
same file system, copies otherwise.

Trees (``python benchmarks/corpus.py build``):

- ``stdlib``: ``/usr/share/go-1.19/src`` (Debian ``golang-1.19-src``).
- ``gocode16k``: the Debian packages listed in ``benchmarks/gocode16k.txt``. The
  issue's figures were measured on a ``/usr/share/gocode/src`` of 16,001 files
  and 369 MB; with every ``golang-*-dev`` package installed that directory holds
  ~105,000 files (1.8 GB of Go). The list reproduces the issue's size with a fixed,
  documented rule (``select``): the two largest generated-code packages that fit
  (``golang-github-aws-aws-sdk-go-dev``, ``golang-google-genproto-dev``), then every
  installed ``golang-*-dev`` package in order of ``sha256(name)``, each taken when
  the total stays within 16,001 files and 369 MB.
- ``gocode-full``: every discovered file of ``/usr/share/gocode/src``.
- ``prometheus``: the ``golang-github-prometheus-*-dev`` packages (a small tree).
- ``mono-N`` (``mono --files N ...``): a generated monorepo of N files: package
  directories of ``/usr/share/gocode/src`` taken in ``sha256(path)`` order until N
  files, copied (the largest tree) or hard-linked (the smaller ones are prefixes of
  the largest, so every size has the same mix of code).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOCODE = Path("/usr/share/gocode/src")
STDLIB = Path("/usr/share/go-1.19/src")
LIST = HERE / "gocode16k.txt"
SEEDS = ("golang-github-aws-aws-sdk-go-dev", "golang-google-genproto-dev")
TARGET_FILES, TARGET_BYTES = 16_001, 369_000_000
DEFAULT_OUT = Path(os.environ.get("GORULES_BENCH_DIR", "/var/tmp/gorules-bench"))


def skip_dir(name: str) -> bool:  # as golint_rules.discover
    return name in ("vendor", "testdata") or name.startswith((".", "_"))


def wanted(name: str) -> bool:
    return name.endswith(".go") or name in ("go.mod", "go.work")


def discovered(rel: Path) -> bool:
    """Would gorules scan this file (relative to a corpus root)?"""
    return wanted(rel.name) and not any(skip_dir(p) for p in rel.parts[:-1])


def walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not skip_dir(d))
        for name in sorted(filenames):
            p = Path(dirpath, name)
            if wanted(name) and not p.is_symlink() and p.is_file():
                out.append(p.relative_to(root))
    return out


def package_files(pkg: str) -> list[Path]:
    """Files of a Debian package under /usr/share/gocode/src that gorules would scan."""
    res = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
    if res.returncode != 0:
        return []
    out = []
    for line in res.stdout.splitlines():
        p = Path(line)
        if not line.startswith(str(GOCODE) + "/"):
            continue
        rel = p.relative_to(GOCODE)
        if discovered(rel) and p.is_file() and not p.is_symlink():
            out.append(rel)
    return out


def installed_dev_packages() -> list[str]:
    res = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Package}\n", "golang-*-dev"],
        capture_output=True, text=True,
    )
    return sorted(line.split()[1] for line in res.stdout.splitlines() if line.startswith("ii"))


def select() -> None:
    """Regenerate gocode16k.txt from the installed packages (slow: dpkg -L of every package)."""
    pkgs = installed_dev_packages()
    sizes: dict[str, tuple[int, int]] = {}
    seen: set[Path] = set()
    for p in pkgs:
        files = [f for f in package_files(p) if f.suffix == ".go" and f not in seen]
        seen.update(files)
        sizes[p] = (len(files), sum((GOCODE / f).stat().st_size for f in files))
    order = sorted(pkgs, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    order = [s for s in SEEDS if s in sizes] + [p for p in order if p not in SEEDS]
    n = b = 0
    chosen = []
    for p in order:
        fn, fb = sizes[p]
        if fn and n + fn <= TARGET_FILES and b + fb <= TARGET_BYTES:
            chosen.append(p)
            n, b = n + fn, b + fb
    LIST.write_text(
        f"# {len(chosen)} packages, {n} .go files, {b / 1e6:.1f} MB (rule: benchmarks/corpus.py docstring)\n"
        + "\n".join(chosen) + "\n"
    )
    print(f"{LIST}: {len(chosen)} packages, {n} files, {b / 1e6:.1f} MB")


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def materialize(name: str, base: Path, rels: list[Path], out: Path, copy: bool = False) -> dict:
    dest = out / name
    stamp = dest / ".corpus.json"
    want = sorted(set(rels))
    digest = hashlib.sha256("\n".join(map(str, want)).encode()).hexdigest()[:16]
    if stamp.is_file() and json.loads(stamp.read_text()).get("digest") == digest:
        return json.loads(stamp.read_text())
    if dest.exists():
        shutil.rmtree(dest)
    total = 0
    for rel in want:
        src = base / rel
        if copy:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / rel)
        else:
            _link(src, dest / rel)
        total += src.stat().st_size
    go = [r for r in want if r.suffix == ".go"]
    info = {
        "tree": name, "digest": digest, "files": len(want), "go_files": len(go),
        "go_bytes": sum((base / r).stat().st_size for r in go), "bytes": total,
    }
    stamp.write_text(json.dumps(info))
    return info


def read_list() -> list[str]:
    return [ln.strip() for ln in LIST.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def build(out: Path, trees: list[str]) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    infos = []
    if "stdlib" in trees:
        infos.append(materialize("stdlib", STDLIB, walk(STDLIB), out))
    if "gocode16k" in trees:
        rels: list[Path] = []
        missing = []
        for p in read_list():
            files = package_files(p)
            if not files:
                missing.append(p)
            rels.extend(files)
        if missing:
            print(f"warning: {len(missing)} listed packages are not installed: {' '.join(missing[:10])}"
                  " (run benchmarks/install.sh)", file=sys.stderr)
        infos.append(materialize("gocode16k", GOCODE, rels, out))
    if "prometheus" in trees:
        rels = [f for p in installed_dev_packages() if p.startswith("golang-github-prometheus-")
                for f in package_files(p)]
        infos.append(materialize("prometheus", GOCODE, rels, out))
    if "gocode-full" in trees:
        infos.append(materialize("gocode-full", GOCODE, walk(GOCODE), out))
    for info in infos:
        print(f"{out / info['tree']}: {info['go_files']} .go files, {info['go_bytes'] / 1e6:.1f} MB of Go, "
              f"{info['files'] - info['go_files']} module files")
    return infos


def mono(out: Path, sizes: list[int]) -> list[dict]:
    """Generated monorepos: package directories in sha256 order until N files."""
    files = walk(GOCODE)
    by_dir: dict[Path, list[Path]] = {}
    for f in files:
        by_dir.setdefault(f.parent, []).append(f)
    order = sorted(by_dir, key=lambda d: hashlib.sha256(str(d).encode()).hexdigest())
    sizes = sorted(sizes)
    biggest = sizes[-1]
    chosen: list[Path] = []
    n = 0
    prefix_at: dict[int, int] = {}
    for d in order:
        go = [f for f in by_dir[d] if f.suffix == ".go"]
        chosen.extend(by_dir[d])
        n += len(go)
        for s in sizes:
            if s not in prefix_at and n >= s:
                prefix_at[s] = len(chosen)
        if n >= biggest:
            break
    infos = [materialize(f"mono-{biggest // 1000}k", GOCODE, chosen, out, copy=True)]
    big = out / f"mono-{biggest // 1000}k"
    for s in sizes[:-1]:
        infos.append(materialize(f"mono-{s // 1000}k", big, chosen[: prefix_at[s]], out))
    for info in infos:
        print(f"{out / info['tree']}: {info['go_files']} .go files, {info['go_bytes'] / 1e6:.1f} MB")
    return infos


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("select", help="regenerate benchmarks/gocode16k.txt (slow)")
    b = sub.add_parser("build", help="build the trees under --out")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    b.add_argument("--trees", default="stdlib,prometheus,gocode16k,gocode-full")
    m = sub.add_parser("mono", help="generated monorepos of N files")
    m.add_argument("--out", type=Path, default=DEFAULT_OUT)
    m.add_argument("--files", default="10000,25000,50000,100000")
    args = ap.parse_args(argv)
    if args.cmd == "select":
        select()
    elif args.cmd == "build":
        build(args.out, args.trees.split(","))
    else:
        mono(args.out, [int(x) for x in args.files.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
