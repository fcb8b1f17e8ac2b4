"""Fingerprints for machine reports.

Two kinds live here:

* :func:`report_fingerprints` — gorules' own identity of a finding, shared by
  the JSON, SARIF (``partialFingerprints["gorules/v1"]``) and GitLab Code Quality
  reports. It is the engine's line-number-free ``Finding.fingerprint`` (rule,
  file, normalised source of the line and its neighbours, occurrence index),
  made unique within one report: a fingerprint that repeats (hand-built results,
  or findings the engine emitted before it could read the file) is
  disambiguated deterministically, in report order.

* :func:`line_hashes` — a port of GitHub ``codeql-action``'s
  ``primaryLocationLineHash`` (``src/fingerprints.ts``, function ``hash``):
  a rolling polynomial hash (base 37, signed 64-bit wrap-around, window of 100
  UTF-16 code units) over the file with spaces and tabs dropped and CR / CRLF
  turned into LF, taken at the first character of each line; ``<hex>:<k>``
  where ``k`` counts earlier lines of the file with the same hash. Sending the
  value the Action would compute keeps alerts matched across uploads whether
  the SARIF goes through ``upload-sarif`` or the REST API.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from ..model import Finding

# -- gorules' own fingerprint ------------------------------------------------

FINGERPRINT_KEY = "gorules/v1"


def _fallback(f: Finding) -> str:
    """For a finding without an engine fingerprint: rule, file, normalised source line."""
    src = re.sub(r"\s+", "", f.source_line or "")
    base = "\0".join(["gorules/v1", f.code, f.slug, f.path, src])
    return hashlib.sha256(base.encode("utf-8")).hexdigest()[:32]


def report_fingerprints(findings: Sequence[Finding]) -> list[str]:
    """One unique, line-number-free fingerprint per finding, in the findings' order.

    The first finding that carries a value keeps it unchanged; the n-th repeat
    (n >= 2) becomes ``sha256(value + ":" + n)[:32]``, so the result depends only
    on the findings and their order (the engine sorts them), never on line numbers.
    """
    out: list[str] = []
    taken: set[str] = set()
    seen: Counter[str] = Counter()
    for f in findings:
        fp = f.fingerprint or _fallback(f)
        seen[fp] += 1
        cand = fp
        n = seen[fp]
        while cand in taken:
            cand = hashlib.sha256(f"{fp}:{n}".encode()).hexdigest()[:32]
            n += 1
        taken.add(cand)
        out.append(cand)
    return out


# -- GitHub's primaryLocationLineHash ------------------------------------------

_TAB = 0x09
_SPACE = 0x20
_LF = 0x0A
_CR = 0x0D
_EOF = 65535
_BLOCK = 100
_MASK = (1 << 64) - 1
_MOD = 37
_FIRST_MOD = pow(_MOD, _BLOCK, 1 << 64)  # 37**100 wrapped to 64 bits


def line_hashes(text: str, wanted: Iterable[int] | None = None) -> dict[int, str]:
    """``{line: "hash:k"}`` for the 1-based lines of ``text`` (all lines, or ``wanted``).

    A faithful port of ``hash()`` in codeql-action ``src/fingerprints.ts``:
    the same state machine over UTF-16 code units (spaces and tabs skipped, an
    LF right after a CR skipped, a CR counted as LF), the same sentinel 65535
    at end of file followed by 100 zeros. JavaScript ``Long`` arithmetic wraps
    at 64 bits in two's complement; working modulo 2**64 gives the same bits,
    and ``toUnsigned().toString(16)`` is the plain lower-case hex of them.
    With ``wanted`` the walk stops once the last wanted line's hash is known
    (the counter ``k`` only depends on earlier lines).
    """
    want = set(wanted) if wanted is not None else None
    stop_after = max(want) if want else None
    if want is not None and not want:
        return {}
    units = array("H")
    units.frombytes(text.encode("utf-16-le"))
    out: dict[int, str] = {}

    window = [0] * _BLOCK
    line_numbers = [-1] * _BLOCK
    h = 0
    index = 0
    line_number = 0
    line_start = True
    prev_cr = False
    counts: dict[str, int] = {}
    done = False

    def output() -> None:
        nonlocal done
        value = format(h, "x")
        counts[value] = counts.get(value, 0) + 1
        ln = line_numbers[index]
        if want is None or ln in want:
            out[ln] = f"{value}:{counts[value]}"
        if stop_after is not None and ln >= stop_after:
            done = True
        line_numbers[index] = -1

    def update(current: int) -> None:
        nonlocal h, index
        begin = window[index]
        window[index] = current
        h = (_MOD * h + current - _FIRST_MOD * begin) & _MASK
        index = (index + 1) % _BLOCK

    def process(current: int) -> None:
        nonlocal prev_cr, line_start, line_number
        if current == _SPACE or current == _TAB or (prev_cr and current == _LF):
            prev_cr = False
            return
        if current == _CR:
            current = _LF
            prev_cr = True
        else:
            prev_cr = False
        if line_numbers[index] != -1:
            output()
        if line_start:
            line_start = False
            line_number += 1
            line_numbers[index] = line_number
        if current == _LF:
            line_start = True
        update(current)

    for u in units:
        process(u)
        if done:
            return out
    process(_EOF)
    for _ in range(_BLOCK):
        if done:
            break
        if line_numbers[index] != -1:
            output()
        update(0)
    return out


def read_source_text(path: Path) -> str | None:
    """The file as the Action reads it (UTF-8, invalid bytes replaced), or None if unreadable."""
    try:
        if not path.is_file():
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data.decode("utf-8", "replace")


def file_line_hashes(path: Path, lines: Iterable[int]) -> dict[int, str]:
    """Line hashes of ``lines`` in the file at ``path``; ``{}`` if it cannot be read."""
    text = read_source_text(path)
    if text is None:
        return {}
    return line_hashes(text, lines)
