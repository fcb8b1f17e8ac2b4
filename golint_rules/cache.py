"""The result cache: a re-scan with nothing changed reads no Go file.

What is cached is the *finished* result of one unit of work: one package
directory (every finding of its files, after suppressions, with fingerprints)
or one ``go.mod``. The entry is valid only for the exact inputs it was computed
from, so a hit returns what a fresh scan would return:

- **the namespace** (a directory under the cache root) is a digest of the
  gorules version, the code of the engine and of every rule (size and mtime of
  the package's ``.py`` files), the shipped policy files (``rules/*.toml``), the
  config (``Config.fingerprint()``), every file an option names (the radar),
  the active rules and the scan options that change findings, and the scan root
  (paths in findings are relative to it). Change any of these and nothing old is
  used.
- **a package entry** holds the name, size, mtime, inode and sha256 of every
  file of the directory. Cross-file rules (GR001's and GR008's same-package
  helpers) read only the package's own directory, so the key covers them: any
  file added, removed or changed in the directory invalidates the whole package.
  GR010 also looks at ``testdata/fuzz/FuzzXxx/``: its listing is part of the key.
- **a go.mod entry** is keyed by the go.mod's bytes and by the name, size, mtime
  and inode of every file discovered below its directory (GR006 reads the import
  blocks of the whole module). It is used only when the scan walked the module's
  whole directory (a scan of one named ``go.mod``, a shard or a diff-aware scan
  builds the module fresh).

Stat data saves reading: a file whose size, mtime and inode match the entry is
not read again. A file modified within two seconds of being recorded could
change again within the file system's timestamp granularity, so its stat data
is not trusted (git's "racy" rule): it is read and hashed next time. Units
with an internal error or an unreadable file are never stored.

Entries are JSON (never pickle: a cache directory must not be a way to run
code), written to a temporary file and renamed into place, so a crash leaves
either the old entry or the new one. An entry that cannot be read or parsed is
ignored (and overwritten by the next store).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from .model import Finding

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine, ScanResult

FORMAT = 1
INDEX_NAME = "index.json"
KEEP_DAYS = 30  # a namespace no scan used for this long is deleted
RACY_NS = 2_000_000_000  # stat data younger than this is not trusted


def default_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gorules"


@dataclass(slots=True)
class FileStat:
    path: Path
    size: int
    mtime_ns: int
    ino: int
    trusted: bool  # old enough for its stat data to stand for its content

    @classmethod
    def of(cls, path: Path, now_ns: int) -> "FileStat | None":
        try:
            st = os.stat(str(path))
        except OSError:
            return None
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_mtime_ns < now_ns - RACY_NS)

    def same(self, rec: list[Any]) -> bool:
        # rec: [name, size, mtime_ns, ino, trusted, sha]
        return bool(rec[4]) and self.trusted and rec[1] == self.size and rec[2] == self.mtime_ns and rec[3] == self.ino


def stat_files(paths: Iterable[Path]) -> list[FileStat] | None:
    """Stat data of ``paths`` (None if any cannot be stat'ed: that unit is not cached)."""
    now = time.time_ns()
    out = []
    for p in paths:
        st = FileStat.of(p, now)
        if st is None:
            return None
        out.append(st)
    return out


def sha256_file(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """Size and mtime of every module of gorules and of the shipped policy files."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    roots = [here]
    try:
        from .config import rules_dir

        roots.append(rules_dir())
    except FileNotFoundError:  # pragma: no cover
        pass
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".py", ".toml", ".scm", ".yml", ".yaml")):
                    p = os.path.join(dirpath, name)
                    try:
                        st = os.stat(p)
                    except OSError:
                        continue
                    h.update(f"{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def dir_listings_path(cache_dir: Path | None, paths: list[Path]) -> Path:
    """Where the directory listings of a scan of ``paths`` are kept (``discover.DirListings``):
    one file per gorules code and set of scanned paths, pruned with the namespaces."""
    from . import __version__

    key = json.dumps([__version__, _code_fingerprint(), sorted(os.path.abspath(p) for p in paths)])
    name = hashlib.sha256(key.encode()).hexdigest()[:24]
    root = Path(cache_dir) if cache_dir is not None else default_dir()
    return root / f"v{FORMAT}" / f"dirs-{name}" / "listings.json"


def _option_files(engine: "Engine") -> list[str]:
    """Content digests of the files rule options name (e.g. GR009's radar)."""
    out = []
    for code, info in sorted(engine.rules.items()):
        for key, value in sorted(info.options.items()):
            if isinstance(value, str) and value and ("/" in value or value.endswith(".toml")):
                p = Path(value)
                if p.is_file():
                    out.append(f"{code}.{key}={sha256_file(p)}")
    return out


class ScanCache:
    """One scan's view of the cache: a namespace directory of JSON entries."""

    def __init__(self, root: Path, namespace: str) -> None:
        self.root = root
        self.dir = root / f"v{FORMAT}" / namespace
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.errors = 0
        #: entries of the last scan that changed anything, in one file (one read, not thousands)
        self._index: dict[str, Any] | None = None
        self._index_complete = True  # every entry this scan used came from the index
        self._used: dict[str, dict[str, Any]] = {}  # entries this scan's hits used

    @classmethod
    def for_scan(cls, engine: "Engine", scan_root: Path, cache_dir: Path | None) -> "ScanCache":
        from . import __version__

        opts = engine.options
        payload = {
            "version": __version__,
            "code": _code_fingerprint(),
            "config": engine.config.fingerprint(),
            "config_root": str(engine.config.root or ""),
            "option_files": _option_files(engine),
            "go": sorted(a.code for a in engine.go_analyzers),
            "mod": sorted(a.code for a in engine.mod_analyzers),
            "generated": engine.include_generated,
            "select": sorted(opts.select) if opts.select is not None else None,
            "ignore": sorted(opts.ignore),
            "unused": opts.report_unused_ignores,
            "root": str(scan_root),
            "gr000": engine._code_visible("GR000"),
        }
        ns = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]
        root = Path(cache_dir) if cache_dir is not None else default_dir()
        cache = cls(root, ns)
        cache.prune()
        return cache

    def prune(self, max_age_days: float = KEEP_DAYS) -> list[Path]:
        """Mark this namespace used; delete namespaces no scan used for ``max_age_days``.

        Every change of gorules, the rules or the config starts a new namespace, so
        old ones would pile up. Cheap: one ``scandir`` of a handful of directories.
        """
        import shutil

        removed: list[Path] = []
        base = self.dir.parent
        try:
            if self.dir.is_dir():
                os.utime(self.dir)  # the directory's mtime says when it was last used
            entries = list(os.scandir(base))
        except OSError:
            return removed
        limit = time.time() - max_age_days * 86400
        for e in entries:
            if e.path == str(self.dir) or not e.is_dir(follow_symlinks=False):
                continue
            try:
                if e.stat(follow_symlinks=False).st_mtime < limit:
                    shutil.rmtree(e.path, ignore_errors=True)
                    removed.append(Path(e.path))
            except OSError:
                continue
        return removed

    # -- entries -------------------------------------------------------------
    def _entry_path(self, kind: str, path: Path) -> Path:
        key = hashlib.sha256(f"{kind}\0{path}".encode()).hexdigest()[:40]
        return self.dir / key[:2] / f"{key[2:]}.json"

    def _index_entries(self) -> dict[str, Any]:
        if self._index is None:
            self._index = {}
            try:
                raw = (self.dir / INDEX_NAME).read_bytes()
            except OSError:
                return self._index
            try:
                data = json.loads(raw)
                if not isinstance(data, dict) or data.get("v") != FORMAT or not isinstance(data.get("entries"), dict):
                    raise ValueError("not an index of this format")
                self._index = data["entries"]
            except (ValueError, UnicodeDecodeError, RecursionError):
                self.errors += 1  # corrupt: ignored, rewritten at the end of this scan
        return self._index

    def _load(self, kind: str, path: Path) -> dict[str, Any] | None:
        key = f"{kind}\0{path}"
        entry = self._index_entries().get(key)
        if isinstance(entry, dict) and entry.get("v") == FORMAT and entry.get("path") == str(path):
            self._used[key] = entry
            return entry
        self._index_complete = False
        entry = self._load_file(kind, path)
        if entry is not None:
            self._used[key] = entry
        return entry

    def drop_index(self) -> None:
        self._index = None

    def finish(self, keys: list[tuple[str, Path]]) -> None:
        """After a scan: rewrite the index when anything changed (a miss, a refresh, a
        unit the index did not hold), from the entries this scan used or stored."""
        self._index = None
        if self._index_complete and not self.misses and not self.stores:
            return
        entries: dict[str, Any] = {}
        for kind, path in keys:
            key = f"{kind}\0{path}"
            entry = self._used.get(key) or self._load_file(kind, path)  # stored by a worker: its file
            if entry is not None:
                entries[key] = entry
        self._write_json(self.dir / INDEX_NAME, {"v": FORMAT, "entries": entries})
        self._used.clear()

    def _load_file(self, kind: str, path: Path) -> dict[str, Any] | None:
        p = self._entry_path(kind, path)
        try:
            raw = p.read_bytes()
        except OSError:
            return None
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict) or entry.get("v") != FORMAT or entry.get("path") != str(path):
                raise ValueError("not an entry of this format")
            return entry
        except (ValueError, UnicodeDecodeError, RecursionError):
            self.errors += 1  # corrupt or foreign: ignored, replaced by the next store
            return None

    def _store(self, kind: str, path: Path, entry: dict[str, Any]) -> None:
        p = self._entry_path(kind, path)
        entry = {"v": FORMAT, "path": str(path), **entry}
        if self._write_json(p, entry):
            self.stores += 1
            self._used[f"{kind}\0{path}"] = entry

    def _write_json(self, p: Path, data: dict[str, Any]) -> bool:
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            self._tag()
            from .fsutil import write_atomic  # only when storing: keeps a cached run's start-up light

            write_atomic(p, json.dumps(data, separators=(",", ":")).encode("utf-8"))
            return True
        except OSError:
            self.errors += 1  # a read-only or full cache never fails the scan
            return False

    def _tag(self) -> None:
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            try:
                tag.write_text(
                    "Signature: 8a477f597d28d172789f06886806bc55\n"
                    "# This file is a cache directory tag created by gorules.\n"
                )
            except OSError:
                pass

    # -- packages ------------------------------------------------------------
    @staticmethod
    def package_extra(directory: Path) -> list[list[Any]]:
        """What a package's findings depend on besides its .go files: GR010's seed corpora."""
        fuzz = os.path.join(directory, "testdata", "fuzz")
        try:
            entries = sorted(os.scandir(fuzz), key=lambda e: e.name)
        except OSError:
            return []
        out: list[list[Any]] = []
        for e in entries:
            seeded = False
            try:
                if e.is_dir():
                    seeded = any(c.is_file() and not c.name.startswith(".") for c in os.scandir(e.path))
            except OSError:
                pass
            out.append([e.name, seeded])
        return out

    @staticmethod
    def _content_key(names_shas: list[tuple[str, str]], extra: Any) -> str:
        h = hashlib.sha256()
        for name, sha in names_shas:
            h.update(f"{name}\0{sha}\n".encode())
        h.update(json.dumps(extra).encode() if extra else b"[]")
        return h.hexdigest()

    def lookup_package(self, directory: Path, stats: list[FileStat]) -> "ScanResult | None":
        entry = self._load("pkg", directory)
        if entry is None:
            self.misses += 1
            return None
        recs = entry.get("files") or []
        if [r[0] for r in recs] != [s.path.name for s in stats]:
            self.misses += 1
            return None
        pairs: list[tuple[str, str]] = []
        refreshed = False
        for st, rec in zip(stats, recs):
            if st.same(rec):
                pairs.append((rec[0], rec[5]))
                continue
            sha = sha256_file(st.path)  # stat changed (or racy): does the content still match?
            if sha is None or sha != rec[5]:
                self.misses += 1
                return None
            pairs.append((rec[0], sha))
            refreshed = True
        extra = self.package_extra(directory)
        if not refreshed and "extra" in entry:
            # every file as recorded: the content key was computed from these very records,
            # so it still holds exactly when the seed corpora are the same
            same = entry["extra"] == extra
        else:
            same = self._content_key(pairs, extra) == entry.get("content")
        if not same:
            self.misses += 1
            return None
        result = self._result(entry)
        if result is None:
            self.misses += 1
            return None
        if refreshed:  # same bytes, new stat data (a checkout, a touch): record it
            self._store("pkg", directory, {**entry, "files": self._records(stats, dict(pairs))})
        self.hits += 1
        return result

    @staticmethod
    def _records(stats: list[FileStat], shas: dict[str, str]) -> list[list[Any]]:
        return [[s.path.name, s.size, s.mtime_ns, s.ino, s.trusted, shas[s.path.name]] for s in stats]

    def store_package(self, directory: Path, stats: list[FileStat], partial: "ScanResult", shas: dict[str, str]) -> None:
        """Record a package's result; ``shas`` maps file names to the sha256 of the bytes analysed."""
        if partial.internal_errors or any(not shas.get(s.path.name) for s in stats):
            return  # transient trouble (internal error, unreadable file): never cached
        extra = self.package_extra(directory)
        pairs = [(s.path.name, shas[s.path.name]) for s in stats]
        self._store("pkg", directory, {
            "files": self._records(stats, shas),
            "content": self._content_key(pairs, extra),
            "extra": extra,
            "result": self._dump(partial),
        })

    # -- go.mod --------------------------------------------------------------
    @staticmethod
    def module_key(modfile_sha: str, tree: list[FileStat]) -> str:
        h = hashlib.sha256(modfile_sha.encode())
        h.update("".join([f"{s.path}\0{s.size}\0{s.mtime_ns}\0{s.ino}\n" for s in tree]).encode())  # one update: same digest
        return h.hexdigest()

    def lookup_modfile(self, path: Path, key: str) -> "ScanResult | None":
        entry = self._load("mod", path)
        result = self._result(entry) if entry is not None and entry.get("content") == key else None
        if result is None:
            self.misses += 1
        else:
            self.hits += 1
        return result

    def store_modfile(self, path: Path, key: str, partial: "ScanResult") -> None:
        if partial.internal_errors:
            return
        self._store("mod", path, {"content": key, "result": self._dump(partial)})

    # -- results -------------------------------------------------------------
    @staticmethod
    def _dump(partial: "ScanResult") -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in partial.findings],
            "files_scanned": partial.files_scanned,
            "files": dict(partial.files),  # relpath -> sha256 of the bytes analysed
        }

    def _result(self, entry: dict[str, Any]) -> "ScanResult | None":
        from .engine import ScanResult

        try:
            res = entry["result"]
            findings = [Finding.from_dict(d) for d in res["findings"]]
            out = ScanResult(root=Path("."), findings=findings, rules={}, files_scanned=int(res["files_scanned"]))
            out.files = {str(rel): str(sha) for rel, sha in dict(res["files"]).items()}
            return out
        except (KeyError, TypeError, ValueError):
            self.errors += 1
            return None
