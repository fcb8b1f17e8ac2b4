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
import re
from dataclasses import dataclass, field
from collections.abc import Iterator, Mapping, Set as AbstractSet
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


_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") | frozenset(range(0x80, 0x100))
_NOT_BEFORE = _WORD | frozenset(b'."/')
_NOT_AFTER = _WORD | frozenset(b".:")  # "x.name", "name.X", "http://", labels
_SPACE = frozenset(b" \t\r\n")


def _words(data: bytes, name: bytes, not_before: frozenset[int], not_after: frozenset[int]):
    """Offsets of ``name`` in ``data`` not preceded by a byte of ``not_before`` nor
    followed by one of ``not_after`` (a whole word in the sense asked)."""
    find, n, size = data.find, len(name), len(data)
    i = find(name)
    while i >= 0:
        if (i == 0 or data[i - 1] not in not_before) and (i + n >= size or data[i + n] not in not_after):
            yield i
        i = find(name, i + 1)


def _skip_back(data: bytes, j: int, spaces: bytes | frozenset[int]) -> int:
    """From offset ``j`` backwards, skip ``spaces`` and ``/* */`` comments; the offset of the
    last byte before them (-1 at the start of the data)."""
    while j >= 0:
        while j >= 0 and data[j] in spaces:
            j -= 1
        if j >= 1 and data[j - 1] == 0x2A and data[j] == 0x2F:  # "*/": skip the comment
            k = data.rfind(b"/*", 0, j - 1)
            if k < 0:
                break
            j = k - 1
            continue
        break
    return j


def can_name(data: bytes, name: bytes) -> bool:
    """Could ``data`` declare ``name``? Some occurrence is a whole word that is not
    used as a selector, an import path or a qualifier (``x.name``, ``"a/name"``, ``name.X``).
    A sound prefilter: every declaration of ``name`` is such an occurrence."""
    return next(_words(data, name, _NOT_BEFORE, _NOT_AFTER), None) is not None


def can_declare_func(data: bytes, name: bytes) -> bool:
    """Could ``data`` declare the package function ``name``: ``func name`` (spaces,
    newlines and ``/* */`` comments allowed between), ``name`` a whole word."""
    for i in _words(data, name, frozenset(), _WORD):
        j = _skip_back(data, i - 1, _SPACE)
        if j >= 3 and j < i - 1 and data[j - 3 : j + 1] == b"func" and (j < 4 or data[j - 4] not in _WORD):
            return True
    return False


def _token_before(data: bytes, i: int) -> tuple[bytes, int]:
    """The token that ends right before offset ``i`` on the same line, skipping spaces, tabs
    and ``/* */`` comments: ``b"\\n"`` at a line start, else the last character, or a keyword;
    and where that token starts."""
    j = _skip_back(data, i - 1, b" \t")
    if j < 0 or data[j] in b"\r\n":
        return b"\n", j
    if data[j] in _WORD:
        k = j
        while k >= 0 and data[k] in _WORD:
            k -= 1
        return data[k + 1 : j + 1], k + 1
    return data[j : j + 1], j


def _declared_after(data: bytes, name: bytes, before: frozenset[bytes]) -> bool:
    for i in _words(data, name, _NOT_BEFORE, _NOT_AFTER):
        tok, at = _token_before(data, i)
        if tok in before and (tok != b"(" or _token_before(data, at)[0] == b"type"):
            return True
    return False


_TYPE_BEFORE = frozenset({b"type", b"\n", b"(", b";"})  # "(" only as in "type ("
_METHOD_BEFORE = frozenset({b")"})


def can_declare_type(data: bytes, name: bytes) -> bool:
    """Could ``data`` hold ``type name`` or a ``name`` spec of a ``type (...)`` group (a
    whole word after ``type``, at a line start, after ``type (`` or after ``;``)?"""
    return _declared_after(data, name, _TYPE_BEFORE)


def can_declare_method(data: bytes, name: bytes) -> bool:
    """Could ``data`` declare a method ``name``: ``func (r T) name(`` (after the receiver's ``)``)?"""
    return _declared_after(data, name, _METHOD_BEFORE)


@dataclass(slots=True)
class _FileDecls:
    """The declarations of one file (the package view parses a file only when asked)."""

    funcs: dict[str, FuncDecl]
    methods: dict[tuple[str, str], FuncDecl]
    types: set[str]
    decls: list[FuncDecl]  # every function and method declaration, in document order
    starts: list[int]
    by_start: dict[int, FuncDecl]


class _Funcs(Mapping[str, FuncDecl]):
    """``Package.funcs``: a name is looked up in the files that can declare it."""

    def __init__(self, pkg: "Package") -> None:
        self._pkg = pkg

    def __getitem__(self, name: str) -> FuncDecl:
        hit = self._pkg._find(("func", name), can_declare_func, name, lambda d: d.funcs.get(name))
        if hit is None:
            raise KeyError(name)
        return hit

    def __iter__(self) -> Iterator[str]:
        return iter(self._pkg._full()[0])

    def __len__(self) -> int:
        return len(self._pkg._full()[0])


class _Methods(Mapping[tuple[str, str], FuncDecl]):
    """``Package.methods``: ``(receiver type, name)`` looked up in the files naming the method."""

    def __init__(self, pkg: "Package") -> None:
        self._pkg = pkg

    def __getitem__(self, key: tuple[str, str]) -> FuncDecl:
        recv, name = key
        hit = self._pkg._find(("method", recv, name), can_declare_method, name, lambda d: d.methods.get(key))
        if hit is None:
            raise KeyError(key)
        return hit

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pkg._full()[1])

    def __len__(self) -> int:
        return len(self._pkg._full()[1])


class _TypeNames(AbstractSet[str]):
    """``Package.type_names``: every ``type`` spec of the package, looked up lazily."""

    def __init__(self, pkg: "Package") -> None:
        self._pkg = pkg

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return self._pkg._find(
            ("type", name), can_declare_type, name, lambda d: name if name in d.types else None
        ) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._pkg._full()[2])

    def __len__(self) -> int:
        return len(self._pkg._full()[2])


@dataclass
class Package:
    """The files of one directory that belong to the same Go package.

    Lazy by design: a question about one name (``funcs.get("load")``, ``"API" in
    type_names``, ``methods_named("get")``) parses only the files whose bytes can
    declare that name (a word ``load`` not used as a selector or path; for functions
    ``func load``). Iterating ``funcs``/``methods``/``type_names`` indexes every file.
    First declaration wins, in file order, as the compiler would report the others.
    """

    directory: str
    name: str
    files: list[SourceFile] = field(default_factory=list)

    @cached_property
    def funcs(self) -> Mapping[str, FuncDecl]:
        """Package-level functions by name."""
        return _Funcs(self)

    @cached_property
    def methods(self) -> Mapping[tuple[str, str], FuncDecl]:
        """Methods by (receiver type name, method name)."""
        return _Methods(self)

    @cached_property
    def type_names(self) -> AbstractSet[str]:
        """Names of the package's type specs (package level and local)."""
        return _TypeNames(self)

    # -- lazy per-file index ------------------------------------------------
    def decls(self, file: SourceFile) -> _FileDecls:
        """The declarations of one file, indexed once (parses the file)."""
        memo = self.memo.setdefault("package.decls", {})
        assert isinstance(memo, dict)
        got = memo.get(id(file))
        if got is None:
            funcs: dict[str, FuncDecl] = {}
            methods: dict[tuple[str, str], FuncDecl] = {}
            decls: list[FuncDecl] = []
            for _, m in parsing.matches(FUNCS_QUERY, file.root):
                name = file.text(m["name"][0])
                if "func" in m:
                    d = FuncDecl(name, None, file, m["func"][0])
                    funcs.setdefault(name, d)
                else:
                    d = FuncDecl(name, file.text(m["recv"][0]), file, m["method"][0])
                    methods.setdefault((d.receiver, name), d)  # type: ignore[arg-type]
                decls.append(d)
            decls.sort(key=lambda d: d.node.start_byte)
            types = {file.text(n) for n in parsing.captures("(type_spec name: (type_identifier) @t)", file.root).get("t", [])}
            got = memo[id(file)] = _FileDecls(
                funcs, methods, types, decls, [d.node.start_byte for d in decls], {d.node.start_byte: d for d in decls}
            )
        return got

    def files_naming(self, name: str, test=None) -> list[SourceFile]:
        """The files whose bytes can declare ``name`` (:func:`can_name`, or ``test``), in order."""
        test = test or can_name
        memo = self.memo.setdefault("package.naming", {})
        assert isinstance(memo, dict)
        key = (test, name)
        got = memo.get(key)
        if got is None:
            raw = name.encode()
            got = memo[key] = [f for f in self.files if test(f.data, raw)]
        return got

    def _find(self, key: tuple, pattern, name: str, pick):
        memo = self.memo.setdefault("package.find", {})
        assert isinstance(memo, dict)
        if key in memo:
            return memo[key]
        hit = None
        for f in self.files_naming(name, pattern):
            hit = pick(self.decls(f))
            if hit is not None:
                break
        memo[key] = hit
        return hit

    def _full(self) -> tuple[dict[str, FuncDecl], dict[tuple[str, str], FuncDecl], set[str]]:
        full = self.memo.get("package.full")
        if full is None:
            funcs: dict[str, FuncDecl] = {}
            methods: dict[tuple[str, str], FuncDecl] = {}
            types: set[str] = set()
            for f in self.files:
                d = self.decls(f)
                for k, v in d.funcs.items():
                    funcs.setdefault(k, v)
                for mk, mv in d.methods.items():
                    methods.setdefault(mk, mv)
                types |= d.types
            full = self.memo["package.full"] = (funcs, methods, types)
        return full  # type: ignore[return-value]

    def methods_named(self, name: str) -> list[FuncDecl]:
        """Every method called ``name`` (one per receiver type), in file order."""
        out: dict[tuple[str, str], FuncDecl] = {}
        for f in self.files_naming(name, can_declare_method):
            for (recv, m), d in self.decls(f).methods.items():
                if m == name:
                    out.setdefault((recv, m), d)
        return list(out.values())

    def methods_of(self, type_name: str) -> list[FuncDecl]:
        """Every method declared on ``type_name`` (its receiver names it), in file order."""
        out: dict[tuple[str, str], FuncDecl] = {}
        for f in self.files_naming(type_name):
            for (recv, m), d in self.decls(f).methods.items():
                if recv == type_name:
                    out.setdefault((recv, m), d)
        return list(out.values())

    def lookup(self, key: str) -> FuncDecl | None:
        """A function (``name``) or method (``Type.name``) of the package."""
        if "." in key:
            recv, _, name = key.partition(".")
            return self.methods.get((recv, name))
        return self.funcs.get(key)

    def decls_in(self, file: SourceFile) -> list[FuncDecl]:
        """The function and method declarations of one file, in document order."""
        return self.decls(file).decls

    def enclosing_decl(self, file: SourceFile, node: ts.Node) -> FuncDecl | None:
        """The function or method declaration of ``file`` whose text holds ``node``."""
        d = self.decls(file)
        i = bisect.bisect_right(d.starts, node.start_byte) - 1
        if i < 0 or node.end_byte > d.decls[i].node.end_byte:
            return None  # outside any declaration (a package-level var)
        return d.decls[i]

    # -- calls by name ------------------------------------------------------
    @cached_property
    def calls(self) -> dict[str, list[Call]]:
        """Caller key -> the calls it makes by name to functions of this package.

        Counted: ``helper(...)`` where ``helper`` is a package function not
        shadowed by a local, and ``recv.m(...)`` where ``recv`` is the enclosing
        method's receiver and its type has method ``m``. Calls inside function
        literals count for the declaration that contains them. (Indexes every file;
        checks ask :meth:`callee` about one call instead.)
        """
        out: dict[str, list[Call]] = {}
        for f in self.files:
            for _, m in parsing.matches(CALLS_QUERY, f.root):
                call = m["call"][0]
                callee = self.callee(f, call)
                if callee is not None:
                    caller = self.enclosing_decl(f, call)
                    assert caller is not None
                    out.setdefault(caller.key, []).append(Call(caller.key, callee.key, f, call))
        return out

    def callee(self, file: SourceFile, call: ts.Node) -> FuncDecl | None:
        """The package function a ``call_expression`` calls by name, or None.

        ``helper(...)`` (a package function not shadowed by a local) or ``recv.m(...)``
        where ``recv`` is the enclosing method's own receiver and its type has ``m``;
        only calls inside a function or method declaration.
        """
        from .source import lookup as lookup_decl

        fn = call.child_by_field_name("function")
        if fn is None:
            return None
        if fn.type == "identifier":
            name = file.text(fn)
            decl = self.funcs.get(name)
            if decl is None or self.enclosing_decl(file, call) is None:
                return None
            return decl if lookup_decl(file, fn, name) is None else None
        if fn.type != "selector_expression":
            return None
        operand, field_ = fn.child_by_field_name("operand"), fn.child_by_field_name("field")
        if operand is None or field_ is None or operand.type != "identifier" or field_.type != "field_identifier":
            return None
        name = file.text(field_)
        if not self.methods_named(name):
            return None
        caller = self.enclosing_decl(file, call)
        if caller is None:
            return None
        rname = caller.receiver_name
        if rname is None or file.text(operand) != rname:
            return None
        decl = lookup_decl(file, operand, rname)
        if decl is None or decl.parent is None or decl.parent.type != "parameter_list" or (
            decl.parent != caller.node.child_by_field_name("receiver")
        ):
            return None  # a local shadows the receiver
        return self.methods.get((caller.receiver, name))  # type: ignore[arg-type]

    # -- route registrations ------------------------------------------------
    def route_files(self) -> list[SourceFile]:
        """The files with a call ``x.GET(`` / ``r.HandleFunc(`` / ``http.HandlerFunc(``...
        (bytes only): no other file registers a route."""
        from .handlers import ROUTE_CALL_RE

        got = self.memo.get("package.route_files")
        if got is None:
            got = self.memo["package.route_files"] = [f for f in self.files if self.file_matches(f, ROUTE_CALL_RE)]
        return got  # type: ignore[return-value]

    @cached_property
    def registered(self) -> dict[str, list[Registration]]:
        """Handler key -> where it is passed by name to a route registration (parses the
        package's route files, once)."""
        from .handlers import registrations

        out: dict[str, list[Registration]] = {}
        for f in self.route_files():
            for reg in registrations(self, f):
                out.setdefault(reg.callee, []).append(reg)
        return out

    def is_registered(self, key: str) -> bool:
        """Is the function or method ``key`` passed by name to a route registration?"""
        return key in self.registered

    def release(self) -> None:
        """Drop every index and memo (they hold trees and point back here)."""
        for name in ("funcs", "methods", "type_names", "registered", "calls", "memo"):
            self.__dict__.pop(name, None)

    def callable_from(self, file: SourceFile) -> list[SourceFile]:
        """The files whose functions ``file`` can call: all of them from a ``_test.go``
        file, the non-test files otherwise (a build without tests does not see them)."""
        return self.files if file.is_test else [f for f in self.files if not f.is_test or f is file]

    def any_file_contains(self, files: list[SourceFile], tokens: tuple[bytes, ...]) -> bool:
        """Byte prefilter over several files of the package (no parsing)."""
        return any(tok in f.data for f in files for tok in tokens)

    def file_matches(self, file: SourceFile, pattern: "re.Pattern[bytes]") -> bool:
        """``pattern.search(file.data)``, once per file and pattern (package prefilters ask often)."""
        memo = self.memo.setdefault("package.file_matches", {})
        assert isinstance(memo, dict)
        key = (id(file), pattern)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = pattern.search(file.data) is not None
        return hit

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
