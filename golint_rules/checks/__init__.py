"""The checks: one module per rule, each defining ``analyzer``.

Adding a rule is one module here, one table in ``rules/v2.3.toml``, one fixture
folder under ``fixtures/`` and a doc page (the module docstring).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from ..analysis import Analyzer


@lru_cache(maxsize=1)
def all_analyzers() -> tuple[Analyzer, ...]:
    found: list[Analyzer] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("gr"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        analyzer = getattr(mod, "analyzer", None)
        if isinstance(analyzer, Analyzer):
            found.append(analyzer)
    return tuple(sorted(found, key=lambda a: a.code))


def by_code() -> dict[str, Analyzer]:
    return {a.code: a for a in all_analyzers()}


def module_doc(code: str) -> str:
    """The doc page of a rule: its module docstring."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith(code.lower() + "_"):
            mod = importlib.import_module(f"{__name__}.{info.name}")
            return mod.__doc__ or ""
    return ""
