"""HTTP response bodies are closed (beyond V2.3).

The body of an `*http.Response` holds its connection: until it is closed the
transport cannot reuse the connection, and an unclosed body leaks it with its
goroutines. Every response obtained in a function must have its body closed there
(`defer resp.Body.Close()` after the error check), unless the function hands the
response on.

Flagged forms (the response of `Do`, `Get`, `Head`, `Post`, `PostForm` on a client
known to be an `http.Client`, on `http.DefaultClient`, the `http.Get` package
functions, or `x.Do(req)` on another receiver when `req` is known to be an
`*http.Request` and the result's `Body` is used):

```go
resp, err := c.Do(req)   // resp.Body.Close() never called in the function
_, err := c.Do(req)      // discarded: the body can never be closed
http.Post(url, ct, body) // discarded as a statement
```

Closing counts directly, deferred, inside a closure, or as a method value
(`defer closeQuietly(resp.Body.Close)`). The response escapes (silent) when `resp`
is returned, stored, sent, passed to a call (`defer drain(resp)`) or captured by a
goroutine, when `resp.Body` is returned or stored, and when `resp.Body` is handed to
a call that may close or keep it: a deferred call, a call whose name says so
(`drainAndClose(resp.Body)`), a wrapping reader that is returned or stored
(`return gzip.NewReader(resp.Body)`), a function of this package that calls Close.
Reading the body (`io.ReadAll(resp.Body)`, `json.NewDecoder(resp.Body)`,
`io.Copy(w, resp.Body)`, a parser of another package) is not an escape.

## Bad

```go
func (w *WebhookSender) ping(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, w.url, nil)
	resp, err := w.client.Do(req) // the body is never closed
	if err != nil {
		return err
	}
	return statusErr(resp.StatusCode)
}
```

## Good

```go
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return statusErr(resp.StatusCode)
```

## Options

None.

## Suppress

`// gorules:ignore GR012 -- <who closes this body>` on the line or the line above.
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
    REQUEST,
    SEND_METHODS,
    FileFlow,
    FuncFlow,
    Use,
    Var,
    call_args,
    call_parts,
    flow_of,
    http_member,
)

# Source forms matched (the response is the first result):
#   resp, err := c.Do(req)    resp, err = c.Get(u)    c.Head(u) / c.Post(...) / c.PostForm(...)
#   resp, err := http.Get(u)  (and Head, Post, PostForm; http.DefaultClient.X)
#   _, err := c.Do(req)       c.Do(req)               (discarded)
QUERY = """
(call_expression
  function: [(selector_expression field: (field_identifier) @name)
             (identifier) @name]
  (#any-of? @name "Do" "Get" "Head" "Post" "PostForm")) @call
"""

#: Functions that read from a body without keeping or closing it: passing
#: ``resp.Body`` to them is not an escape. (import path, function)
READERS = frozenset(
    {
        ("io", "ReadAll"), ("io/ioutil", "ReadAll"), ("io", "Copy"), ("io", "CopyN"), ("io", "CopyBuffer"),
        ("io", "ReadFull"), ("io", "ReadAtLeast"), ("io", "LimitReader"), ("io", "TeeReader"),
        ("io", "MultiReader"), ("encoding/json", "NewDecoder"), ("encoding/xml", "NewDecoder"),
        ("bufio", "NewReader"), ("bufio", "NewReaderSize"), ("bufio", "NewScanner"),
        ("encoding/csv", "NewReader"), ("compress/gzip", "NewReader"), ("mime/multipart", "NewReader"),
        ("fmt", "Fscan"), ("fmt", "Fscanf"), ("fmt", "Fscanln"), ("golang.org/x/net/html", "Parse"),
        ("bytes", "Buffer.ReadFrom"),
    }
)
#: Methods that read from their argument: ``buf.ReadFrom(resp.Body)``.
READER_METHODS = frozenset({"ReadFrom"})


def run(p: Pass) -> None:
    src = p.file
    assert src is not None
    ff = flow_of(p)
    for call in parsing.captures(QUERY, src.root).get("call", []):
        fn = ff.function(call)
        if fn is None:
            continue
        recv, name, func = call_parts(call)
        what = response_call(ff, fn, call, recv, name, func)
        if what is None:
            continue
        check_response(p, ff, fn, call, what)


def response_call(ff: FileFlow, fn: FuncFlow, call: ts.Node, recv: ts.Node | None, name: str, func: ts.Node) -> str | None:
    """The call's text (``c.Do``, ``http.Get``) when it returns an *http.Response, else None."""
    src = ff.src
    member = http_member(fn, ff, func)
    if member is not None:
        return src.text(func) if member in PACKAGE_SENDERS else None
    if recv is None or name not in SEND_METHODS:
        return None
    if fn.type_of(recv) == CLIENT:
        return src.text(func)
    if name == "Do":
        args = call_args(call)
        if len(args) == 1 and fn.type_of(args[0]) == REQUEST:
            return src.text(func) + "?"  # confirmed later by the use of resp.Body
    return None


def check_response(p: Pass, ff: FileFlow, fn: FuncFlow, call: ts.Node, what: str) -> None:
    guessed = what.endswith("?")
    what = what.rstrip("?")
    sink, target, tv, _ = fn.sink_of(call)
    if sink == "discard" or (sink == "read" and target is not None and target.type == "expression_statement"):
        if not guessed:
            p.report(call, "discarded", call=what)
        return
    if sink != "assign" or tv is None:
        return  # returned, passed on, stored: someone else closes it
    if guessed and not any(u.path[:1] == ("Body",) and not (len(u.path) == 1 and u.called) for u in tv.uses):
        return  # not known to be a response
    holders = fn.holders(tv)
    for h in holders:
        if fn.calls_method(h, "Close", via=("Body",)):
            return
        if fn.escape(h, fields=("Body",)) is not None:
            return
        for u in h.uses:
            if u.path == ("Body",) and u.sink == "arg" and handed_off(p, ff, fn, u):
                return  # handed to something that closes it or keeps it
            if u.path == ("Body",) and u.sink in ("assign",):
                return  # body := resp.Body: followed no further
    p.report(call, "not-closed", name=tv.name, call=what)


CLOSER_NAME = re.compile(r"(?i)close|drain|discard|release|cleanup|consume|finish")
#: Calls that wrap a reader and hand the wrapper back (bufio.NewReader, gzip.NewReader,
#: ioutils.NewReadCloserWrapper): the body escapes with the wrapper when that escapes.
WRAPPER_NAME = re.compile(r"^New|Reader|Wrap|Limit|Tee")


def handed_off(p: Pass, ff: FileFlow, fn: FuncFlow, u: Use) -> bool:
    """``f(resp.Body)``: may ``f`` close the body, or keep it beyond this function?

    Yes when the call is deferred (``defer closeBody(resp.Body)``), when its name says so
    (``drainAndClose``, ``closeQuietly``), when it wraps the body (``New...``, ``...Reader``)
    and the wrapper escapes (``return gzip.NewReader(resp.Body)``), or when it is a
    function or method of this package whose body calls Close. A reader of another package
    (``io.ReadAll``, ``json.NewDecoder``, ``profile.Parse``) only reads: not handed off.
    """
    call = u.target
    if call is None:
        return True
    if u.deferred:
        return True
    recv, name, func = call_parts(call)
    if CLOSER_NAME.search(name):
        return True
    if WRAPPER_NAME.search(name):
        sink, _target, tv, _key = fn.sink_of(call)
        if sink in ("return", "store", "send") or (sink == "elem" and fn.expr_escape(call) is not None):
            return True
        if sink == "assign" and tv is not None and kept(fn, tv):
            return True
    member = fn.pkg_member(func)
    if member is not None or is_reader(ff, fn, call):
        return False  # a function of another package that does not say it closes: it reads
    try:
        pkg = p.package
    except RuntimeError:  # pragma: no cover - no package view
        return True
    decls = []
    if recv is None and name in pkg.funcs:
        decls.append(pkg.funcs[name])
    elif recv is not None:
        decls.extend(pkg.methods_named(name))
    if not decls:
        return True  # a function value or a method of another package's type: cannot know
    for d in decls:
        body = d.body
        if body is None or b"Close" in d.file.data[body.start_byte : body.end_byte]:
            return True
    return False


def kept(fn: FuncFlow, v: "Var", depth: int = 0) -> bool:
    """Is the wrapper held by ``v`` returned, stored or sent (kept beyond this function)?
    Passing it to a call (``io.ReadAll(gr)``) only reads it; ``gr.Close()`` of a gzip
    reader does not close the body under it."""
    for u in v.uses:
        if u.path:
            continue
        if u.sink in ("return", "store", "send") or u.in_go:
            return True
        if u.sink == "elem" and u.target is not None and fn.expr_escape(u.target) is not None:
            return True
        if u.sink == "assign" and u.target_var is not None and depth < 3 and kept(fn, u.target_var, depth + 1):
            return True
    return v.kind == "result"


def is_reader(ff: FileFlow, fn: FuncFlow, call: ts.Node | None) -> bool:
    if call is None:
        return False
    recv, name, func = call_parts(call)
    m = fn.pkg_member(func)
    if m is not None:
        return m in READERS
    return recv is not None and name in READER_METHODS


analyzer = Analyzer(
    code="GR012",
    slug="response-body-close",
    doc=__doc__ or "",
    run=run,
    needs=(b'"net/http"',),
    # a response comes from Do, Get, Head, Post or PostForm
    needs_also=((b"Do", b"Get", b"Head", b"Post"),),
    requires=(FLOW,),
    messages=("not-closed", "discarded"),
)
