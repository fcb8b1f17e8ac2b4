"""The function-scope analysis (golint_rules/flow.py) on small Go functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from golint_rules import flow, parsing
from golint_rules.source import SourceFile


def build(code: str) -> tuple[SourceFile, flow.FileFlow]:
    data = code.encode()
    src = SourceFile(Path("x.go"), "x.go", data)
    return src, flow.FileFlow(src)


def func(src: SourceFile, ff: flow.FileFlow, name: str) -> flow.FuncFlow:
    for n in parsing.captures("[(function_declaration) (method_declaration)] @f", src.root).get("f", []):
        if src.text(n.child_by_field_name("name")) == name:
            fn = ff.function(n)
            assert fn is not None
            return fn
    raise AssertionError(f"no function {name}")


def var(fn: flow.FuncFlow, name: str, nth: int = 0) -> flow.Var:
    found = [v for v in fn.vars if v.name == name]
    assert len(found) > nth, f"{name}: {fn.vars}"
    return found[nth]


HEADER = """package p

import (
	"context"
	"io"
	nethttp "net/http"
	"time"
)

type API struct {
	client *nethttp.Client
	tr     *nethttp.Transport
	ctx    context.Context
}

var pkgClient = &nethttp.Client{Timeout: time.Second}
var zero nethttp.Client
"""


def test_declarations_assignments_and_types():
    src, ff = build(HEADER + """
func (a *API) get(ctx context.Context, url string) (*nethttp.Response, error) {
	req, err := nethttp.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	c := a.client
	p := pkgClient
	return resp, err
}
""")
    fn = func(src, ff, "get")
    a = var(fn, "a")
    assert a.kind == "receiver" and fn.var_type(a) == ("", "API")
    assert var(fn, "ctx").kind == "param"
    assert fn.var_type(var(fn, "ctx")) == ("context", "Context")
    err = var(fn, "err")
    # `resp, err :=` redeclares err in the same scope: one variable, two assignments
    assert len([v for v in fn.vars if v.name == "err"]) == 1
    assert [x.index for x in err.assigns] == [1, 1] and all(x.multi for x in err.assigns)
    assert fn.var_type(var(fn, "req")) == ("net/http", "Request")
    assert fn.var_type(var(fn, "resp")) == ("net/http", "Response")
    assert fn.var_type(var(fn, "c")) == ("net/http", "Client")  # struct field of the package
    assert fn.var_type(var(fn, "p")) == ("net/http", "Client")  # package variable
    resp = var(fn, "resp")
    assert [u.sink for u in resp.uses] == ["return"]
    assert fn.escape(resp) is resp.uses[0]


def test_shadowing_inner_blocks_and_http_named_locals():
    src, ff = build(HEADER + """
func f(http *fakeHTTP) {
	c := &nethttp.Client{}
	if true {
		c := other()
		c.CloseIdleConnections()
	}
	http.Get("x")
	nethttp := fake{}
	nethttp.Get("y")
}
""")
    fn = func(src, ff, "f")
    outer, inner = var(fn, "c", 0), var(fn, "c", 1)
    assert outer is not inner
    assert outer.uses == []  # the Close is on the inner c
    assert [u.path for u in inner.uses] == [("CloseIdleConnections",)]
    calls = parsing.captures("(call_expression function: (selector_expression) @s)", fn.node)["s"]
    members = [fn.pkg_member(s) for s in calls]
    # http is a parameter; nethttp is a package until the local nethttp := shadows it
    texts = [src.text(s) for s in calls]
    got = dict(zip(texts, members))
    assert got['http.Get'] is None
    assert got['nethttp.Get'] is None
    assert got['c.CloseIdleConnections'] is None
    lit = parsing.captures("(composite_literal type: (qualified_type) @t)", fn.node)["t"][0]
    assert fn.pkg_member(lit) == ("net/http", "Client")


def test_defers_closures_and_method_values():
    src, ff = build(HEADER + """
func g(ctx context.Context) error {
	tr := &nethttp.Transport{}
	c := &nethttp.Client{Transport: tr, Timeout: time.Second}
	closeIdle := c.CloseIdleConnections
	defer closeIdle()
	resp, err := c.Get("https://example.com/jwks.json")
	if err != nil {
		return err
	}
	defer func() {
		_ = resp.Body.Close()
	}()
	_, _ = io.ReadAll(resp.Body)
	t2 := tr.Clone()
	defer t2.CloseIdleConnections()
	go func() {
		tr.CloseIdleConnections()
	}()
	return nil
}
""")
    fn = func(src, ff, "g")
    tr, c, resp, t2 = (var(fn, n) for n in ("tr", "c", "resp", "t2"))
    assert [h.name for h in fn.holders(tr)] == ["tr", "c"]
    assert fn.calls_method(c, "CloseIdleConnections")  # through the method value
    closes = fn.calls_method(resp, "Close", via=("Body",))
    assert len(closes) == 1 and closes[0].deferred and closes[0].closures
    assert fn.escape(resp, fields=("Body",)) is None  # reading the body is not an escape
    [direct] = fn.calls_method(t2, "CloseIdleConnections")
    assert direct.deferred and not direct.closures
    assert fn.var_type(t2) == ("net/http", "Transport")
    # tr is used inside a go statement: captured by a goroutine, it escapes
    esc = fn.escape(tr)
    assert esc is not None and esc.in_go


@pytest.mark.parametrize(
    "stmt, sink",
    [
        ("return tr", "return"),
        ("a.tr = tr", "store"),
        ("trs = append(trs, tr)", "arg"),
        ("ch <- tr", "send"),
        ("register(tr)", "arg"),
        ("m[\"k\"] = tr", "store"),
        ("pkgTransport = tr", "store"),
        ("_ = tr", "discard"),
        ("if tr == nil {}", "read"),
    ],
)
def test_sinks_and_escape(stmt: str, sink: str):
    src, ff = build(HEADER + f"""
var pkgTransport *nethttp.Transport

func h(a *API, ch chan *nethttp.Transport, m map[string]*nethttp.Transport) *nethttp.Transport {{
	var trs []*nethttp.Transport
	tr := &nethttp.Transport{{}}
	{stmt}
	_ = trs
	return nil
}}
""")
    fn = func(src, ff, "h")
    tr = var(fn, "tr")
    assert [u.sink for u in tr.uses] == [sink]
    escapes = sink not in ("discard", "read")
    assert (fn.escape(tr) is not None) == escapes


def test_escape_through_local_struct_and_literal():
    src, ff = build(HEADER + """
func build() *API {
	tr := &nethttp.Transport{}
	api := &API{}
	api.tr = tr
	return api
}

func keep() {
	tr := &nethttp.Transport{}
	c := &nethttp.Client{Transport: tr}
	_ = c
}

func wrap() *nethttp.Client {
	tr := &nethttp.Transport{}
	return &nethttp.Client{Transport: tr}
}
""")
    assert func(src, ff, "build").escape(var(func(src, ff, "build"), "tr")) is not None
    keep = func(src, ff, "keep")
    assert keep.escape(var(keep, "tr")) is None
    wrap = func(src, ff, "wrap")
    assert wrap.escape(var(wrap, "tr")) is not None


def test_value_at_follows_source_order_and_loops():
    src, ff = build(HEADER + """
func k() {
	ctx := context.Background()
	use(ctx)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	use(ctx)
	for i := 0; i < 3; i++ {
		use2(ctx)
		ctx = context.Background()
	}
}
""")
    fn = func(src, ff, "k")
    ctx = var(fn, "ctx")
    uses = [u for u in ctx.uses if u.sink == "arg" and src.text(u.target).startswith("use")]
    first, second, third = uses
    assert [src.text(a.value) for a in fn.value_at(ctx, first.ident)] == ["context.Background()"]
    assert len(fn.value_at(ctx, second.ident)) == 2
    assert len(fn.value_at(ctx, third.ident)) == 3  # the loop's own assignment reaches
    cancel = var(fn, "cancel")
    assert [(u.called, u.deferred) for u in cancel.uses] == [(True, True)]


def test_shared_analysis_is_lazy_and_shared():
    src, ff = build(HEADER + "\nfunc a() {}\nfunc b() {}\n")
    assert flow.FLOW.name == "flow"
    built = flow.FLOW.run(src)
    assert isinstance(built, flow.FileFlow) and built._funcs == {}
    n = parsing.captures("(function_declaration) @f", src.root)["f"][0]
    assert built.function(n) is built.function(n)


def test_dot_import_is_resolved_not_crashed_on():
    src, ff = build("""package p

import . "net/http"

func d() {
	c := &Client{}
	resp, _ := c.Get("x")
	_ = resp
}
""")
    fn = func(src, ff, "d")
    assert fn.var_type(var(fn, "c")) == ("net/http", "Client")
    assert fn.var_type(var(fn, "resp")) == ("net/http", "Response")


def test_named_result_escapes_and_package_level_new():
    src, ff = build(HEADER + """
func forward(c *nethttp.Client, req *nethttp.Request) (resp *nethttp.Response, err error) {
	resp, err = c.Do(req)
	return
}

func new() int { return 0 }

func uses() {
	x := new()
	_ = x
}
""")
    fn = func(src, ff, "forward")
    resp = var(fn, "resp")
    assert resp.kind == "result"
    esc = fn.escape(resp)
    assert esc is not None and esc.sink == "return"
    assert ff.declares("new") and ff.declares("pkgClient") and not ff.declares("nope")
    u = func(src, ff, "uses")
    assert u.var_type(var(u, "x")) is None  # new() here is the package's function, not the builtin


def test_httptest_server_client_is_a_client():
    src, ff = build("""package p

import (
	"net/http"
	"net/http/httptest"
)

func probe() {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	c := ts.Client()
	_ = c
}
""")
    fn = func(src, ff, "probe")
    assert fn.var_type(var(fn, "ts")) == ("net/http/httptest", "Server")
    assert fn.var_type(var(fn, "c")) == ("net/http", "Client")


def test_closure_kinds_and_value_closures_that_escape():
    src, ff = build(HEADER + """
func k(register func(func())) {
	tr := &nethttp.Transport{}
	defer func() { tr.CloseIdleConnections() }()
	go func() { _ = tr }()
	func() { _ = tr }()
	register(func() { _ = tr })
}
""")
    fn = func(src, ff, "k")
    tr = var(fn, "tr")
    kinds = [fn.closure_kind(u.closures[0]) for u in tr.uses]
    assert kinds == ["defer", "go", "call", "value"]
    assert [u.deferred for u in tr.uses] == [True, False, False, False]
    assert [u.in_go for u in tr.uses] == [False, True, False, False]
