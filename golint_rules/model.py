"""The data that flows between the engine, the rules and the reporters.

A rule yields :class:`Finding` values; the engine fills in everything a reporter
needs (repository-relative path, UTF-16 columns, source line, fingerprint), so
reporters never re-read files and never decide what is a finding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """Ordered severities; ``--fail-on`` compares against this order."""

    NOTE = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {text!r}: use one of error, warning, note"
            ) from None

    @property
    def label(self) -> str:
        return self.name.lower()


SEVERITY_NAMES = ("error", "warning", "note")


@dataclass(slots=True)
class Finding:
    """One reported problem.

    Lines are 1-based. ``column``/``end_column`` count Unicode code points
    (1-based, end exclusive); ``column_utf16``/``end_column_utf16`` count UTF-16
    code units as SARIF's ``columnKind: utf16CodeUnits`` requires.
    ``path`` is relative to the scan root with forward slashes.
    """

    code: str
    slug: str
    severity: str
    message: str
    path: str
    line: int
    column: int = 1
    end_line: int = 0
    end_column: int = 0
    column_utf16: int = 1
    end_column_utf16: int = 0
    source_line: str = ""
    fingerprint: str = ""
    fix: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["fix"]:
            data.pop("fix")
        if not data["extra"]:
            data.pop("extra")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Finding":
        return cls(**data)


@dataclass(slots=True)
class RuleInfo:
    """What the policy pack (``rules/v2.3.toml``) declares about a rule."""

    code: str
    slug: str
    severity: str
    summary: str
    messages: dict[str, str]
    options: dict[str, Any]
    enabled: bool = True
    doc: str = ""
    tags: tuple[str, ...] = ()
    custom: bool = False
    #: SARIF/GitHub precision: very-high, high, medium, low
    precision: str = "high"
