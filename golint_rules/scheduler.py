"""How a scan runs: units of work, the cache, a process pool, results streamed back.

A *unit* is one package directory (its ``.go`` files are analysed together:
the same-package rules need each other's files) or one ``go.mod``/``go.work``.
The main process discovers, looks every unit up in the cache, and hands the
rest to a pool of worker processes (``--jobs``, default one per core), largest
first. Workers are forked, so they share the already-loaded rules, config and
parser; each returns the finished findings of its unit (suppressions applied,
fingerprints computed) and forgets the unit's trees, so memory stays bounded by
one package per worker. Results are merged as they arrive: the progress callback
and ``ScanOptions.on_findings`` see them at once; the final list is sorted, so
the output does not depend on the order (``--jobs 1`` and ``--jobs 8`` give
byte-identical reports).

Small scans (a pre-commit hook's three files) never start a pool: forking and
shipping results back would cost more than it saves.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from .cache import FileStat, ScanCache, stat_files

if TYPE_CHECKING:  # pragma: no cover
    from .discover import Discovered
    from .engine import Engine, ScanResult

#: below these sizes a scan runs in this process (a pool would cost more than it saves)
POOL_MIN_FILES = 48
POOL_MIN_BYTES = 2_000_000
#: work sent to a worker at once: a few packages, or one big one
BATCH_BYTES = 1_000_000
BATCH_UNITS = 16


@dataclass
class Unit:
    index: int
    kind: str  # "pkg" (a package directory) or "mod" (a go.mod / go.work)
    path: Path  # the directory, or the module file
    files: list[Path]
    progress: int  # files counted by the progress callback when the unit is done
    size: int = 0
    stats: list[FileStat] | None = None  # for the cache (None: not cached)
    mod_key: str | None = None


def default_jobs() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Workers are forked (they inherit the loaded rules); without fork the scan stays in-process."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def resolve_jobs(jobs: int | None) -> int:
    if not can_fork():  # pragma: no cover - Windows
        return 1
    if jobs is None or jobs <= 0:
        return default_jobs()
    return jobs


# ---------------------------------------------------------------------------


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def plan_units(engine: "Engine", disc: "Discovered") -> tuple[list[Unit], int]:
    """The units of a scan in a stable order, and the progress of excluded module files."""
    units: list[Unit] = []
    skipped = 0
    excluding = bool(engine.config.exclude)
    for directory, files in sorted(disc.packages.items()):
        kept = [f for f in files if not engine.config.is_excluded(engine._cfg_rel(f, disc))] if excluding else files
        if kept:
            units.append(Unit(len(units), "pkg", directory, kept, len(kept)))
    for mf in sorted(disc.module_files):
        if engine.config.is_excluded(engine._cfg_rel(mf, disc)):
            skipped += 1
            continue
        units.append(Unit(len(units), "mod", mf, [mf], 1))
    return units, skipped


def _module_keys(units: list[Unit], disc: "Discovered", paths: list[Path], engine: "Engine") -> None:
    """Cache keys of go.mod units: the go.mod's bytes and the stat data of every file below it.

    Only when the scan walked the module's whole directory (no shard or diff
    filter, the directory inside a scanned directory): otherwise the module is
    built fresh every time. Each file is stat'ed once (package units already were).
    """
    if engine.options.file_filters:
        return
    mods = [u for u in units if u.kind == "mod" and u.path.name == "go.mod"]
    if not mods:
        return
    scanned_dirs = [Path(os.path.abspath(p)) for p in paths if p.is_dir()]
    known: dict[Path, FileStat | None] = {}
    for u in units:
        if u.kind == "pkg" and u.stats is not None:
            known.update(zip(u.files, u.stats))
    all_files: dict[str, list[Path]] = {str(d): list(fs) for d, fs in disc.packages.items()}
    for mf in disc.module_files:
        all_files.setdefault(str(mf.parent), []).append(mf)
    dirs = sorted(all_files)
    now = time.time_ns()

    def stat(p: Path) -> FileStat | None:
        if p not in known:
            known[p] = FileStat.of(p, now)
        return known[p]

    for u in mods:
        root = u.path.parent
        if not any(root == d or d in root.parents for d in scanned_dirs):
            continue
        try:
            mod_sha = hashlib.sha256(u.path.read_bytes()).hexdigest()
        except OSError:
            continue
        prefix = str(root)
        below = prefix.rstrip(os.sep) + os.sep
        tree_files: list[Path] = list(all_files.get(prefix, []))
        for d in dirs[bisect.bisect_left(dirs, below):]:
            if not d.startswith(below):
                break
            tree_files.extend(all_files[d])
        stats = [stat(p) for p in tree_files]  # directories in string order, files by name: deterministic
        if any(s is None or not s.trusted for s in stats):
            continue
        u.mod_key = ScanCache.module_key(mod_sha, stats)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Worker side. Workers are forked after _STATE is set, so they inherit it.

_STATE: tuple["Engine", "Discovered", ScanCache | None] | None = None


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C


def execute_unit(engine: "Engine", disc: "Discovered", unit: Unit, cache: ScanCache | None) -> "ScanResult":
    from .engine import ScanResult

    partial = ScanResult(root=disc.root, findings=[], rules={})
    if unit.kind == "pkg":
        engine._scan_package(unit.path, unit.files, disc, partial)
        if cache is not None and unit.stats is not None:
            limit = engine.config.max_file_size
            shas = {p.name: partial.files.get(disc.relpath(p), "") for p in unit.files}
            for st in unit.stats:  # a too-large file is not read: its finding depends on its size only
                if not shas.get(st.path.name) and st.size > limit:
                    shas[st.path.name] = f"size:{st.size}"
            cache.store_package(unit.path, unit.stats, partial, shas)
    else:
        engine._scan_modfile(unit.path, disc, partial)
        disc.__dict__.pop("_gorules_modules", None)  # module.module_for's per-scan cache: bounded memory
        if cache is not None and unit.mod_key is not None:
            cache.store_modfile(unit.path, unit.mod_key, partial)
    return partial


_TRIM_BYTES = 4_000_000
_libc = None


def _release_memory() -> None:
    """Give the heap freed by a big unit's trees back to the system (glibc keeps it otherwise)."""
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


def _run_batch(batch: list[Unit]) -> list[tuple[int, "ScanResult"]]:
    assert _STATE is not None, "worker started without scan state"
    engine, disc, cache = _STATE
    out = []
    for u in batch:
        out.append((u.index, execute_unit(engine, disc, u, cache)))
        if u.size >= _TRIM_BYTES:
            import gc

            gc.collect()
            _release_memory()  # only after big units: trimming after every batch made the workers
            # fault the pages back in (mono-25k: 24.5 s instead of 20.2 s, no smaller peak)
    return out


def _batches(units: list[Unit]) -> list[list[Unit]]:
    """Largest units first (the pool's tail stays short), small ones grouped."""
    out: list[list[Unit]] = []
    cur: list[Unit] = []
    cur_bytes = 0
    for u in sorted(units, key=lambda u: (-u.size, u.index)):
        cur.append(u)
        cur_bytes += u.size
        if cur_bytes >= BATCH_BYTES or len(cur) >= BATCH_UNITS:
            out.append(cur)
            cur, cur_bytes = [], 0
    if cur:
        out.append(cur)
    return out


def _pool_results(engine: "Engine", disc: "Discovered", units: list[Unit], cache: ScanCache | None,
                  jobs: int) -> Iterator[tuple[Unit, "ScanResult"]]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    global _STATE
    by_index = {u.index: u for u in units}
    pending_units = set(by_index)
    _STATE = (engine, disc, cache)
    ex = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                             initializer=_worker_init)
    broken = False
    try:
        futures = {ex.submit(_run_batch, b) for b in _batches(units)}
        while futures:
            done, futures = wait(futures, return_when=FIRST_COMPLETED)
            for fut in done:
                try:
                    results = fut.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                for index, partial in results:
                    pending_units.discard(index)
                    yield by_index[index], partial
            if broken:
                break
    except BaseException:  # Ctrl-C, or the consumer stopped: do not wait for running batches
        for proc in list(getattr(ex, "_processes", {}).values()):
            proc.terminate()
        broken = True
        raise
    finally:
        _STATE = None
        ex.shutdown(wait=not broken, cancel_futures=True)
    if broken:  # a worker died (killed, out of memory): finish here, in order
        print("gorules: a worker process died; finishing the scan in the main process", file=sys.stderr)
        for index in sorted(pending_units):
            yield by_index[index], execute_unit(engine, disc, by_index[index], cache)


def run_units(engine: "Engine", disc: "Discovered", paths: list[Path], result: "ScanResult",
              progress: Callable[[int, int], None] | None) -> None:
    opts = engine.options
    units, done = plan_units(engine, disc)
    total = len(disc.go_files) + len(disc.module_files)
    jobs = resolve_jobs(opts.jobs)
    cache = ScanCache.for_scan(engine, disc.root, opts.cache_dir) if opts.cache else None
    nfiles = sum(len(u.files) for u in units)
    pooled = jobs > 1 and nfiles >= POOL_MIN_FILES
    if cache is not None or pooled:
        for u in units:
            if cache is not None:
                u.stats = stat_files(u.files)
                u.size = sum(s.size for s in u.stats) if u.stats else 0
            else:  # sizes only (the pool's order): no stat records to keep in every process
                u.size = sum(_size(f) for f in u.files)
        if cache is not None:
            _module_keys(units, disc, paths, engine)
        pooled = pooled and sum(u.size for u in units) >= POOL_MIN_BYTES

    def merge(unit: Unit, partial: "ScanResult", cached: bool = False) -> None:
        nonlocal done
        result.findings.extend(partial.findings)
        result.files_scanned += partial.files_scanned
        result.files_parsed += partial.files_parsed
        result.bytes_read += partial.bytes_read
        result.internal_errors += partial.internal_errors
        result.problems.extend(partial.problems)
        if cached:
            result.files_cached += partial.files_scanned
        if opts.hash_files:
            result.files.update(partial.files)
        else:
            result.files.update(dict.fromkeys(partial.files, ""))
        done += unit.progress
        if opts.on_findings is not None and partial.findings:
            opts.on_findings(list(partial.findings))
        if progress:
            progress(done, total)

    pending: list[Unit] = []
    for u in units:
        hit = None
        if cache is not None:
            if u.kind == "pkg" and u.stats is not None:
                hit = cache.lookup_package(u.path, u.stats)
            elif u.kind == "mod" and u.mod_key is not None:
                hit = cache.lookup_modfile(u.path, u.mod_key)
        if hit is not None:
            merge(u, hit, cached=True)
        else:
            pending.append(u)

    if cache is not None:
        cache.drop_index()  # looked up: the forked workers need not inherit it
    if pooled:  # decide again on what the cache left: a few misses are not worth a pool
        pooled = sum(len(u.files) for u in pending) >= POOL_MIN_FILES and sum(u.size for u in pending) >= POOL_MIN_BYTES
    from .backends import prepare

    prepare(engine, disc, pending)  # the Rust path: candidate search outside the GIL (no-op for python)
    engine._hash_for_cache = cache is not None
    try:
        if pooled and len(pending) > 1:
            for u, partial in _pool_results(engine, disc, pending, cache, jobs):
                merge(u, partial)
        else:
            for u in pending:
                merge(u, execute_unit(engine, disc, u, cache))
    finally:
        engine._hash_for_cache = False
        engine._candidates = None
    if cache is not None:
        cache.finish([("pkg" if u.kind == "pkg" else "mod", u.path) for u in units
                      if (u.kind == "pkg" and u.stats is not None) or (u.kind == "mod" and u.mod_key is not None)])
