"""Connection pools that die with the function are released with CloseIdleConnections().

An `http.Transport` owns a pool of keep-alive connections, each with its read and
write goroutines. A transport built inside a function and dropped when the
function returns keeps those connections (and goroutines) until the server
closes them: this is how a JWT library that built a client with its own
transport per call leaked connections and goroutines until a service fell over
during a sales peak. V2.3 requires a pool that dies with its function to be
released with `CloseIdleConnections()`.

Flagged forms (a transport constructed in a function, alone or as the
`Transport` of a client literal built there, that sends and is never released):

```go
tr := &http.Transport{...}                              // literal (or new(http.Transport))
tr := http.DefaultTransport.(*http.Transport).Clone()   // a clone is a new pool
tr2 := tr.Clone()
c := &http.Client{Transport: &http.Transport{...}}      // inside a client literal
c.Transport = &http.Transport{...}                      // set on a local client
```

It is released when `CloseIdleConnections()` is called on the transport or a
client using it: directly, deferred, in a deferred closure, or as a method value
(`defer release()` after `release := c.CloseIdleConnections`). It escapes (and is
not flagged) when it is returned, stored in a field, map, slice, package variable
or channel, captured by a `go` statement, passed to a call other than one of its
own methods, or wrapped in another value. Also silent: a transport that never
sends, one with `DisableKeepAlives: true` (no idle pool), one whose every request
goes to a `RegisterProtocol` round tripper.

Also flagged (warning): a struct type of the package that stores a transport (or a
client with its own transport) that it constructed (in a method of the type or a
function returning it), where no method of that type calls `CloseIdleConnections()`
on that field. Types with no methods (plain option structs) and embedded clients
(their `CloseIdleConnections` is promoted) are not flagged.

Not flagged: a client with no `Transport` of its own (it shares
`http.DefaultTransport`: closing its idle connections would close them for the whole
process); package-level clients and transports; values that escape.

## Bad

```go
func fetchJWKS(ctx context.Context, url string) (*JWKS, error) {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConf}, // a pool per call, never released
	}
	...
}
```

## Good

```go
func fetchJWKS(ctx context.Context, url string) (*JWKS, error) {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConf},
	}
	defer client.CloseIdleConnections()
	...
}
```

Better still: build the client once (package level or a constructor) and reuse it.

## Options

`strict = true` (the policy's literal reading) also flags every non-escaping client
constructed in a function that sends and is never released, even one that shares
`http.DefaultTransport`.

## Suppress

`// gorules:ignore GR004 -- <who releases this pool>` on the line or the line above.
"""

from __future__ import annotations

import re

import tree_sitter as ts

from .. import parsing
from ..analysis import Analyzer, Pass
from ..flow import (
    CLIENT,
    FLOW,
    SEND_METHODS,
    TRANSPORT,
    FileFlow,
    FuncFlow,
    Var,
    call_args,
    call_parts,
    flow_of,
    http_member,
    outer_expr,
)

# Source forms matched (http is net/http under any import name):
#   &http.Transport{...}   http.Transport{...}   new(http.Transport)
#   http.DefaultTransport.(*http.Transport).Clone()   tr.Clone()   (tr known to be a Transport)
#   &http.Client{Transport: <one of the above>}        (the transport is reported)
#   strict: &http.Client{...} / new(http.Client) without a Transport of its own
QUERY = """
(composite_literal type: [(qualified_type) (type_identifier)] @type) @lit
(call_expression
  function: (identifier) @new (#eq? @new "new")
  arguments: (argument_list . [(qualified_type) (type_identifier)] @newtype .)) @newcall
(call_expression
  function: (selector_expression field: (field_identifier) @clone (#eq? @clone "Clone"))) @clonecall
"""

CLOSE = "CloseIdleConnections"
SENDS = SEND_METHODS | {"RoundTrip"}


def run(p: Pass) -> None:
    src = p.file
    assert src is not None
    ff = flow_of(p)
    strict = bool(p.options.get("strict", False))
    caps = parsing.captures(QUERY, src.root)
    transports: list[ts.Node] = []
    clients: list[ts.Node] = []
    for lit in caps.get("lit", []):
        typ = lit.child_by_field_name("type")
        fn = ff.function(lit)
        if typ is None or fn is None:
            continue
        name = http_member(fn, ff, typ)
        if name == "Transport":
            transports.append(lit)
        elif name == "Client":
            clients.append(lit)
    for call in caps.get("newcall", []):
        fn = ff.function(call)
        args = call.child_by_field_name("arguments")
        newfn = call.child_by_field_name("function")
        if fn is None or args is None or newfn is None or fn.var_of(newfn) is not None \
                or args.named_child_count != 1 or ff.declares("new"):
            continue  # not the builtin new(T)
        name = http_member(fn, ff, args.named_children[0])
        if name == "Transport":
            transports.append(call)
        elif name == "Client":
            clients.append(call)
    for call in caps.get("clonecall", []):
        fn = ff.function(call)
        recv, _, _ = call_parts(call)
        if fn is not None and recv is not None and not call_args(call) and fn.type_of(recv) == TRANSPORT:
            transports.append(call)
    for node in transports:
        check_transport(p, ff, ff.function(node), node)  # type: ignore[arg-type]
    if strict:
        for node in clients:
            check_client(p, ff, ff.function(node), node)  # type: ignore[arg-type]


def describe(ff: FileFlow, node: ts.Node) -> str:
    if node.type == "call_expression":
        _, name, func = call_parts(node)
        if name == "Clone":
            return f"the http.Transport cloned by {ff.src.text(func)}()"
        return "new(http.Transport)"
    return "this http.Transport"


def check_transport(p: Pass, ff: FileFlow, fn: FuncFlow, node: ts.Node) -> None:
    expr = outer_expr(node)
    if literal_field(ff, node, "DisableKeepAlives") == "true":
        return  # no keep-alive: connections close after each request, no idle pool
    stored = struct_storage(ff, fn, expr)
    if stored is not None:
        typ, fieldname, what = stored
        if built_by(ff, fn.node, typ) and not type_closes_field(p, ff, typ, fieldname):
            p.report(node, "struct-field", severity="warning", type=typ, field=fieldname, what=what)
        return
    group = group_of(ff, fn, expr)
    if group is None or released_or_escaped(fn, group):
        return
    if group and not sends(group):
        return  # never used to send (a test of Clone, a config check): no pool, nothing leaks
    if any(u.path == ("DisableKeepAlives",) and u.sink == "set" and u.value is not None
           and ff.src.text(u.value) == "true" for h in group for u in h.uses):
        return
    if only_registered_protocols(ff, fn, group):
        return  # every request goes to a RegisterProtocol round tripper: the pool is never used
    name = holder_name(fn, group)
    p.report(node, "transport", what=describe(ff, node), name=name)


def check_client(p: Pass, ff: FileFlow, fn: FuncFlow, node: ts.Node) -> None:
    """strict: a client constructed here without a Transport of its own."""
    if node.type == "composite_literal":
        body = node.child_by_field_name("body")
        for el in body.named_children if body is not None else []:
            if el.type == "keyed_element" and el.named_children and ff.src.text(el.named_children[0]) == "Transport":
                return  # its transport is judged on its own
    expr = outer_expr(node)
    group = group_of(ff, fn, expr)
    if group is None or released_or_escaped(fn, group) or (group and not sends(group)):
        return
    for h in group:
        for u in h.uses:
            if u.path == ("Transport",) and u.sink == "set":
                return  # c.Transport = tr: the transport is judged on its own
    p.report(node, "client", name=holder_name(fn, group, client_first=True))


def group_of(ff: FileFlow, fn: FuncFlow, expr: ts.Node, depth: int = 0) -> list[Var] | None:
    """The locals that hold the value built by ``expr`` (empty: used in place), or
    None when it escapes or is wrapped in something this rule cannot follow."""
    if depth > 4:
        return None
    sink, target, tv, key = fn.sink_of(expr)
    if sink == "assign" and tv is not None:
        return fn.holders(tv, through_literals={CLIENT})
    if sink == "elem" and target is not None:
        if key == "Transport" and fn.type_of(target) == CLIENT:
            return group_of(ff, fn, outer_expr(target), depth + 1)
        return None
    if sink == "store" and tv is not None and not tv.is_param and target is not None \
            and target.type == "selector_expression" and fn.var_type(tv) == CLIENT:
        return fn.holders(tv, through_literals={CLIENT})  # c.Transport = &http.Transport{}
    if sink in ("read", "discard", "call"):
        return []
    return None


def released_or_escaped(fn: FuncFlow, group: list[Var]) -> bool:
    for h in group:
        if fn.calls_method(h, CLOSE):
            return True
        if fn.escape(h) is not None:
            return True
        for u in h.uses:
            if u.path:
                continue
            if u.sink == "elem" and not (u.key == "Transport" and u.target is not None and fn.type_of(u.target) == CLIENT):
                return True  # wrapped in another value (a RoundTripper chain, a config struct)
            if u.sink == "store" and u.target_var is not None and fn.var_type(u.target_var) != CLIENT:
                return True  # stored in a field of a local value this rule does not follow
    return False


def literal_field(ff: FileFlow, node: ts.Node, name: str) -> str | None:
    """The source of field ``name`` in composite literal ``node`` (None if absent or not a literal)."""
    if node.type != "composite_literal":
        return None
    body = node.child_by_field_name("body")
    for el in body.named_children if body is not None else []:
        kids = el.named_children
        if el.type == "keyed_element" and len(kids) == 2 and ff.src.text(kids[0]) == name:
            return ff.src.text(kids[1])
    return None


def only_registered_protocols(ff: FileFlow, fn: FuncFlow, group: list[Var]) -> bool:
    """``tr.RegisterProtocol(scheme, rt)`` and every send is to a literal URL that is not
    ``http://`` or ``https://`` (``ftp://...``, ``http+unix://...``): the transport hands
    such requests to the registered round tripper and never opens a pooled connection."""
    registered = False
    targets: list[ts.Node | None] = []
    for h in group:
        for u in h.uses:
            if not (u.called and u.call is not None and u.path):
                continue
            args = call_args(u.call)
            if u.path[-1] == "RegisterProtocol":
                registered = True
            elif u.path[-1] in SENDS:
                targets.append(args[0] if u.path[-1] in ("Get", "Head", "Post", "PostForm") and args else None)
    if not registered or not targets:
        return False
    for t in targets:
        if t is None or t.type not in ("interpreted_string_literal", "raw_string_literal"):
            return False
        scheme = ff.src.text(t).strip('"`').split("://", 1)[0].lower()
        if scheme in ("http", "https") or "://" not in ff.src.text(t):
            return False
    return True


def sends(group: list[Var]) -> bool:
    """Is a request sent through one of the holders (``RoundTrip``, ``Do``, ``Get``...)?"""
    return any(u.called and u.path and u.path[-1] in SENDS for h in group for u in h.uses)


def holder_name(fn: FuncFlow, group: list[Var], *, client_first: bool = True) -> str:
    clients = [h.name for h in group if fn.var_type(h) == CLIENT]
    if clients and client_first:
        return clients[0]
    if group:
        return group[0].name
    return "tr"


# -- the struct-field warning ------------------------------------------------

def struct_storage(ff: FileFlow, fn: FuncFlow, expr: ts.Node) -> tuple[str, str, str] | None:
    """(type, field, what) when the value built by ``expr`` is stored in a field of a
    struct type of this package (directly, in a client literal, or through a local)."""
    sink, target, tv, key = fn.sink_of(expr)
    return _stored(fn, sink, target, tv, key, "transport", 0)


def _stored(fn: FuncFlow, sink: str, target: ts.Node | None, tv: Var | None, key: str | None,
            what: str, depth: int) -> tuple[str, str, str] | None:
    if depth > 4:
        return None
    if sink == "elem" and target is not None:
        t = fn.type_of(target)
        if t == CLIENT and key == "Transport":
            s2, t2, tv2, k2 = fn.sink_of(outer_expr(target))
            return _stored(fn, s2, t2, tv2, k2, "client with its own transport", depth + 1)
        if t is not None and t[0] == "" and key:
            return t[1], key, what
        return None
    if sink == "store" and target is not None and target.type == "selector_expression":
        return _field_of(fn, target, what)
    if sink == "assign" and tv is not None:
        for u in tv.uses:
            if u.path:
                continue
            found = _stored(fn, u.sink, u.target, u.target_var, u.key, what, depth + 1)
            if found is not None:
                return found
    return None


def built_by(ff: FileFlow, func: ts.Node, typ: str) -> bool:
    """Is ``func`` a method of ``typ`` or a function returning ``typ`` / ``*typ`` (a constructor)?"""
    fields = ("receiver",) if func.type == "method_declaration" else ("result",)
    if func.type == "method_declaration":
        fields = ("receiver", "result")
    for fname in fields:
        plist = func.child_by_field_name(fname)
        if plist is None:
            continue
        types = [plist] if plist.type != "parameter_list" else [
            p.child_by_field_name("type") for p in plist.named_children if p.child_by_field_name("type") is not None
        ]
        for t in types:
            if t is not None and ff.type_ref(t) == ("", typ):
                return True
    return False


def _field_of(fn: FuncFlow, target: ts.Node, what: str) -> tuple[str, str, str] | None:
    operand = target.child_by_field_name("operand")
    fld = target.child_by_field_name("field")
    if operand is None or fld is None:
        return None
    t = fn.type_of(operand)
    if t is None or t[0] != "":
        return None
    return t[1], fn.src.text(fld), what


def type_closes_field(p: Pass, ff: FileFlow, typ: str, fieldname: str) -> bool:
    """Does some method of ``typ`` (any file of the package) call CloseIdleConnections on the
    field? True also when the question does not arise: a type with no methods at all (a plain
    options/config struct, not a service with a lifecycle), or an embedded client/transport
    (its CloseIdleConnections is promoted to ``typ``'s method set)."""
    pkg = p.package
    if typ not in pkg.type_names:
        return True  # not a struct of this package we can see: stay silent
    methods = pkg.methods_of(typ)
    if not methods:
        return True
    entry = ff.struct_fields_of(typ).get(fieldname)
    if entry is not None:
        decl = entry[1].parent
        if decl is not None and decl.type == "field_declaration" and not decl.children_by_field_name("name"):
            return True  # embedded *http.Client / *http.Transport
    pattern = re.compile(rb"\." + re.escape(fieldname.encode()) + rb"\b")
    for decl in methods:
        if decl.body is None:
            continue
        body = decl.file.data[decl.body.start_byte : decl.body.end_byte]
        if CLOSE.encode() in body and pattern.search(body):
            return True
        if b"Close" in body and pattern.search(body) and _passes_field(decl.file.data, decl.body, fieldname):
            return True
    return False


def _passes_field(data: bytes, body: ts.Node, fieldname: str) -> bool:
    """A method that hands the field to a helper (``closeIdle(s.client)``): assume it closes."""
    for call in parsing.captures("(call_expression) @c", body).get("c", []):
        for a in call_args(call):
            if a.type == "selector_expression":
                fld = a.child_by_field_name("field")
                if fld is not None and data[fld.start_byte : fld.end_byte].decode() == fieldname:
                    return True
    return False


analyzer = Analyzer(
    code="GR004",
    slug="http-close-idle",
    doc=__doc__ or "",
    run=run,
    needs=(b'"net/http"',),
    # a transport literal or new(...), a Clone(), a client literal (strict)
    needs_also=((b"Transport", b"Clone", b"Client"),),
    requires=(FLOW,),
    messages=("transport", "client", "struct-field"),
)
