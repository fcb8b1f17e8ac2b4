"""Function-scope facts: where each local of a Go function goes.

One analysis, shared by GR002, GR003, GR004, GR012 and GR011 (and any later
rule that asks "is this value closed / called / returned / leaked?"). It is a
:class:`~golint_rules.analysis.SharedAnalysis` (:data:`FLOW`), so it is built
once per file and every check that lists it in ``requires`` reads the same
object::

    from ..flow import FLOW, flow_of
    analyzer = Analyzer(..., requires=(FLOW,))
    def run(p):
        ff = flow_of(p)                      # FileFlow of this file
        for call in parsing.captures(QUERY, p.file.root).get("call", []):
            fn = ff.function(call)           # FuncFlow of the top-level function holding it
            ...

Nothing is computed eagerly: a rule finds its candidates with tree-sitter
queries (in C) and asks for the facts of the functions that hold them; only
those function bodies are walked in Python, once, and cached. Even the walk waits
until a fact is read: ``var_of`` answers "not a local" without it when no
identifier of that name sits where the walk would declare one (``http`` in
``http.Get``, ``new`` in ``new(T)``), which is most package-member questions.

The model
---------
:class:`FuncFlow` covers one *top-level* function (a ``function_declaration``,
``method_declaration``, or a ``func_literal`` outside any function) together
with every function literal nested in it, because closures capture the
variables of the functions around them. Its walk resolves every identifier to
the :class:`Var` it names with Go's scoping rules: parameters, receivers and
named results; ``:=`` in inner blocks (a new variable that shadows the outer
one), ``:=`` that redeclares in the same scope (an assignment), ``var``/``const``,
``range``, ``select`` receives, type-switch aliases, function literal
parameters. A parameter or local called ``http`` or ``context`` is a
:class:`Var`, so ``http.Get`` on it is not the package: use
:meth:`FileFlow.pkg_member` / :meth:`FuncFlow.pkg_member`, which resolves
``pkg.Name`` through the file's imports (aliases such as ``nethttp "net/http"``,
dot imports) and refuses names that a local shadows.

For each :class:`Var`:

- ``decl`` / ``ident`` / ``kind`` / ``type``: where and how it is declared
  (``param``, ``receiver``, ``result``, ``local``, ``range``, ``const``) and its
  declared type node, if written;
- ``assigns``: every :class:`Assign` of a value (the declaration's initialiser
  first, then ``=`` / ``:=`` re-assignments), with the right-hand expression and,
  for ``a, b := f()``, the index of the result;
- ``uses``: every other occurrence as a :class:`Use`.

A :class:`Use` says what happens to the value (``var`` or ``var.f.g``):

- ``path``: the selector fields after the variable, through type assertions
  (``resp.Body.Close`` -> ``("Body", "Close")``; ``c.Transport.(*http.Transport).CloseIdleConnections``
  -> ``("Transport", "CloseIdleConnections")``);
- ``called``: the path (or the variable itself, ``cancel()``) is the function of
  a call; ``call`` is that call node;
- ``sink``: where the value (or, for a call, nothing: see ``call``) goes:
  ``return``, ``store`` (field, index, package variable, ``*p``), ``assign``
  (to the local ``target_var``), ``discard`` (``_ = x``), ``send`` (channel),
  ``arg`` (argument of ``target`` call; ``append`` too), ``elem`` (element of
  the composite literal ``target``, under ``key``), ``set`` (``x.f = value``:
  the path is written, ``value`` is the right-hand side), ``call`` (it is called)
  or ``read`` (anything else: comparisons, conditions, reads of fields);
- ``deferred`` / ``in_go``: the call runs from a ``defer`` / ``go`` statement,
  directly or inside a deferred / ``go`` function literal;
- ``closures``: the function literals between the variable's function and the
  use (a capture when non-empty); :meth:`FuncFlow.closure_kind` says whether
  such a literal is deferred, started with ``go``, called on the spot, or used
  as a value.

Queries over the facts (each rule is a short query):

- :meth:`FuncFlow.var_of` (identifier -> Var), :meth:`FuncFlow.var_named`;
- :meth:`FuncFlow.sink_of` (where an arbitrary expression's value goes);
- :meth:`FuncFlow.holders` (a value and every local that holds it: aliases,
  locals built from a literal that contains it, ``c.Transport = tr``);
- :meth:`FuncFlow.calls_method` (``x.M()`` called directly, deferred, inside a
  closure, or as a method value ``defer f()`` / ``t.Cleanup(x.M)``);
- :meth:`FuncFlow.escape` (the first use through which a value leaves the
  function: returned, stored, sent, passed to a call, captured by ``go`` or by a
  closure that itself escapes), :meth:`FuncFlow.expr_escape` for an expression;
- :meth:`FuncFlow.value_at` (the assignments of a variable that can reach a point).

File level (:class:`FileFlow`): :meth:`FileFlow.function` (the FuncFlow holding a node),
:meth:`FileFlow.pkg_member`, :meth:`FileFlow.declares` (a package-level name of the
file or package: a function called ``new``, a variable called ``http``),
:meth:`FileFlow.package_var`, :meth:`FileFlow.struct_fields` (across the package's files,
memoised in ``Package.memo``). net/http vocabulary for the HTTP rules at the end of the
module: :func:`http_member`, :func:`call_parts`, :func:`call_args`, :func:`outer_expr`,
``SEND_METHODS``, ``CLIENT`` / ``TRANSPORT`` / ``REQUEST`` / ``RESPONSE``.

Types, as far as one package's source can tell (no type checker):
:meth:`FuncFlow.type_of` returns ``(import path, name)`` for expressions whose
type is known: literals, ``new(T)``, declared types of parameters, variables and
struct fields of the package's own types, package variables of the package,
and the results of a few net/http and context functions (:data:`RESULT_TYPES`).
``None`` means "cannot know", and rules stay silent then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

import tree_sitter as ts

from . import parsing
from .analysis import SharedAnalysis
from .source import SourceFile

if TYPE_CHECKING:  # pragma: no cover
    from .analysis import Pass
    from .package import Package

FUNC_TYPES = ("function_declaration", "method_declaration", "func_literal")
HTTP = "net/http"
CONTEXT = "context"

TypeRef = tuple[str, str]  # (import path, or "" for this package; type name)

#: Result types of well-known functions and methods, by (package, func) or
#: (receiver type, method): a tuple of result types (None where unknown).
RESULT_TYPES: dict[tuple[str, str], tuple[TypeRef | None, ...]] = {
    (HTTP, "NewRequest"): ((HTTP, "Request"), None),
    (HTTP, "NewRequestWithContext"): ((HTTP, "Request"), None),
    (HTTP, "Get"): ((HTTP, "Response"), None),
    (HTTP, "Head"): ((HTTP, "Response"), None),
    (HTTP, "Post"): ((HTTP, "Response"), None),
    (HTTP, "PostForm"): ((HTTP, "Response"), None),
    (HTTP, "ReadResponse"): ((HTTP, "Response"), None),
    ("net/http/httptest", "NewServer"): (("net/http/httptest", "Server"),),
    ("net/http/httptest", "NewTLSServer"): (("net/http/httptest", "Server"),),
    ("net/http/httptest", "NewUnstartedServer"): (("net/http/httptest", "Server"),),
    ("net/http/httptest", "NewRequest"): ((HTTP, "Request"),),
    ("net/http/httptest", "NewRequestWithContext"): ((HTTP, "Request"),),
    ("log", "New"): (("log", "Logger"),),
    ("log", "Default"): (("log", "Logger"),),
    (CONTEXT, "Background"): ((CONTEXT, "Context"),),
    (CONTEXT, "TODO"): ((CONTEXT, "Context"),),
}
METHOD_RESULT_TYPES: dict[tuple[TypeRef, str], tuple[TypeRef | None, ...]] = {
    ((HTTP, "Client"), "Do"): ((HTTP, "Response"), None),
    ((HTTP, "Client"), "Get"): ((HTTP, "Response"), None),
    ((HTTP, "Client"), "Head"): ((HTTP, "Response"), None),
    ((HTTP, "Client"), "Post"): ((HTTP, "Response"), None),
    ((HTTP, "Client"), "PostForm"): ((HTTP, "Response"), None),
    ((HTTP, "Transport"), "Clone"): ((HTTP, "Transport"),),
    ((HTTP, "Transport"), "RoundTrip"): ((HTTP, "Response"), None),
    ((HTTP, "Request"), "WithContext"): ((HTTP, "Request"),),
    ((HTTP, "Request"), "Clone"): ((HTTP, "Request"),),
    ((HTTP, "Request"), "Context"): ((CONTEXT, "Context"),),
    (("net/http/httptest", "Server"), "Client"): ((HTTP, "Client"),),
}
#: Package variables of net/http with their types.
HTTP_VARS: dict[str, TypeRef] = {
    "DefaultClient": (HTTP, "Client"),
}

#: Builtins whose arguments do not escape through them.
NON_ESCAPING_BUILTINS = frozenset(
    {"len", "cap", "print", "println", "delete", "close", "clear", "min", "max", "complex", "real", "imag"}
)

_TRANSPARENT = ("parenthesized_expression",)

#: Parents of an identifier that FuncFlow never declares (it declares children of
#: parameter declarations, var/const specs, expression lists, ``:=``, range clauses,
#: receive statements and type switches only).
_NEVER_DECLARES = frozenset({"selector_expression", "call_expression", "argument_list"})

# ---------------------------------------------------------------------------
# Facts


@dataclass(eq=False, slots=True)
class Assign:
    """A value given to a variable."""

    node: ts.Node  # the statement/spec/clause that assigns
    value: ts.Node | None  # right-hand expression (None: zero value, range, receive)
    index: int  # which result of ``value`` (for ``a, b := f()``); 0 otherwise
    op: str  # "var", ":=", "=", "range", "recv", "param", "op=" (``+=`` etc.)
    #: True when ``value`` is one multi-value call split over several names (``a, b := f()``).
    multi: bool = False


@dataclass(eq=False, slots=True)
class Use:
    """One occurrence of a variable that is not a plain (re)assignment of it."""

    var: "Var"
    ident: ts.Node
    path: tuple[str, ...]
    node: ts.Node  # the expression ``var.path`` (the outermost selector / assertion)
    called: bool
    call: ts.Node | None
    sink: str
    target: ts.Node | None = None  # call (arg), literal (elem), left expression (store/assign/set)
    target_var: "Var | None" = None  # local assigned to (assign), or base local of a ``store``
    key: str | None = None  # literal key (elem)
    value: ts.Node | None = None  # right-hand side (set)
    deferred: bool = False
    in_go: bool = False
    closures: tuple[ts.Node, ...] = ()

    @property
    def line(self) -> int:
        return self.ident.start_point[0] + 1


@dataclass(eq=False, slots=True)
class Var:
    name: str
    ident: ts.Node | None
    decl: ts.Node
    kind: str  # "param", "receiver", "result", "local", "range", "const"
    func: ts.Node  # the function (decl or literal) whose scope declares it
    type: ts.Node | None = None
    assigns: list[Assign] = field(default_factory=list)
    uses: list[Use] = field(default_factory=list)

    @property
    def is_param(self) -> bool:
        return self.kind in ("param", "receiver", "result")

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        line = self.ident.start_point[0] + 1 if self.ident is not None else 0
        return f"Var({self.name}@{line} {self.kind})"


# ---------------------------------------------------------------------------
# The walk


class _Scope:
    __slots__ = ("names", "parent", "func")

    def __init__(self, parent: "_Scope | None", func: ts.Node) -> None:
        self.names: dict[str, Var] = {}
        self.parent = parent
        self.func = func

    def find(self, name: str) -> Var | None:
        s: _Scope | None = self
        while s is not None:
            v = s.names.get(name)
            if v is not None:
                return v
            s = s.parent
        return None


class FuncFlow:
    """Facts of one top-level function and the literals nested in it."""

    def __init__(self, ff: "FileFlow", node: ts.Node) -> None:
        self.ff = ff
        self.src = ff.src
        self.node = node
        self._closure_kind: dict[int, str] = {}
        self._may_declare_memo: dict[bytes, bool] = {}
        # The walk runs on first use of its facts (``vars``, ``_by_ident``): many questions
        # (is ``http`` in ``http.Get`` a local?) are answered without it (:meth:`var_of`).
        self._built = False
        self._vars: list[Var] = []
        self._ids: dict[int, Var] = {}  # identifier start_byte -> Var (decl or use)

    @property
    def vars(self) -> list[Var]:
        """Every variable declared in the function and its literals, in walk order."""
        if not self._built:
            self._build()
        return self._vars

    @property
    def _by_ident(self) -> dict[int, Var]:
        if not self._built:
            self._build()
        return self._ids

    def _build(self) -> None:
        self._built = True
        self._func_stack: list[ts.Node] = []
        self._func_depth: dict[int, int] = {}  # id of a function on the stack -> its index
        # The innermost node the walk is in that ends _enclosing_call_stmt's climb.
        self._stop: str = self.node.type
        self._pending: list[tuple[Var, ts.Node, tuple[ts.Node, ...], str]] = []
        self._walk()
        # Sinks are classified once every name is bound (``y := x`` needs ``y``).
        for v, ident, closures, stop in self._pending:
            v.uses.append(self._classify(v, ident, closures, stop))
        self._pending = []

    def _may_declare(self, name: bytes) -> bool:
        """Could the walk declare a variable spelt ``name`` in this function? False only when
        no identifier ``name`` here sits where the walk declares one: every declaring
        identifier is a child of a parameter/var/const spec, an expression list, a
        ``:=`` / range / receive / type switch; ``http`` in ``http.Get`` or ``new`` in
        ``new(T)`` (parent selector or call) never is. Non-ASCII names always may."""
        memo = self._may_declare_memo
        got = memo.get(name)
        if got is not None:
            return got
        got = False
        if not name or not name.isascii():
            got = True
        else:
            node = self.node
            data = self.src.data
            start, end = node.start_byte, node.end_byte
            n = len(name)
            i = data.find(name, start, end)
            seen = 0
            while i >= 0:
                seen += 1
                if seen > 64:
                    got = True
                    break
                d = node.named_descendant_for_byte_range(i, i + n)
                if d is not None and d.type == "identifier" and d.start_byte == i and d.end_byte == i + n:
                    parent = d.parent
                    if parent is None or parent.type not in _NEVER_DECLARES:
                        got = True
                        break
                i = data.find(name, i + 1, end)
        memo[name] = got
        return got

    # -- building ---------------------------------------------------------
    def _declare(self, scope: _Scope, ident: ts.Node, decl: ts.Node, kind: str, typ: ts.Node | None = None) -> Var | None:
        name = self.src.text(ident)
        if name == "_":
            return None
        v = Var(name, ident, decl, kind, scope.func, typ)
        scope.names[name] = v
        self._vars.append(v)
        self._ids[ident.start_byte] = v
        return v

    def _walk(self) -> None:
        node = self.node
        scope = _Scope(None, node)
        self._func_depth[node.id] = len(self._func_stack)
        self._func_stack.append(node)
        self._declare_signature(node, scope)
        body = node.child_by_field_name("body")
        if body is not None:
            self._visit(body, scope)
        self._func_stack.pop()
        del self._func_depth[node.id]

    def _declare_signature(self, fn: ts.Node, scope: _Scope) -> None:
        for fname, kind in (("receiver", "receiver"), ("parameters", "param"), ("result", "result")):
            plist = fn.child_by_field_name(fname)
            if plist is None or plist.type != "parameter_list":
                continue
            for p in plist.named_children:
                if p.type not in ("parameter_declaration", "variadic_parameter_declaration"):
                    continue
                typ = p.child_by_field_name("type")
                for ident in p.children_by_field_name("name"):
                    v = self._declare(scope, ident, p, kind, typ)
                    if v is not None:
                        v.assigns.append(Assign(p, None, 0, "param"))

    def _visit(self, node: ts.Node, scope: _Scope) -> None:
        t = node.type
        if t == "identifier":
            self._reference(node, scope)
            return
        stop = _STOPS.get(t)
        if stop is None:
            stop = _STOPS[t] = _is_stop(t)
        if stop:
            outer = self._stop
            self._stop = t
        handler = _VISITORS.get(t)
        if handler is not None:
            handler(self, node, scope)
        elif t not in _NO_NAMES:
            self._visit_children(node, scope)
        if stop:
            self._stop = outer

    def _visit_children(self, node: ts.Node, scope: _Scope) -> None:
        # ``_visit`` of each named child, with its two commonest cases inline.
        for c in node.named_children:
            ct = c.type
            if ct == "identifier":
                self._reference(c, scope)
            elif ct not in _NO_NAMES:
                self._visit(c, scope)

    def _visit_block(self, node: ts.Node, scope: _Scope) -> None:
        self._visit_children(node, _Scope(scope, scope.func))

    def _visit_func_literal(self, node: ts.Node, scope: _Scope) -> None:
        inner = _Scope(scope, node)
        self._func_depth[node.id] = len(self._func_stack)
        self._func_stack.append(node)
        self._declare_signature(node, inner)
        body = node.child_by_field_name("body")
        if body is not None:
            self._visit(body, inner)
        self._func_stack.pop()
        del self._func_depth[node.id]

    def _visit_short_var(self, node: ts.Node, scope: _Scope) -> None:
        right = node.child_by_field_name("right")
        if right is not None:
            self._visit(right, scope)
        self._bind_assignment(node, scope, define=True)

    def _visit_assignment(self, node: ts.Node, scope: _Scope) -> None:
        right = node.child_by_field_name("right")
        if right is not None:
            self._visit(right, scope)
        self._bind_assignment(node, scope, define=False)

    def _visit_var_decl(self, node: ts.Node, scope: _Scope) -> None:
        specs = [c for c in node.named_children if c.type in ("var_spec", "const_spec", "var_spec_list", "const_spec_list")]
        flat: list[ts.Node] = []
        for s in specs:
            flat.extend(s.named_children if s.type.endswith("_list") else [s])
        for spec in flat:
            if spec.type not in ("var_spec", "const_spec"):
                continue
            value = spec.child_by_field_name("value")
            if value is not None:
                self._visit(value, scope)
            typ = spec.child_by_field_name("type")
            names = spec.children_by_field_name("name")
            values = value.named_children if value is not None else []
            for i, ident in enumerate(names):
                v = self._declare(scope, ident, spec, "const" if spec.type == "const_spec" else "local", typ)
                if v is None:
                    continue
                if values and len(values) == len(names):
                    v.assigns.append(Assign(spec, _unparen(values[i]), 0, "var"))
                elif len(values) == 1:
                    a = Assign(spec, _unparen(values[0]), i, "var")
                    a.multi = True
                    v.assigns.append(a)
                else:
                    v.assigns.append(Assign(spec, None, 0, "var"))

    def _visit_scoped(self, node: ts.Node, scope: _Scope) -> None:
        # if/for/switch/select statements and their clauses open a scope
        self._visit_children(node, _Scope(scope, scope.func))

    def _visit_type_switch_stmt(self, node: ts.Node, scope: _Scope) -> None:
        self._visit_type_switch(node, _Scope(scope, scope.func))

    def _visit_range_or_receive(self, node: ts.Node, scope: _Scope) -> None:
        # `for k, v := range xs` and `case m := <-ch`: the right side is evaluated in the
        # enclosing scope, the left side declares (:=) or assigns (=)
        right = node.child_by_field_name("right")
        if right is not None:
            self._visit(right, scope)
        left = node.child_by_field_name("left")
        if left is not None:
            if any(c.type == ":=" for c in node.children):
                ranged = node.type == "range_clause"
                for ident in left.named_children:
                    if ident.type == "identifier":
                        v = self._declare(scope, ident, node, "range" if ranged else "local")
                        if v is not None:
                            v.assigns.append(Assign(node, right if ranged else None, 0, "range" if ranged else "recv"))
            else:
                self._visit(left, scope)

    def _visit_keyed_element(self, node: ts.Node, scope: _Scope) -> None:
        kids = node.named_children
        if len(kids) == 2:
            key, val = kids
            # A struct literal's key is a field name, not a variable.
            inner_key = key.named_children[0] if key.type == "literal_element" and key.named_child_count else key
            if inner_key.type != "identifier":
                self._visit(key, scope)
            self._visit(val, scope)
            return
        self._visit_children(node, scope)

    def _visit_operand(self, node: ts.Node, scope: _Scope) -> None:
        # selectors (``x.f``: the field is not a name), type assertions and conversions
        operand = node.child_by_field_name("operand")
        if operand is not None:
            self._visit(operand, scope)

    def _visit_array_type(self, node: ts.Node, scope: _Scope) -> None:
        length = node.child_by_field_name("length")  # [N]T: N may name a constant
        if length is not None:
            self._visit(length, scope)

    def _visit_composite_literal(self, node: ts.Node, scope: _Scope) -> None:
        body = node.child_by_field_name("body")
        if body is not None:
            self._visit(body, scope)

    def _visit_type_switch(self, node: ts.Node, scope: _Scope) -> None:
        init = node.child_by_field_name("initializer")
        if init is not None:
            self._visit(init, scope)
        value = node.child_by_field_name("value")
        if value is not None:
            self._visit(value, scope)
        alias = node.child_by_field_name("alias")
        aliases = (alias.named_children if alias.type == "expression_list" else [alias]) if alias is not None else []
        for c in node.named_children:
            if c.type in ("type_case", "default_case"):
                inner = _Scope(scope, scope.func)
                for ident in aliases:
                    if ident.type == "identifier":
                        name = self.src.text(ident)
                        if name != "_":
                            v = Var(name, ident, node, "local", scope.func)
                            inner.names[name] = v
                            self._vars.append(v)  # a new Var: never listed yet
                            self._ids.setdefault(ident.start_byte, v)
                            v.assigns.append(Assign(node, value, 0, "recv"))
                for cc in c.named_children:
                    if cc.type != "type_identifier":
                        self._visit(cc, inner)

    def _bind_assignment(self, node: ts.Node, scope: _Scope, *, define: bool) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None:
            return
        lefts = left.named_children if left.type == "expression_list" else [left]
        rights = [_unparen(r) for r in right.named_children] if right is not None else []
        op = ":=" if define else "="
        if not define:
            opnode = next((c for c in node.children if not c.is_named), None)
            if opnode is not None and opnode.type not in ("=",):
                op = "op="
        for i, target in enumerate(lefts):
            if len(rights) == len(lefts):
                value, index, tup = rights[i], 0, False
            elif len(rights) == 1:
                value, index, tup = rights[0], i, True
            else:
                value, index, tup = None, 0, False
            if target.type == "identifier":
                name = self.src.text(target)
                if name == "_":
                    continue
                v = scope.names.get(name) if define else None
                if define and v is None:
                    v = self._declare(scope, target, node, "local")
                elif not define:
                    v = scope.find(name)
                    if v is None:  # package variable or unknown: a store
                        continue
                    self._ids[target.start_byte] = v
                else:
                    self._ids[target.start_byte] = v
                if v is not None:
                    a = Assign(node, value, index, op)
                    a.multi = tup
                    v.assigns.append(a)
                    if op == "op=":
                        self._reference(target, scope)
            else:
                self._visit(target, scope)

    def _reference(self, ident: ts.Node, scope: _Scope) -> None:
        name = self.src.text(ident)
        v = scope.find(name)
        if v is None:
            return
        self._ids[ident.start_byte] = v
        depth = self._func_depth.get(v.func.id, 0)
        closures = tuple(self._func_stack[depth + 1 :])
        self._pending.append((v, ident, closures, self._stop))

    # -- classification ---------------------------------------------------
    def _classify(self, v: Var, ident: ts.Node, closures: tuple[ts.Node, ...], stop: str) -> Use:
        """The Use of ``ident``; ``stop`` is the innermost function, block or statement
        (but an expression statement) around it, recorded by the walk."""
        node = ident
        path: list[str] = []
        while True:
            parent = node.parent
            if parent is None:
                break
            pt = parent.type
            if pt == "selector_expression" and _is_field(parent, "operand", node):
                fld = parent.child_by_field_name("field")
                path.append(self.src.text(fld) if fld is not None else "")
                node = parent
                continue
            if pt in ("type_assertion_expression", "parenthesized_expression") and (
                pt == "parenthesized_expression" or _is_field(parent, "operand", node)
            ):
                node = parent
                continue
            break
        use = Use(v, ident, tuple(path), node, False, None, "read", closures=closures)
        # ``parent`` is ``node.parent`` (where the climb stopped)
        if parent is not None and parent.type == "call_expression" and _is_field(parent, "function", node):
            use.called = True
            use.call = parent
            use.sink = "call"
            gp = _up(parent)
            if gp is not None and gp.type == "defer_statement":
                use.deferred = True
            elif gp is not None and gp.type == "go_statement":
                use.in_go = True
        else:
            use.sink, use.target, use.target_var, use.key, use.value = self._sink(node, parent)
            # what _enclosing_call_stmt(node) finds: the climb from ``node`` passes only
            # selectors, assertions and parentheses before ``stop``
            if stop == "defer_statement":
                use.deferred = True
            elif stop == "go_statement":
                use.in_go = True
        for fl in closures:
            k = self.closure_kind(fl)
            if k == "defer":
                use.deferred = True
            elif k == "go":
                use.in_go = True
        return use

    def _sink(self, expr: ts.Node, parent: ts.Node | None | bool = False) -> tuple[str, ts.Node | None, Var | None, str | None, ts.Node | None]:
        """Where ``expr``'s value goes; ``parent``: ``expr.parent`` when the caller has it."""
        node = expr
        if parent is False:
            parent = node.parent
        while True:
            if parent is None:
                return ("read", None, None, None, None)
            pt = parent.type
            if pt in _TRANSPARENT:
                node = parent
                parent = node.parent
                continue
            if pt == "unary_expression":
                op = parent.child_by_field_name("operator")
                if op is not None and self.src.text(op) in ("&", "*"):
                    node = parent
                    parent = node.parent
                    continue
            break
        # here ``parent`` is ``node.parent`` and ``pt`` its type
        if pt == "expression_list":
            gp = parent.parent
            if gp is None:
                return ("read", None, None, None, None)
            gt = gp.type
            if gt == "return_statement":
                return ("return", gp, None, None, None)
            if gt in ("assignment_statement", "short_var_declaration"):
                left = gp.child_by_field_name("left")
                right = gp.child_by_field_name("right")
                if right is not None and right.id == parent.id and left is not None:
                    lefts = left.named_children
                    rights = parent.named_children
                    idx = next((i for i, r in enumerate(rights) if r.id == node.id), 0)
                    target = lefts[idx] if len(lefts) == len(rights) and idx < len(lefts) else (lefts[0] if lefts else None)
                    return self._target_sink(target)
                if left is not None and left.id == parent.id:
                    # ``x.f = value`` (or ``*p = value``): the path is written
                    lefts = parent.named_children
                    rights = right.named_children if right is not None else []
                    idx = next((i for i, r in enumerate(lefts) if r.id == node.id), 0)
                    value = rights[idx] if len(rights) == len(lefts) else None
                    return ("set", gp, None, None, _unparen(value) if value is not None else None)
            if gt == "var_spec":
                names = gp.children_by_field_name("name")
                rights = parent.named_children
                idx = next((i for i, r in enumerate(rights) if r.id == node.id), 0)
                target = names[idx] if idx < len(names) else (names[0] if names else None)
                if target is None:
                    return ("read", None, None, None, None)
                if self._in_function(gp):
                    tv = self._by_ident.get(target.start_byte)
                    if tv is None and self.src.text(target) == "_":
                        return ("discard", target, None, None, None)
                    return ("assign", target, tv, None, None)
                return ("store", target, None, None, None)
            return ("read", None, None, None, None)
        if pt == "argument_list":
            call = parent.parent
            fn = call.child_by_field_name("function") if call is not None else None
            if fn is not None and fn.type == "identifier":
                name = self.src.text(fn)
                if name in NON_ESCAPING_BUILTINS and self.var_of(fn) is None:
                    return ("read", call, None, None, None)
            return ("arg", call, None, None, None)
        if pt == "literal_element":
            gp = parent.parent
            if gp is not None and gp.type == "keyed_element":
                kids = gp.named_children
                if kids and kids[0].id == parent.id:
                    return ("read", None, None, None, None)  # a map key
                key = kids[0] if kids else None
                lit = _literal_of(gp)
                return ("elem", lit, None, self.src.text(key) if key is not None else None, None)
            return ("elem", _literal_of(parent), None, None, None)
        if pt == "send_statement":
            if _is_field(parent, "value", node):
                return ("send", parent, None, None, None)
            return ("read", None, None, None, None)
        if pt == "expression_statement":
            return ("read", parent, None, None, None)
        if pt == "inc_statement" or pt == "dec_statement":
            return ("read", None, None, None, None)
        return ("read", None, None, None, None)

    def _target_sink(self, target: ts.Node | None) -> tuple[str, ts.Node | None, Var | None, str | None, ts.Node | None]:
        if target is None:
            return ("read", None, None, None, None)
        t = _unparen(target)
        if t.type == "identifier":
            if self.src.text(t) == "_":
                return ("discard", t, None, None, None)
            tv = self._by_ident.get(t.start_byte)
            if tv is not None:
                return ("assign", t, tv, None, None)
            return ("store", t, None, None, None)  # package variable
        base = _base_identifier(t)
        bv = self._by_ident.get(base.start_byte) if base is not None else None
        return ("store", t, bv, None, None)

    def _in_function(self, node: ts.Node) -> bool:
        n = node.parent
        while n is not None:
            if n.type in FUNC_TYPES:
                return True
            n = n.parent
        return False

    # -- queries ----------------------------------------------------------
    def var_of(self, ident: ts.Node) -> Var | None:
        """The Var an identifier (a use or a declaration) names, or None (package-level / import / builtin)."""
        if ident.type != "identifier":
            return None
        if not self._built:
            # A Var bound to ``ident`` is named like it: no such declaration, no walk.
            if not self._may_declare(self.src.data[ident.start_byte : ident.end_byte]):
                return None
            self._build()
        return self._ids.get(ident.start_byte)

    def var_named(self, name: str, at: ts.Node) -> Var | None:
        """The Var ``name`` refers to at node ``at`` (by source position and nesting), or None."""
        if not self._built and name.isascii() and not self._may_declare(name.encode()):
            return None
        best: Var | None = None
        for v in self.vars:
            if v.name != name or v.ident is None:
                continue
            scope_node = _scope_node(v)
            if scope_node is None:
                continue
            if scope_node.start_byte <= at.start_byte < scope_node.end_byte and (
                v.is_param or v.ident.start_byte <= at.start_byte
            ):
                if best is None or v.ident.start_byte >= best.ident.start_byte:  # type: ignore[union-attr]
                    best = v
        return best

    def function_of(self, node: ts.Node) -> ts.Node:
        """The innermost function (declaration or literal) inside this FuncFlow holding ``node``."""
        n = node.parent
        while n is not None:
            if n.type in FUNC_TYPES:
                return n
            n = n.parent
        return self.node

    def closure_kind(self, fl: ts.Node) -> str:
        """How a function literal runs: "defer", "go", "call" (immediately) or "value"."""
        k = self._closure_kind.get(fl.id)
        if k is not None:
            return k
        node = fl
        while node.parent is not None and node.parent.type in _TRANSPARENT:
            node = node.parent
        parent = node.parent
        k = "value"
        if parent is not None and parent.type == "call_expression" and _is_field(parent, "function", node):
            gp = _up(parent)
            k = "defer" if gp is not None and gp.type == "defer_statement" else "go" if gp is not None and gp.type == "go_statement" else "call"
        self._closure_kind[fl.id] = k
        return k

    def sink_of(self, expr: ts.Node) -> tuple[str, ts.Node | None, Var | None, str | None]:
        """(sink, target, target_var, key) of an expression's value; same vocabulary as :class:`Use`."""
        s = self._sink(expr)
        return s[0], s[1], s[2], s[3]

    def holders(self, v: Var, *, through_literals: Iterable[TypeRef] | None = None) -> list[Var]:
        """``v`` and every local that holds its value in this function.

        Follows ``w := v`` / ``w = v`` (aliases), ``w := &T{F: v}`` (a local built
        from a literal holding ``v``, only when the literal's type is one of
        ``through_literals``, or any literal when that is None), and
        ``w.F = v`` (a field of a local that is not a parameter).
        """
        allowed = set(through_literals) if through_literals is not None else None
        out: list[Var] = [v]
        seen = {id(v)}
        i = 0
        while i < len(out):
            cur = out[i]
            i += 1
            for u in cur.uses:
                if u.path:
                    continue
                nxt: Var | None = None
                if u.sink == "assign":
                    nxt = u.target_var
                elif u.sink == "store" and u.target_var is not None and not u.target_var.is_param \
                        and u.target is not None and u.target.type == "selector_expression":
                    nxt = u.target_var
                elif u.sink == "elem" and u.target is not None:
                    if allowed is None or self.type_of(u.target) in allowed:
                        s = self._sink(u.target)
                        if s[0] == "assign":
                            nxt = s[2]
                if nxt is not None and id(nxt) not in seen:
                    seen.add(id(nxt))
                    out.append(nxt)
        return out

    def calls_method(self, v: Var, method: str, *, via: tuple[str, ...] = ()) -> list[Use]:
        """Uses that call ``v.<via...>.method``: ``x.M()``, ``defer x.M()``, inside closures,
        as a method value bound to a local that is called (``f := x.M; defer f()``), or
        handed to a call (``t.Cleanup(x.M)``, ``defer closeQuietly(resp.Body.Close)``)."""
        want = via + (method,)
        out: list[Use] = []
        for u in v.uses:
            if u.path != want:
                # ``x.Transport.(*http.Transport).M()`` and the like end with M too
                if not (len(u.path) > len(want) and u.path[-len(want):] == want and not via):
                    continue
            if u.called:
                out.append(u)
            elif u.sink == "arg":
                out.append(u)
            elif u.sink == "assign" and u.target_var is not None:
                if any(w.called and not w.path for w in u.target_var.uses):
                    out.append(u)
        return out

    def escape(self, v: Var, *, fields: tuple[str, ...] = (), _seen: set[int] | None = None) -> Use | None:
        """The first use through which ``v``'s value leaves the function, or None.

        Escapes: returned, stored (field, map, slice, package variable, ``*p``),
        sent on a channel, passed to a call (``append`` included; ``len`` and
        friends not), an element of a literal whose value escapes, assigned to a
        local that escapes, stored in a field of a local that escapes, or captured
        by a ``go`` statement or by a function literal that is itself a value that
        escapes. Calling ``v``'s own methods (``v.M()``), reading its fields and
        comparing it do not. A named result always escapes. ``fields`` names fields whose value counts as ``v``
        itself when returned, stored, sent or captured (``("Body",)`` for a
        response: ``return resp.Body`` escapes); passing such a field to a call
        (``io.ReadAll(resp.Body)``) is left to the rule.
        """
        seen = _seen if _seen is not None else set()
        if id(v) in seen:
            return None
        seen.add(id(v))
        if v.kind == "result":  # a named result is returned by every return
            return Use(v, v.ident or v.decl, (), v.decl, False, None, "return", target=v.decl)
        own_paths = {()} | {(f,) for f in fields}
        for u in v.uses:
            for fl in u.closures:
                k = self.closure_kind(fl)
                if k == "go":
                    return u
                if k == "value" and self.expr_escape(fl, _seen=seen) is not None:
                    return u
            own = u.path in own_paths and not u.called
            if not own:
                continue
            if u.path and u.sink == "arg":
                continue
            if u.in_go:
                return u
            if self._use_escapes(u, seen):
                return u
        return None

    def _use_escapes(self, u: Use, seen: set[int]) -> bool:
        if u.sink in ("return", "store", "send", "arg"):
            if u.sink == "store" and u.target_var is not None and u.target is not None \
                    and u.target.type == "selector_expression" and not u.target_var.is_param:
                # stored in a field of a local struct: escapes if that local does
                return self.escape(u.target_var, _seen=seen) is not None
            return True
        if u.sink == "assign" and u.target_var is not None:
            return self.escape(u.target_var, _seen=seen) is not None
        if u.sink == "elem" and u.target is not None:
            return self.expr_escape(u.target, _seen=seen) is not None
        return False

    def expr_escape(self, expr: ts.Node, *, _seen: set[int] | None = None) -> ts.Node | None:
        """Where the value of an expression (a literal, a call, a function literal) escapes, or None."""
        seen = _seen if _seen is not None else set()
        sink, target, tv, _key, _v = self._sink(expr)
        if sink in ("return", "send", "arg"):
            return target or expr
        if sink == "store":
            if tv is not None and target is not None and target.type == "selector_expression" and not tv.is_param:
                return target if self.escape(tv, _seen=seen) is not None else None
            return target or expr
        if sink == "assign" and tv is not None:
            u = self.escape(tv, _seen=seen)
            return u.node if u is not None else None
        if sink == "elem" and target is not None:
            return self.expr_escape(target, _seen=seen)
        if expr.type == "func_literal":
            k = self.closure_kind(expr)
            if k == "go":
                return expr
        return None

    def value_at(self, v: Var, at: ts.Node) -> list[Assign]:
        """The assignments of ``v`` that may reach ``at``: those before it in the source,
        and those after it inside a loop that also holds ``at`` (a later iteration)."""
        loops = []
        n = at.parent
        while n is not None and n.id != v.func.id:
            if n.type == "for_statement":
                loops.append(n)
            n = n.parent
        out = []
        for a in v.assigns:
            if a.node.start_byte < at.start_byte and not (a.node.start_byte <= at.start_byte < a.node.end_byte and a.op != "param"):
                out.append(a)
            elif any(lp.start_byte <= a.node.start_byte < lp.end_byte for lp in loops):
                out.append(a)
        return out

    # -- names and types ----------------------------------------------------
    def pkg_member(self, node: ts.Node) -> tuple[str, str] | None:
        """``(import path, name)`` when ``node`` (``pkg.Name`` selector, qualified type, or a
        bare identifier under a dot import) names a package member; None for locals."""
        return self.ff.pkg_member(node, self)

    def type_of(self, expr: ts.Node, index: int = 0) -> TypeRef | None:
        """The (import path, name) of an expression's type, pointers dropped, or None."""
        return self.ff.type_of(expr, self, index)

    def var_type(self, v: Var, _depth: int = 0) -> TypeRef | None:
        """The type of a variable: its declared type, else the type of its initial value."""
        if v.type is not None:
            return self.ff.type_ref(v.type)
        if _depth > 8 or not v.assigns:
            return None
        a = v.assigns[0]
        if a.value is None:
            return None
        if a.op == "range" or a.op == "recv":
            return None
        return self.ff.type_of(a.value, self, a.index, _depth + 1)


#: Node types whose walk does nothing: types, field names, labels, literals, comments
#: (``array_type`` is not one: its length may name a constant).
_NO_NAMES = frozenset({
    "parameter_list", "type_identifier", "qualified_type", "pointer_type", "struct_type",
    "interface_type", "function_type", "map_type", "slice_type", "channel_type",
    "type_declaration", "field_identifier", "label_name", "generic_type", "comment",
    "interpreted_string_literal", "raw_string_literal", "int_literal", "float_literal",
})

#: How FuncFlow walks each node type with names or scopes of its own; any other node:
#: its named children in order.
_VISITORS = {
    "block": FuncFlow._visit_block,
    "statement_list": FuncFlow._visit_children,
    "func_literal": FuncFlow._visit_func_literal,
    "short_var_declaration": FuncFlow._visit_short_var,
    "assignment_statement": FuncFlow._visit_assignment,
    "var_declaration": FuncFlow._visit_var_decl,
    "const_declaration": FuncFlow._visit_var_decl,
    "if_statement": FuncFlow._visit_scoped,
    "for_statement": FuncFlow._visit_scoped,
    "expression_switch_statement": FuncFlow._visit_scoped,
    "select_statement": FuncFlow._visit_scoped,
    "type_switch_statement": FuncFlow._visit_type_switch_stmt,
    "expression_case": FuncFlow._visit_scoped,
    "default_case": FuncFlow._visit_scoped,
    "communication_case": FuncFlow._visit_scoped,
    "type_case": FuncFlow._visit_scoped,
    "range_clause": FuncFlow._visit_range_or_receive,
    "receive_statement": FuncFlow._visit_range_or_receive,
    "keyed_element": FuncFlow._visit_keyed_element,
    "selector_expression": FuncFlow._visit_operand,
    "type_assertion_expression": FuncFlow._visit_operand,
    "type_conversion_expression": FuncFlow._visit_operand,
    "array_type": FuncFlow._visit_array_type,
    "composite_literal": FuncFlow._visit_composite_literal,
}


def _scope_node(v: Var) -> ts.Node | None:
    """The node whose extent is the variable's scope (approximation for var_named)."""
    if v.is_param:
        return v.func
    n = v.decl.parent
    while n is not None and n.type not in ("block", "for_statement", "if_statement", "expression_switch_statement",
                                          "type_switch_statement", "communication_case", "expression_case",
                                          "default_case", "type_case", "func_literal", "source_file"):
        n = n.parent
    return n


# ---------------------------------------------------------------------------
# The file-level object


def _top_function(root: ts.Node, node: ts.Node) -> ts.Node | None:
    """The outermost function (declaration or literal) around ``node`` or ``node`` itself."""
    if node.start_byte < node.end_byte:
        # A function or method declaration among the root's children holding ``node`` is
        # the outermost: found in one descent instead of a climb (``parent`` costs a
        # descent from the root at every step). Siblings do not overlap.
        child = root.child_with_descendant(node)
        if child is not None and child.type in ("function_declaration", "method_declaration") \
                and child.start_byte <= node.start_byte and node.end_byte <= child.end_byte:
            return child
    top: ts.Node | None = None
    n: ts.Node | None = node
    while n is not None:
        if n.type in FUNC_TYPES:
            top = n
        n = n.parent
    return top


class FileFlow:
    """The flow facts of one file, built lazily per top-level function."""

    def __init__(self, src: SourceFile, package: "Package | None" = None) -> None:
        self.src = src
        self.package = package
        self._funcs: dict[int, FuncFlow] = {}

    def release(self) -> None:
        """Break the FileFlow <-> FuncFlow cycles so the tree is freed at once."""
        self._funcs.clear()
        self.__dict__.pop("_pln_memo", None)

    def function(self, node: ts.Node) -> FuncFlow | None:
        """The FuncFlow of the top-level function holding ``node`` (None at package level)."""
        top = _top_function(self.src.root, node)
        if top is None:
            return None
        ff = self._funcs.get(top.id)
        if ff is None:
            ff = FuncFlow(self, top)
            self._funcs[top.id] = ff
        return ff

    # -- package members ------------------------------------------------------
    def pkg_member(self, node: ts.Node, fn: FuncFlow | None = None) -> tuple[str, str] | None:
        src = self.src
        node = _unparen(node)
        if node.type in ("selector_expression", "qualified_type"):
            if node.type == "selector_expression":
                operand = node.child_by_field_name("operand")
                fld = node.child_by_field_name("field")
            else:
                operand = node.child_by_field_name("package")
                fld = node.child_by_field_name("name")
            if operand is None or fld is None or operand.type not in ("identifier", "package_identifier"):
                return None
            name = src.text(operand)
            path = src.imports.resolve(name)
            if path is None:
                return None
            if operand.type == "identifier":
                if fn is None:
                    fn = self.function(operand)
                if fn is not None and fn.var_of(operand) is not None:
                    return None
                if self._package_level_name(name):
                    return None
            return path, src.text(fld)
        if node.type in ("identifier", "type_identifier"):
            name = src.text(node)
            dots = [i.path for i in src.imports.imports if i.name == "."]
            if not dots:
                return None
            if fn is None:
                fn = self.function(node)
            if node.type == "identifier" and fn is not None and fn.var_of(node) is not None:
                return None
            if self._package_level_name(name):
                return None
            for path in dots:
                if path == HTTP and name in _HTTP_EXPORTS:
                    return path, name
                if path == CONTEXT and name in _CONTEXT_EXPORTS:
                    return path, name
        return None

    def declares(self, name: str) -> bool:
        """Does the file or its package declare ``name`` at package level (a func ``new``, a var ``http``)?"""
        return self._package_level_name(name)

    def _package_level_name(self, name: str) -> bool:
        """Does this file or package declare ``name`` at package level (shadowing an import)?

        Memoised per name for the package attached when asked (``package`` may be
        attached after the first question: the memo starts over then)."""
        pkg = self.package
        memo = self.__dict__.get("_pln_memo")
        if memo is None or memo[0] is not pkg:
            memo = self._pln_memo = (pkg, {})
        known = memo[1].get(name)
        if known is not None:
            return known
        got = name in self._file_level_names or (pkg is not None and (name in pkg.funcs or name in pkg.type_names))
        memo[1][name] = got
        return got

    @property
    def _file_level_names(self) -> set[str]:
        cached = getattr(self, "_fln", None)
        if cached is None:
            cached = set()
            for n in _root_captures(_TOPLEVEL_NAMES_QUERY, self.src.root).get("n", []):
                cached.add(self.src.text(n))
            self._fln = cached
        return cached

    # -- package-level variables and struct fields -----------------------------
    def package_var(self, name: str) -> tuple[SourceFile, ts.Node] | None:
        """The package-level ``var_spec`` declaring ``name`` in this file or its package
        (only the files that can declare ``name`` are read; the first one wins)."""
        pkg = self.package
        if pkg is None:
            return _file_vars(self.src).get(name)
        for f in pkg.files_naming(name):
            hit = _package_memo(pkg, "flow.file_vars", f, _file_vars).get(name)
            if hit is not None:
                return hit
        return None

    def struct_field_type(self, type_name: str, field_name: str) -> TypeRef | None:
        """The type of ``field_name`` in struct type ``type_name`` of this package."""
        entry = self.struct_fields_of(type_name).get(field_name)
        if entry is None:
            return None
        f, typ = entry
        return _type_ref_in(f, typ)

    def struct_fields_of(self, type_name: str) -> dict[str, tuple[SourceFile, ts.Node]]:
        """{field name: (file, type node)} of struct type ``type_name`` of this package
        (embedded fields by type name); only files that can declare the type are read."""
        pkg = self.package
        if pkg is None:
            return _file_structs(self.src).get(type_name, {})
        for f in pkg.files_naming(type_name):
            hit = _package_memo(pkg, "flow.file_structs", f, _file_structs).get(type_name)
            if hit is not None:
                return hit
        return {}

    # -- types -------------------------------------------------------------------
    def type_ref(self, typ: ts.Node) -> TypeRef | None:
        return _type_ref_in(self.src, typ, self)

    def type_of(self, expr: ts.Node, fn: FuncFlow | None, index: int = 0, _depth: int = 0) -> TypeRef | None:
        if _depth > 8:
            return None
        e = _unparen(expr)
        t = e.type
        if t == "unary_expression":
            op = e.child_by_field_name("operator")
            operand = e.child_by_field_name("operand")
            if op is not None and operand is not None and self.src.text(op) in ("&", "*"):
                return self.type_of(operand, fn, 0, _depth + 1)
            return None
        if t == "composite_literal":
            typ = e.child_by_field_name("type")
            return self.type_ref(typ) if typ is not None else None
        if t == "type_assertion_expression":
            typ = e.child_by_field_name("type")
            return self.type_ref(typ) if typ is not None else None
        if t == "identifier":
            if fn is None:
                fn = self.function(e)
            v = fn.var_of(e) if fn is not None else None
            if v is not None:
                return fn.var_type(v, _depth + 1)  # type: ignore[union-attr]
            if self._dot_member(e) is not None:
                m = self._dot_member(e)
                return HTTP_VARS.get(m[1]) if m and m[0] == HTTP else None
            pv = self.package_var(self.src.text(e))
            if pv is not None:
                f, spec = pv
                return _spec_type(f, spec, self)
            return None
        if t == "selector_expression":
            member = self.pkg_member(e, fn)
            if member is not None:
                if member[0] == HTTP:
                    return HTTP_VARS.get(member[1])
                return None
            operand = e.child_by_field_name("operand")
            fld = e.child_by_field_name("field")
            if operand is None or fld is None:
                return None
            base = self.type_of(operand, fn, 0, _depth + 1)
            if base is None or base[0] != "":
                return None
            return self.struct_field_type(base[1], self.src.text(fld))
        if t == "call_expression":
            func = e.child_by_field_name("function")
            if func is None:
                return None
            func = _unparen(func)
            if func.type == "identifier" and self.src.text(func) == "new" and (fn is None or fn.var_of(func) is None) \
                    and not self.declares("new"):
                args = e.child_by_field_name("arguments")
                if args is not None and args.named_child_count == 1:
                    return self.type_ref(args.named_children[0])
                return None
            member = self.pkg_member(func, fn)
            if member is not None:
                res = RESULT_TYPES.get(member)
                return res[index] if res and index < len(res) else None
            if func.type == "selector_expression":
                operand = func.child_by_field_name("operand")
                fld = func.child_by_field_name("field")
                if operand is None or fld is None:
                    return None
                recv = self.type_of(operand, fn, 0, _depth + 1)
                if recv is None:
                    return None
                res = METHOD_RESULT_TYPES.get((recv, self.src.text(fld)))
                return res[index] if res and index < len(res) else None
            return None
        return None

    def _dot_member(self, node: ts.Node) -> tuple[str, str] | None:
        return self.pkg_member(node) if node.type in ("identifier", "type_identifier") else None


_HTTP_EXPORTS = frozenset(
    {"Client", "Transport", "Request", "Response", "DefaultClient", "DefaultTransport", "Get", "Head", "Post",
     "PostForm", "NewRequest", "NewRequestWithContext"}
)
_CONTEXT_EXPORTS = frozenset(
    {"Background", "TODO", "WithValue", "WithCancel", "WithCancelCause", "WithTimeout", "WithDeadline",
     "WithTimeoutCause", "WithDeadlineCause", "WithoutCancel", "Context"}
)

_TOPLEVEL_NAMES_QUERY = """
(source_file (var_declaration (var_spec name: (identifier) @n)))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @n))))
(source_file (const_declaration (const_spec name: (identifier) @n)))
(source_file (function_declaration name: (identifier) @n))
(source_file (type_declaration (type_spec name: (type_identifier) @n)))
"""

_VARS_QUERY = """
(source_file (var_declaration (var_spec) @spec))
(source_file (var_declaration (var_spec_list (var_spec) @spec)))
"""

_STRUCTS_QUERY = """
(type_spec name: (type_identifier) @name type: (struct_type) @struct)
"""


def _root_captures(q: str, root: ts.Node) -> dict[str, list[ts.Node]]:
    """``parsing.captures`` of a query whose patterns all start at ``(source_file ...)``:
    no match can start below the root, so the cursor does not visit function bodies."""
    cursor = ts.QueryCursor(parsing.query(q))
    cursor.set_max_start_depth(0)
    return cursor.captures(root)


def _package_memo(pkg: Package, what: str, f: SourceFile, build):
    """``build(f)``, once per file of a package."""
    memo = pkg.memo.setdefault(what, {})
    assert isinstance(memo, dict)
    got = memo.get(id(f))
    if got is None:
        got = memo[id(f)] = build(f)
    return got


def _file_vars(f: SourceFile) -> dict[str, tuple[SourceFile, ts.Node]]:
    out: dict[str, tuple[SourceFile, ts.Node]] = {}
    for spec in _root_captures(_VARS_QUERY, f.root).get("spec", []):
        for n in spec.children_by_field_name("name"):
            out.setdefault(f.text(n), (f, spec))
    return out


def _file_structs(f: SourceFile) -> dict[str, dict[str, tuple[SourceFile, ts.Node]]]:
    out: dict[str, dict[str, tuple[SourceFile, ts.Node]]] = {}
    for _, m in parsing.matches(_STRUCTS_QUERY, f.root):
        name = f.text(m["name"][0])
        fields: dict[str, tuple[SourceFile, ts.Node]] = {}
        for fdl in parsing.captures("(field_declaration) @f", m["struct"][0]).get("f", []):
            if fdl.parent is None or fdl.parent.parent is None or fdl.parent.parent.id != m["struct"][0].id:
                continue  # a nested struct's field
            typ = fdl.child_by_field_name("type")
            if typ is None:
                continue
            names = fdl.children_by_field_name("name")
            if names:
                for n in names:
                    fields[f.text(n)] = (f, typ)
            else:  # embedded: the field is named after the type
                inner = typ.named_children[-1] if typ.type == "pointer_type" and typ.named_child_count else typ
                last = inner.child_by_field_name("name") if inner.type == "qualified_type" else inner
                if last is not None:
                    fields[f.text(last)] = (f, typ)
        out.setdefault(name, fields)
    return out


def _spec_type(f: SourceFile, spec: ts.Node, ff: FileFlow | None = None) -> TypeRef | None:
    typ = spec.child_by_field_name("type")
    if typ is not None:
        return _type_ref_in(f, typ, ff if ff is not None and ff.src is f else None)
    value = spec.child_by_field_name("value")
    if value is None or value.named_child_count != len(spec.children_by_field_name("name")):
        return None
    names = [f.text(n) for n in spec.children_by_field_name("name")]
    # package-level initialisers: literals, new(T), http.DefaultClient
    expr = _unparen(value.named_children[0] if len(names) == 1 else value.named_children[0])
    other = ff if ff is not None and ff.src is f else FileFlow(f)
    return other.type_of(expr, None, 0, 6)


def _type_ref_in(f: SourceFile, typ: ts.Node, ff: FileFlow | None = None) -> TypeRef | None:
    t = typ
    while t.type in ("pointer_type", "parenthesized_type"):
        kids = t.named_children
        if not kids:
            return None
        t = kids[-1]
    if t.type == "qualified_type":
        pkg = t.child_by_field_name("package")
        name = t.child_by_field_name("name")
        if pkg is None or name is None:
            return None
        path = f.imports.resolve(f.text(pkg))
        if path is None:
            return None
        return path, f.text(name)
    if t.type == "type_identifier":
        name = f.text(t)
        dots = [i.path for i in f.imports.imports if i.name == "."]
        if dots:
            other = ff if ff is not None else FileFlow(f)
            m = other.pkg_member(t)
            if m is not None:
                return m
        return "", name
    if t.type == "generic_type":
        inner = t.child_by_field_name("type")
        return _type_ref_in(f, inner, ff) if inner is not None else None
    return None


# ---------------------------------------------------------------------------
# helpers


def _unparen(node: ts.Node) -> ts.Node:
    while node.type == "parenthesized_expression" and node.named_child_count:
        node = node.named_children[0]
    return node


def _up(node: ts.Node) -> ts.Node | None:
    p = node.parent
    while p is not None and p.type in _TRANSPARENT:
        p = p.parent
    return p


def _is_field(parent: ts.Node, name: str, child: ts.Node) -> bool:
    c = parent.child_by_field_name(name)
    return c is not None and c.id == child.id


def _literal_of(node: ts.Node) -> ts.Node | None:
    n = node.parent
    while n is not None and n.type in ("literal_value", "literal_element", "keyed_element"):
        if n.type == "literal_value" and n.parent is not None and n.parent.type == "composite_literal":
            return n.parent
        n = n.parent
    return n if n is not None and n.type == "composite_literal" else None


def _base_identifier(node: ts.Node) -> ts.Node | None:
    n = node
    while True:
        n = _unparen(n)
        if n.type == "identifier":
            return n
        if n.type in ("selector_expression", "type_assertion_expression"):
            nxt = n.child_by_field_name("operand")
        elif n.type == "index_expression":
            nxt = n.child_by_field_name("operand")
        elif n.type == "unary_expression":
            nxt = n.child_by_field_name("operand")
        else:
            return None
        if nxt is None:
            return None
        n = nxt


def _is_stop(t: str) -> bool:
    """Does _enclosing_call_stmt's climb end at a node of type ``t``?"""
    return t in FUNC_TYPES or t.endswith("_statement") and t not in ("expression_statement",) or t in ("block", "statement_list")


#: _is_stop by node type, filled as types are met.
_STOPS: dict[str, bool] = {}


def _enclosing_call_stmt(node: ts.Node) -> str | None:
    """'defer_statement'/'go_statement' when ``node`` is inside the call of one (not in a literal)."""
    n = node.parent
    while n is not None:
        t = n.type
        if t in ("defer_statement", "go_statement"):
            return t
        if t in FUNC_TYPES or t.endswith("_statement") and t not in ("expression_statement",) or t in ("block", "statement_list"):
            return None
        n = n.parent
    return None


def walk_calls(node: ts.Node) -> Iterator[ts.Node]:
    """Call expressions under ``node`` (a tree-sitter query, in C)."""
    yield from parsing.captures("(call_expression) @c", node).get("c", [])


# ---------------------------------------------------------------------------
# The shared analysis


def _build(src: SourceFile) -> FileFlow:
    return FileFlow(src)


#: The shared analysis: ``requires=(FLOW,)``; read it with :func:`flow_of`.
FLOW = SharedAnalysis("flow", _build)


def flow_of(p: "Pass") -> FileFlow:
    """The FileFlow of the pass's file, with the package view attached for cross-file types."""
    ff: FileFlow = p.results["flow"]
    if ff.package is None and p._package_loader is not None:  # noqa: SLF001 - attach lazily
        try:
            ff.package = p.package
        except RuntimeError:  # pragma: no cover
            pass
    return ff


_ZERO_RE = re.compile(r"^\(?\s*(0+|0\s*\*.*|.*\*\s*0|time\.Duration\(0\))\s*\)?$")


def is_zero_literal(text: str) -> bool:
    """``0``, ``0 * time.Second``, ``time.Duration(0)``: a zero duration written out."""
    return bool(_ZERO_RE.match(text.strip()))


# ---------------------------------------------------------------------------
# net/http vocabulary shared by the HTTP rules (GR002, GR003, GR004, GR012)

#: Client methods that send a request.
SEND_METHODS = frozenset({"Do", "Get", "Head", "Post", "PostForm"})
#: Client methods that send with no context at all.
NO_CONTEXT_METHODS = frozenset({"Get", "Head", "Post", "PostForm"})
#: net/http package functions that send through DefaultClient.
PACKAGE_SENDERS = frozenset({"Get", "Head", "Post", "PostForm"})

CLIENT: TypeRef = (HTTP, "Client")
TRANSPORT: TypeRef = (HTTP, "Transport")
REQUEST: TypeRef = (HTTP, "Request")
RESPONSE: TypeRef = (HTTP, "Response")


def http_member(fn: FuncFlow | None, ff: FileFlow, node: ts.Node) -> str | None:
    """The net/http member ``node`` names (``http.Get``, ``nethttp.Client``, dot-imported ``Get``), or None."""
    m = fn.pkg_member(node) if fn is not None else ff.pkg_member(node)
    return m[1] if m is not None and m[0] == HTTP else None


def call_parts(call: ts.Node) -> tuple[ts.Node | None, str, ts.Node]:
    """(receiver expression or None, function/method name, function node) of a call."""
    func = _unparen(call.child_by_field_name("function") or call)
    if func.type == "selector_expression":
        operand = func.child_by_field_name("operand")
        fld = func.child_by_field_name("field")
        return operand, (fld.text.decode() if fld is not None and fld.text else ""), func
    if func.type == "identifier" and func.text:
        return None, func.text.decode(), func
    return None, "", func


def call_args(call: ts.Node) -> list[ts.Node]:
    args = call.child_by_field_name("arguments")
    return [a for a in args.named_children if a.type != "comment"] if args is not None else []


def outer_expr(node: ts.Node) -> ts.Node:
    """``node`` with the ``&`` / parentheses around it (the whole construction expression)."""
    n = node
    while n.parent is not None and (
        n.parent.type == "parenthesized_expression"
        or (n.parent.type == "unary_expression" and n.parent.child_by_field_name("operator") is not None
            and n.parent.child_by_field_name("operator").type == "&")  # type: ignore[union-attr]
    ):
        n = n.parent
    return n
