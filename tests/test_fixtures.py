"""Every fixture file's findings equal its `// want` markers, exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixture_harness import FIXTURES, ROOT, diff, expected_for, is_fixture, run_fixtures

FILES = sorted(p for p in FIXTURES.rglob("*") if is_fixture(p))


@pytest.fixture(scope="module")
def outcome():
    return run_fixtures()


def test_there_are_fixtures():
    assert len(FILES) >= 5
    assert sum(sum(expected_for(f).values()) for f in FILES) > 0


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(FIXTURES)) for p in FILES])
def test_fixture(path: Path, outcome):
    got = outcome.findings.get(path.resolve(), {})
    from collections import Counter

    problem = diff(path, expected_for(path), Counter(got), outcome.messages)
    assert not problem, "\n" + problem


def test_harness_fails_when_a_marker_is_removed_or_added(tmp_path):
    """The harness is not a test that cannot fail: edit a copy and watch it object."""
    src = FIXTURES / "defer_go"
    work = tmp_path / "defer_go"
    shutil.copytree(src, work)
    target = work / "flush.go"
    text = target.read_text()
    assert "// want GR001" in text
    removed = text.replace("// want GR001", "", 1)
    target.write_text(removed)
    out = run_fixtures(tmp_path)
    got = out.findings.get(target.resolve())
    assert diff(target, expected_for(target), got).count("extra") == 1
    # an extra marker on a clean line is a missing finding
    target.write_text(text.replace("func flushSync(events []string) {", "func flushSync(events []string) { // want GR001", 1))
    out = run_fixtures(tmp_path)
    assert "missing GR001" in diff(target, expected_for(target), out.findings.get(target.resolve()))
