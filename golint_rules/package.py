"""The package-level view: the files of one directory, indexed once.

A Go package is a directory; its ``_test.go`` files in an external ``x_test``
package are kept apart. Checks that look across files (GR001's same-package
helpers, GR008's handlers and helpers) read this view instead of re-parsing.
"""

from __future__ import annotations

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
