"""The package-level view: the files of one directory, indexed once.

A Go package is a directory; its ``_test.go`` files in an external ``x_test``
package are kept apart. Checks that look across files (GR001's same-package
helpers, GR008's handlers and helpers) read this view instead of re-parsing.

Indexed once per package, lazily, each by one tree-sitter query per file:

- ``funcs`` / ``methods`` / ``type_names``: the declarations;
- ``calls``: which functions each function calls *by name* (``helper(...)``,
  and ``recv.helper(...)`` on the enclosing method's own receiver), and
  ``callee(file, call)`` to resolve one call through that index;
- ``registered``: which functions of the package are passed by name to an
  HTTP route registration (``r.GET("/x", h.get)``, ``http.HandleFunc``,
  ``http.HandlerFunc(f)``); recognition lives in :mod:`golint_rules.handlers`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property

import tree_sitter as ts

from . import parsing
from .source import SourceFile

FUNCS_QUERY = """
(function_declaration name: (identifier) @name) @func
(method_declaration
  receiver: (parameter_list
    (parameter_declaration type: [(type_identifier) @recv
                                  (pointer_type (type_identifier) @recv)
                                  (generic_type type: (type_identifier) @recv)
                                  (pointer_type (generic_type type: (type_identifier) @recv))]))
  name: (field_identifier) @name) @method
"""


CALLS_QUERY = """
(call_expression function: (identifier) @fn) @call
(call_expression function: (selector_expression operand: (identifier) @recv
                                                field: (field_identifier) @fn)) @call
"""


@dataclass(slots=True)
class FuncDecl:
    name: str
    receiver: str | None  # receiver type name for methods
    file: SourceFile
    node: ts.Node

    @property
    def body(self) -> ts.Node | None:
        return self.node.child_by_field_name("body")

    @property
    def line(self) -> int:
        return self.node.start_point[0] + 1

    @property
    def key(self) -> str:
        """``name`` for a function, ``Type.name`` for a method: the key of ``Package.lookup``."""
        return f"{self.receiver}.{self.name}" if self.receiver else self.name

    @property
    def receiver_name(self) -> str | None:
        """The identifier the method binds its receiver to (None for functions or ``_``)."""
        if self.receiver is None:
            return None
        plist = self.node.child_by_field_name("receiver")
        if plist is None:
            return None
        for p in plist.named_children:
            for n in p.children_by_field_name("name"):
                name = self.file.text(n)
                return None if name == "_" else name
        return None


@dataclass(slots=True, frozen=True)
class Call:
    """A call, by name, from one function of the package to another."""

    caller: str  # key of the calling function (FuncDecl.key)
    callee: str  # key of the called function
    file: SourceFile
    node: ts.Node  # the call_expression


@dataclass(slots=True, frozen=True)
class Registration:
    """A function of the package passed by name to a route registration."""

    callee: str  # FuncDecl.key of the handler
    file: SourceFile
    node: ts.Node  # the argument (identifier, selector) naming the function
    call: ts.Node  # the registration call (or HandlerFunc conversion)


@dataclass
class Package:
    """The files of one directory that belong to the same Go package."""

    directory: str
    name: str
    files: list[SourceFile] = field(default_factory=list)

    @cached_property
    def funcs(self) -> dict[str, FuncDecl]:
        """Package-level functions by name."""
        self._index()
        return self._funcs

    @cached_property
    def methods(self) -> dict[tuple[str, str], FuncDecl]:
        """Methods by (receiver type name, method name)."""
        self._index()
        return self._methods

    def _index(self) -> None:
        if hasattr(self, "_funcs"):
            return
        self._funcs: dict[str, FuncDecl] = {}
        self._methods: dict[tuple[str, str], FuncDecl] = {}
        for f in self.files:
            for _, m in parsing.matches(FUNCS_QUERY, f.root):
                name = f.text(m["name"][0])
                if "func" in m:
                    self._funcs.setdefault(name, FuncDecl(name, None, f, m["func"][0]))
                else:
                    recv = f.text(m["recv"][0])
                    self._methods.setdefault((recv, name), FuncDecl(name, recv, f, m["method"][0]))

    @cached_property
    def type_names(self) -> set[str]:
        out: set[str] = set()
        for f in self.files:
            for n in parsing.captures("(type_spec name: (type_identifier) @t)", f.root).get("t", []):
                out.add(f.text(n))
        return out

    def lookup(self, key: str) -> FuncDecl | None:
        """A function (``name``) or method (``Type.name``) of the package."""
        if "." in key:
            recv, _, name = key.partition(".")
            return self.methods.get((recv, name))
        return self.funcs.get(key)

    def decls_in(self, file: SourceFile) -> list[FuncDecl]:
        """The function and method declarations of one file, in document order."""
        return self._by_file.get(id(file), [])

    @cached_property
    def _by_file(self) -> dict[int, list[FuncDecl]]:
        out: dict[int, list[FuncDecl]] = {}
        for d in (*self.funcs.values(), *self.methods.values()):
            out.setdefault(id(d.file), []).append(d)
        for decls in out.values():
            decls.sort(key=lambda d: d.node.start_byte)
        return out

    # -- calls by name ------------------------------------------------------
    @cached_property
    def calls(self) -> dict[str, list[Call]]:
        """Caller key -> the calls it makes by name to functions of this package.

        Counted: ``helper(...)`` where ``helper`` is a package function not
        shadowed by a local, and ``recv.m(...)`` where ``recv`` is the enclosing
        method's receiver and its type has method ``m``. Calls inside function
        literals count for the declaration that contains them.
        """
        self._index_calls()
        return self._calls

    def callee(self, file: SourceFile, call: ts.Node) -> FuncDecl | None:
        """The package function a ``call_expression`` calls by name, or None."""
        self._index_calls()
        key = self._call_at.get((id(file), call.start_byte, call.end_byte))
        return self.lookup(key) if key else None

    def _index_calls(self) -> None:
        if hasattr(self, "_calls"):
            return
        from .source import lookup as lookup_decl

        self._calls: dict[str, list[Call]] = {}
        self._call_at: dict[tuple[int, int, int], str] = {}
        funcs, methods = self.funcs, self.methods
        method_names = {name for _, name in methods}
        for f in self.files:
            decls = self.decls_in(f)
            if not decls:
                continue
            starts = [d.node.start_byte for d in decls]
            for _, m in parsing.matches(CALLS_QUERY, f.root):
                call = m["call"][0]
                fn = f.text(m["fn"][0])
                recv_nodes = m.get("recv")
                if recv_nodes is None and fn not in funcs:
                    continue
                if recv_nodes is not None and fn not in method_names:
                    continue
                i = bisect.bisect_right(starts, call.start_byte) - 1
                if i < 0 or call.end_byte > decls[i].node.end_byte:
                    continue  # a call outside any declaration (package-level var)
                caller = decls[i]
                if recv_nodes is None:
                    ident = m["fn"][0]
                    if lookup_decl(f, ident, fn) is not None:
                        continue  # a local shadows the package function
                    callee = fn
                else:
                    rname = caller.receiver_name
                    if rname is None or f.text(recv_nodes[0]) != rname:
                        continue
                    decl = lookup_decl(f, recv_nodes[0], rname)
                    if decl is None or decl.parent is None or decl.parent.type != "parameter_list" or (
                        decl.parent != caller.node.child_by_field_name("receiver")
                    ):
                        continue  # a local shadows the receiver
                    if (caller.receiver, fn) not in methods:
                        continue
                    callee = f"{caller.receiver}.{fn}"
                c = Call(caller.key, callee, f, call)
                self._calls.setdefault(caller.key, []).append(c)
                self._call_at[(id(f), call.start_byte, call.end_byte)] = callee

    # -- route registrations ------------------------------------------------
    @cached_property
    def registered(self) -> dict[str, list[Registration]]:
        """Handler key -> where it is passed by name to a route registration."""
        from .handlers import registrations

        out: dict[str, list[Registration]] = {}
        for f in self.files:
            for reg in registrations(self, f):
                out.setdefault(reg.callee, []).append(reg)
        return out

    def callable_from(self, file: SourceFile) -> list[SourceFile]:
        """The files whose functions ``file`` can call: all of them from a ``_test.go``
        file, the non-test files otherwise (a build without tests does not see them)."""
        return self.files if file.is_test else [f for f in self.files if not f.is_test or f is file]

    def any_file_contains(self, files: list[SourceFile], tokens: tuple[bytes, ...]) -> bool:
        """Byte prefilter over several files of the package (no parsing)."""
        return any(tok in f.data for f in files for tok in tokens)

    @cached_property
    def memo(self) -> dict[str, object]:
        """Per-package results shared by checks (keyed by the check's own names)."""
        return {}


def package_key(file: SourceFile) -> str:
    """Files of ``foo`` and ``foo_test`` in one directory are different packages."""
    name = file.package_name
    if file.is_test and name.endswith("_test"):
        return name
    return name.removesuffix("_test") if file.is_test else name
