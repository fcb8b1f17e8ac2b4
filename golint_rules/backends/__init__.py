"""Parsing backends: which engine decides where a check can fire.

A check declares, in its one :class:`~golint_rules.analysis.Analyzer`
definition, the byte tokens a file must contain (``needs``) and, optionally, the
syntax node kinds at least one of which must be in the file (``candidates``,
tree-sitter-go node types such as ``defer_statement``). Both engines apply the
same two gates, so they report the same findings:

- ``python``: py-tree-sitter parses the file in the worker process and a
  tree-sitter query looks for the candidate kinds.
- ``rust``: before the workers start, ``ast-grep scan`` (Rust, multi-threaded,
  outside the GIL; PyPI ``ast-grep-cli``) parses the candidate files and reports
  which kinds each one holds; workers then parse only files where a check is
  still possible. It pays off only when candidates prune heavy checks: the
  Rust parser is not faster per byte than py-tree-sitter (both run tree-sitter's
  C parser), so on a small machine it mostly adds a second parse
  (docs/performance.md has the numbers).
- ``auto``: ``rust`` when ast-grep is installed, some active check declares
  candidates and the tree is larger than ``AUTO_RUST_BYTES``; else ``python``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis import Analyzer
    from ..discover import Discovered
    from ..engine import Engine
    from ..scheduler import Unit
    from ..source import SourceFile

ENGINES = ("python", "rust", "auto")
#: ``auto`` picks rust above this many bytes of candidate files (see docs/performance.md)
AUTO_RUST_BYTES = 1 << 62  # measured: rust never won on the 2-core machine (see docs/performance.md)


class BackendError(RuntimeError):
    pass


def candidate_kinds(analyzers: Iterable["Analyzer"]) -> tuple[str, ...]:
    kinds: set[str] = set()
    for a in analyzers:
        kinds.update(getattr(a, "candidates", ()) or ())
    return tuple(sorted(kinds))


def choose(engine: "Engine", units: list["Unit"]) -> str:
    """The engine a scan runs with (``python`` or ``rust``)."""
    want = engine.options.engine or "auto"
    if want not in ENGINES:
        raise BackendError(f"unknown engine {want!r}: use one of {', '.join(ENGINES)}")
    if want == "python":
        return "python"
    kinds = candidate_kinds(engine.go_analyzers)
    if want == "rust":
        from . import astgrep

        astgrep.binary()  # a clear error now if ast-grep is missing
        return "rust" if kinds else "python"  # nothing to prune: the paths are the same
    if not kinds:
        return "python"
    size = sum(u.size for u in units if u.kind == "pkg")
    if size < AUTO_RUST_BYTES:
        return "python"
    from . import astgrep

    return "rust" if astgrep.find_binary() else "python"


def prepare(engine: "Engine", disc: "Discovered", units: list["Unit"]) -> str:
    """Run the Rust candidate search if that engine is chosen; returns the engine used."""
    engine._candidates = None
    choice = choose(engine, units)
    if choice == "rust":
        from . import astgrep

        files = [f for u in units if u.kind == "pkg" for f in u.files]
        engine._candidates = astgrep.candidates(files, candidate_kinds(engine.go_analyzers), engine.options.jobs)
    engine._backend = choice
    return choice


#: Statements that start with a keyword: found from the keyword's byte offsets (a node look-up
#: each, in C) instead of a query over the whole tree.
_KEYWORD_KINDS = {"defer_statement": b"defer", "go_statement": b"go"}


def _kinds_in(src: "SourceFile", kinds: tuple[str, ...]) -> set[str]:
    from .. import parsing

    have: set[str] = set()
    rest = []
    root = src.root
    for kind in kinds:
        kw = _KEYWORD_KINDS.get(kind)
        if kw is None:
            rest.append(kind)
            continue
        i = src.data.find(kw)
        while i >= 0:
            node = root.descendant_for_byte_range(i, i + len(kw))
            if node is not None and node.type == kw.decode() and node.parent is not None and node.parent.type == kind:
                have.add(kind)
                break
            i = src.data.find(kw, i + 1)
    if rest:
        q = "[" + " ".join(f"({k})" for k in rest) + "] @c"
        have.update(n.type for n in parsing.captures(q, root).get("c", []))
    return have


def gate(engine: "Engine", runnable: list["Analyzer"], src: "SourceFile") -> list["Analyzer"]:
    """Drop the checks whose candidate kinds are absent from the file (same rule in both engines)."""
    if not any(getattr(a, "candidates", ()) for a in runnable):
        return runnable
    found = engine._candidates
    if found is not None:  # rust: decided by ast-grep before the workers started
        have = found.get(str(src.path), frozenset())
    else:  # python: parse here (the tree is kept for the checks) and look for the kinds
        have = _kinds_in(src, candidate_kinds(runnable))
    return [a for a in runnable if not getattr(a, "candidates", ()) or any(k in have for k in a.candidates)]
