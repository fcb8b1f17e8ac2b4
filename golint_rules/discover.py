"""Finding the files to scan, the way the go tool does.

``vendor/``, ``testdata/`` and directories whose name starts with ``.`` or
``_`` are skipped; inside a git work tree ``.gitignore`` is honoured (through
gitpython, one ``git ls-files`` call per work tree). Symlinked directories are
not followed (the go tool does not follow them either), so symlink loops
cannot trap the walk. This is the only module that walks the file system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

MODULE_FILES = ("go.mod", "go.work")


def skip_dir(name: str) -> bool:
    return name in ("vendor", "testdata") or name.startswith((".", "_"))


def wanted_file(name: str) -> bool:
    return name.endswith(".go") or name in MODULE_FILES


@dataclass
class Discovered:
    root: Path
    #: absolute paths of .go files, grouped by directory (one Go package each)
    packages: dict[Path, list[Path]] = field(default_factory=dict)
    #: absolute paths of go.mod / go.work files
    module_files: list[Path] = field(default_factory=list)
    #: (path, message) problems met while walking
    problems: list[tuple[Path, str]] = field(default_factory=list)

    def add(self, path: Path) -> None:
        if path.name.endswith(".go"):
            self.packages.setdefault(path.parent, []).append(path)
        elif path.name in MODULE_FILES:
            self.module_files.append(path)

    @property
    def go_files(self) -> list[Path]:
        return [f for fs in self.packages.values() for f in fs]

    def relpath(self, path: Path) -> str:
        return relpath(path, self.root)


def relpath(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(path, root)).as_posix()


def git_toplevel(start: Path) -> Path | None:
    """The work tree containing ``start`` (found without running git)."""
    d = start if start.is_dir() else start.parent
    for cand in (d, *d.parents):
        if (cand / ".git").exists():
            return cand
    return None


def scan_root(paths: list[Path]) -> Path:
    """The directory findings are reported relative to (SARIF's %SRCROOT%)."""
    first = paths[0]
    top = git_toplevel(first)
    if top is not None:
        return top
    cwd = Path.cwd().resolve()
    if all(p == cwd or cwd in p.parents for p in paths):
        return cwd
    dirs = [p if p.is_dir() else p.parent for p in paths]
    return Path(os.path.commonpath([str(d) for d in dirs]))


def _git_listing(top: Path) -> set[Path] | None:
    """Tracked and untracked-but-not-ignored files of a work tree, or None."""
    try:
        import git  # gitpython; imported only inside a work tree

        repo = git.Repo(top)
        out = repo.git.ls_files("-z", "--cached", "--others", "--exclude-standard")
    except Exception:
        return None
    return {top / p for p in out.split("\0") if p}


RACY_NS = 2_000_000_000  # a directory changed this recently may change again within its mtime tick


class DirListings:
    """Directory listings remembered between scans (git's "untracked cache" idea).

    A directory's mtime changes whenever an entry is added, removed or renamed in it, so
    while it is unchanged (and was at least 2 s old when recorded: coarse timestamps)
    its subdirectories and wanted file names are the same, and the directory is not
    listed again: a warm scan stats each directory instead of reading it. File contents
    are not cached here (the scan cache keys them by stat data and hashes).
    """

    VERSION = 1

    def __init__(self, path: Path | None = None, entries: dict[str, list] | None = None) -> None:
        self.path = path
        self.entries = entries or {}
        self.seen: dict[str, list] = {}
        self.reused = 0

    @classmethod
    def load(cls, path: Path) -> "DirListings":
        import json

        try:
            data = json.loads(path.read_bytes())
            if isinstance(data, dict) and data.get("v") == cls.VERSION and isinstance(data.get("dirs"), dict):
                return cls(path, data["dirs"])
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            pass  # missing or corrupt: list every directory, write a new one
        return cls(path)

    def lookup(self, d: str, mtime_ns: int) -> tuple[list[str], list[str]] | None:
        e = self.entries.get(d)
        if isinstance(e, list) and len(e) == 4 and e[0] == mtime_ns and e[1] is True:
            self.seen[d] = e
            self.reused += 1
            return e[2], e[3]
        return None

    def record(self, d: str, mtime_ns: int, subdirs: list[str], names: list[str], now_ns: int) -> None:
        self.seen[d] = [mtime_ns, mtime_ns < now_ns - RACY_NS, subdirs, names]

    def save(self) -> None:
        """Write what this walk saw, atomically, when it differs from what was loaded."""
        if self.path is None or self.seen == self.entries:
            return
        import json

        from .fsutil import write_atomic

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps({"v": self.VERSION, "dirs": self.seen}, separators=(",", ":")).encode())
        except OSError:
            pass  # a read-only cache never fails a scan


def _walk(top: str, listings: DirListings | None):
    """``os.walk(top)`` without following symlinks, pruned by :func:`skip_dir`, in the same
    order (directories sorted, depth first), yielding (directory, sorted wanted names)."""
    import time

    now = time.time_ns()
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            mtime = os.stat(d).st_mtime_ns
        except OSError:
            continue
        cached = listings.lookup(d, mtime) if listings is not None else None
        if cached is not None:
            subdirs, names = cached
        else:
            subdirs, names = [], []
            try:
                with os.scandir(d) as it:
                    for e in it:
                        try:
                            is_dir = e.is_dir()
                        except OSError:
                            is_dir = False
                        if is_dir:
                            if not skip_dir(e.name) and not e.is_symlink():
                                subdirs.append(e.name)
                        elif wanted_file(e.name):
                            names.append(e.name)
            except OSError:
                continue  # unreadable directory: skipped, as os.walk does
            subdirs.sort()
            names.sort()
            if listings is not None:
                listings.record(d, mtime, subdirs, names, now)
        yield d, names
        stack.extend(os.path.join(d, s) for s in reversed(subdirs))


def discover(paths: Iterable[Path], *, use_gitignore: bool = True, root: Path | None = None,
             dir_cache: DirListings | None = None) -> Discovered:
    resolved = [Path(os.path.abspath(p)) for p in paths]
    result = Discovered(root=Path(os.path.abspath(root)) if root is not None else scan_root(resolved))
    listings: dict[str, set[Path] | None] = {}
    seen: set[str] = set()

    tops: dict[str, str | None] = {}

    def toplevel(d: str) -> str | None:  # git_toplevel, memoised per directory (strings: cheap)
        top = tops.get(d, "")
        if top == "":
            if os.path.exists(os.path.join(d, ".git")):
                top = d
            else:
                parent = os.path.dirname(d)
                top = None if parent == d else toplevel(parent)
            tops[d] = top
        return top

    for p in resolved:
        if p.is_file() or (p.is_symlink() and not p.is_dir()):
            if not wanted_file(p.name):
                continue
            if str(p) not in seen:
                seen.add(str(p))
                result.add(p)  # an explicitly named file is always scanned
            continue
        if not p.is_dir():
            result.problems.append((p, "no such file or directory"))
            continue
        for dirpath, names in _walk(str(p), dir_cache):
            if not names:
                continue
            d = Path(dirpath)
            child = getattr(d, "_make_child_relpath", d.joinpath)  # pathlib's own fast join when present
            top = toplevel(dirpath) if use_gitignore else None  # one look-up per directory, not per file
            if top is not None and top not in listings:
                listings[top] = _git_listing(Path(top))
            listing = listings[top] if top is not None else None
            go_files = None
            for name in names:
                key = os.path.join(dirpath, name)
                if key in seen:
                    continue
                fp = child(name)
                if listing is not None and fp not in listing:
                    continue
                seen.add(key)
                if name.endswith(".go"):
                    if go_files is None:
                        go_files = result.packages.setdefault(d, [])
                    go_files.append(fp)
                else:
                    result.module_files.append(fp)
    return result


def module_tree(root: Path, *, use_gitignore: bool = True) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The ``.go`` files of the module at directory ``root``, in one walk that stops at nested modules.

    Returns ``(packages, nested)``: ``packages`` lists ``(directory, sorted .go file names)``
    in walk order (directories relative to ``root``, ``'/'``-separated, ``"."`` for the root;
    the order is that of ``sorted(discover([root]).packages)``), and ``nested`` the outermost
    directories below ``root`` holding their own ``go.mod``. Their trees belong to the nested
    module and are not walked. The same files as :func:`discover` with ``[root]`` (skipped
    directories, ``.gitignore``, no followed symlinks): only the nested modules' trees are cut.
    """
    top_dir = os.path.abspath(root)
    packages: list[tuple[str, list[str]]] = []
    nested: list[str] = []
    listings: dict[str, set[str] | None] = {}
    top0: str | None = None
    if use_gitignore:
        found = git_toplevel(Path(top_dir)) if os.path.isdir(top_dir) else None
        top0 = str(found) if found is not None else None
    tops: dict[str, str | None] = {}  # directory -> its work tree (discover's toplevel())
    prefix_len = len(top_dir.rstrip("/")) + 1
    for dirpath, dirnames, filenames in os.walk(top_dir, followlinks=False, onerror=None):
        if use_gitignore:
            if dirpath == top_dir:
                top = top0
            else:
                has_git = (".git" in dirnames or ".git" in filenames) and os.path.exists(os.path.join(dirpath, ".git"))
                top = dirpath if has_git else tops[os.path.dirname(dirpath)]
            tops[dirpath] = top
        else:
            top = None
        dirnames[:] = sorted(d for d in dirnames if not skip_dir(d))
        names = sorted(n for n in filenames if wanted_file(n))
        if not names:
            continue
        listing: set[str] | None = None
        if top is not None:
            if top not in listings:
                got = _git_listing(Path(top))
                listings[top] = None if got is None else {str(p) for p in got}
            listing = listings[top]
        if listing is not None:
            names = [n for n in names if os.path.join(dirpath, n) in listing]
        rel = dirpath[prefix_len:] if dirpath != top_dir else "."
        if rel != "." and "go.mod" in names:
            nested.append(rel)
            dirnames[:] = []
            continue
        gos = [n for n in names if n.endswith(".go")]
        if gos:
            packages.append((rel, gos))
    return packages, nested
