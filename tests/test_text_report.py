"""The human report: the same layout in colour (rich) and plain (pipes, pre-commit)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from golint_rules import config, engine
from golint_rules.reporters import text

BAD = "package p\n\nfunc F() {\n\tdefer func() {\n\t\tgo g() // é\n\t}()\n}\n\nfunc g() {}\n"


def _result(tmp_path: Path):
    (tmp_path / "a.go").write_text(BAD)
    return engine.scan([tmp_path], config.load_config())


def test_plain_layout(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    text.write(_result(tmp_path), out, color=False)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("a.go:5:3: GR001 [error] goroutine started inside a deferred function")
    assert lines[0].endswith("(defer-go)")
    assert lines[1] == "     5 |         go g() // é"
    assert lines[2] == "       |         ^~"
    assert lines[-1].startswith("Found 1 finding (1 error) in 1 file; scanned 1 files in ")


def test_colour_layout_has_the_same_text(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = _result(tmp_path)
    plain, coloured = io.StringIO(), io.StringIO()
    text.write(res, plain, color=False)
    text.write(res, coloured, color=True, statistics=True)
    stripped = re.sub(r"\x1b\[[0-9;]*m", "", coloured.getvalue())
    assert "\x1b[" in coloured.getvalue()
    for line in plain.getvalue().splitlines()[:3]:
        assert line in stripped
    assert "Findings by rule" in stripped and "GR001" in stripped
