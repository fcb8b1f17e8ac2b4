"""The execution strategy changes nothing: jobs=1 and a process pool, python and rust engines,
report the same findings (every field, fingerprints included) on every fixture."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fixture_harness import FIXTURES, config_dir_for, is_fixture
from golint_rules import backends, config as config_mod, engine, scheduler
from golint_rules.backends import astgrep


def fixture_groups():
    files = sorted(p for p in FIXTURES.rglob("*") if is_fixture(p))
    groups: dict[Path | None, list[Path]] = {}
    for f in files:
        groups.setdefault(config_dir_for(f), []).append(f)
    return groups


def scan_all(options: dict, patch_engine=None) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for cfg_dir, members in fixture_groups().items():
        cfg = config_mod.load_config(cfg_dir / config_mod.CONFIG_NAME) if cfg_dir else config_mod.load_config()
        eng = engine.Engine(cfg, engine.ScanOptions(**options))
        if patch_engine:
            patch_engine(eng)
        result = eng.scan(members)
        assert result.internal_errors == 0
        out[str(cfg_dir)] = [f.to_dict() for f in result.findings]
    return out


@pytest.fixture
def force_pool(monkeypatch):
    """Make even the small fixture groups go through the process pool, and count that they did."""
    monkeypatch.setattr(scheduler, "POOL_MIN_FILES", 0)
    monkeypatch.setattr(scheduler, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(scheduler, "BATCH_UNITS", 1)
    calls = []
    real = scheduler._pool_results

    def spy(*args, **kwargs):
        calls.append(len(args[2]))
        yield from real(*args, **kwargs)

    monkeypatch.setattr(scheduler, "_pool_results", spy)
    return calls


def test_jobs_1_and_2_report_identical_findings_on_every_fixture(force_pool):
    serial = scan_all({"jobs": 1, "engine": "python"})
    assert not force_pool, "jobs=1 must not start a pool"
    pooled = scan_all({"jobs": 2, "engine": "python"})
    assert force_pool and max(force_pool) > 1, "the pool was not used"
    assert sum(len(v) for v in serial.values()) > 20
    assert pooled == serial


def test_findings_stream_to_the_callback_as_units_finish(force_pool, tmp_path):
    got: list[str] = []
    cfg = config_mod.load_config()
    files = [p for p in (FIXTURES / "defer_go").rglob("*.go")]
    result = engine.scan(files, cfg, engine.ScanOptions(jobs=2, on_findings=lambda fs: got.extend(f.fingerprint for f in fs)))
    assert sorted(got) == sorted(f.fingerprint for f in result.findings) and got


def test_progress_reaches_the_number_of_files(force_pool):
    seen: list[tuple[int, int]] = []
    files = sorted(p for p in (FIXTURES / "defer_go").rglob("*.go"))
    engine.scan(files, config_mod.load_config(), engine.ScanOptions(jobs=2), progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (len(files), len(files))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


needs_astgrep = pytest.mark.skipif(
    astgrep.find_binary() is None, reason="ast-grep is not installed (pip install ast-grep-cli)"
)


@needs_astgrep
def test_python_and_rust_engines_report_identical_findings_on_every_fixture():
    used: list[str] = []
    python = scan_all({"jobs": 1, "engine": "python"})
    rust = scan_all({"jobs": 1, "engine": "rust"}, patch_engine=lambda e: used.append(e) or None)
    assert any(getattr(e, "_backend", "") == "rust" for e in used), "no group ran on the rust path"
    assert rust == python


BROAD = ("defer_statement", "go_statement", "composite_literal")


def _with_candidates(eng: engine.Engine) -> None:
    """Give every .go check a candidate gate, so the two gates are compared on every rule."""
    eng.go_analyzers = [dataclasses.replace(a, candidates=BROAD) for a in eng.go_analyzers]


@needs_astgrep
def test_engines_agree_when_every_rule_declares_candidates(monkeypatch):
    pruned: list[int] = []
    real_gate = backends.gate

    def counting_gate(eng, runnable, src):
        kept = real_gate(eng, runnable, src)
        pruned.append(len(runnable) - len(kept))
        return kept

    monkeypatch.setattr(backends, "gate", counting_gate)
    python = scan_all({"jobs": 1, "engine": "python"}, _with_candidates)
    python_pruned = sum(pruned)
    pruned.clear()
    rust = scan_all({"jobs": 1, "engine": "rust"}, _with_candidates)
    assert rust == python
    assert python_pruned > 0 and sum(pruned) == python_pruned, "the gate pruned nothing or pruned differently"


@needs_astgrep
def test_rust_path_parses_only_candidate_files(tmp_path, monkeypatch):
    from golint_rules import parsing

    (tmp_path / "a.go").write_text("package a\n\nfunc f() {\n\tdefer func() { go g() }()\n}\n\nfunc g() {}\n")
    # b.go passes every byte prefilter of GR001 (the word defer, a go statement) but has no defer_statement
    (tmp_path / "b.go").write_text("package a\n\n// defer func() is only mentioned in this comment\nfunc h() { go g() }\n")
    parsed: list[bytes] = []
    real = parsing.parse
    monkeypatch.setattr(parsing, "parse", lambda data: parsed.append(data[:12]) or real(data))
    cfg = config_mod.load_config()
    opts = dict(select={"GR001"}, jobs=1)
    py = engine.scan([tmp_path], cfg, engine.ScanOptions(engine="python", **opts))
    py_parsed = len(parsed)
    parsed.clear()
    rs = engine.scan([tmp_path], cfg, engine.ScanOptions(engine="rust", **opts))
    assert [f.to_dict() for f in rs.findings] == [f.to_dict() for f in py.findings]
    assert [(f.path, f.code) for f in rs.findings] == [("a.go", "GR001")]
    assert py_parsed == 2  # python parses b.go to look for a defer_statement
    assert len(parsed) == 1  # ast-grep already said b.go has none


def test_unknown_engine_is_a_clear_error(tmp_path):
    (tmp_path / "a.go").write_text("package a\n\nfunc f() { defer g() }\n")
    with pytest.raises(backends.BackendError, match="use one of python, rust, auto"):
        engine.scan([tmp_path], config_mod.load_config(), engine.ScanOptions(engine="java"))


def test_rust_engine_without_astgrep_names_the_fix(tmp_path, monkeypatch):
    (tmp_path / "a.go").write_text("package a\n\nfunc f() { defer g() }\n")
    monkeypatch.setattr(astgrep, "find_binary", lambda: None)
    with pytest.raises(backends.BackendError, match="pip install ast-grep-cli"):
        engine.scan([tmp_path], config_mod.load_config(), engine.ScanOptions(engine="rust"))
