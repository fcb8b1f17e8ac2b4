"""The Rust path: ``ast-grep scan`` finds the candidate node kinds of many files at once.

ast-grep (PyPI ``ast-grep-cli``, a Rust binary built on tree-sitter-go) parses
the files on all cores, outside the Python interpreter, and prints one JSON
object per match. One inline rule per candidate kind; the rule id is the kind.
Nothing from the scanned tree is executed: the files are only parsed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable

from . import BackendError

ARG_BYTES = 100_000  # paths per ast-grep invocation (stays far below ARG_MAX)


def find_binary() -> str | None:
    """``ast-grep`` next to this Python (the venv's ``bin``), else on PATH."""
    here = Path(sys.executable).parent
    for name in ("ast-grep", "sg"):
        cand = here / name
        if cand.is_file() and os.access(cand, os.X_OK) and _is_astgrep(str(cand)):
            return str(cand)
    found = shutil.which("ast-grep")
    return found if found and _is_astgrep(found) else None


def _is_astgrep(path: str) -> bool:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.startswith("ast-grep")


def binary() -> str:
    path = find_binary()
    if path is None:
        raise BackendError(
            "--engine rust needs the ast-grep binary: pip install ast-grep-cli "
            "(or pip install 'gorules[bench]'), or use --engine python"
        )
    return path


def inline_rules(kinds: Iterable[str]) -> str:
    return "\n---\n".join(f"id: {k}\nlanguage: go\nseverity: info\nrule:\n  kind: {k}" for k in kinds)


def candidates(files: list[Path], kinds: tuple[str, ...], jobs: int | None = None) -> dict[str, frozenset[str]]:
    """File path -> the candidate kinds it contains (files with none are absent)."""
    found: dict[str, set[str]] = {}
    if not files or not kinds:
        return {}
    exe = binary()
    rules = inline_rules(kinds)
    base = [exe, "scan", "--inline-rules", rules, "--json=stream", "--color", "never",
            "--no-ignore", "hidden", "--no-ignore", "vcs", "--no-ignore", "dot",
            "--no-ignore", "exclude", "--no-ignore", "global", "--no-ignore", "parent"]
    if jobs:
        base += ["--threads", str(jobs)]
    chunk: list[str] = []
    size = 0
    chunks: list[list[str]] = []
    for f in files:
        s = str(f)
        chunk.append(s)
        size += len(s) + 1
        if size >= ARG_BYTES:
            chunks.append(chunk)
            chunk, size = [], 0
    if chunk:
        chunks.append(chunk)
    for ch in chunks:
        proc = subprocess.Popen(base + ["--"] + ch, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            found.setdefault(m["file"], set()).add(m["ruleId"])
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if proc.wait() not in (0, 1):
            raise BackendError(f"ast-grep failed ({proc.returncode}): {err.strip()[:500]}")
    return {os.path.abspath(k): frozenset(v) for k, v in found.items()}
