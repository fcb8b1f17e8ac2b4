"""The result cache: warm scans read nothing, and every change that matters invalidates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golint_rules import cache as cache_mod, config as config_mod, engine, scheduler

OLD = 1_600_000_000_000_000_000  # an mtime (ns) far in the past: stat data is trusted


def write(path: Path, text: str, *, old: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if old:
        os.utime(path, ns=(OLD, OLD))
    return path


def scan(root: Path, cache_dir: Path, cfg=None, **kw) -> engine.ScanResult:
    cfg = cfg or config_mod.load_config()
    opts = engine.ScanOptions(cache=True, cache_dir=cache_dir, jobs=kw.pop("jobs", 1), **kw)
    return engine.scan([root], cfg, opts)


def keys(result: engine.ScanResult) -> list[tuple[str, int, str]]:
    return [(f.path, f.line, f.code) for f in result.findings]


HELPER_GO = """package svc

func flush() {
	go send()
}

func send() {}
"""
HELPER_SYNC = """package svc

func flush() {
	send()
}

func send() {}
"""
HANDLER = """package svc

func Handle() {
	defer flush()
}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root / "svc" / "handler.go", HANDLER)
    write(root / "svc" / "helper.go", HELPER_GO)
    write(root / "other" / "x.go", "package other\n\nfunc F() {\n\tdefer func() { go F() }()\n}\n")
    return root


def test_warm_scan_reads_no_file_and_reports_the_same(tree: Path, tmp_path: Path):
    cold = scan(tree, tmp_path / "c")
    assert keys(cold) == [("other/x.go", 4, "GR001"), ("svc/handler.go", 4, "GR001")]
    assert cold.files_cached == 0 and cold.bytes_read > 0
    warm = scan(tree, tmp_path / "c")
    assert [f.to_dict() for f in warm.findings] == [f.to_dict() for f in cold.findings]
    assert warm.files_cached == 3 and warm.bytes_read == 0 and warm.files_parsed == 0
    assert warm.files_scanned == cold.files_scanned


def test_same_package_helper_change_invalidates_the_caller(tree: Path, tmp_path: Path):
    """GR001 flags `defer flush()` because helper.go's flush starts a goroutine: handler.go
    itself does not change, but its finding must go when helper.go changes."""
    scan(tree, tmp_path / "c")
    write(tree / "svc" / "helper.go", HELPER_SYNC)
    again = scan(tree, tmp_path / "c")
    assert keys(again) == [("other/x.go", 4, "GR001")]
    assert again.files_cached == 1  # other/ came from the cache, svc/ was analysed again


def test_new_file_in_the_package_invalidates(tree: Path, tmp_path: Path):
    write(tree / "svc" / "helper.go", HELPER_SYNC)
    scan(tree, tmp_path / "c")
    write(tree / "svc" / "async.go", "package svc\n\nfunc (s *S) x() {}\n\ntype S struct{}\n\nfunc init() {}\n")
    write(tree / "svc" / "helper.go", HELPER_SYNC.replace("func flush() {\n\tsend()", "func flush() {\n\tgo send()"))
    assert ("svc/handler.go", 4, "GR001") in keys(scan(tree, tmp_path / "c"))


def test_module_imports_invalidate_gomod_findings(tmp_path: Path):
    """GR006 reads the whole module's imports: dropping the only import of a required
    module makes its require indirect, though go.mod itself did not change."""
    root = tmp_path / "mod"
    write(root / "go.mod", "module example.com/app\n\ngo 1.23\n\nrequire example.com/dep v1.0.0\n")
    write(root / "main.go", 'package main\n\nimport "example.com/dep/client"\n\nvar _ = client.X\n')
    cfg = config_mod.load_config()
    first = scan(root, tmp_path / "c", cfg, select={"GR006"})
    assert [k for k in keys(first) if k[2] == "GR006"] == []
    again = scan(root, tmp_path / "c", cfg, select={"GR006"})
    assert again.files_cached == again.files_scanned  # go.mod too came from the cache
    write(root / "main.go", "package main\n\nvar _ = 1\n")
    after = scan(root, tmp_path / "c", cfg, select={"GR006"})
    assert [k for k in keys(after) if k[2] == "GR006"] == [("go.mod", 5, "GR006")]


def test_fuzz_seed_corpus_is_part_of_the_package_key(tmp_path: Path):
    root = tmp_path / "fz"
    write(root / "p" / "parse_test.go", "package p\n\nimport \"testing\"\n\nfunc FuzzParse(f *testing.F) {\n\tf.Fuzz(func(t *testing.T, b []byte) {})\n}\n")
    cfg = config_mod.load_config()
    before = scan(root, tmp_path / "c", cfg, select={"GR010"})
    assert [k[2] for k in keys(before)] == ["GR010"]
    write(root / "p" / "testdata" / "fuzz" / "FuzzParse" / "seed1", "go test fuzz v1\n[]byte(\"x\")\n")
    assert keys(scan(root, tmp_path / "c", cfg, select={"GR010"})) == []


def test_config_change_uses_a_fresh_namespace(tree: Path, tmp_path: Path):
    scan(tree, tmp_path / "c")
    cfgfile = tree / ".gorules.toml"
    cfgfile.write_text("[rules.GR001]\nenabled = false\n")
    off = scan(tree, tmp_path / "c", config_mod.load_config(cfgfile))
    assert [k for k in keys(off) if k[2] == "GR001"] == []
    assert off.files_cached == 0


def test_selection_is_part_of_the_key(tree: Path, tmp_path: Path):
    scan(tree, tmp_path / "c", select={"GR002"})
    assert len(keys(scan(tree, tmp_path / "c"))) == 2


def test_corrupt_entries_are_ignored_and_replaced(tree: Path, tmp_path: Path):
    cold = scan(tree, tmp_path / "c")
    entries = [p for p in (tmp_path / "c").rglob("*.json") if p.name not in (cache_mod.INDEX_NAME, "listings.json")]
    assert len(entries) == 2
    entries[0].write_bytes(b"\x00\xffnot json")
    entries[1].write_text(json.dumps({"v": 1, "path": "elsewhere"}))
    (index,) = (tmp_path / "c").rglob(cache_mod.INDEX_NAME)
    index.write_bytes(b"{not json")
    again = scan(tree, tmp_path / "c")
    assert keys(again) == keys(cold) and again.files_cached == 0
    third = scan(tree, tmp_path / "c")
    assert keys(third) == keys(cold) and third.files_cached == 3


def test_a_crash_while_writing_leaves_no_partial_entry(tree: Path, tmp_path: Path, monkeypatch):
    scan(tree, tmp_path / "c")
    write(tree / "svc" / "helper.go", HELPER_SYNC)

    def crash(src, dst):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(cache_mod.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        scan(tree, tmp_path / "c")
    monkeypatch.undo()
    assert not [p for p in (tmp_path / "c").rglob(".tmp-*")], "a temporary file was left behind"
    for p in (tmp_path / "c").rglob("*.json"):
        json.loads(p.read_text())  # every entry is complete
    assert keys(scan(tree, tmp_path / "c")) == [("other/x.go", 4, "GR001")]


def test_racy_file_is_rehashed(tmp_path: Path):
    """A file changed within the timestamp granularity keeps size and mtime: it is not
    trusted by stat data alone and its content is hashed again."""
    root = tmp_path / "r"
    f = write(root / "a.go", "package a\n\nfunc F() {\n\tdefer func() { go F() }()\n}\n", old=False)
    st = f.stat()
    first = scan(root, tmp_path / "c")
    assert len(first.findings) == 1
    f.write_text("package a\n\nfunc F() {\n\tdefer func() {    F() }()\n}\n")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size
    assert scan(root, tmp_path / "c").findings == []


def test_touched_but_unchanged_file_is_a_hit(tree: Path, tmp_path: Path):
    scan(tree, tmp_path / "c")
    os.utime(tree / "svc" / "helper.go", ns=(OLD + 10**9, OLD + 10**9))
    again = scan(tree, tmp_path / "c")
    assert again.files_cached == 3 and again.files_parsed == 0


def test_unreadable_file_is_not_cached(tree: Path, tmp_path: Path):
    """A file that cannot be read gets a GR000 note; the note must not outlive the trouble."""
    target = tmp_path / "elsewhere.go"
    (tree / "svc" / "late.go").symlink_to(target)  # dangling until the target is written
    first = scan(tree, tmp_path / "c")
    assert ("svc/late.go", 1, "GR000") in keys(first)
    write(target, "package svc\n\nfunc Late() {}\n")
    again = scan(tree, tmp_path / "c")
    assert ("svc/late.go", 1, "GR000") not in keys(again)
    assert ("svc/handler.go", 4, "GR001") in keys(again)


def test_workers_fill_the_cache(tree: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(scheduler, "POOL_MIN_FILES", 0)
    monkeypatch.setattr(scheduler, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(scheduler, "BATCH_UNITS", 1)
    cold = scan(tree, tmp_path / "c", jobs=2)
    warm = scan(tree, tmp_path / "c", jobs=2)
    assert keys(warm) == keys(cold) and warm.files_cached == 3


def test_hash_files_survives_a_cache_hit(tree: Path, tmp_path: Path):
    cold = scan(tree, tmp_path / "c", hash_files=True)
    warm = scan(tree, tmp_path / "c", hash_files=True)
    assert warm.files == cold.files and all(len(v) == 64 for v in warm.files.values())


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "golint_rules", *args], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_cli_uses_xdg_cache_home_and_no_cache_writes_nothing(tree: Path, tmp_path: Path):
    xdg = tmp_path / "xdg"
    r = _cli(["scan", "--no-cache", "--format", "json", str(tree)], {"XDG_CACHE_HOME": str(xdg)})
    assert r.returncode == 1, r.stderr
    assert not xdg.exists()
    r = _cli(["scan", "--format", "json", str(tree)], {"XDG_CACHE_HOME": str(xdg)})
    assert r.returncode == 1, r.stderr
    assert list((xdg / "gorules").rglob("*.json")) and (xdg / "gorules" / "CACHEDIR.TAG").is_file()
    other = tmp_path / "other-cache"
    r = _cli(["scan", "--cache-dir", str(other), "--format", "json", str(tree)], {"XDG_CACHE_HOME": str(xdg)})
    assert json.loads(r.stdout)["summary"]["findings"] == 2
    assert list(other.rglob("*.json"))


def test_unwritable_cache_never_fails_the_scan(tree: Path, tmp_path: Path):
    blocker = tmp_path / "c"
    blocker.write_text("a file where the cache directory should be")
    result = scan(tree, blocker)
    assert len(result.findings) == 2


def test_too_large_file_does_not_defeat_the_cache(tree: Path, tmp_path: Path):
    cfgfile = tree / ".gorules.toml"
    cfgfile.write_text("max-file-size = 1000\n")
    write(tree / "svc" / "blob.go", "package svc\n\n// " + "x" * 2000 + "\n")
    cfg = config_mod.load_config(cfgfile)
    cold = scan(tree, tmp_path / "c", cfg)
    assert ("svc/blob.go", 1, "GR000") in keys(cold)
    warm = scan(tree, tmp_path / "c", cfg)
    assert keys(warm) == keys(cold) and warm.files_cached == 4
    write(tree / "svc" / "blob.go", "package svc\n\nfunc Small() {}\n")
    assert ("svc/blob.go", 1, "GR000") not in keys(scan(tree, tmp_path / "c", cfg))


def namespaces(cache_dir: Path) -> list[Path]:
    """The namespace directories (the directory listings of discovery live beside them)."""
    return [p for p in (cache_dir / "v1").iterdir() if not p.name.startswith("dirs-")]


def test_namespaces_unused_for_a_month_are_pruned(tree: Path, tmp_path: Path):
    cache_dir = tmp_path / "c"
    scan(tree, cache_dir)
    old_ns = namespaces(cache_dir)
    assert len(old_ns) == 1
    month_ago = OLD // 10**9  # far in the past
    os.utime(old_ns[0], (month_ago, month_ago))
    cfgfile = tree / ".gorules.toml"
    cfgfile.write_text("[rules.GR001]\nenabled = false\n")
    scan(tree, cache_dir, config_mod.load_config(cfgfile))  # another namespace: prunes the stale one
    assert not old_ns[0].exists()
    assert len(namespaces(cache_dir)) == 1
    cfgfile.unlink()
    scan(tree, cache_dir)  # a namespace used recently is kept
    assert len(namespaces(cache_dir)) == 2


def test_a_warm_scan_reads_one_index_not_every_entry(tree: Path, tmp_path: Path, monkeypatch):
    cold = scan(tree, tmp_path / "c")
    (index,) = (tmp_path / "c").rglob(cache_mod.INDEX_NAME)
    loaded = []
    real = cache_mod.ScanCache._load_file
    monkeypatch.setattr(cache_mod.ScanCache, "_load_file", lambda self, k, p: loaded.append(p) or real(self, k, p))
    before = index.stat().st_mtime_ns
    warm = scan(tree, tmp_path / "c")
    assert keys(warm) == keys(cold) and warm.files_cached == 3
    assert loaded == [] and index.stat().st_mtime_ns == before  # nothing changed: nothing rewritten


def test_a_stale_index_entry_is_a_miss_and_the_index_is_rewritten(tree: Path, tmp_path: Path):
    scan(tree, tmp_path / "c")
    (index,) = (tmp_path / "c").rglob(cache_mod.INDEX_NAME)
    write(tree / "svc" / "helper.go", HELPER_SYNC)  # the helper no longer starts a goroutine
    changed = scan(tree, tmp_path / "c")
    assert keys(changed) == [("other/x.go", 4, "GR001")] and changed.files_cached == 1
    entries = json.loads(index.read_text())["entries"]
    assert len(entries) == 2
    again = scan(tree, tmp_path / "c")
    assert keys(again) == keys(changed) and again.files_cached == 3
