"""One Go source file as the rules see it: bytes, tree, line index and imports.

The import table resolves aliases, dot and blank imports, so a rule asks
``file.imports.names_for("net/http")`` for the local names of a package and
``file.refers_to(node, "net/http")`` whether ``http.X`` really is net/http
(not a local variable that shadows the package name).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import tree_sitter as ts

from . import parsing

GENERATED_RE = re.compile(rb"^// Code generated .* DO NOT EDIT\.\r?$", re.MULTILINE)
PACKAGE_RE = re.compile(rb"^package\s+\w+", re.MULTILINE)

IMPORTS_QUERY = """
(import_spec
  name: (_)? @name
  path: (_) @path) @spec
"""


@dataclass(slots=True, frozen=True)
class Import:
    path: str
    name: str | None  # explicit name: alias, "." or "_"; None when implicit
    line: int  # 1-based line of the spec
    start_byte: int
    end_byte: int

    @property
    def local_name(self) -> str | None:
        """The identifier this import binds in the file (None for dot/blank)."""
        if self.name in (".", "_"):
            return None
        if self.name:
            return self.name
        return default_package_name(self.path)


@lru_cache(maxsize=4096)
def default_package_name(path: str) -> str:
    """Best guess of a package's name from its import path (``gopkg.in/yaml.v3`` -> ``yaml``).

    A pure function of the path, memoised: the same few hundred paths recur in every file."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if re.fullmatch(r"v[0-9]+", last) and "/" in path:
        last = path.rstrip("/").rsplit("/", 2)[-2]
    if last.startswith("go-"):
        last = last[3:]
    for suffix in (".go", ".v1", ".v2", ".v3", ".v4", ".v5"):
        if last.endswith(suffix):
            last = last[: -len(suffix)]
    last = re.sub(r"[^0-9A-Za-z_]", "_", last)
    return last


@dataclass(slots=True)
class ImportTable:
    imports: list[Import] = field(default_factory=list)
    # Index of ``imports`` by local name and by path, rebuilt when the list changes
    # (it is filled once, by SourceFile.imports; the check keeps an append honest).
    _index_key: tuple[Import, ...] | None = field(default=None, init=False, repr=False, compare=False)
    _by_name: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _names_by_path: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _index(self) -> None:
        key = tuple(self.imports)
        if key == self._index_key:  # same imports (identity first, then fields)
            return
        by_name: dict[str, str] = {}
        by_path: dict[str, set[str]] = {}
        for i in self.imports:
            local = i.local_name
            if local:
                by_name.setdefault(local, i.path)
                by_path.setdefault(i.path, set()).add(local)
        self._by_name = by_name
        self._names_by_path = {p: frozenset(n) for p, n in by_path.items()}
        self._index_key = key

    def names_for(self, path: str) -> set[str]:
        """Local identifiers bound to import ``path`` (empty if dot/blank only)."""
        self._index()
        return set(self._names_by_path.get(path, ()))

    def has(self, path: str) -> bool:
        return any(i.path == path for i in self.imports)

    def dot_imported(self, path: str) -> bool:
        return any(i.path == path and i.name == "." for i in self.imports)

    def resolve(self, name: str) -> str | None:
        """The import path bound to local name ``name`` (the first such import), or None."""
        self._index()
        return self._by_name.get(name)


class SourceFile:
    """A Go file: read once, parsed lazily, shared by every rule."""

    def __init__(self, path: Path, relpath: str, data: bytes) -> None:
        self.path = path
        self.relpath = relpath
        self.data = data
        self._tree: ts.Tree | None = None

    def release(self) -> None:
        """Drop the tree and what points into it (the engine calls this when the file is done)."""
        self._tree = None
        self.__dict__.pop("imports", None)

    # -- basic facts -------------------------------------------------------
    @property
    def is_test(self) -> bool:
        return self.path.name.endswith("_test.go")

    @cached_property
    def is_generated(self) -> bool:
        pkg = PACKAGE_RE.search(self.data)
        head = self.data[: pkg.start()] if pkg else self.data[:4096]
        return GENERATED_RE.search(head) is not None

    @property
    def tree(self) -> ts.Tree:
        if self._tree is None:
            self._tree = parsing.parse(self.data)
        return self._tree

    @property
    def root(self) -> ts.Node:
        return self.tree.root_node

    @cached_property
    def package_name(self) -> str:
        m = re.search(rb"^package\s+(\w+)", self.data, re.MULTILINE)
        return m.group(1).decode() if m else ""

    # -- positions ---------------------------------------------------------
    @cached_property
    def line_starts(self) -> list[int]:
        starts = [0]
        find = self.data.find
        i = find(b"\n")
        while i != -1:
            starts.append(i + 1)
            i = find(b"\n", i + 1)
        return starts

    def line_of(self, offset: int) -> int:
        """1-based line of a byte offset."""
        return bisect.bisect_right(self.line_starts, offset)

    def line_bytes(self, line: int) -> bytes:
        starts = self.line_starts
        if line < 1 or line > len(starts):
            return b""
        end = starts[line] - 1 if line < len(starts) else len(self.data)
        return self.data[starts[line - 1] : end].rstrip(b"\r")

    def line_text(self, line: int) -> str:
        return self.line_bytes(line).decode("utf-8", "replace")

    def text(self, node: ts.Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    # -- imports -----------------------------------------------------------
    @cached_property
    def imports(self) -> ImportTable:
        table = ImportTable()
        root = self.root
        cursor = ts.QueryCursor(parsing.query(IMPORTS_QUERY))
        if not root.has_error:
            # Without syntax errors an import_spec only sits at depth 2 or 3 (source_file >
            # import_declaration [> import_spec_list] > import_spec): the query need not
            # visit the rest of the tree.
            cursor.set_max_start_depth(3)
        caps = cursor.matches(root)
        for _, m in caps:
            spec = m["spec"][0]
            path_node = m["path"][0]
            raw = self.text(path_node)
            path = raw.strip('"`')
            name_node = m.get("name")
            name = self.text(name_node[0]) if name_node else None
            table.imports.append(
                Import(path, name, spec.start_point[0] + 1, spec.start_byte, spec.end_byte)
            )
        return table

    # -- names -------------------------------------------------------------
    def refers_to(self, selector_operand: ts.Node, import_path: str) -> bool:
        """Is identifier node ``http`` (in ``http.X``) the package ``import_path`` here?

        False when the file does not import it under that name or when a local
        declaration visible at that point shadows the name.
        """
        if selector_operand.type != "identifier":
            return False
        name = self.text(selector_operand)
        if name not in self.imports.names_for(import_path):
            return False
        return not is_shadowed(self, selector_operand, name)

    def qualified(self, node: ts.Node) -> tuple[str, str] | None:
        """For ``pkg.Name`` (selector or qualified type) return (import path, Name)."""
        if node.type == "selector_expression":
            operand = node.child_by_field_name("operand")
            field_node = node.child_by_field_name("field")
        elif node.type == "qualified_type":
            operand = node.child_by_field_name("package")
            field_node = node.child_by_field_name("name")
        else:
            return None
        if operand is None or field_node is None:
            return None
        if operand.type not in ("identifier", "package_identifier"):
            return None
        name = self.text(operand)
        path = self.imports.resolve(name)
        if path is None:
            return None
        if operand.type == "identifier" and is_shadowed(self, operand, name):
            return None
        return path, self.text(field_node)


# ---------------------------------------------------------------------------
# Scopes: is a name declared locally at a point?

_SCOPE_TYPES = {
    "block",
    "statement_list",
    "func_literal",
    "function_declaration",
    "method_declaration",
    "if_statement",
    "for_statement",
    "expression_switch_statement",
    "type_switch_statement",
    "select_statement",
    "communication_case",
    "expression_case",
    "type_case",
    "default_case",
}


def declared_names(src: SourceFile, node: ts.Node) -> list[tuple[str, int]]:
    """Names a statement/clause/signature declares directly, with byte offsets."""
    out: list[tuple[str, int]] = []
    t = node.type
    if t in ("short_var_declaration", "range_clause"):
        left = node.child_by_field_name("left")
        if left is not None and (t == "short_var_declaration" or _has_define(node)):
            for ident in left.named_children:
                if ident.type == "identifier":
                    out.append((src.text(ident), node.end_byte))
    elif t in ("var_declaration", "const_declaration"):
        for spec in node.named_children:
            for ident in spec.children_by_field_name("name"):
                out.append((src.text(ident), spec.end_byte))
    elif t in ("parameter_list",):
        for p in node.named_children:
            for ident in p.children_by_field_name("name"):
                out.append((src.text(ident), 0))
    elif t == "type_switch_statement":
        alias = node.child_by_field_name("alias")
        if alias is not None:
            for ident in alias.named_children if alias.type == "expression_list" else [alias]:
                out.append((src.text(ident), 0))
    elif t == "receive_statement":
        left = node.child_by_field_name("left")
        if left is not None and _has_define(node):
            for ident in left.named_children:
                out.append((src.text(ident), node.end_byte))
    elif t == "function_declaration" or t == "method_declaration" or t == "func_literal":
        for fname in ("receiver", "parameters", "result"):
            plist = node.child_by_field_name(fname)
            if plist is not None and plist.type == "parameter_list":
                out.extend(declared_names(src, plist))
    return out


def _has_define(node: ts.Node) -> bool:
    return any(c.type == ":=" for c in node.children)


def lookup(src: SourceFile, ident: ts.Node, name: str) -> ts.Node | None:
    """The local (or package-level var) declaration of ``name`` visible at ``ident``.

    Returns the declaring node: a ``short_var_declaration``, ``var_spec``,
    ``const_spec``, ``parameter_declaration``, ``range_clause``,
    ``receive_statement`` or ``type_switch_statement``; None if ``name`` is not
    declared in a scope enclosing ``ident`` (it may be a package, a type, a
    function, or something declared in another file).
    """
    pos = ident.start_byte
    node = ident.parent
    while node is not None:
        t = node.type
        if t in ("function_declaration", "method_declaration", "func_literal"):
            for fname in ("receiver", "parameters", "result"):
                plist = node.child_by_field_name(fname)
                if plist is None or plist.type != "parameter_list":
                    continue
                for p in plist.named_children:
                    for n in p.children_by_field_name("name"):
                        if src.text(n) == name:
                            return p
        if t in _SCOPE_TYPES:
            found: ts.Node | None = None
            for child in node.named_children:
                if child.start_byte >= pos:
                    break
                ct = child.type
                if ct in ("short_var_declaration", "receive_statement"):
                    if child.end_byte <= pos and any(n == name for n, _ in declared_names(src, child)):
                        found = child
                elif ct in ("var_declaration", "const_declaration"):
                    if child.end_byte <= pos:
                        for spec in child.named_children:
                            if any(src.text(n) == name for n in spec.children_by_field_name("name")):
                                found = spec
                elif ct in ("for_clause", "range_clause"):
                    inner = child.child_by_field_name("initializer") if ct == "for_clause" else child
                    if inner is not None and any(n == name for n, _ in declared_names(src, inner)):
                        found = inner
            if found is not None:
                return found
            if t == "if_statement" or t == "expression_switch_statement" or t == "type_switch_statement":
                init = node.child_by_field_name("initializer")
                if init is not None and init.end_byte <= pos:
                    if any(n == name for n, _ in declared_names(src, init)):
                        return init
            if t == "type_switch_statement" and any(n == name for n, _ in declared_names(src, node)):
                return node
        if t == "source_file":
            for child in node.named_children:
                if child.type == "var_declaration":
                    for spec in child.named_children:
                        if any(src.text(n) == name for n in spec.children_by_field_name("name")):
                            return spec
            return None
        node = node.parent
    return None


def is_shadowed(src: SourceFile, ident: ts.Node, name: str) -> bool:
    """True when ``name`` is declared locally (or as a package var) where ``ident`` is used."""
    return lookup(src, ident, name) is not None
