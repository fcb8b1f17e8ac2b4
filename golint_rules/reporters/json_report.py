"""gorules' own JSON report, format version 1.

Stable, documented (docs/output-formats.md) and described by :data:`SCHEMA`
(JSON Schema 2020-12), which the tests validate every report against. A
consumer checks ``version``: fields may be added within a version, never
removed or changed in meaning; a breaking change bumps it. The output is
deterministic for a given tree and policy (no timings, keys in a fixed order).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..model import SEVERITY_NAMES, Finding
from .fingerprints import report_fingerprints
from .sarif import check_fix

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Pack
    from ..engine import ScanResult

FORMAT_VERSION = 1


def _finding(f: Finding, fingerprint: str) -> dict[str, Any]:
    d: dict[str, Any] = {
        "code": f.code,
        "slug": f.slug,
        "severity": f.severity,
        "message": f.message,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "end_line": f.end_line or f.line,
        "end_column": f.end_column or f.column + 1,
        "column_utf16": f.column_utf16,
        "end_column_utf16": f.end_column_utf16 or f.column_utf16 + 1,
        "source_line": f.source_line,
        "fingerprint": fingerprint,
    }
    if f.fix:
        d["fix"] = f.fix
    if f.extra:
        d["extra"] = f.extra
    return d


def build(result: "ScanResult", *, tool_version: str, pack: "Pack | None" = None) -> dict[str, Any]:
    if pack is None:
        from ..config import load_pack

        pack = load_pack()
    findings = list(result.findings)
    for f in findings:
        check_fix(f)
    sev = Counter(f.severity for f in findings)
    by_rule = Counter(f.code for f in findings)
    fps = report_fingerprints(findings)
    return {
        "version": FORMAT_VERSION,
        "tool": {
            "name": "gorules",
            "version": tool_version,
            "pack": {"name": pack.name, "version": pack.version, "docs": pack.docs},
        },
        "root": str(result.root),
        "summary": {
            "findings": len(findings),
            "by_severity": {s: sev.get(s, 0) for s in SEVERITY_NAMES},
            "by_rule": {c: by_rule[c] for c in sorted(by_rule)},
            "files_scanned": result.files_scanned,
            "internal_errors": result.internal_errors,
            "problems": list(result.problems),
        },
        "rules": {
            code: {
                "slug": info.slug,
                "severity": info.severity,
                "enabled": info.enabled,
                "summary": info.summary,
                "tags": list(info.tags),
                "options": info.options,
                "custom": info.custom,
            }
            for code, info in sorted(result.rules.items())
        },
        "findings": [_finding(f, fp) for f, fp in zip(findings, fps)],
    }


def render(result: "ScanResult", *, tool_version: str, pack: "Pack | None" = None) -> str:
    """The report as JSON text (no trailing newline). ``pack``: the scan's ``Config.pack``."""
    return json.dumps(build(result, tool_version=tool_version, pack=pack), indent=2, ensure_ascii=False, default=str)


_POS = {"type": "integer", "minimum": 1}
_SEV = {"enum": list(SEVERITY_NAMES)}

#: JSON Schema (2020-12) of format version 1; docs/output-formats.md is its prose.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gorules JSON report, version 1",
    "type": "object",
    "required": ["version", "tool", "root", "summary", "rules", "findings"],
    "properties": {
        "version": {"const": 1},
        "tool": {
            "type": "object",
            "required": ["name", "version", "pack"],
            "properties": {
                "name": {"const": "gorules"},
                "version": {"type": "string"},
                "pack": {
                    "type": "object",
                    "required": ["name", "version", "docs"],
                    "properties": {k: {"type": "string"} for k in ("name", "version", "docs")},
                },
            },
        },
        "root": {"type": "string"},
        "summary": {
            "type": "object",
            "required": ["findings", "by_severity", "by_rule", "files_scanned",
                         "internal_errors", "problems"],
            "properties": {
                "findings": {"type": "integer", "minimum": 0},
                "by_severity": {
                    "type": "object",
                    "required": list(SEVERITY_NAMES),
                    "additionalProperties": False,
                    "properties": {s: {"type": "integer", "minimum": 0} for s in SEVERITY_NAMES},
                },
                "by_rule": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
                "files_scanned": {"type": "integer", "minimum": 0},
                "internal_errors": {"type": "integer", "minimum": 0},
                "problems": {"type": "array", "items": {"type": "string"}},
            },
        },
        "rules": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Z]+[0-9]+$"},
            "additionalProperties": {
                "type": "object",
                "required": ["slug", "severity", "enabled", "summary", "tags", "options", "custom"],
                "properties": {
                    "slug": {"type": "string"},
                    "severity": _SEV,
                    "enabled": {"type": "boolean"},
                    "summary": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "options": {"type": "object"},
                    "custom": {"type": "boolean"},
                },
            },
        },
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "slug", "severity", "message", "path", "line", "column", "end_line",
                             "end_column", "column_utf16", "end_column_utf16", "source_line", "fingerprint"],
                "properties": {
                    "code": {"type": "string"},
                    "slug": {"type": "string"},
                    "severity": _SEV,
                    "message": {"type": "string"},
                    "path": {"type": "string", "pattern": "^[^\\\\]*$"},
                    "line": _POS,
                    "column": _POS,
                    "end_line": _POS,
                    "end_column": _POS,
                    "column_utf16": _POS,
                    "end_column_utf16": _POS,
                    "source_line": {"type": "string"},
                    "fingerprint": {"type": "string", "minLength": 1},
                    "fix": {
                        "type": "object",
                        "required": ["description", "replacements"],
                        "additionalProperties": False,
                        "properties": {
                            "description": {"type": "string", "minLength": 1},
                            "replacements": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["path", "start_line", "end_line", "new_text"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "path": {"type": "string"},
                                        "start_line": _POS,
                                        "end_line": _POS,
                                        "new_text": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                    "extra": {"type": "object"},
                },
            },
        },
    },
}
