"""The package-level view: declarations, calls by name, route registrations, handlers."""

from __future__ import annotations

from pathlib import Path

from golint_rules import parsing
from golint_rules.handlers import handlers_in, route_calls, signature_kind
from golint_rules.package import Package, package_key
from golint_rules.source import SourceFile


def make_package(tmp_path: Path, files: dict[str, str]) -> tuple[Package, dict[str, SourceFile]]:
    srcs: dict[str, SourceFile] = {}
    for name, text in files.items():
        p = tmp_path / name
        p.write_text(text)
        srcs[name] = SourceFile(p, name, text.encode())
    key = package_key(next(iter(srcs.values())))
    members = [s for s in srcs.values() if package_key(s) == key]
    return Package(str(tmp_path), key, members), srcs


API = """package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type API struct{}
type Mirror struct{}

func (a *API) Routes(r *gin.Engine) {
	r.GET("/users", a.list)
	r.POST("/users", create)
	r.Handle("GET", "/health", a.health)
	http.Handle("/raw", http.HandlerFunc(raw))
	m := &Mirror{}
	r.PUT("/mirror", m.put)
}

func (a *API) list(c *gin.Context) { a.load(); load() }
func (a *API) load() { panic("x") }
func (a *API) health(c *gin.Context) {}
func (m *Mirror) put(c *gin.Context) {}
func (a *API) put(c *gin.Context) {}
func create(c *gin.Context) {}
func raw(w http.ResponseWriter, r *http.Request) {}
"""

HELPERS = """package api

func load() { helper() }

func helper() {}

func shadow() {
	load := func() {}
	load()
}
"""


def test_funcs_methods_and_types_span_files(tmp_path):
    pkg, _ = make_package(tmp_path, {"api.go": API, "helpers.go": HELPERS})
    assert {"create", "raw", "load", "helper", "shadow"} <= set(pkg.funcs)
    assert ("API", "list") in pkg.methods and ("Mirror", "put") in pkg.methods
    assert pkg.type_names == {"API", "Mirror"}
    assert pkg.lookup("API.load").name == "load"
    assert pkg.lookup("load").receiver is None
    assert pkg.lookup("Nope.load") is None


def test_calls_by_name_cross_file_and_receiver_methods(tmp_path):
    pkg, srcs = make_package(tmp_path, {"api.go": API, "helpers.go": HELPERS})
    callees = [c.callee for c in pkg.calls["API.list"]]
    assert callees == ["API.load", "load"]
    assert [c.callee for c in pkg.calls["load"]] == ["helper"]
    # a local that shadows a package function is not a call to it
    assert "shadow" not in pkg.calls
    # callee() resolves one call node through the index
    call = pkg.calls["API.list"][0].node
    assert pkg.callee(srcs["api.go"], call).key == "API.load"


def test_registrations_resolve_functions_and_method_values(tmp_path):
    pkg, _ = make_package(tmp_path, {"api.go": API, "helpers.go": HELPERS})
    reg = pkg.registered
    assert set(reg) == {"API.list", "create", "API.health", "raw", "Mirror.put"}
    # two types have a put method; m := &Mirror{} decides which one is registered
    assert "API.put" not in reg


def test_route_calls_label_paths(tmp_path):
    pkg, srcs = make_package(tmp_path, {"api.go": API})
    labels = [rc.label for rc in route_calls(pkg, srcs["api.go"])]
    assert labels == ["GET /users", "POST /users", "GET /health", "/raw", None, "PUT /mirror"]


def test_non_route_calls_are_not_registrations(tmp_path):
    code = """package cache

type C struct{}

func (c *C) Get(key string, load func(string) ([]byte, error)) {}

func loadKey(k string) ([]byte, error) { return nil, nil }
func notify(k string) error { return nil }

func warm(c *C) {
	c.Get("users/1", loadKey)
	c.Get("key", notify)
}
"""
    pkg, _ = make_package(tmp_path, {"cache.go": code})
    assert pkg.registered == {}


def test_signature_kinds(tmp_path):
    code = """package h

import (
	nethttp "net/http"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"
)

type S struct{}

func a(w nethttp.ResponseWriter, r *nethttp.Request)       {}
func b(w nethttp.ResponseWriter, r *nethttp.Request) error { return nil }
func c(c *gin.Context)                                      {}
func d(c echo.Context) error                                { return nil }
func e(c *fiber.Ctx) error                                  { return nil }
func (S) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {}
func f(c *gin.Context) string                               { return "" }
func g(c echo.Context)                                      {}
func h(w nethttp.ResponseWriter, r nethttp.Request)         {}
"""
    pkg, srcs = make_package(tmp_path, {"h.go": code})
    src = srcs["h.go"]
    kinds = {}
    for fn in parsing.captures("[(function_declaration) (method_declaration)] @f", src.root)["f"]:
        kinds[src.text(fn.child_by_field_name("name"))] = signature_kind(src, fn)
    assert kinds == {
        "a": "net/http", "b": "net/http", "c": "gin", "d": "echo", "e": "fiber", "ServeHTTP": "ServeHTTP",
        "f": None, "g": None, "h": None,
    }


def test_literal_assigned_to_blank_is_named_by_its_function(tmp_path):
    code = """package h

import "github.com/gin-gonic/gin"

func outer() {
	_ = func(c *gin.Context) {}
}
"""
    pkg, srcs = make_package(tmp_path, {"h.go": code})
    names = [h.name for h in handlers_in(pkg, srcs["h.go"])]
    assert names == ["func literal in outer"]


def test_handlers_in_names_literals_by_route_and_variable(tmp_path):
    code = """package h

import "net/http"

var Ping = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := func(w http.ResponseWriter, r *http.Request) {}
	mux.Handle("/h", h)
}
"""
    pkg, srcs = make_package(tmp_path, {"h.go": code})
    names = [h.name for h in handlers_in(pkg, srcs["h.go"])]
    assert names == ["Ping", "GET /items/{id}", "h"]


def test_external_test_package_is_kept_apart(tmp_path):
    inner = "package api\n\nfunc helper() {}\n"
    ext = "package api_test\n\nfunc TestX() {}\n"
    internal_test = "package api\n\nfunc helperForTests() {}\n"
    (tmp_path / "a.go").write_text(inner)
    srcs = [
        SourceFile(tmp_path / "a.go", "a.go", inner.encode()),
        SourceFile(tmp_path / "x_test.go", "x_test.go", ext.encode()),
        SourceFile(tmp_path / "in_test.go", "in_test.go", internal_test.encode()),
    ]
    keys = [package_key(s) for s in srcs]
    assert keys == ["api", "api_test", "api"]


def test_calls_index_is_built_once(tmp_path, monkeypatch):
    pkg, srcs = make_package(tmp_path, {"api.go": API, "helpers.go": HELPERS})
    calls = []
    real = parsing.matches

    def counting(q, node):
        calls.append(q)
        return real(q, node)

    monkeypatch.setattr(parsing, "matches", counting)
    for _ in range(3):
        _ = pkg.calls
        pkg.callee(srcs["api.go"], pkg.calls["API.list"][0].node)
    from golint_rules.package import CALLS_QUERY

    assert calls.count(CALLS_QUERY) == 2  # one query per file, once
