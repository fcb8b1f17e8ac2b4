"""FuncFlow's lazy walk and its shortcuts give the facts of the full walk.

``var_of`` / ``var_named`` answer "no such local" without walking when no identifier
of the function sits where the walk declares one; the walk records the innermost
statement around each use instead of climbing the tree for it afterwards.
"""

from __future__ import annotations

from pathlib import Path

from golint_rules import flow, parsing
from golint_rules.source import SourceFile

CODE = """package p

import (
	"context"
	nethttp "net/http"
)

func plain(ctx context.Context, url string) error {
	req, err := nethttp.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	_ = new(nethttp.Client)
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return nil
}

func shadows(nethttp *fake) {
	nethttp.Get("x")
}

func shadowsLater() {
	nethttp.Get("x")
	for _, nethttp := range clients() {
		nethttp.Get("y")
	}
}

func localNew() {
	new := func(x int) int { return x }
	_ = new(1)
}

func variadic(new ...int) {
	_ = new
}

func parenthesized(new (int)) {
	_ = new
}

func inSwitch(v any) {
	switch nethttp := v.(type) {
	case int:
		_ = nethttp
	}
	var context = 1
	_ = context
	select {
	case new := <-ch:
		_ = new
	}
}

func deferAndGo(ctx context.Context) {
	ctx2, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() { cancel() }()
	go use(ctx2, cancel)
	defer use(ctx2.Value(1), cancel)
	go func() {
		defer cancel()
		x := ctx2
		_ = x
	}()
	if err := ctx2.Err(); err != nil {
		defer fmt.Println(err, ctx2)
	}
	for range []int{1} {
		go fmt.Println((*&ctx2).Value("k"))
	}
}
"""


def build(code: str = CODE) -> tuple[SourceFile, flow.FileFlow]:
    src = SourceFile(Path("x.go"), "x.go", code.encode())
    return src, flow.FileFlow(src)


def top_functions(src: SourceFile) -> list:
    return [n for n in src.root.named_children if n.type in ("function_declaration", "method_declaration")]


def test_var_of_without_walk_matches_full_walk():
    src, ff_lazy = build()
    _, ff_full = build()
    idents = parsing.captures("(identifier) @i", src.root).get("i", [])
    for top in top_functions(src):
        lazy = ff_lazy.function(top)
        full = flow.FuncFlow(ff_full, top)
        full.vars  # the complete walk
        inside = [i for i in idents if top.start_byte <= i.start_byte < top.end_byte]
        for ident in inside:
            a, b = lazy.var_of(ident), full.var_of(ident)
            assert (a is None) == (b is None), (src.text(ident), ident.start_point)
            if a is not None:
                assert (a.name, a.ident.start_byte) == (b.name, b.ident.start_byte)
        for name in ("nethttp", "new", "context", "req", "err", "zzz"):
            a, b = lazy.var_named(name, top), full.var_named(name, top)
            assert (a is None) == (b is None), name


def test_shortcut_skips_the_walk_only_when_nothing_declares_the_name():
    src, ff = build()
    fns = {src.text(n.child_by_field_name("name")): n for n in top_functions(src)}
    fn = ff.function(fns["plain"])
    sel = parsing.captures("(selector_expression operand: (identifier) @o)", fns["plain"]).get("o", [])
    http_operand = next(o for o in sel if src.text(o) == "nethttp")
    assert fn.var_of(http_operand) is None
    new_ident = next(i for i in parsing.captures("(identifier) @i", fns["plain"])["i"] if src.text(i) == "new")
    assert fn.var_of(new_ident) is None
    assert fn._built is False  # both answered without the walk
    assert fn.pkg_member(http_operand.parent) == ("net/http", "NewRequestWithContext")
    assert fn._built is False
    req = next(i for i in parsing.captures("(identifier) @i", fns["plain"])["i"] if src.text(i) == "req")
    assert fn.var_of(req) is not None and fn._built is True

    # declared as a parameter, by := in a range, by a type switch, var, select receive,
    # variadic and parenthesized parameters: the walk runs and finds the local
    for name, wanted in (("shadows", "nethttp"), ("shadowsLater", "nethttp"), ("localNew", "new"),
                         ("variadic", "new"), ("parenthesized", "new"), ("inSwitch", "nethttp"),
                         ("inSwitch", "context"), ("inSwitch", "new")):
        top = fns[name]
        fn = flow.FuncFlow(ff, top)
        assert fn._may_declare(wanted.encode()) is True, (name, wanted)
        uses = [i for i in parsing.captures("(identifier) @i", top)["i"] if src.text(i) == wanted]
        assert any(fn.var_of(i) is not None for i in uses), (name, wanted)


def test_defer_and_go_from_the_walk_match_the_climb():
    src, ff = build()
    seen = 0
    for top in top_functions(src):
        fn = ff.function(top)
        for v in fn.vars:
            for u in v.uses:
                if u.called:
                    continue
                climbed = flow._enclosing_call_stmt(u.node)
                from_closures = {fn.closure_kind(c) for c in u.closures}
                assert u.deferred == (climbed == "defer_statement" or "defer" in from_closures), src.text(u.node)
                assert u.in_go == (climbed == "go_statement" or "go" in from_closures), src.text(u.node)
                seen += 1
    assert seen > 10
    fn = ff.function(next(n for n in top_functions(src) if src.text(n.child_by_field_name("name")) == "deferAndGo"))
    ctx2 = next(v for v in fn.vars if v.name == "ctx2")
    flags = [(u.line, u.deferred, u.in_go) for u in ctx2.uses]
    # go use(ctx2, ...); defer use(ctx2.Value(1), ...): the method call itself runs now;
    # x := ctx2 in a go func; ctx2.Err() in an if header; defer fmt.Println(err, ctx2);
    # go fmt.Println((*&ctx2).Value("k")): ctx2 read by an argument of the go call
    assert [f[1:] for f in flags] == [(False, True), (False, False), (False, True), (False, False),
                                      (True, False), (False, True)]


def test_facts_are_built_once():
    src, ff = build()
    top = top_functions(src)[0]
    fn = ff.function(top)
    first = fn.vars
    assert fn.vars is first and fn._by_ident is fn._by_ident
    assert ff.function(top) is fn


def test_root_queries_limited_to_the_root_find_the_same_nodes():
    code = CODE + """
var (
	a, b = 1, 2
	client = &nethttp.Client{}
)
var single int
const k = 3
type T struct{ f int }

func (T) m() {
	var local int
	type inner struct{}
	_ = local
}
"""
    src, _ = build(code)
    for q in (flow._TOPLEVEL_NAMES_QUERY, flow._VARS_QUERY):
        full = parsing.captures(q, src.root)
        limited = flow._root_captures(q, src.root)
        assert {k: [n.id for n in v] for k, v in full.items()} == {k: [n.id for n in v] for k, v in limited.items()}
    names = flow.FileFlow(src)._file_level_names
    assert {"a", "b", "client", "single", "k", "T", "plain"} <= names and "local" not in names


def test_top_function_by_descent_matches_the_climb():
    src, ff = build(CODE + "\nvar hook = func() { go func() { _ = 1 }() }\n")

    def climb(node):
        top, n = None, node
        while n is not None:
            if n.type in flow.FUNC_TYPES:
                top = n
            n = n.parent
        return top

    nodes = parsing.captures("[(identifier) (call_expression) (func_literal) (function_declaration) "
                             "(var_spec) (source_file) (block)] @n", src.root)["n"]
    assert len(nodes) > 100
    for n in nodes:
        a, b = flow._top_function(src.root, n), climb(n)
        assert (a is None) == (b is None) and (a is None or a.id == b.id), (n.type, n.start_point)


def test_package_level_names_memo_follows_the_attached_package():
    from golint_rules.package import Package

    src, ff = build()
    other = SourceFile(Path("y.go"), "y.go", b"package p\n\nfunc nethttp() {}\n")
    sel = next(s for s in parsing.captures("(selector_expression) @s", src.root)["s"]
               if src.text(s).startswith("nethttp.NewRequest"))
    assert ff.declares("nethttp") is False and ff.pkg_member(sel) == ("net/http", "NewRequestWithContext")
    ff.package = Package(".", "p", [src, other])  # attached later, as flow_of does
    assert ff.declares("nethttp") is True and ff.pkg_member(sel) is None
    ff.package = Package(".", "p", [src])
    assert ff.declares("nethttp") is False
