"""Every HTTP client has a timeout.

An `http.Client` without `Timeout` waits forever for a server that accepts the
connection and never answers: the calling goroutine, its connection and
everything it holds stay blocked. `http.DefaultClient` has no timeout, and
`http.Get`, `http.Head`, `http.Post` and `http.PostForm` send through it. The
V2.3 standard requires every client to be bounded by a timeout.

Flagged forms (`http` is `net/http` under any import name, dot imports included):

```go
c := &http.Client{Transport: tr}          // no Timeout field
c := http.Client{Timeout: 0}              // Timeout: 0 means none
c := new(http.Client)                     // zero value
var c http.Client; c.Do(req)              // zero value that sends
resp, err := http.DefaultClient.Do(req)   // any use of DefaultClient (one finding, not also GR003)
resp, err := http.Get(url)                // Get, Head, Post, PostForm use DefaultClient
```

Not flagged: `Timeout: <non-zero expression>` (`cfg.Timeout` too: the tool cannot
know its value and stays silent); a client whose `Timeout` is assigned in the same
function (`c := &http.Client{}; c.Timeout = 5 * time.Second`), or, for a
package-level client, anywhere in the file (`init`); `http.DefaultClient = c`,
`http.DefaultClient.Timeout = d` and comparisons with `http.DefaultClient`.

## Bad

```go
var jwksClient = &http.Client{Transport: tr} // no Timeout

func fetchJWKS(url string) (*JWKS, error) {
	resp, err := http.Get(url) // DefaultClient: no timeout
	...
}
```

## Good

```go
var jwksClient = &http.Client{Transport: tr, Timeout: 10 * time.Second}

func fetchJWKS(ctx context.Context, url string) (*JWKS, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := jwksClient.Do(req)
	...
}
```

## Options

None.

## Suppress

`// gorules:ignore GR002 -- <why this client may wait forever>` on the line or the
line above.
"""

from __future__ import annotations

import re

import tree_sitter as ts

from .. import parsing
from ..analysis import Analyzer, Pass
from ..flow import (
    CLIENT,
    FLOW,
    PACKAGE_SENDERS,
    SEND_METHODS,
    FileFlow,
    FuncFlow,
    call_parts,
    flow_of,
    http_member,
    is_zero_literal,
    outer_expr,
)

# Source forms matched (http is net/http under any import name):
#   http.Client{...}  &http.Client{...}   (and Client{...} under a dot import)
#   new(http.Client)
#   var c http.Client                      (zero value, then c.Do/Get/Head/Post/PostForm)
#   http.DefaultClient                     (any use)
#   http.Get(u)  http.Head(u)  http.Post(u, ct, body)  http.PostForm(u, v)
QUERY = """
(composite_literal type: [(qualified_type) (type_identifier)] @type) @lit
(call_expression
  function: (identifier) @new (#eq? @new "new")
  arguments: (argument_list . [(qualified_type) (type_identifier)] @newtype .)) @newcall
(selector_expression field: (field_identifier) @dcname (#eq? @dcname "DefaultClient")) @dc
(call_expression
  function: (selector_expression field: (field_identifier) @fname
             (#any-of? @fname "Get" "Head" "Post" "PostForm"))) @pkgcall
(var_spec type: (qualified_type name: (type_identifier) @vtname (#eq? @vtname "Client"))) @var
"""

# Under a dot import (import . "net/http") the same forms are bare identifiers.
DOT_QUERY = """
(identifier) @ident (#any-of? @ident "DefaultClient")
(call_expression function: (identifier) @fname (#any-of? @fname "Get" "Head" "Post" "PostForm")) @pkgcall
(var_spec type: (type_identifier) @vtname (#eq? @vtname "Client")) @var
"""

ASSIGN_FIELD_QUERY = """
(assignment_statement
  left: (expression_list (selector_expression field: (field_identifier) @f (#eq? @f "Timeout")) @lhs)
  right: (expression_list) @rhs) @assign
"""


def run(p: Pass) -> None:
    src = p.file
    assert src is not None
    ff = flow_of(p)
    caps = parsing.captures(QUERY, src.root)
    for lit in caps.get("lit", []):
        typ = lit.child_by_field_name("type")
        if typ is None or http_member(ff.function(lit), ff, typ) != "Client":
            continue
        check_literal(p, ff, lit)
    for call in caps.get("newcall", []):
        args = call.child_by_field_name("arguments")
        fn = ff.function(call)
        newfn = call.child_by_field_name("function")
        if fn is not None and newfn is not None and fn.var_of(newfn) is not None:
            continue  # a local called new
        if args is None or args.named_child_count != 1 or ff.declares("new") \
                or http_member(fn, ff, args.named_children[0]) != "Client":
            continue
        if not timeout_set_later(ff, fn, outer_expr(call)):
            p.report(call, "new")
    for sel in caps.get("dc", []):
        fn = ff.function(sel)
        if http_member(fn, ff, sel) == "DefaultClient" and is_use(sel):
            p.report(sel, "default-client")
    for call in caps.get("pkgcall", []):
        func = call.child_by_field_name("function")
        fn = ff.function(call)
        if func is not None:
            name = http_member(fn, ff, func)
            if name in PACKAGE_SENDERS:
                p.report(call, "package-call", func=name)
    for spec in caps.get("var", []):
        typ = spec.child_by_field_name("type")
        if typ is not None and http_member(ff.function(spec), ff, typ) == "Client":
            check_zero_var(p, ff, spec)
    if src.imports.dot_imported("net/http"):
        dcaps = parsing.captures(DOT_QUERY, src.root)
        for ident in dcaps.get("ident", []):
            if ident.parent is not None and ident.parent.type == "selector_expression" and \
                    ident.parent.child_by_field_name("field") == ident:
                continue
            if http_member(ff.function(ident), ff, ident) == "DefaultClient" and is_use(ident):
                p.report(ident, "default-client")
        for call in dcaps.get("pkgcall", []):
            func = call.child_by_field_name("function")
            if func is not None and http_member(ff.function(call), ff, func) in PACKAGE_SENDERS:
                p.report(call, "package-call", func=src.text(func))
        for spec in dcaps.get("var", []):
            typ = spec.child_by_field_name("type")
            if typ is not None and http_member(ff.function(spec), ff, typ) == "Client":
                check_zero_var(p, ff, spec)


def check_literal(p: Pass, ff: FileFlow, lit: ts.Node) -> None:
    src = ff.src
    body = lit.child_by_field_name("body")
    if body is None:
        return
    elements = [c for c in body.named_children if c.type != "comment"]
    timeout: ts.Node | None = None
    for el in elements:
        if el.type != "keyed_element":
            return  # positional fields: http.Client{tr, nil, nil, d}; too rare to judge
        kids = el.named_children
        if len(kids) == 2 and src.text(kids[0]) == "Timeout":
            timeout = kids[1]
    fn = ff.function(lit)
    if timeout is not None:
        if is_zero_literal(src.text(timeout)):
            p.report(lit, "zero-timeout")
        return
    if timeout_set_later(ff, fn, outer_expr(lit)):
        return
    p.report(lit, "literal")


def timeout_set_later(ff: FileFlow, fn: FuncFlow | None, expr: ts.Node) -> bool:
    """Is the Timeout of the client built by ``expr`` assigned a non-zero value afterwards?

    In a function: through the local it is assigned to (``c.Timeout = d``), or the
    same field expression (``s.client.Timeout = d``). At package level: an
    assignment ``client.Timeout = d`` anywhere in the file (``init``, ``main``).
    """
    src = ff.src
    if fn is None:
        spec = expr.parent
        while spec is not None and spec.type not in ("var_spec", "source_file"):
            spec = spec.parent
        if spec is None or spec.type != "var_spec":
            return False
        names = {src.text(n) for n in spec.children_by_field_name("name")}
        return any(lhs in names for lhs in _timeout_assignments(ff, src.root))
    sink, target, tv, _ = fn.sink_of(expr)
    if sink == "assign" and tv is not None:
        for h in fn.holders(tv):
            for u in h.uses:
                if u.path == ("Timeout",) and u.sink == "set" and u.value is not None \
                        and not is_zero_literal(src.text(u.value)):
                    return True
        return False
    if sink == "store" and target is not None:
        want = _norm(src.text(target))
        body = fn.node
        return want in _timeout_assignments(ff, body)
    return False


def _timeout_assignments(ff: FileFlow, node: ts.Node) -> set[str]:
    """Operand texts ``X`` of ``X.Timeout = <non-zero>`` assignments under ``node``."""
    src = ff.src
    out: set[str] = set()
    for _, m in parsing.matches(ASSIGN_FIELD_QUERY, node):
        lhs = m["lhs"][0]
        assign = m["assign"][0]
        left = assign.child_by_field_name("left")
        right = assign.child_by_field_name("right")
        if left is None or right is None:
            continue
        lefts, rights = left.named_children, right.named_children
        idx = next((i for i, x in enumerate(lefts) if x.id == lhs.id), 0)
        value = rights[idx] if len(rights) == len(lefts) else None
        if value is not None and is_zero_literal(src.text(value)):
            continue
        operand = lhs.child_by_field_name("operand")
        if operand is not None:
            out.add(_norm(src.text(operand)))
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+|[()&*]", "", text)


def is_use(sel: ts.Node) -> bool:
    """A use of http.DefaultClient: not an assignment target (``http.DefaultClient.Timeout = d``,
    ``http.DefaultClient = c``), not an operand of ``==`` / ``!=``."""
    node = sel
    while node.parent is not None and (
        node.parent.type == "parenthesized_expression"
        or (node.parent.type == "selector_expression" and node.parent.child_by_field_name("operand") == node)
    ):
        node = node.parent
    parent = node.parent
    if parent is None:
        return True
    if parent.type == "expression_list" and parent.parent is not None \
            and parent.parent.type == "assignment_statement" \
            and parent.parent.child_by_field_name("left") == parent:
        return False
    if parent.type == "binary_expression":
        op = parent.child_by_field_name("operator")
        if op is not None and op.type in ("==", "!="):
            return False
    return True


def check_zero_var(p: Pass, ff: FileFlow, spec: ts.Node) -> None:
    """``var c http.Client``: flag when it sends and its Timeout is never set."""
    if spec.child_by_field_name("value") is not None:
        return
    src = ff.src
    fn = ff.function(spec)
    for ident in spec.children_by_field_name("name"):
        name = src.text(ident)
        if fn is not None:
            v = fn.var_of(ident)
            if v is None:
                continue
            holders = fn.holders(v)
            sends = any(u.called and len(u.path) == 1 and u.path[0] in SEND_METHODS for h in holders for u in h.uses)
            timeout = any(u.path == ("Timeout",) and u.sink == "set" for h in holders for u in h.uses)
            if sends and not timeout:
                p.report(spec, "zero-var", name=name)
            continue
        # package level: sends through it anywhere in the file, Timeout never assigned in the file
        if name in _timeout_assignments(ff, src.root):
            continue
        if _package_var_sends(ff, name):
            p.report(spec, "zero-var", name=name)


SEND_QUERY = """
(call_expression
  function: (selector_expression
    operand: (identifier) @recv
    field: (field_identifier) @m (#any-of? @m "Do" "Get" "Head" "Post" "PostForm"))) @call
"""


def _package_var_sends(ff: FileFlow, name: str) -> bool:
    src = ff.src
    for recv in parsing.captures(SEND_QUERY, src.root).get("recv", []):
        if src.text(recv) != name:
            continue
        fn = ff.function(recv)
        if fn is None or fn.var_of(recv) is None:
            return True
    return False


analyzer = Analyzer(
    code="GR002",
    slug="http-client-timeout",
    doc=__doc__ or "",
    run=run,
    needs=(b'"net/http"',),
    # a client literal/var/new, DefaultClient, or http.Get/Head/Post/PostForm
    needs_also=((b"Client", b"Get", b"Head", b"Post"),),
    requires=(FLOW,),
    messages=("literal", "zero-timeout", "new", "zero-var", "default-client", "package-call"),
)

__all__ = ["analyzer", "CLIENT"]
