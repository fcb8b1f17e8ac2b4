"""Directory listings remembered between scans: reused while a directory's mtime stands
still, re-read when an entry is added or removed, never trusted when just changed."""

from __future__ import annotations

import os
from pathlib import Path

from golint_rules.discover import DirListings, discover

OLD = 1_600_000_000 * 10**9  # 2020: well past the racy window


def make(root: Path, files: list[str]) -> None:
    for rel in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("package x\n")
    for d, _, _ in os.walk(root):
        os.utime(d, ns=(OLD, OLD))


def files_of(disc) -> list[str]:
    return sorted(str(p) for fs in disc.packages.values() for p in fs)


def scan(root: Path, store: Path):
    cache = DirListings.load(store)
    disc = discover([root], use_gitignore=False, dir_cache=cache)
    cache.save()
    return disc, cache


def test_unchanged_directories_are_not_listed_again(tmp_path):
    root = tmp_path / "repo"
    make(root, ["a/x.go", "a/b/y.go", "c/z.go", "vendor/v.go", "a/testdata/t.go"])
    store = tmp_path / "listings.json"
    first, c1 = scan(root, store)
    assert c1.reused == 0 and store.exists()
    second, c2 = scan(root, store)
    assert files_of(second) == files_of(first) == files_of(discover([root], use_gitignore=False))
    assert c2.reused == len(c2.seen) == 4  # repo, a, a/b, c: vendor and testdata are never walked


def test_a_new_file_or_directory_is_found(tmp_path):
    root = tmp_path / "repo"
    make(root, ["a/x.go", "c/z.go"])
    store = tmp_path / "listings.json"
    scan(root, store)
    (root / "a" / "new.go").write_text("package x\n")  # changes a's mtime
    (root / "c" / "d").mkdir()
    (root / "c" / "d" / "deep.go").write_text("package d\n")
    disc, cache = scan(root, store)
    assert files_of(disc) == files_of(discover([root], use_gitignore=False))
    assert str(root / "a" / "new.go") in files_of(disc) and str(root / "c" / "d" / "deep.go") in files_of(disc)
    assert cache.reused == 1  # only the root directory stood still


def test_a_just_changed_directory_is_not_trusted(tmp_path):
    root = tmp_path / "repo"
    make(root, ["a/x.go"])
    os.utime(root / "a")  # modified now: within the racy window
    store = tmp_path / "listings.json"
    scan(root, store)
    (root / "a" / "y.go").write_text("package x\n")
    os.utime(root / "a", ns=(os.stat(root / "a").st_atime_ns, os.stat(root / "a").st_mtime_ns))
    disc, cache = scan(root, store)
    assert str(root / "a" / "y.go") in files_of(disc)


def test_a_corrupt_listing_file_is_ignored(tmp_path):
    root = tmp_path / "repo"
    make(root, ["a/x.go"])
    store = tmp_path / "listings.json"
    store.write_bytes(b"\x00{not json")
    disc, cache = scan(root, store)
    assert files_of(disc) == [str(root / "a" / "x.go")] and cache.reused == 0


def test_warm_engine_scan_reuses_listings(tmp_path):
    from golint_rules import config as config_mod, engine

    root = tmp_path / "repo"
    make(root, ["a/x.go", "b/y.go"])
    opts = engine.ScanOptions(cache=True, cache_dir=tmp_path / "cache", jobs=1)
    engine.scan([root], config_mod.load_config(), opts)
    (listing,) = (tmp_path / "cache").rglob("listings.json")
    before = listing.stat().st_mtime_ns
    result = engine.scan([root], config_mod.load_config(), opts)
    assert result.files_scanned == 2 and result.files_cached == 2
    assert listing.stat().st_mtime_ns == before  # nothing changed: nothing rewritten
