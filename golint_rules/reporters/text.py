"""Human output: findings grouped by file, the source line with a caret, a summary.

Colour and styles come from ``rich`` when the stream is a terminal; in a pipe
(or with ``--no-color``) the same layout is printed as plain text, one
``path:line:col: CODE message`` header per finding so editors can jump to it.
"""

from __future__ import annotations

import os
from collections import Counter
from itertools import groupby
from typing import TextIO

from ..model import Finding

if False:  # pragma: no cover - typing only; rich is imported when colour or tables are drawn
    from rich.console import Console

_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}


def _display_path(result_root: str, path: str) -> str:
    full = os.path.normpath(os.path.join(result_root, path))
    try:
        rel = os.path.relpath(full)
    except ValueError:
        return full
    return rel if not rel.startswith("..") else full


def write(result, out: TextIO, *, color: bool, statistics: bool = False, quiet: bool = False) -> None:
    if not color and not statistics:
        _write_plain(result, out, quiet)  # pipes, pre-commit, CI logs: no rich import needed
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, force_terminal=color, no_color=not color, highlight=False, soft_wrap=True,
                      width=max(100, Console(file=out).width) if color else 10_000)
    findings: list[Finding] = result.findings
    root = str(result.root)
    if not quiet:
        for path, group in groupby(findings, key=lambda f: f.path):
            shown = _display_path(root, path)
            items = list(group)
            if color:
                console.print(Text(shown, style="bold underline"))
            for f in items:
                _print_finding(console, shown, f, color)
            console.print()
    if statistics:
        _print_statistics(console, result, color)
    _print_summary(console, result, color, quiet)


def _caret(f: Finding) -> tuple[str, str, int]:
    raw = f.source_line
    line = raw.expandtabs(4)
    prefix = raw[: max(f.column - 1, 0)].expandtabs(4)
    width = max(min(f.end_column, len(raw) + 1) - f.column, 1) if f.end_line == f.line else max(len(raw) - f.column + 1, 1)
    return line, " " * len(prefix) + "^" + "~" * (width - 1), width


def _summary_text(result) -> str:
    by_sev = Counter(f.severity for f in result.findings)
    n = len(result.findings)
    parts = [f"{by_sev[s]} {s}{'s' if by_sev[s] != 1 else ''}" for s in ("error", "warning", "note") if by_sev[s]]
    files_with = len({f.path for f in result.findings})
    if n:
        msg = f"Found {n} finding{'s' if n != 1 else ''} ({', '.join(parts)}) in {files_with} file{'s' if files_with != 1 else ''}"
    else:
        msg = "No findings"
    return msg + f"; scanned {result.files_scanned} files in {result.duration:.2f}s."


def _write_plain(result, out: TextIO, quiet: bool) -> None:
    root = str(result.root)
    lines: list[str] = []
    if not quiet:
        for path, group in groupby(result.findings, key=lambda f: f.path):
            shown = _display_path(root, path)
            for f in group:
                lines.append(f"{shown}:{f.line}:{f.column}: {f.code} [{f.severity}] {f.message}  ({f.slug})")
                if f.source_line:
                    src, caret, _ = _caret(f)
                    lines.append(f"{f.line:>6} | {src}")
                    lines.append(" " * 6 + " | " + caret)
            lines.append("")
    lines.append(_summary_text(result))
    lines.extend(f"warning: {p}" for p in result.problems)
    out.write("\n".join(lines) + "\n")


def _print_finding(console: "Console", shown: str, f: Finding, color: bool) -> None:
    from rich.text import Text

    header = Text()
    header.append(f"{shown}:{f.line}:{f.column}: ", style="bold" if color else "")
    header.append(f.code, style=_STYLE.get(f.severity, ""))
    header.append(f" [{f.severity}] ", style=_STYLE.get(f.severity, ""))
    header.append(f.message)
    header.append(f"  ({f.slug})", style="dim")
    console.print(header)
    if f.source_line:
        line, caret, _ = _caret(f)  # caret under the reported span, tabs expanded like the line
        console.print(Text(f"{f.line:>6} | ", style="dim") + Text(line))
        console.print(Text(" " * 6 + " | ", style="dim") + Text(caret, style=_STYLE.get(f.severity, "")))


def _print_statistics(console: "Console", result, color: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    counts: Counter[str] = Counter(f.code for f in result.findings)
    table = Table(title="Findings by rule", show_edge=color, box=None if not color else None)
    table.add_column("Code")
    table.add_column("Rule")
    table.add_column("Severity")
    table.add_column("Count", justify="right")
    for code, n in sorted(counts.items()):
        info = result.rules.get(code)
        sev = next((f.severity for f in result.findings if f.code == code), "")
        table.add_row(code, info.slug if info else "", sev, str(n))
    console.print(table)
    cached = getattr(result, "files_cached", 0)
    console.print(
        Text(
            f"{result.files_scanned} files scanned, {result.files_parsed} parsed, "
            f"{cached} from cache, {result.bytes_read / 1e6:.1f} MB read",
            style="dim" if color else "",
        )
    )


def _print_summary(console: "Console", result, color: bool, quiet: bool) -> None:
    from rich.text import Text

    by_sev = Counter(f.severity for f in result.findings)
    n = len(result.findings)
    msg = _summary_text(result)
    style = "bold red" if by_sev["error"] else ("yellow" if n else "green")
    console.print(Text(msg, style=style if color else ""))
    for problem in result.problems:
        console.print(Text(f"warning: {problem}", style="yellow" if color else ""))
