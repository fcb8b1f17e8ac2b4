"""Parsing backend: py-tree-sitter with the tree-sitter-go grammar.

Queries are compiled once per process and cached by their source text, so a
rule can declare its query as a module constant and run it in C on every file.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import tree_sitter as ts
import tree_sitter_go as tsgo

GO_LANGUAGE = ts.Language(tsgo.language())


class QueryCompileError(ValueError):
    """A tree-sitter query that does not compile; ``offset`` is a byte offset into it."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


@lru_cache(maxsize=1)
def _parser() -> ts.Parser:
    return ts.Parser(GO_LANGUAGE)


def parse(data: bytes) -> ts.Tree:
    return _parser().parse(data)


@lru_cache(maxsize=None)
def query(source: str) -> ts.Query:
    """Compile (once) a query for the Go grammar."""
    try:
        return ts.Query(GO_LANGUAGE, source)
    except ts.QueryError as exc:  # pragma: no cover - exercised by custom rules
        raise QueryCompileError(str(exc)) from exc


def captures(q: str | ts.Query, node: ts.Node) -> dict[str, list[ts.Node]]:
    """Run ``q`` on ``node``; captures by name, each list in document order."""
    compiled = query(q) if isinstance(q, str) else q
    return ts.QueryCursor(compiled).captures(node)


def matches(q: str | ts.Query, node: ts.Node) -> list[tuple[int, dict[str, list[ts.Node]]]]:
    compiled = query(q) if isinstance(q, str) else q
    return ts.QueryCursor(compiled).matches(node)


def first_error(node: ts.Node) -> ts.Node | None:
    """The first ERROR or MISSING node in document order, or None."""
    if not node.has_error:
        return None
    cursor = node.walk()
    while True:
        current = cursor.node
        if current is not None and (current.is_error or current.is_missing):
            return current
        if current is not None and current.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return None


def error_ranges(node: ts.Node) -> list[tuple[int, int]]:
    """Byte ranges of the ERROR/MISSING regions (outermost only)."""
    out: list[tuple[int, int]] = []

    def visit(n: ts.Node) -> None:
        if n.is_error or n.is_missing:
            out.append((n.start_byte, max(n.end_byte, n.start_byte + 1)))
            return
        if n.has_error:
            for child in n.children:
                visit(child)

    visit(node)
    return out


def walk(node: ts.Node) -> Iterator[ts.Node]:
    """Pre-order walk. Prefer queries; use this only on small subtrees."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))
