"""Fuzz targets seed their corpus.

A fuzz target with no seeds starts from nothing: `go test` (without `-fuzz`)
runs it on no inputs at all, so in CI it tests nothing, and `go test -fuzz`
wastes its first minutes discovering inputs any author could have written
down. V2.3: every `func FuzzXxx(f *testing.F)` in a `_test.go` file seeds its
corpus, with `f.Add(...)` before `f.Fuzz` (a loop over seeds counts) or with
files in `testdata/fuzz/FuzzXxx/` beside the test file.

Not counted as seeding: an `f.Add` inside the `f.Fuzz` callback (it seeds
nothing: the fuzzing engine is already running, and `testing` rejects it).
Not flagged: a target that hands `f` to another function (a shared seeding
helper may call `f.Add`; the tool cannot see it, so it stays silent);
functions that are not fuzz targets by `go test`'s rules (`Fuzzy(...)`, a
different parameter type, files not ending in `_test.go`). The corpus
directory must hold at least one seed file (not counting dot files such as
`.gitkeep`: an empty directory seeds nothing).

## Bad

```go
func FuzzParseDuration(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		f.Add("1h") // inside the callback: seeds nothing
		_, _ = ParseDuration(s)
	})
}
```

## Good

```go
func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{"1h", "90m", "1h30m", "-5s", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseDuration(s)
	})
}
```

or commit seed files (`go test -fuzz` writes them in this format) under
`testdata/fuzz/FuzzParseDuration/`.

## Options

None.

## Suppress

`// gorules:ignore GR010 -- <why this target needs no seeds>` on the `func`
line or the line above.
"""

from __future__ import annotations

from pathlib import Path

import tree_sitter as ts

from .. import parsing
from ..analysis import Analyzer, Pass

TARGETS = """
(function_declaration
  name: (identifier) @name
  parameters: (parameter_list . (parameter_declaration) @param .)
  body: (block) @body
  (#match? @name "^Fuzz")) @fn
"""
USES = "(identifier) @id"


def _is_target_name(name: str) -> bool:
    """``go test``: ``Fuzz`` followed by nothing or by a character that is not a lower-case letter."""
    rest = name[len("Fuzz"):]
    return name.startswith("Fuzz") and (rest == "" or not rest[0].islower())


def _is_testing_f(pass_: Pass, typ: ts.Node | None) -> bool:
    src = pass_.file
    assert src is not None
    if typ is None or typ.type != "pointer_type" or not typ.named_children:
        return False
    inner = typ.named_children[0]
    if inner.type == "qualified_type":
        return src.qualified(inner) == ("testing", "F")
    if inner.type == "type_identifier" and src.text(inner) == "F":
        return src.imports.dot_imported("testing")
    return False


def _seeds(pass_: Pass, body: ts.Node, fname: str) -> str:
    """"seeded", "unknown" (f handed to another function), "in-callback" (f.Add only
    inside the f.Fuzz callback) or "none"."""
    src = pass_.file
    assert src is not None
    unknown = in_callback = False
    for ident in parsing.captures(USES, body).get("id", []):
        if src.text(ident) != fname:
            continue
        if _shadowed_below(src, ident, fname, body):
            continue
        parent = ident.parent
        if parent is not None and parent.type == "selector_expression" and parent.child_by_field_name("operand") == ident:
            field = parent.child_by_field_name("field")
            method = src.text(field) if field is not None else ""
            call = parent.parent
            if method == "Add" and call is not None and call.type == "call_expression":
                if not _inside_fuzz_callback(src, call, body, fname):
                    return "seeded"
                in_callback = True
            continue
        if parent is not None and parent.type == "argument_list":
            unknown = True  # seedCorpus(f): a helper may call f.Add
        elif parent is not None and parent.type in ("expression_list", "keyed_element", "literal_element"):
            unknown = True  # stored or aliased: cannot follow it
    return "unknown" if unknown else ("in-callback" if in_callback else "none")


def _inside_fuzz_callback(src, node: ts.Node, stop: ts.Node, fname: str) -> bool:
    """Is ``node`` inside the function literal passed to ``f.Fuzz(...)``?"""
    cur = node.parent
    while cur is not None and cur != stop:
        if cur.type == "func_literal":
            args = cur.parent
            call = args.parent if args is not None and args.type == "argument_list" else None
            if call is not None and call.type == "call_expression":
                fn = call.child_by_field_name("function")
                if fn is not None and fn.type == "selector_expression":
                    op = fn.child_by_field_name("operand")
                    field = fn.child_by_field_name("field")
                    if op is not None and field is not None and src.text(op) == fname and src.text(field) == "Fuzz":
                        return True
        cur = cur.parent
    return False


def _shadowed_below(src, ident: ts.Node, name: str, body: ts.Node) -> bool:
    """Is ``name`` at ``ident`` a local declared inside the target (not the parameter)?"""
    from ..source import lookup

    decl = lookup(src, ident, name)
    if decl is None:
        return False
    return body.start_byte <= decl.start_byte < body.end_byte


def _has_corpus(pass_: Pass, name: str) -> bool:
    src = pass_.file
    assert src is not None
    corpus = Path(src.path).parent / "testdata" / "fuzz" / name
    try:
        return corpus.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in corpus.iterdir())
    except OSError:
        return False


def run(pass_: Pass) -> None:
    src = pass_.file
    assert src is not None
    if not src.is_test:
        return
    for _, m in parsing.matches(TARGETS, src.root):
        name_node = m["name"][0]
        name = src.text(name_node)
        if not _is_target_name(name):
            continue
        param = m["param"][0]
        names = param.children_by_field_name("name")
        if len(names) != 1 or not _is_testing_f(pass_, param.child_by_field_name("type")):
            continue
        fname = src.text(names[0])
        if fname == "_":
            state = "none"
        else:
            state = _seeds(pass_, m["body"][0], fname)
        if state not in ("none", "in-callback"):
            continue
        if _has_corpus(pass_, name):
            continue
        pass_.report(name_node, "add-in-callback" if state == "in-callback" else "no-seed", name=name, f=fname)


analyzer = Analyzer(
    code="GR010",
    slug="fuzz-seed",
    doc=__doc__ or "",
    run=run,
    needs=(b"Fuzz",),
    messages=("no-seed", "add-in-callback"),
)
