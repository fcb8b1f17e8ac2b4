"""The shape of a check, after golang.org/x/tools/go/analysis.

An :class:`Analyzer` is a small value: a code and slug, a ``doc`` whose first
line is the summary, the byte tokens a file must contain for the check to be
able to fire (the prefilter), the shared analyses it ``requires`` (computed
once per file and shared), and a ``run`` function that receives a
:class:`Pass` and reports through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

import tree_sitter as ts

if TYPE_CHECKING:  # pragma: no cover
    from .gomod import ModFile
    from .module import Module
    from .package import Package
    from .source import SourceFile


@dataclass(frozen=True)
class SharedAnalysis:
    """A per-file analysis several checks read (e.g. the function-scope facts)."""

    name: str
    run: Callable[["SourceFile"], Any]


@dataclass(frozen=True)
class Analyzer:
    code: str
    slug: str
    doc: str
    run: Callable[["Pass"], None]
    #: "go" checks run on .go files, "gomod" checks on go.mod / go.work files.
    kind: Literal["go", "gomod"] = "go"
    #: The file is analysed only if it contains at least one of these byte strings
    #: (empty: always). The fast path of go/analysis' ``lostcancel``: no import, no work.
    needs: tuple[bytes, ...] = ()
    #: More prefilter groups, all of which must hold as well: the file contains at least
    #: one token of each group (``needs=(b'"net/http"',), needs_also=((b"Transport", b"Clone"),)``:
    #: imports net/http *and* names a transport).
    needs_also: tuple[tuple[bytes, ...], ...] = ()
    #: A package-level prefilter, before the file is parsed: ``gate(file, package, options)``
    #: reads the bytes of the package's files (``Package.files``) and, where that is cheaper
    #: than analysing every file, a few of their trees (GR008: the route registrations).
    package_gate: "Callable[[SourceFile, Package, dict[str, Any]], bool] | None" = None
    #: tree-sitter-go node kinds (``defer_statement``) at least one of which the file must
    #: contain for the check to fire (empty: no such gate). Both engines apply the same gate:
    #: python with a query on the parsed tree, rust with ast-grep before parsing (backends/).
    candidates: tuple[str, ...] = ()
    requires: tuple[SharedAnalysis, ...] = ()
    #: Message keys the check reports with; each is a template in the policy pack.
    messages: tuple[str, ...] = ()
    #: Run on generated files too (module-level checks read every import).
    include_generated: bool = False

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0]

    def can_fire(self, data: bytes) -> bool:
        if self.needs and not any(tok in data for tok in self.needs):
            return False
        return all(any(tok in data for tok in group) for group in self.needs_also)


@dataclass(slots=True)
class RawFinding:
    """A check's report before the engine adds policy and presentation."""

    code: str
    key: str
    start_byte: int
    end_byte: int
    line: int  # 1-based, used when there is no byte range (start_byte < 0)
    args: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # explicit message (custom rules, GR000)
    fix: dict[str, Any] | None = None
    #: A lower severity for this finding than the rule's (e.g. GR004's struct-field
    #: warning); the engine never raises a finding above the rule's configured severity.
    severity: str | None = None


class Pass:
    """What one check sees of one file."""

    def __init__(
        self,
        analyzer: Analyzer,
        options: dict[str, Any],
        *,
        file: "SourceFile | None" = None,
        modfile: "ModFile | None" = None,
        package_loader: Callable[[], "Package"] | None = None,
        module_loader: Callable[[], "Module | None"] | None = None,
        results: dict[str, Any] | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.options = options
        self.file = file
        self.modfile = modfile
        self._package_loader = package_loader
        self._module_loader = module_loader
        self.results = results or {}
        self.findings: list[RawFinding] = []

    @property
    def package(self) -> "Package":
        if self._package_loader is None:
            raise RuntimeError(f"{self.analyzer.code}: no package view for this pass")
        return self._package_loader()

    @property
    def module(self) -> "Module | None":
        return self._module_loader() if self._module_loader else None

    def report(
        self,
        at: ts.Node | int | tuple[int, int],
        key: str,
        *,
        message: str | None = None,
        fix: dict[str, Any] | None = None,
        severity: str | None = None,
        **args: Any,
    ) -> None:
        """Report at a node, a 1-based line, or a (start_byte, end_byte) range."""
        if isinstance(at, ts.Node):
            start, end, line = at.start_byte, at.end_byte, at.start_point[0] + 1
        elif isinstance(at, tuple):
            start, end, line = at[0], at[1], 0
        else:
            start, end, line = -1, -1, int(at)
        self.findings.append(
            RawFinding(self.analyzer.code, key, start, end, line, args, message, fix, severity)
        )


def iter_lines(doc: str) -> Iterable[str]:
    return doc.strip().splitlines()
