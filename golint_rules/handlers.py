"""Recognising HTTP handlers: by signature, by name, and by route registration.

A function (declaration, method or literal) is an HTTP handler when

- its parameters are net/http's ``(http.ResponseWriter, *http.Request)`` (results: none
  or ``error``, the common ``appHandler`` shape), or it is a ``ServeHTTP`` method;
- it is a gin handler ``func(*gin.Context)``, an echo handler ``func(echo.Context) error``
  or a fiber handler ``func(*fiber.Ctx) error`` (fiber v3: ``fiber.Ctx``);
- or it is passed to a route registration: ``http.HandleFunc("/x", f)``,
  ``mux.Handle("/x", http.HandlerFunc(f))``, gin/echo ``r.GET("/x", h.get)``, fiber
  ``app.Get``, chi ``r.Get/Post/Method(...)``, gorilla ``r.HandleFunc(...)`` /
  ``route.HandlerFunc(f)``, httprouter ``router.GET``, ``NotFound``/``NoRoute``... The
  argument may be a package function, a method value (``h.get``) or a literal of any
  signature whose results are none or ``error`` (middleware factories, which return a
  handler, are not handlers).

Package names are resolved through the file's imports (aliases and dot imports), so a
local ``gin`` variable is not the gin package. The package-level index of registrations
is :attr:`golint_rules.package.Package.registered`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter as ts

from . import parsing
from .package import FuncDecl, Package, Registration, can_declare_func, can_name
from .source import SourceFile, lookup

NET_HTTP = "net/http"
GIN_RE = re.compile(r"^github\.com/gin-gonic/gin$")
ECHO_RE = re.compile(r"^github\.com/labstack/echo(/v[0-9]+)?$")
FIBER_RE = re.compile(r"^github\.com/gofiber/fiber(/v[0-9]+)?$")
#: Packages whose presence in a file makes a path-less registration (``r.NotFound(h)``)
#: believable: routers and frameworks that take handlers.
ROUTER_RE = re.compile(
    r"^(net/http|github\.com/gin-gonic/gin|github\.com/labstack/echo(/v[0-9]+)?"
    r"|github\.com/gofiber/fiber(/v[0-9]+)?|github\.com/go-chi/chi(/v[0-9]+)?"
    r"|github\.com/gorilla/mux|github\.com/julienschmidt/httprouter"
    r"|github\.com/uptrace/bunrouter|github\.com/go-martini/martini|goji\.io.*)$"
)

#: Route registration methods that take a path (then handlers).
VERBS_UPPER = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "Any"}
VERBS_TITLE = {"Get", "Post", "Put", "Delete", "Patch", "Head", "Options", "Connect", "Trace", "All"}
#: Methods whose path may come after an HTTP method: gin ``Handle("GET", "/x", h)``,
#: chi ``Method("GET", "/x", h)``, echo/fiber ``Add("GET", "/x", h)``, ``Match([...], "/x", h)``.
PATH_METHODS = {"Handle", "HandleFunc", "Method", "MethodFunc", "Add", "Match", "Handler"}
#: Registrations without a path: every argument is a handler.
NO_PATH = {"NotFound", "MethodNotAllowed", "NoRoute", "NoMethod"}
#: ``http.HandlerFunc(f)``, ``gin.HandlerFunc(f)``, gorilla ``route.HandlerFunc(f)``.
CONVERSIONS = {"HandlerFunc"}
ROUTE_NAMES = VERBS_UPPER | VERBS_TITLE | PATH_METHODS | NO_PATH | CONVERSIONS

_ROUTE_QUERY = (
    "(call_expression function: (selector_expression field: (field_identifier) @m "
    "(#any-of? @m " + " ".join(f'"{n}"' for n in sorted(ROUTE_NAMES)) + ")) "
    "arguments: (argument_list) @args) @call"
)
_FUNCS_QUERY = """
(function_declaration) @fn
(method_declaration) @fn
(func_literal) @fn
"""
#: The bytes a route registration needs (the prefilter of :func:`route_calls` and of
#: GR008's package gate): ``x.HandlerFunc(`` / ``r.NotFound(``, or ``x.NAME(`` for another
#: route method whose first or second argument holds a path literal as :func:`route_call`
#: wants it: a string starting with ``/`` (``"/x"``, ``prefix + "/x"``) or ``""``, and for
#: ``Handle``/``HandleFunc`` a ServeMux pattern (``"GET /x"``, ``"host/x"``). Arguments do
#: not cross parentheses: a path built by a call is not a path literal.
_PATH_LITERAL = rb'(?:["`]/|""|``)'
_MUX_PATTERN = rb'["`](?:[A-Z]+ +)?[\w.-]*/'  # ServeMux: "GET /x", "host/x"


def _route_re(names: set[str], path: bytes) -> bytes:
    return (
        rb"\.\s*(?:" + "|".join(sorted(names)).encode() + rb")\s*\("
        rb"\s*(?:[^,()]*?" + path + rb"|[^,()]*,\s*[^,()]*?" + path + rb")"
    )


ROUTE_CALL_RE = re.compile(
    rb"\.\s*(?:" + "|".join(sorted(CONVERSIONS | NO_PATH)).encode() + rb")\s*\("
    + rb"|" + _route_re(ROUTE_NAMES - CONVERSIONS - NO_PATH, _PATH_LITERAL)
    + rb"|" + _route_re({"Handle", "HandleFunc"}, _MUX_PATTERN)
)
_HTTP_METHOD_RE = re.compile(r"^[A-Z]+$")
_MUX_PATTERN_RE = re.compile(r"^(?:[A-Z]+ +)?(?:[\w.-]+)?/")  # ServeMux (Go 1.22): "GET /x", "host/x", "/x"


@dataclass(slots=True)
class Handler:
    node: ts.Node  # function_declaration, method_declaration or func_literal
    name: str  # how messages name it: ListUsers, (*API).get, GET /users, func literal in routes
    kind: str  # net/http, ServeHTTP, gin, echo, fiber, registered
    file: SourceFile

    @property
    def body(self) -> ts.Node | None:
        return self.node.child_by_field_name("body")


@dataclass(slots=True)
class RouteCall:
    call: ts.Node
    label: str | None  # "GET /users" when the call names a path
    handler_args: list[ts.Node]


# ---------------------------------------------------------------------------
# Types and signatures


def _names_type(src: SourceFile, node: ts.Node | None, path_ok, name: str, pointer: bool | None) -> bool:
    """Is ``node`` the type ``pkg.name`` (pointer or not as asked; None: either)?"""
    if node is None:
        return False
    is_ptr = node.type == "pointer_type"
    if is_ptr:
        inner = node.named_children[0] if node.named_children else None
        if inner is None:
            return False
        node = inner
    if pointer is not None and pointer != is_ptr:
        return False
    if node.type == "qualified_type":
        q = src.qualified(node)
        return q is not None and q[1] == name and path_ok(q[0])
    if node.type == "type_identifier" and src.text(node) == name:
        # a dot import brings the package's names into the file
        return any(i.name == "." and path_ok(i.path) for i in src.imports.imports)
    return False


def _is_http(path: str) -> bool:
    return path == NET_HTTP


def param_types(fn: ts.Node) -> list[ts.Node] | None:
    """One type node per parameter (``a, b int`` gives two); None if variadic."""
    plist = fn.child_by_field_name("parameters")
    if plist is None:
        return []
    out: list[ts.Node] = []
    for p in plist.named_children:
        if p.type == "variadic_parameter_declaration":
            return None
        if p.type != "parameter_declaration":
            continue
        t = p.child_by_field_name("type")
        names = p.children_by_field_name("name")
        out.extend([t] * max(len(names), 1))
    return out


def result_shape(src: SourceFile, fn: ts.Node) -> str:
    """"none", "error" or "other"."""
    res = fn.child_by_field_name("result")
    if res is None:
        return "none"
    if res.type == "parameter_list":
        kids = [p for p in res.named_children if p.type == "parameter_declaration"]
        if not kids:
            return "none"
        if len(kids) == 1 and len(kids[0].children_by_field_name("name")) <= 1:
            res = kids[0].child_by_field_name("type")
        else:
            return "other"
    if res is not None and res.type == "type_identifier" and src.text(res) == "error":
        return "error"
    return "other"


def signature_kind(src: SourceFile, fn: ts.Node) -> str | None:
    """The kind of handler ``fn``'s signature says it is, or None."""
    if fn.type == "method_declaration":
        name = fn.child_by_field_name("name")
        if name is not None and src.text(name) == "ServeHTTP":
            types = param_types(fn)
            if types is not None and len(types) == 2 and _ends_with(src, types[0], "ResponseWriter") and _ends_with(
                src, types[1], "Request"
            ):
                return "ServeHTTP"
    types = param_types(fn)
    if not types:
        return None
    results = result_shape(src, fn)
    if results == "other":
        return None
    if len(types) == 2:
        if _names_type(src, types[0], _is_http, "ResponseWriter", False) and _names_type(
            src, types[1], _is_http, "Request", True
        ):
            return "net/http"
        return None
    if len(types) != 1:
        return None
    t = types[0]
    if _names_type(src, t, GIN_RE.match, "Context", True):
        return "gin"
    if results == "error":
        if _names_type(src, t, ECHO_RE.match, "Context", False):
            return "echo"
        if _names_type(src, t, FIBER_RE.match, "Ctx", None):
            return "fiber"
    return None


def _ends_with(src: SourceFile, t: ts.Node | None, name: str) -> bool:
    if t is None:
        return False
    if t.type == "pointer_type" and t.named_children:
        t = t.named_children[0]
    if t.type == "qualified_type":
        n = t.child_by_field_name("name")
        return n is not None and src.text(n) == name
    return t.type == "type_identifier" and src.text(t) == name


def handler_like(src: SourceFile, fn: ts.Node) -> bool:
    """A function passed to a route registration is a handler when it takes arguments and
    returns nothing or an error (a middleware factory returns a handler: not one)."""
    types = param_types(fn)
    return (types is None or len(types) >= 1) and result_shape(src, fn) != "other"


# ---------------------------------------------------------------------------
# Route registrations


def _string_value(src: SourceFile, node: ts.Node) -> str | None:
    if node.type in ("interpreted_string_literal", "raw_string_literal"):
        return src.text(node)[1:-1]
    return None


def _path_like(src: SourceFile, node: ts.Node, allow_empty: bool, mux: bool) -> bool:
    value = _string_value(src, node)
    if value is not None:
        if mux and _MUX_PATTERN_RE.match(value):
            return True
        return (allow_empty and value == "") or value.startswith("/")
    if node.type == "binary_expression":  # prefix + "/users"
        right = node.child_by_field_name("right")
        left = node.child_by_field_name("left")
        return any(
            (v := _string_value(src, side)) is not None and v.startswith("/")
            for side in (left, right)
            if side is not None
        )
    return False


def _method_label(src: SourceFile, node: ts.Node) -> str | None:
    value = _string_value(src, node)
    if value is not None and _HTTP_METHOD_RE.match(value):
        return value
    if node.type == "selector_expression":  # http.MethodGet
        q = src.qualified(node)
        if q and q[0] == NET_HTTP and q[1].startswith("Method"):
            return q[1][len("Method"):].upper()
    return None


def route_call(src: SourceFile, call: ts.Node, method: str, args: list[ts.Node]) -> RouteCall | None:
    """If ``call`` registers handlers, which arguments are the handlers."""
    if method in CONVERSIONS:
        return RouteCall(call, None, args[:1]) if len(args) == 1 else None
    if method in NO_PATH:
        if args and any(ROUTER_RE.match(i.path) for i in src.imports.imports):
            return RouteCall(call, None, args)
        return None
    upper = method in VERBS_UPPER
    for i, arg in enumerate(args[:2]):
        if not _path_like(src, arg, allow_empty=upper, mux=method in ("Handle", "HandleFunc")):
            continue
        if i == 1 and (method not in PATH_METHODS or _method_label(src, args[0]) is None and args[0].type != "composite_literal"):
            return None  # Method("GET", "/x", h) or Match([]string{...}, "/x", h) only
        if method == "Handler" and i == 0:
            return None  # gorilla route.Handler(h) takes no path; httprouter Handler(method, path, h)
        verb = method.upper() if method in VERBS_UPPER | VERBS_TITLE and method not in ("Any", "All") else None
        if i == 1:
            verb = _method_label(src, args[0])
        path = _string_value(src, arg)
        label = f"{verb} {path}" if verb and path is not None else (path if path is not None else None)
        handlers = args[i + 1 :]
        return RouteCall(call, label, handlers) if handlers else None
    return None


def route_calls(pkg: Package, src: SourceFile) -> list[RouteCall]:
    """The route registrations (and handler conversions) of one file, once per file."""
    memo = pkg.memo.setdefault("handlers.route_calls", {})
    assert isinstance(memo, dict)
    key = id(src)
    if key in memo:
        return memo[key]
    out: list[RouteCall] = []
    if pkg.file_matches(src, ROUTE_CALL_RE):
        for _, m in parsing.matches(_ROUTE_QUERY, src.root):
            call = m["call"][0]
            args = [a for a in m["args"][0].named_children if a.type != "comment"]
            rc = route_call(src, call, src.text(m["m"][0]), args)
            if rc is not None:
                out.append(rc)
    memo[key] = out
    return out


def _unwrap(node: ts.Node) -> ts.Node:
    while node.type == "parenthesized_expression" and node.named_children:
        node = node.named_children[0]
    return node


def registrations(pkg: Package, src: SourceFile) -> list[Registration]:
    """Package functions and methods passed by name to route registrations in ``src``."""
    out: list[Registration] = []
    for rc in route_calls(pkg, src):
        for arg in rc.handler_args:
            arg = _unwrap(arg)
            key = resolve_func_value(pkg, src, arg)
            if key is not None:
                out.append(Registration(key, src, arg, rc.call))
    return out


def resolve_func_value(pkg: Package, src: SourceFile, node: ts.Node) -> str | None:
    """The package function (``name``) or method (``Type.name``) that an expression names."""
    if node.type == "identifier":
        name = src.text(node)
        if name in pkg.funcs and lookup(src, node, name) is None:
            return name
        return None
    if node.type != "selector_expression":
        return None
    operand = node.child_by_field_name("operand")
    field = node.child_by_field_name("field")
    if operand is None or field is None:
        return None
    if src.qualified(node) is not None:
        return None  # otherpkg.Func
    method = src.text(field)
    owners = [d.receiver for d in pkg.methods_named(method)]
    if not owners:
        return None
    tname = value_type(pkg, src, operand)
    if tname is not None:
        return f"{tname}.{method}" if tname in owners else None
    return f"{owners[0]}.{method}" if len(owners) == 1 else None


def _type_name(src: SourceFile, t: ts.Node | None) -> str | None:
    while t is not None and t.type in ("pointer_type", "parenthesized_type"):
        t = t.named_children[0] if t.named_children else None
    if t is not None and t.type == "generic_type":
        t = t.child_by_field_name("type")
    if t is not None and t.type == "type_identifier":
        return src.text(t)
    return None


def value_type(pkg: Package, src: SourceFile, operand: ts.Node) -> str | None:
    """The package type of an identifier, when its declaration says it (``h *API``,
    ``h := &API{...}``, ``h := NewAPI()`` where NewAPI returns ``*API``); else None."""
    operand = _unwrap(operand)
    if operand.type == "unary_expression" or operand.type == "composite_literal" or operand.type == "call_expression":
        return _expr_type(pkg, src, operand)
    if operand.type != "identifier":
        return None
    name = src.text(operand)
    decl = lookup(src, operand, name)
    if decl is None:
        return None
    if decl.type in ("parameter_declaration", "var_spec"):
        t = _type_name(src, decl.child_by_field_name("type"))
        if t is not None:
            return t if t in pkg.type_names else None
        if decl.type == "parameter_declaration":
            return None
    if decl.type in ("short_var_declaration", "var_spec"):
        left = decl.child_by_field_name("left") if decl.type == "short_var_declaration" else None
        names = left.named_children if left is not None else decl.children_by_field_name("name")
        right = decl.child_by_field_name("right") or decl.child_by_field_name("value")
        if right is None:
            return None
        values = right.named_children if right.type == "expression_list" else [right]
        idx = [i for i, n in enumerate(names) if src.text(n) == name]
        if not idx or len(values) != len(names):
            return None
        return _expr_type(pkg, src, values[idx[0]])
    return None


def _expr_type(pkg: Package, src: SourceFile, expr: ts.Node) -> str | None:
    expr = _unwrap(expr)
    if expr.type == "unary_expression" and expr.named_children:
        expr = expr.named_children[-1]
    if expr.type == "composite_literal":
        t = _type_name(src, expr.child_by_field_name("type"))
        return t if t in pkg.type_names else None
    if expr.type == "call_expression":
        fn = expr.child_by_field_name("function")
        if fn is not None and fn.type == "identifier":
            name = src.text(fn)
            if name == "new":
                args = expr.child_by_field_name("arguments")
                if args is not None and args.named_children:
                    t = _type_name(src, args.named_children[0])
                    return t if t in pkg.type_names else None
            decl = pkg.funcs.get(name)
            if decl is not None and lookup(src, fn, name) is None:
                res = decl.node.child_by_field_name("result")
                t = _type_name(decl.file, res) if res is not None and res.type != "parameter_list" else None
                return t if t in pkg.type_names else None
    return None


# ---------------------------------------------------------------------------
# Handlers of one file


def decl_name(decl: FuncDecl) -> str:
    return f"{decl.receiver}.{decl.name}" if decl.receiver else decl.name


def _literal_routes(pkg: Package, src: SourceFile) -> dict[int, str | None]:
    """Start byte of each func literal passed to a route registration in ``src`` -> its route."""
    memo = pkg.memo.setdefault("handlers.literal_routes", {})
    assert isinstance(memo, dict)
    got = memo.get(id(src))
    if got is None:
        got = {}
        for rc in route_calls(pkg, src):
            for arg in rc.handler_args:
                arg = _unwrap(arg)
                if arg.type == "func_literal":
                    got[arg.start_byte] = rc.label
        memo[id(src)] = got
    return got


def handler_at(pkg: Package, src: SourceFile, fn: ts.Node) -> Handler | None:
    """``fn`` (a function or method declaration or a func literal of ``src``) as a handler, or None."""
    if fn.child_by_field_name("body") is None:
        return None
    kind = signature_kind(src, fn)
    decl = None
    if fn.type != "func_literal":
        decl = pkg.decls(src).by_start.get(fn.start_byte)
    literal_routes = _literal_routes(pkg, src) if fn.type == "func_literal" else {}
    if kind is None:
        if decl is not None and handler_like(src, fn) and pkg.is_registered(decl.key):
            kind = "registered"
        elif fn.type == "func_literal" and fn.start_byte in literal_routes and handler_like(src, fn):
            kind = "registered"
    if kind is None:
        return None
    if fn.type == "func_literal":
        name = literal_name(pkg, src, fn, literal_routes.get(fn.start_byte))
    elif decl is not None:
        name = decl_name(decl)
    else:
        n = fn.child_by_field_name("name")
        name = src.text(n) if n is not None else "handler"
    return Handler(fn, name, kind, src)


#: A handler by signature names ResponseWriter (net/http, ServeHTTP) or imports its framework.
SIGNATURE_TOKENS = (b"ResponseWriter", b"gin-gonic/gin", b"labstack/echo", b"gofiber/fiber")


def may_hold_handler(pkg: Package, src: SourceFile) -> bool:
    """Can ``src`` hold a handler? Its bytes name a handler signature's type, or it passes a
    func literal to a route registration, or it can declare a function or method that the
    package registers by name. Reads bytes, and parses only the package's route files."""
    if any(tok in src.data for tok in SIGNATURE_TOKENS):
        return True
    if not pkg.route_files():
        return False
    if pkg.file_matches(src, ROUTE_CALL_RE) and _literal_routes(pkg, src):
        return True
    for key in pkg.registered:
        recv, _, name = key.rpartition(".")
        if (can_name if recv else can_declare_func)(src.data, name.encode()):
            return True
    return False


def handlers_in(pkg: Package, src: SourceFile) -> list[Handler]:
    """Every handler whose body is in ``src`` (declarations, methods, literals), in order."""
    out: list[Handler] = []
    for fn in parsing.captures(_FUNCS_QUERY, src.root).get("fn", []):
        h = handler_at(pkg, src, fn)
        if h is not None:
            out.append(h)
    out.sort(key=lambda h: h.node.start_byte)
    return out


def enclosing_handler(pkg: Package, src: SourceFile, node: ts.Node) -> Handler | None:
    """The innermost handler whose body holds ``node``."""
    memo = pkg.memo.setdefault("handlers.at", {})
    assert isinstance(memo, dict)
    p = node.parent
    while p is not None:
        if p.type in ("func_literal", "function_declaration", "method_declaration"):
            key = (id(src), p.start_byte, p.end_byte)
            if key not in memo:
                memo[key] = handler_at(pkg, src, p)
            if memo[key] is not None:
                return memo[key]
        p = p.parent
    return None


def literal_name(pkg: Package, src: SourceFile, lit: ts.Node, route: str | None) -> str:
    """How a message names a handler literal: its route, its variable, or where it is."""
    if route:
        return route
    parent = lit.parent
    while parent is not None and parent.type in ("argument_list", "call_expression", "parenthesized_expression"):
        parent = parent.parent  # var Ping = http.HandlerFunc(func(...) {...})
    if parent is not None and parent.type == "expression_list":
        holder = parent.parent
        if holder is not None and holder.type in ("short_var_declaration", "assignment_statement", "var_spec"):
            left = holder.child_by_field_name("left")
            names = left.named_children if left is not None else holder.children_by_field_name("name")
            idx = next((i for i, v in enumerate(parent.named_children) if v.start_byte <= lit.start_byte < v.end_byte), -1)
            if 0 <= idx < len(names) and src.text(names[idx]) != "_":
                return src.text(names[idx])
    if parent is not None and parent.type == "literal_element":
        parent = parent.parent
    if parent is not None and parent.type == "keyed_element":
        key = parent.named_children[0] if parent.named_children else None
        if key is not None and lit.start_byte >= key.end_byte:
            return src.text(key)
    node = lit.parent
    while node is not None:
        if node.type in ("function_declaration", "method_declaration"):
            for d in pkg.decls_in(src):
                if d.node.start_byte == node.start_byte:
                    return f"func literal in {decl_name(d)}"
            n = node.child_by_field_name("name")
            return f"func literal in {src.text(n)}" if n is not None else "func literal"
        node = node.parent
    return "func literal"
