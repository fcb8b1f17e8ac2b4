"""No goroutine is started from a deferred call.

A deferred call runs while the surrounding function returns. A goroutine started
there outlives the function that owned its resources: the request is finished,
the connection is closed, the test has ended, and nothing waits for it. V2.3
forbids it: do the work synchronously in the defer, or start the goroutine
before the defer and wait for it.

Flagged forms:

```go
defer func() { go flush() }()                   // go statement in a deferred literal
defer func() { if ok { go flush() } }()         // ... at any depth of blocks
defer func() { func() { go flush() }() }()      // ... in literals it calls immediately
defer g.Go(send)                                // errgroup.Group / sync.WaitGroup .Go
defer time.AfterFunc(d, flush)                  // AfterFunc starts a goroutine
defer flushAsync()                              // same-package function with a go statement
defer s.flushAsync()                            // ... or method of the receiver's type
```

Not flagged: ``go`` outside any defer; ``defer wg.Wait()``, ``defer cancel()``;
a literal only *defined* in the deferred body and handed on; ``.Go`` on a type
that is not ``errgroup.Group`` or ``sync.WaitGroup``.

## Bad

```go
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) {
	defer func() {
		go s.audit.Flush() // runs after Handle returned
	}()
	s.serve(w, r)
}
```

## Good

```go
func (s *Server) Handle(w http.ResponseWriter, r *http.Request) {
	defer s.audit.Flush() // synchronous: done before Handle returns
	s.serve(w, r)
}
```

## Options

None.

## Suppress

`// gorules:ignore GR001 -- <why the goroutine may outlive the function>` on the
line or the line above.
"""

from __future__ import annotations

import re

import tree_sitter as ts

from .. import parsing
from ..analysis import Analyzer, Pass
from ..package import FuncDecl, Package, can_name
from ..source import SourceFile, lookup

DEFERS = """
(defer_statement (call_expression function: (_) @fn) @call) @defer
"""

# Candidates inside a deferred literal: go statements and calls that may spawn.
SPAWNS = """
(go_statement) @go
(call_expression function: (selector_expression field: (field_identifier) @m
  (#any-of? @m "Go" "AfterFunc"))) @call
(call_expression function: (identifier) @f (#eq? @f "AfterFunc")) @call
"""

# Joins: wg.Wait() / g.Wait(), or a receive (<-done) after the goroutine started.
WAITS = """
(call_expression function: (selector_expression field: (field_identifier) @w (#eq? @w "Wait"))) @wait
(unary_expression operator: "<-") @wait
"""

GROUP_TYPES = {("golang.org/x/sync/errgroup", "Group"), ("sync", "WaitGroup")}


def run(pass_: Pass) -> None:
    src = pass_.file
    assert src is not None
    reported: set[int] = set()
    for _, m in parsing.matches(DEFERS, src.root):
        call, fn, defer = m["call"][0], m["fn"][0], m["defer"][0]
        if fn.type == "func_literal":
            _check_literal(pass_, src, fn, reported)
        elif fn.type == "parenthesized_expression" and fn.named_children and fn.named_children[0].type == "func_literal":
            _check_literal(pass_, src, fn.named_children[0], reported)
        elif _spawning_call(src, call):
            if call.id not in reported:
                reported.add(call.id)
                pass_.report(call, "spawn-call", call=_callee_text(src, call))
        else:
            _check_helper(pass_, src, fn, defer)


def _check_literal(pass_: Pass, src: SourceFile, lit: ts.Node, reported: set[int]) -> None:
    body = lit.child_by_field_name("body")
    if body is None:
        return
    for _, m in parsing.matches(SPAWNS, body):
        if "go" in m:
            node = m["go"][0]
            if node.id in reported or not _runs_in(node, lit):
                continue
            reported.add(node.id)
            pass_.report(node.children[0], "go-stmt")
        else:
            node = m["call"][0]
            if node.id in reported or not _runs_in(node, lit) or not _spawning_call(src, node):
                continue
            reported.add(node.id)
            pass_.report(node, "spawn-call", call=_callee_text(src, node))


def _runs_in(node: ts.Node, lit: ts.Node) -> bool:
    """Does ``node`` run when the deferred literal ``lit`` runs?

    Every function literal between them must be called immediately (or
    deferred) inside the literal, not defined and handed on or started as a
    goroutine (that outer ``go`` is reported on its own).
    """
    cur = node.parent
    while cur is not None and cur.id != lit.id:
        if cur.type == "func_literal":
            parent = cur.parent
            if parent is not None and parent.type == "parenthesized_expression":
                parent = parent.parent
            if parent is None or parent.type != "call_expression":
                return False
            fn = parent.child_by_field_name("function")
            if fn is None or (fn.id != cur.id and not (fn.type == "parenthesized_expression" and cur.parent and cur.parent.id == fn.id)):
                return False  # the literal is an argument, not the callee
            outer = parent.parent
            if outer is not None and outer.type == "go_statement":
                return False
        elif cur.type in ("function_declaration", "method_declaration"):
            return False
        cur = cur.parent
    return cur is not None


def _callee_text(src: SourceFile, call: ts.Node) -> str:
    fn = call.child_by_field_name("function")
    return (src.text(fn) if fn is not None else "call") + "(...)"


def _spawning_call(src: SourceFile, call: ts.Node) -> bool:
    """``time.AfterFunc(...)`` or ``x.Go(...)`` with x an errgroup.Group / sync.WaitGroup."""
    fn = call.child_by_field_name("function")
    if fn is None:
        return False
    if fn.type == "identifier":
        return src.text(fn) == "AfterFunc" and src.imports.dot_imported("time") and lookup(src, fn, "AfterFunc") is None
    if fn.type != "selector_expression":
        return False
    operand = fn.child_by_field_name("operand")
    name = src.text(fn.child_by_field_name("field"))
    if operand is None:
        return False
    if name == "AfterFunc":
        return src.refers_to(operand, "time")
    if name == "Go" and operand.type == "identifier":
        return _is_group(src, operand)
    return False


def _is_group(src: SourceFile, ident: ts.Node) -> bool:
    """Is the variable ``ident`` declared as an errgroup.Group / sync.WaitGroup?"""
    name = src.text(ident)
    decl = lookup(src, ident, name)
    if decl is None:
        return False
    t = decl.type
    if t in ("var_spec", "parameter_declaration"):
        typ = decl.child_by_field_name("type")
        if typ is not None:
            return _is_group_type(src, typ)
        value = decl.child_by_field_name("value")
        return value is not None and _is_group_value(src, _value_for(src, decl, name, value))
    if t == "short_var_declaration":
        left, right = decl.child_by_field_name("left"), decl.child_by_field_name("right")
        if left is None or right is None:
            return False
        names = [src.text(n) for n in left.named_children]
        values = right.named_children
        if name not in names:
            return False
        i = names.index(name)
        if len(values) == 1 and len(names) == 2 and i == 0:
            # g, ctx := errgroup.WithContext(ctx)
            return _is_withcontext(src, values[0])
        if i < len(values):
            return _is_group_value(src, values[i])
    return False


def _value_for(src: SourceFile, decl: ts.Node, name: str, value: ts.Node) -> ts.Node | None:
    names = [src.text(n) for n in decl.children_by_field_name("name")]
    vals = value.named_children if value.type == "expression_list" else [value]
    if name in names and names.index(name) < len(vals):
        return vals[names.index(name)]
    return None


def _is_group_type(src: SourceFile, typ: ts.Node) -> bool:
    if typ.type == "pointer_type" and typ.named_children:
        typ = typ.named_children[0]
    if typ.type == "qualified_type":
        return src.qualified(typ) in GROUP_TYPES
    return False


def _is_group_value(src: SourceFile, value: ts.Node | None) -> bool:
    if value is None:
        return False
    if value.type == "unary_expression" and value.named_children:
        value = value.named_children[-1]
    if value.type == "composite_literal":
        typ = value.child_by_field_name("type")
        return typ is not None and _is_group_type(src, typ)
    if value.type == "call_expression":
        fn = value.child_by_field_name("function")
        args = value.child_by_field_name("arguments")
        if fn is not None and src.text(fn) == "new" and args is not None and args.named_children:
            return _is_group_type(src, args.named_children[0])
    return False


def _is_withcontext(src: SourceFile, value: ts.Node) -> bool:
    if value.type != "call_expression":
        return False
    fn = value.child_by_field_name("function")
    return fn is not None and fn.type == "selector_expression" and src.qualified(fn) == (
        "golang.org/x/sync/errgroup",
        "WithContext",
    )


# -- same-package helpers ------------------------------------------------------

def _check_helper(pass_: Pass, src: SourceFile, fn: ts.Node, defer: ts.Node) -> None:
    decl: FuncDecl | None = None
    pkg: Package | None = None
    if fn.type == "identifier":
        name = src.text(fn)
        if lookup(src, fn, name) is not None:
            return  # a local func variable: unknown body
        pkg = pass_.package
        decl = pkg.funcs.get(name)
    elif fn.type == "selector_expression":
        operand = fn.child_by_field_name("operand")
        method = src.text(fn.child_by_field_name("field"))
        if operand is None or operand.type != "identifier":
            return
        pkg = pass_.package
        tname = _receiver_type(src, operand, pkg)
        if tname is None:
            return
        decl = pkg.methods.get((tname, method))
    if decl is None or pkg is None:
        return
    go_line = _spawns_directly(decl, pkg)
    if go_line:
        pass_.report(defer, "helper", name=decl.name if not decl.receiver else f"{decl.receiver}.{decl.name}", line=go_line)


def _spawns_directly(decl: FuncDecl, pkg: Package) -> int:
    """Line of a go statement that runs when ``decl`` is called (0 if none)."""
    memo = pkg.memo.setdefault("gr001.spawns", {})
    assert isinstance(memo, dict)
    key = (decl.receiver, decl.name)
    if key in memo:
        return memo[key]
    line = 0
    body = decl.body
    if body is not None:
        for node in parsing.captures("(go_statement) @go", body).get("go", []):
            if _runs_in(node, decl.node):
                # goroutines joined before the helper returns (wg.Wait(), <-done) do not
                # outlive the deferred call: stay silent
                if not any(w.start_byte > node.end_byte and _runs_in(w, decl.node)
                           for w in parsing.captures(WAITS, body).get("wait", [])):
                    line = node.start_point[0] + 1
                break
    memo[key] = line
    return line


def _receiver_type(src: SourceFile, operand: ts.Node, pkg: Package) -> str | None:
    """The package type of ``operand``: the enclosing method's receiver or a local built from a type."""
    name = src.text(operand)
    decl = lookup(src, operand, name)
    if decl is None:
        return None
    typ: ts.Node | None = None
    if decl.type in ("parameter_declaration", "var_spec"):
        typ = decl.child_by_field_name("type")
        if typ is None and decl.type == "var_spec":
            value = decl.child_by_field_name("value")
            typ = _type_of_value(src, _value_for(src, decl, name, value)) if value is not None else None
    elif decl.type == "short_var_declaration":
        left, right = decl.child_by_field_name("left"), decl.child_by_field_name("right")
        if left is None or right is None:
            return None
        names = [src.text(n) for n in left.named_children]
        values = right.named_children
        if len(names) != len(values) or name not in names:
            return None
        typ = _type_of_value(src, values[names.index(name)])
    if typ is None:
        return None
    if typ.type == "pointer_type" and typ.named_children:
        typ = typ.named_children[0]
    if typ.type == "generic_type":
        typ = typ.child_by_field_name("type")
    if typ is None or typ.type != "type_identifier":
        return None
    tname = src.text(typ)
    return tname if tname in pkg.type_names else None


def _type_of_value(src: SourceFile, value: ts.Node | None) -> ts.Node | None:
    if value is None:
        return None
    if value.type == "unary_expression" and value.named_children:
        value = value.named_children[-1]
    if value.type == "composite_literal":
        return value.child_by_field_name("type")
    if value.type == "call_expression":
        fn = value.child_by_field_name("function")
        args = value.child_by_field_name("arguments")
        if fn is not None and src.text(fn) == "new" and args is not None and args.named_children:
            return args.named_children[0]
    return None


#: The ``go`` keyword: not part of a word, a selector, an import path or a string's start,
#: and followed by a space or ``(`` (``go f()``, ``go func() {...}()``, ``go (f)()``).
GO_KEYWORD_RE = re.compile(rb"go(?<![\w.\"/-]go)(?=[\s(])")  # literal first: fast search
#: ``g.Go(f)`` on an errgroup.Group / sync.WaitGroup, ``time.AfterFunc``.
SPAWN_CALL_RE = re.compile(rb"\.\s*Go\s*\(|AfterFunc")


#: ``defer name(`` / ``defer recv.name(``: the deferred calls that may be same-package helpers.
DEFERRED_CALL_RE = re.compile(rb"defer\s+(?:[\w\x80-\xff]+\s*\.\s*)?([\w\x80-\xff]+)\s*\(")


#: ``defer func() {...}()`` / ``defer (func() {...})()``: a deferred literal.
DEFERRED_LITERAL_RE = re.compile(rb"defer\s*\(?\s*func\b")


def package_gate(src: SourceFile, pkg: Package, options: dict) -> bool:
    """Bytes only. Each form GR001 reports needs, in this file:

    - a deferred literal (``defer func``) and a ``go`` statement or a spawning call;
    - or a spawning call deferred directly (``defer g.Go(f)``, ``defer time.AfterFunc``);
    - or ``defer name(...)`` / ``defer recv.name(...)`` where a file of the package this
      one can call into (itself included) can declare ``name`` and holds a ``go`` statement.
    """
    data = src.data
    if DEFERRED_LITERAL_RE.search(data) and (SPAWN_CALL_RE.search(data) or pkg.file_matches(src, GO_KEYWORD_RE)):
        return True
    names = {m.group(1) for m in DEFERRED_CALL_RE.finditer(data)} - {b"func"}
    if not names:
        return False
    if names & {b"Go", b"AfterFunc"}:
        return True
    return any(
        can_name(f.data, name)
        for f in pkg.callable_from(src)
        if pkg.file_matches(f, GO_KEYWORD_RE)
        for name in names
    )


analyzer = Analyzer(
    code="GR001",
    slug="defer-go",
    doc=__doc__ or "",
    run=run,
    needs=(b"defer",),
    package_gate=package_gate,
    candidates=("defer_statement",),
    messages=("go-stmt", "spawn-call", "helper"),
)
