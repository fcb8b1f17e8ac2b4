"""Cancel functions are called.

`context.WithCancel`, `WithTimeout`, `WithDeadline` and their `...Cause`
variants return a cancel function. Until it is called, the derived context
stays registered with its parent (and a timer stays armed) until the parent is
done, which for a context derived from `context.Background()` or a long-lived
server context is never: goroutines, timers and memory leak. V2.3: every
cancel function is kept and called, normally with `defer cancel()` right after
the call.

Flagged (reported at the assignment):

- the cancel function is discarded: `ctx, _ := context.WithTimeout(...)`, or the
  whole call is a statement of its own;
- it is kept but only silenced with `_ = cancel`;
- it is kept but never called, deferred, returned, stored (field, map, package
  variable), sent, or passed on to a call (`t.Cleanup(cancel)`,
  `time.AfterFunc(d, cancel)`) in that function. A call inside a closure
  (`go func() { <-done; cancel() }()`) counts. After a re-assignment
  (`ctx, cancel = context.WithTimeout(ctx, d)`) the new cancel function must be
  used after it (or in a closure, or later in the same loop): a `defer cancel()`
  written before the re-assignment evaluated the old function and does not count.

Not flagged: a named result `cancel` (every `return` hands it to the caller);
a cancel function stored in a struct field or package variable directly
(`s.ctx, s.cancel = context.WithCancel(ctx)`); `context.WithoutCancel` and
`context.WithValue`, which return no cancel function. `context` is resolved
through the imports (`context`, or `golang.org/x/net/context`): aliases and
dot imports count, a local named `context` does not.

## Bad

```go
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, _ = context.WithTimeout(ctx, 2*time.Second) // timer leaks until ctx is done
	return s.db.Get(ctx, key)
}
```

## Good

```go
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.db.Get(ctx, key)
}
```

## Options

None.

## Suppress

`// gorules:ignore GR011 -- <who cancels this context>` on the assignment's
line or the line above.
"""

from __future__ import annotations

import tree_sitter as ts

from .. import parsing
from ..analysis import Analyzer, Pass
from ..flow import FLOW, FuncFlow, Use, Var, flow_of

#: The standard library's context, and its pre-1.7 home (an alias of it today).
CONTEXTS = frozenset({"context", "golang.org/x/net/context"})
WITH_CANCEL = frozenset(
    {"WithCancel", "WithTimeout", "WithDeadline", "WithCancelCause", "WithTimeoutCause", "WithDeadlineCause"}
)
CALLS = "(call_expression function: [(selector_expression) (identifier)] @fn) @call"
#: Where the cancel function is handed on: the caller or another owner takes over.
PASSED_ON = frozenset({"return", "store", "send", "arg", "elem", "assign"})


def _after(u: Use, stmt: ts.Node, fn: FuncFlow) -> bool:
    """Can use ``u`` see the cancel function assigned by ``stmt``?"""
    if u.closures:
        return True  # a closure runs later (defer, go, callback)
    if u.ident.start_byte >= stmt.end_byte:
        return True
    n = stmt.parent
    while n is not None and n.id != fn.node.id:
        if n.type == "for_statement" and n.start_byte <= u.ident.start_byte < n.end_byte:
            return True  # a later iteration
        n = n.parent
    return False


def _classify(v: Var, stmt: ts.Node, fn: FuncFlow) -> tuple[str, int] | None:
    """None when the cancel function is used; else ("not-called" | "silenced" |
    "deferred-early", line of the early defer)."""
    if v.kind == "result":
        return None
    silenced = False
    early = 0
    for u in v.uses:
        if u.path:
            continue
        if not _after(u, stmt, fn):
            if u.called and u.deferred and not u.closures:
                early = early or u.line  # ``defer cancel()`` evaluated the old value
            continue
        if u.called or u.sink in PASSED_ON:
            return None
        if u.sink == "discard":
            silenced = True
    if early:
        return "deferred-early", early
    return ("silenced" if silenced else "not-called"), 0


def run(pass_: Pass) -> None:
    src = pass_.file
    assert src is not None
    ff = flow_of(pass_)
    for call in parsing.captures(CALLS, src.root).get("call", []):
        fn_node = call.child_by_field_name("function")
        if fn_node is None:
            continue
        name = src.text(fn_node).rsplit(".", 1)[-1]
        if name not in WITH_CANCEL:
            continue
        fn = ff.function(call)
        if fn is None:
            continue  # package-level: a package variable holds it
        member = fn.pkg_member(fn_node)
        if member is None or member[0] not in CONTEXTS or member[1] not in WITH_CANCEL:
            continue
        shown = f"{src.text(fn_node)}(...)"
        parent = call.parent
        while parent is not None and parent.type == "parenthesized_expression":
            parent = parent.parent
        if parent is not None and parent.type == "expression_statement":
            pass_.report(call, "discarded", call=shown)
            continue
        if parent is None or parent.type != "expression_list":
            continue  # returned, passed to a call: the receiver owns it
        stmt = parent.parent
        if stmt is None or len(parent.named_children) != 1:
            continue
        if stmt.type in ("short_var_declaration", "assignment_statement"):
            left = stmt.child_by_field_name("left")
            if left is None or left.id == parent.id:
                continue
            targets = left.named_children
        elif stmt.type == "var_spec":
            targets = stmt.children_by_field_name("name")
        else:
            continue
        if len(targets) != 2:
            continue
        target = targets[1]
        while target.type == "parenthesized_expression" and target.named_children:
            target = target.named_children[0]
        if target.type != "identifier":
            continue  # s.cancel, m[k]: stored
        tname = src.text(target)
        if tname == "_":
            pass_.report(stmt, "discarded", call=shown)
            continue
        v = fn.var_of(target)
        if v is None:
            continue  # a package variable: stored
        got = _classify(v, stmt, fn)
        if got is not None:
            pass_.report(stmt, got[0], call=shown, name=tname, line=got[1])


analyzer = Analyzer(
    code="GR011",
    slug="context-cancel",
    doc=__doc__ or "",
    run=run,
    # imports context (or golang.org/x/net/context) and calls a constructor with a cancel
    needs=(b'context"',),
    needs_also=((b"WithCancel", b"WithTimeout", b"WithDeadline"),),
    requires=(FLOW,),
    messages=("discarded", "not-called", "silenced", "deferred-early"),
)
