"""Outbound requests carry a context with a deadline.

A request without a context (or with `context.Background()`) cannot be
cancelled: when the caller gives up (its own request timed out, the service is
shutting down) the outbound call keeps running and holds its goroutine and
connection. V2.3 requires every outbound request to carry a context with a
deadline: the caller's `ctx`, `r.Context()` of the incoming request, or one from
`context.WithTimeout` / `WithDeadline`.

Flagged forms:

```go
req, err := http.NewRequest(method, url, body)                // no context at all
req, err := http.NewRequestWithContext(context.Background(), ...)
ctx := context.TODO()                                          // a local from Background/TODO,
ctx, cancel := context.WithCancel(ctx)                         // through WithValue/WithCancel only,
req, err := http.NewRequestWithContext(ctx, ...)               // with no WithTimeout reaching the call
r2 := req.WithContext(context.Background())                    // req known to be *http.Request
r2 := req.Clone(context.Background())
resp, err := c.Get(url)                                        // c known to be an http.Client:
resp, err := c.Post(url, ct, body)                             // Get, Head, Post, PostForm send with no context
```

A client is known when it is a local or package variable built from a client
literal or `new`, or a parameter, variable or struct field of the package declared
with that type. `http.Get` and `http.DefaultClient.Get` are GR002's (one finding
per call); a receiver of unknown type (`cache.Get(key)`, gin's `r.GET`) is never
flagged.

Not flagged: a `ctx` parameter of the enclosing function (the caller owns the
deadline), `r.Context()` of a request parameter, a ctx derived from `WithTimeout` /
`WithDeadline` (`...Cause`), a struct field, a ctx returned by some other call (the
tool cannot know it).

## Bad

```go
func (w *Webhook) Send(ev Event) error {
	req, err := http.NewRequest(http.MethodPost, w.url, body(ev)) // no context
	...
	resp, err := w.client.Get(w.healthURL) // no context
	...
}
```

## Good

```go
func (w *Webhook) Send(ctx context.Context, ev Event) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, body(ev))
	...
	resp, err := w.client.Do(req)
	...
}
```

## Options

`strict = true` also flags a ctx that is a parameter or `r.Context()`, for teams
that want a local timeout on every outbound call.

## Suppress

`// gorules:ignore GR003 -- <why this request needs no deadline>` on the line or
the line above.
"""

from __future__ import annotations

import tree_sitter as ts

from .. import parsing
from ..analysis import Analyzer, Pass
from ..flow import (
    CLIENT,
    CONTEXT,
    FLOW,
    NO_CONTEXT_METHODS,
    REQUEST,
    FileFlow,
    FuncFlow,
    call_args,
    call_parts,
    flow_of,
    http_member,
)

# Source forms matched:
#   http.NewRequest(method, url, body)
#   http.NewRequestWithContext(ctx, method, url, body)
#   req.WithContext(ctx)   req.Clone(ctx)             (req known to be *http.Request)
#   c.Get(u)  c.Head(u)  c.Post(u, ct, b)  c.PostForm(u, v)   (c known to be an http.Client)
QUERY = """
(call_expression
  function: [(selector_expression field: (field_identifier) @name)
             (identifier) @name]
  (#any-of? @name "NewRequest" "NewRequestWithContext" "WithContext" "Clone"
                  "Get" "Head" "Post" "PostForm")) @call
"""

BACKGROUND = frozenset({"Background", "TODO"})
PASS_THROUGH = frozenset({"WithValue", "WithCancel", "WithCancelCause", "WithoutCancel"})
DEADLINE = frozenset({"WithTimeout", "WithDeadline", "WithTimeoutCause", "WithDeadlineCause"})


def run(p: Pass) -> None:
    src = p.file
    assert src is not None
    ff = flow_of(p)
    strict = bool(p.options.get("strict", False))
    for call in parsing.captures(QUERY, src.root).get("call", []):
        fn = ff.function(call)
        recv, name, func = call_parts(call)
        member = http_member(fn, ff, func)
        if member == "NewRequest":
            p.report(call, "new-request")
            continue
        if member == "NewRequestWithContext":
            args = call_args(call)
            if args:
                check_ctx(p, ff, fn, call, args[0], src.text(func), strict)
            continue
        if member is not None or recv is None or fn is None:
            continue  # http.Get & co. are GR002's
        if name in ("WithContext", "Clone"):
            if fn.type_of(recv) != REQUEST:
                continue
            args = call_args(call)
            if len(args) == 1:
                check_ctx(p, ff, fn, call, args[0], f"{src.text(recv)}.{name}", strict)
            continue
        if name in NO_CONTEXT_METHODS:
            if http_member(fn, ff, recv) == "DefaultClient":
                continue  # GR002 reports http.DefaultClient.Get: one finding per call
            if fn.type_of(recv) == CLIENT:
                p.report(call, "client-method", recv=src.text(recv), method=name)


def check_ctx(p: Pass, ff: FileFlow, fn: FuncFlow | None, call: ts.Node, ctx: ts.Node, what: str, strict: bool) -> None:
    if fn is None:
        return
    kind, root = origin(ff, fn, ctx, call, 0)
    text = " ".join(ff.src.text(ctx).split())
    if len(text) > 48:
        text = text[:45] + "..."
    desc = text if text == root else f"{text} (from {root})"
    if kind == "background":
        p.report(call, "background-ctx", call=what, ctx=desc)
    elif strict and kind in ("param", "request"):
        p.report(call, "strict-ctx", call=what, ctx=text)


def origin(ff: FileFlow, fn: FuncFlow, expr: ts.Node, at: ts.Node, depth: int) -> tuple[str | None, str]:
    """Where a context value comes from, and the expression it comes from.

    ("background", "context.Background()") for Background()/TODO() (possibly through
    WithValue/WithCancel), ("param", name) for a parameter, ("request", text) for
    r.Context() of a request parameter, ("deadline", text) for WithTimeout/WithDeadline,
    (None, text) when unknown.
    """
    src = ff.src
    text = src.text(expr)
    if depth > 6:
        return None, text
    e = expr
    while e.type == "parenthesized_expression" and e.named_child_count:
        e = e.named_children[0]
    if e.type == "call_expression":
        recv, name, func = call_parts(e)
        m = fn.pkg_member(func)
        if m is not None and m[0] == CONTEXT:
            if m[1] in BACKGROUND:
                return "background", text
            if m[1] in DEADLINE:
                return "deadline", text
            if m[1] in PASS_THROUGH:
                args = call_args(e)
                if args:
                    return origin(ff, fn, args[0], e, depth + 1)
            return None, text
        if name == "Context" and recv is not None and not call_args(e) and fn.type_of(recv) == REQUEST:
            base = recv
            while base.type == "parenthesized_expression" and base.named_child_count:
                base = base.named_children[0]
            v = fn.var_of(base) if base.type == "identifier" else None
            if v is not None and v.is_param:
                return "request", text
        return None, text
    if e.type == "identifier":
        v = fn.var_of(e)
        if v is None:
            return None, text  # package variable, or unknown
        if v.is_param:
            return "param", text
        assigns = fn.value_at(v, at)
        if not assigns:
            return None, text
        kinds = []
        roots = []
        for a in assigns:
            if a.value is None or a.op in ("range", "recv", "op="):
                return None, text
            if a.multi and a.index != 0:
                return None, text
            kind, root = origin(ff, fn, a.value, a.node, depth + 1)
            if kind is None or kind == "deadline":
                return kind, text
            kinds.append(kind)
            roots.append(root)
        if all(k == "background" for k in kinds):
            return "background", roots[0]
        return "param", text
    return None, text


analyzer = Analyzer(
    code="GR003",
    slug="http-request-context",
    doc=__doc__ or "",
    run=run,
    needs=(b'"net/http"',),
    # NewRequest[WithContext], req.WithContext/Clone, client Get/Head/Post/PostForm
    needs_also=((b"NewRequest", b"WithContext", b"Clone", b"Get", b"Head", b"Post"),),
    requires=(FLOW,),
    messages=("new-request", "background-ctx", "client-method", "strict-ctx"),
)
