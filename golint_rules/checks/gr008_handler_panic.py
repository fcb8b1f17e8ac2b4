"""HTTP handlers return errors, they never panic.

A panic in a net/http handler is recovered by the server only to log it and
drop the client's connection with no response; in gin, echo or fiber without
recovery middleware it kills the whole process. `log.Fatal` and `os.Exit` end
the process outright, with every in-flight request. V2.3: a handler writes an
error response (or returns the error to the framework) instead.

Handlers are functions, methods and literals with the net/http signature
`(http.ResponseWriter, *http.Request)`, `ServeHTTP` methods, gin
`func(*gin.Context)`, echo `func(echo.Context) error`, fiber
`func(*fiber.Ctx) error`, and any function of the package passed by name to a
route registration (`http.HandleFunc("/x", list)`, `http.HandlerFunc(list)`,
`r.GET("/x", h.get)`, `e.GET`, `app.Get`, chi `r.Get`, gorilla
`r.HandleFunc(...)`), method values included.

Flagged inside a handler body, also inside the literals and goroutines it
starts: `panic(...)`, `log.Panic*`, `log.Fatal*` (the standard library's `log`
under any import name, and the same methods on a `*log.Logger` whose type the
code shows: a parameter, field or local declared so, or built by `log.New` /
`log.Default`), `os.Exit`, the configured `exit-functions`, and calls
to functions of the same package (any file of the directory) that *always* end
in one of these, through at most `max-depth` helpers. The message names the
chain: `handler ListUsers -> mustLoad -> panic`.

A `log.Fatal`/`os.Exit` inside a deferred `recover()` block is flagged: it is
not a re-panic, it ends the process.

Not flagged: handlers in `_test.go` files (fakes that panic on purpose to test
recovery middleware; option `test-files`); `panic(http.ErrAbortHandler)` (net/http's sanctioned abort); a
re-panic inside a deferred `recover()` block (recovery middleware); panics in
functions that are not handlers; helpers that panic only on some paths (they
may return); other loggers' `Fatal` unless listed in `exit-functions`.

## Bad

```go
func (h *API) ListUsers(c *gin.Context) {
	users := h.mustLoad(c.Query("team")) // mustLoad always ends in panic(err)
	c.JSON(http.StatusOK, users)
}

func GetUser(w http.ResponseWriter, r *http.Request) {
	u, err := store.Get(r.PathValue("id"))
	if err != nil {
		log.Fatalf("get user: %v", err) // stops the server for one bad request
	}
	json.NewEncoder(w).Encode(u)
}
```

## Good

```go
func (h *API) ListUsers(c *gin.Context) {
	users, err := h.load(c.Query("team"))
	if err != nil {
		c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		return
	}
	c.JSON(http.StatusOK, users)
}

func GetUser(w http.ResponseWriter, r *http.Request) {
	u, err := store.Get(r.PathValue("id"))
	if err != nil {
		http.Error(w, "user not found", http.StatusNotFound)
		return
	}
	json.NewEncoder(w).Encode(u)
}
```

## Options

- `max-depth` (default 3): how many same-package helpers deep a chain is
  followed (`0`: only panics written in the handler itself).
- `exit-functions` (default `[]`): more functions that end the process, as
  `"import/path.Func"`, e.g. `["github.com/sirupsen/logrus.Fatal",
  "k8s.io/klog/v2.Fatalf"]`. Package-level functions only.
- `test-files` (default false): also check handlers in `_test.go` files. Off by
  default because test handlers panic on purpose (to test recovery middleware).

## Suppress

`// gorules:ignore GR008 -- <why this handler may panic>` on the line of the
call or the line above.
"""

from __future__ import annotations

from typing import Any

import tree_sitter as ts

from .. import parsing
from ..analysis import Analyzer, Pass
from ..flow import FileFlow
from ..handlers import Handler, decl_name, handlers_in, may_hold_handler
from ..package import FuncDecl, Package
from ..source import SourceFile, lookup

CALLS = "(call_expression function: [(identifier) (selector_expression)]) @call"
RECOVER = '(call_expression function: (identifier) @f (#eq? @f "recover")) @call'
ESCAPES = "[(return_statement) (goto_statement)] @esc"

LOG_PANIC = {"Panic", "Panicf", "Panicln"}
LOG_FATAL = {"Fatal", "Fatalf", "Fatalln"}
CASE_TYPES = ("expression_case", "type_case", "default_case", "communication_case")


class Ends:
    """What counts as a panicking or exiting call, for one set of options."""

    def __init__(self, exit_functions: list[str]) -> None:
        self.extra: dict[str, set[str]] = {}
        for entry in exit_functions:
            path, dot, name = str(entry).rpartition(".")
            if not dot or not path or not name or "/" in name:
                raise ValueError(
                    f"GR008 option exit-functions: {entry!r} is not of the form 'import/path.Func' "
                    "(e.g. 'github.com/sirupsen/logrus.Fatal'); fix it in .gorules.toml"
                )
            self.extra.setdefault(path, set()).add(name)
        self.key = repr(sorted((p, sorted(n)) for p, n in self.extra.items()))

    def classify(self, pkg: Package, src: SourceFile, call: ts.Node) -> str | None:
        """``"panic"`` or ``"exit"`` when ``call`` panics or ends the process, else None."""
        fn = call.child_by_field_name("function")
        if fn is None:
            return None
        if fn.type == "identifier":
            name = src.text(fn)
            if name in pkg.funcs or lookup(src, fn, name) is not None:
                return None
            if name == "panic":
                return "panic"
            for path in self._dot_paths(src):
                kind = self._kind(path, name)
                if kind:
                    return kind
            return None
        if fn.type == "selector_expression":
            q = src.qualified(fn)
            if q is not None:
                return self._kind(*q)
            field = fn.child_by_field_name("field")
            operand = fn.child_by_field_name("operand")
            method = src.text(field) if field is not None else ""
            if operand is not None and (method in LOG_PANIC or method in LOG_FATAL):
                # l.Fatal on a *log.Logger (a parameter, field or local of that type,
                # or built by log.New / log.Default): the standard library's log too.
                if _file_flow(pkg, src).type_of(operand, None) == ("log", "Logger"):
                    return "panic" if method in LOG_PANIC else "exit"
        return None

    def _dot_paths(self, src: SourceFile) -> list[str]:
        return [i.path for i in src.imports.imports if i.name == "."]

    def _kind(self, path: str, name: str) -> str | None:
        if path == "log":
            if name in LOG_PANIC:
                return "panic"
            if name in LOG_FATAL:
                return "exit"
        elif path == "os" and name == "Exit":
            return "exit"
        if name in self.extra.get(path, ()):
            return "exit"
        return None


def _file_flow(pkg: Package, src: SourceFile) -> FileFlow:
    """The flow facts of a package file (types of locals, fields), built once per file."""
    memo = pkg.memo.setdefault("gr008.flows", {})
    assert isinstance(memo, dict)
    ff = memo.get(id(src))
    if ff is None:
        ff = memo[id(src)] = FileFlow(src, pkg)
    return ff


def _is_abort(src: SourceFile, call: ts.Node) -> bool:
    """``panic(http.ErrAbortHandler)``."""
    args = call.child_by_field_name("arguments")
    if args is None:
        return False
    vals = [a for a in args.named_children if a.type != "comment"]
    if len(vals) != 1 or vals[0].type != "selector_expression":
        return False
    return src.qualified(vals[0]) == ("net/http", "ErrAbortHandler")


def _in_deferred_recover(src: SourceFile, call: ts.Node, stop: ts.Node) -> bool:
    """Is ``call`` inside a deferred literal that calls ``recover()`` (below ``stop``)?"""
    node = call.parent
    while node is not None and node != stop:
        if node.type == "func_literal":
            outer = node.parent
            if outer is not None and outer.type == "call_expression" and outer.parent is not None and (
                outer.parent.type == "defer_statement"
            ):
                body = node.child_by_field_name("body")
                if body is not None and parsing.captures(RECOVER, body).get("call"):
                    return True
        node = node.parent
    return False


SENDS = "(send_statement channel: (identifier) @ch) @send"


def _relays_recovered(src: SourceFile, call: ts.Node, scope: ts.Node) -> bool:
    """``panic(p)`` where ``p`` was received from a channel that a deferred
    ``recover()`` block sends to: the handler re-panics its worker's panic
    (``http.TimeoutHandler``'s pattern), like recovery middleware does."""
    args = call.child_by_field_name("arguments")
    vals = [a for a in args.named_children if a.type != "comment"] if args is not None else []
    if len(vals) != 1 or vals[0].type != "identifier":
        return False
    name = src.text(vals[0])
    decl = lookup(src, vals[0], name)
    if decl is None or decl.type not in ("receive_statement", "short_var_declaration"):
        return False
    right = decl.child_by_field_name("right")
    if right is not None and right.type == "expression_list" and right.named_children:
        right = right.named_children[0]
    if right is None or right.type != "unary_expression" or not src.text(right).startswith("<-"):
        return False
    chan = right.child_by_field_name("operand")
    if chan is None or chan.type != "identifier":
        return False
    for send in parsing.captures(SENDS, scope).get("send", []):
        ch = send.child_by_field_name("channel")
        if ch is not None and src.text(ch) == src.text(chan) and _in_deferred_recover(src, send, scope):
            return True
    return False


def _statements(block: ts.Node | None) -> list[ts.Node]:
    if block is None:
        return []
    out: list[ts.Node] = []
    for c in block.named_children:
        if c.type == "statement_list":
            out.extend(x for x in c.named_children if x.type != "comment")
        elif c.type != "comment":
            out.append(c)
    return out


def _escapes(node: ts.Node) -> bool:
    """Does a ``return`` or ``goto`` (not inside a nested literal) leave through ``node``?"""
    if node.type in ("return_statement", "goto_statement"):
        return True
    for esc in parsing.captures(ESCAPES, node).get("esc", []):
        p = esc.parent
        while p is not None and p != node and p.type != "func_literal":
            p = p.parent
        if p == node:
            return True
    return False


class Chains:
    """Which package functions always end in a panic or exit, and through which chain."""

    def __init__(self, pkg: Package, ends: Ends) -> None:
        self.pkg = pkg
        self.ends = ends
        memo = pkg.memo.setdefault("gr008.chains", {})
        assert isinstance(memo, dict)
        self.memo: dict[tuple[str, int], tuple[list[str], str] | None] = memo.setdefault(ends.key, {})

    def of(self, decl: FuncDecl, budget: int) -> tuple[list[str], str] | None:
        """(chain of names starting at ``decl`` and ending at the panicking call, kind) or None.

        ``budget`` is how many further helpers may be followed below ``decl``; it
        shrinks by one per level, so recursion and cycles terminate.
        """
        key = (decl.key, budget)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = None  # provisional: a cycle at the same budget cannot happen, but be safe
        result = None
        body = decl.body
        if body is not None and not parsing.captures(RECOVER, body).get("call"):
            got = self._block(decl.file, _statements(body), budget)
            if got is not None:
                result = ([decl_name(decl), *got[0]], got[1])
        self.memo[key] = result
        return result

    def _block(self, src: SourceFile, stmts: list[ts.Node], budget: int) -> tuple[list[str], str] | None:
        for s in stmts:
            got = self._stmt(src, s, budget)
            if got is not None:
                return got
            if _escapes(s):
                return None
        return None

    def _stmt(self, src: SourceFile, s: ts.Node, budget: int) -> tuple[list[str], str] | None:
        t = s.type
        if t == "expression_statement":
            call = s.named_children[0] if s.named_children else None
            if call is not None and call.type == "call_expression":
                return self.call(src, call, budget)
            return None
        if t == "block":
            return self._block(src, _statements(s), budget)
        if t == "labeled_statement":
            inner = [c for c in s.named_children if c.type != "label_name"]
            return self._stmt(src, inner[-1], budget) if inner else None
        if t == "if_statement":
            alt = s.child_by_field_name("alternative")
            if alt is None:
                return None
            first = self._block(src, _statements(s.child_by_field_name("consequence")), budget)
            if first is None:
                return None
            second = self._stmt(src, alt, budget) if alt.type == "if_statement" else self._block(
                src, _statements(alt), budget
            )
            return first if second is not None else None
        if t in ("expression_switch_statement", "type_switch_statement", "select_statement"):
            cases = [c for c in s.named_children if c.type in CASE_TYPES]
            if t != "select_statement" and not any(c.type == "default_case" for c in cases):
                return None
            if not cases:
                return None
            got = None
            for case in cases:
                if any(b.type == "break_statement" for b in parsing.walk(case)):
                    return None
                stmts = [x for c in case.named_children if c.type == "statement_list" for x in c.named_children]
                one = self._block(src, [x for x in stmts if x.type != "comment"], budget)
                if one is None:
                    return None
                got = got or one
            return got
        return None

    def call(self, src: SourceFile, call: ts.Node, budget: int) -> tuple[list[str], str] | None:
        """A call that always ends in a panic/exit: the call itself, or a helper's chain."""
        kind = self.ends.classify(self.pkg, src, call)
        if kind is not None:
            if kind == "panic" and _is_abort(src, call):
                return None
            fn = call.child_by_field_name("function")
            return [src.text(fn) if fn is not None else "panic"], kind
        if budget < 1:
            return None
        callee = self.pkg.callee(src, call)
        if callee is None:
            return None
        return self.of(callee, budget - 1)


def run(pass_: Pass) -> None:
    src = pass_.file
    assert src is not None
    options: dict[str, Any] = pass_.options
    if src.is_test and not options.get("test-files", False):
        return
    pkg = pass_.package
    handlers = handlers_in(pkg, src)
    if not handlers:
        return
    max_depth = int(options.get("max-depth", 3))
    ends = Ends(list(options.get("exit-functions", []) or []))
    chains = Chains(pkg, ends)
    # Each call belongs to the innermost handler whose body holds it.
    owner: dict[tuple[int, int], tuple[ts.Node, Handler]] = {}
    for h in handlers:
        body = h.body
        if body is None:
            continue
        for call in parsing.captures(CALLS, body).get("call", []):
            owner[(call.start_byte, call.end_byte)] = (call, h)
    reports: list[tuple[ts.Node, str, dict[str, str]]] = []
    for _, (call, h) in sorted(owner.items()):
        fn = call.child_by_field_name("function")
        if fn is None:
            continue
        kind = ends.classify(pkg, src, call)
        if kind is not None:
            if kind == "panic" and _is_abort(src, call):
                continue
            if kind == "panic" and _in_deferred_recover(src, call, h.node):
                continue  # a re-panic: recovery middleware hands the panic on
            if kind == "panic" and _relays_recovered(src, call, h.node):
                continue
            reports.append((call, kind, {"call": src.text(fn), "handler": h.name}))
            continue
        if max_depth < 1:
            continue
        callee = pkg.callee(src, call)
        if callee is None:
            continue
        got = chains.of(callee, max_depth - 1)
        if got is None or (got[1] == "panic" and _in_deferred_recover(src, call, h.node)):
            continue
        names, end_kind = got
        chain = " -> ".join(["handler " + h.name, *names])
        reports.append((call, "helper", {
            "call": src.text(fn),
            "handler": h.name,
            "chain": chain,
            "end": names[-1],
            "callee": decl_name(callee),
            "effect": "panic" if end_kind == "panic" else "stop the process",
        }))
    # One finding per panic: panic(notAuthorized()) where the helper itself always
    # panics is reported once, at the outer call.
    for call, key, args in reports:
        if any(
            other is not call and other.start_byte <= call.start_byte and call.end_byte <= other.end_byte
            for other, _, _ in reports
        ):
            continue
        pass_.report(call, key, **args)


#: Every form GR008 reports ends in one of these: panic, log.Panic*, log.Fatal*, os.Exit
#: (the names of the configured exit-functions are added).
END_TOKENS = (b"panic", b"Panic", b"Fatal", b"Exit")
def package_gate(src: SourceFile, pkg: Package, options: dict[str, Any]) -> bool:
    """Before ``src`` is parsed: can GR008 report in it?

    A finding needs (1) a panicking or exiting call in ``src`` or in a helper ``src`` can
    call (bytes of the package's files; a non-test file cannot call into ``_test.go``
    files), and (2) a handler in ``src`` (:func:`~golint_rules.handlers.may_hold_handler`:
    bytes, plus the package's route registrations, read once from the files that have a
    route call). Most files of most packages fail (1) or (2) and are never parsed for GR008.
    """
    if src.is_test and not options.get("test-files", False):
        return False
    ends = END_TOKENS + tuple(
        str(e).rpartition(".")[2].encode() for e in options.get("exit-functions", []) or [] if str(e).rpartition(".")[2]
    )
    memo = pkg.memo.setdefault("gr008.ends", {})
    assert isinstance(memo, dict)
    key = (src.is_test and src, ends)  # non-test files all see the same callable files
    if key not in memo:
        memo[key] = pkg.any_file_contains(pkg.callable_from(src), ends)
    if not memo[key]:
        return False
    return may_hold_handler(pkg, src)


analyzer = Analyzer(
    code="GR008",
    slug="handler-panic",
    doc=__doc__ or "",
    run=run,
    package_gate=package_gate,
    messages=("panic", "exit", "helper"),
)
