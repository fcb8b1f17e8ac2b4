"""Prefilters only skip work: with every byte token and package gate removed, every
fixture (and real standard-library packages) reports exactly the same findings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fixture_harness import FIXTURES
from golint_rules import config as config_mod, engine
from golint_rules.checks.gr001_defer_go import DEFERRED_CALL_RE, GO_KEYWORD_RE
from golint_rules.handlers import ROUTE_CALL_RE, route_calls
from golint_rules.package import Package, can_declare_func, can_name, package_key
from golint_rules.source import SourceFile

from test_engine_parallel import scan_all

STDLIB = Path("/usr/share/go-1.19/src")


def _ungated(eng: engine.Engine) -> None:
    eng.go_analyzers = [
        dataclasses.replace(a, needs=(), needs_also=(), package_gate=None, candidates=()) for a in eng.go_analyzers
    ]


def test_gates_change_no_finding_on_any_fixture():
    gated = scan_all({"jobs": 1, "engine": "python"})
    ungated = scan_all({"jobs": 1, "engine": "python"}, _ungated)
    assert sum(len(v) for v in gated.values()) > 50
    assert gated == ungated


def test_gates_skip_files_on_fixtures():
    """The gates are not vacuous: rules are run on fewer fixture files with them than without."""
    cfg = config_mod.load_config()
    files = sorted((FIXTURES / "http").rglob("*.go")) + sorted((FIXTURES / "defer_go").rglob("*.go"))
    counts = []
    for patch in (None, _ungated):
        runs: list[str] = []
        eng = engine.Engine(cfg, engine.ScanOptions(jobs=1, engine="python"))
        if patch:
            patch(eng)
        eng.go_analyzers = [
            dataclasses.replace(a, run=lambda p, _run=a.run: runs.append(p.analyzer.code) or _run(p))
            for a in eng.go_analyzers
        ]
        eng.scan(files)
        counts.append(len(runs))
    assert counts[0] < counts[1] / 2, counts


@pytest.mark.skipif(not (STDLIB / "net/http").is_dir(), reason="golang-1.19-src is not installed")
@pytest.mark.parametrize("pkg", ["net/http", "net/http/httputil", "context", "os/exec"])
def test_gates_change_no_finding_on_standard_library_packages(pkg):
    cfg = config_mod.load_config()
    files = sorted((STDLIB / pkg).glob("*.go"))
    results = []
    for patch in (None, _ungated):
        eng = engine.Engine(cfg, engine.ScanOptions(jobs=1, engine="python", include_generated=False))
        if patch:
            patch(eng)
        res = eng.scan(files)
        assert res.internal_errors == 0
        results.append([f.to_dict() for f in res.findings])
    assert results[0] == results[1]


def test_can_name_finds_every_declaration_form_and_skips_uses():
    decls = [
        b"func load() {}", b"func (a *API) load() {}", b"type load struct{}", b"type (\n\tload int\n)",
        b"var load = 1", b"var (\n\tx, load = 1, 2\n)", b"const load = 1", b"func f[load any]() {}",
    ]
    for d in decls:
        assert can_name(d, b"load"), d
    uses = [b"x.load()", b'import "a/load"', b"load.Run()", b"loader()", b"reload()", b"// see http://x", b"load:"]
    for u in uses:
        assert not can_name(u, b"load" if b"http" not in u else b"http"), u


def test_can_declare_func_needs_func_before_the_name():
    assert can_declare_func(b"func load() {}", b"load")
    assert can_declare_func(b"func load[T any]() {}", b"load")
    assert can_declare_func(b"func /* c */ load() {}", b"load")
    assert can_declare_func(b"func\n\tload() {}", b"load")
    assert not can_declare_func(b"load()", b"load")
    assert not can_declare_func(b"func (a *A) load() {}", b"load")  # a method
    assert not can_declare_func(b"myfunc load()", b"load")
    assert not can_declare_func(b"func loader() {}", b"load")


def test_go_keyword_and_deferred_call_patterns():
    for text in (b"go f()", b"\tgo func() {}()", b"{go (f)()", b"go\n\tf()"):
        assert GO_KEYWORD_RE.search(text), text
    for text in (b"x.go ", b'"go ', b"ago ", b"golang", b"cargo (", b"a-go "):
        assert not GO_KEYWORD_RE.search(text), text
    names = lambda t: [m.group(1) for m in DEFERRED_CALL_RE.finditer(t)]  # noqa: E731
    assert names(b"defer cleanup()\ndefer s.stop(ctx)\ndefer func() {}()") == [b"cleanup", b"stop", b"func"]
    assert names("defer arrêt()".encode()) == ["arrêt".encode()]


def test_route_call_pattern_matches_every_file_with_a_route_registration():
    """route_calls finds registrations only in files the byte pattern matches."""
    seen = 0
    for path in sorted(FIXTURES.rglob("*.go")):
        data = path.read_bytes()
        src = SourceFile(path, path.name, data)
        pkg = Package(str(path.parent), package_key(src), [src])
        if ROUTE_CALL_RE.search(data):
            seen += bool(route_calls(pkg, src))
            continue
        # bypass the prefilter: the query itself must find nothing here
        pkg.memo["package.file_matches"] = {(id(src), ROUTE_CALL_RE): True}
        assert route_calls(pkg, src) == [], path
    assert seen > 3


def test_type_and_method_declaration_patterns():
    from golint_rules.package import can_declare_method, can_declare_type

    for text in (b"type ctx struct{}", b"type (\n\tctx int\n)", b"type (a int; ctx int)", b"type /* c */ ctx int",
                 b"func f() {\n\ttype ctx struct{}\n}"):
        assert can_declare_type(text, b"ctx"), text
    for text in (b"// the ctx is", b"x := ctx", b"f(ctx)", b"c.ctx = 1"):
        assert not can_declare_type(text, b"ctx"), text
    for text in (b"func (c *C) Get(k string)", b"func (c C) /* x */ Get()", b"func (c *C[T]) Get()"):
        assert can_declare_method(text, b"Get"), text
    for text in (b"c.Get()", b"Get()", b"func Get()", b"// Get returns"):
        assert not can_declare_method(text, b"Get"), text


def test_route_call_pattern_wants_a_path_literal_where_route_call_does():
    for text in (b'r.GET("/x", h)', b'mux.HandleFunc("GET /x", h)', b'r.Handle("GET", "/x", h)', b'g.GET("", h)',
                 b"g.GET(``, h)", b'r.Get(prefix + "/x", h)', b"http.HandlerFunc(f)", b'r.Method(http.MethodGet, "/x", h)',
                 b'mux.Handle("example.com/x", h)', b"r.NotFound(h)", b'r.\n\tGET(\n\t\t"/x",\n\t\th)'):
        assert ROUTE_CALL_RE.search(text), text
    for text in (b'cache.Get("key")', b"m.Get(k)", b'c.Post(url, "application/json", body)', b'r.GET(path("/x"), h)'):
        assert not ROUTE_CALL_RE.search(text), text
