"""gorules baseline / scan --baseline: counts of baselined and fixed entries, stability when lines move."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adoption_support import found, gorules, init_repo, line_of, write

LEGACY = """
package orders

import "time"

func flush() {}

func Save() {
	defer func() {
		go flush()
	}()
}

func Load() {
	defer func() {
		go flush()
	}()
}

func Wait() { time.Sleep(time.Second) }
"""


@pytest.fixture()
def legacy(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "repo")
    write(repo, "go.mod", "module example.com/shop\n\ngo 1.23\n\nreplace example.com/lib => ../lib\n")
    write(repo, "orders/orders.go", LEGACY)
    write(repo, "billing/billing.go", "package billing\n\nfunc flush() {}\n\nfunc Bill() {\n\tdefer func() {\n\t\tgo flush()\n\t}()\n}\n")
    return repo


def _entries(path: Path) -> list[dict]:
    return json.loads(path.read_text())["findings"]


def test_record_then_scan_reports_nothing_and_counts_baselined(legacy):
    rec = gorules(legacy, "baseline", ".", "-o", ".gorules-baseline.json")
    assert rec.code == 0, rec.err
    assert "recorded 4 findings in .gorules-baseline.json (GR001 3, GR005 1)" in rec.err
    entries = _entries(legacy / ".gorules-baseline.json")
    assert len(entries) == 4 and all("line" not in e for e in entries)
    run = gorules(legacy, "scan", "--baseline", ".gorules-baseline.json", ".")
    assert run.code == 0, run.out + run.err
    assert "No findings" in run.out
    assert "4 findings in the baseline .gorules-baseline.json not shown" in run.err
    assert "fixed" not in run.err


def test_lines_that_move_stay_baselined_and_new_findings_show(legacy):
    gorules(legacy, "baseline", ".", "-o", "base.json")
    orders = legacy / "orders/orders.go"
    # twenty lines of new code above the old findings move them all down; one new violation below
    text = orders.read_text().replace("func flush() {}\n", "func flush() {}\n" + "\n// filler\n" * 10, 1)
    text += "\nfunc Extra() {\n\tdefer func() {\n\t\tgo flush() // new\n\t}()\n}\n"
    orders.write_text(text)
    run = gorules(legacy, "scan", "--format", "json", "--baseline", "base.json", ".")
    assert run.code == 1
    assert found(run) == {("orders/orders.go", line_of(orders, "// new"), "GR001")}
    assert "4 findings in the baseline base.json not shown" in run.err
    assert "fixed" not in run.err
    # re-recording after the move gives the same file: no churn from line numbers
    before = (legacy / "base.json").read_text()
    orders.write_text(text.replace("\nfunc Extra() {\n\tdefer func() {\n\t\tgo flush() // new\n\t}()\n}\n", ""))
    gorules(legacy, "baseline", ".", "-o", "again.json")
    assert (legacy / "again.json").read_text() == before


def test_fixed_entries_are_counted_and_shrink_drops_them(legacy):
    gorules(legacy, "baseline", ".", "-o", "base.json")
    orders = legacy / "orders/orders.go"
    orders.write_text(orders.read_text().replace("func Load() {\n\tdefer func() {\n\t\tgo flush()\n\t}()\n}\n",
                                                 "func Load() {\n\tdefer flush()\n}\n"))
    gm = legacy / "go.mod"
    gm.write_text("module example.com/shop\n\ngo 1.23\n")
    run = gorules(legacy, "scan", "--baseline", "base.json", ".")
    assert run.code == 0
    assert "2 findings in the baseline base.json not shown; 2 baseline entries are fixed" in run.err
    assert "gorules baseline --shrink -o base.json ." in run.err
    shrink = gorules(legacy, "baseline", "--shrink", "-o", "base.json", ".")
    assert shrink.code == 0, shrink.err
    assert "dropped 2 fixed entries, 2 remain" in shrink.err
    assert len(_entries(legacy / "base.json")) == 2
    run = gorules(legacy, "scan", "--baseline", "base.json", ".")
    assert "2 findings in the baseline base.json not shown" in run.err and "fixed" not in run.err


def test_shrink_never_adds_new_findings(legacy):
    gorules(legacy, "baseline", ".", "-o", "base.json")
    write(legacy, "jobs/jobs.go", "package jobs\n\nfunc flush() {}\n\nfunc J() {\n\tdefer func() {\n\t\tgo flush()\n\t}()\n}\n")
    shrink = gorules(legacy, "baseline", "--shrink", "-o", "base.json", ".")
    assert "dropped 0 fixed entries, 4 remain; 1 finding not in the baseline were not added" in shrink.err
    run = gorules(legacy, "scan", "--format", "json", "--baseline", "base.json", ".")
    assert {p for p, _, _ in found(run)} == {"jobs/jobs.go"}


def test_identical_lines_are_told_apart_by_occurrence(legacy):
    billing = legacy / "billing/billing.go"
    block = "\nfunc Bill{n}() {{\n\tdefer func() {{\n\t\tgo flush()\n\t}}()\n}}\n"
    billing.write_text(billing.read_text() + block.format(n=2))
    gorules(legacy, "baseline", ".", "-o", "base.json")
    # a third copy of the same code: exactly one new finding
    billing.write_text(billing.read_text() + block.format(n=3))
    run = gorules(legacy, "scan", "--format", "json", "--baseline", "base.json", ".")
    assert len(run.json()["findings"]) == 1


def test_entries_outside_the_scan_are_not_called_fixed(legacy):
    gorules(legacy, "baseline", ".", "-o", "base.json")
    run = gorules(legacy, "scan", "--baseline", "base.json", "billing")
    assert "1 finding in the baseline base.json not shown" in run.err and "fixed" not in run.err
    run = gorules(legacy, "scan", "--select", "GR005", "--baseline", "base.json", ".")
    assert "1 finding in the baseline base.json not shown" in run.err and "fixed" not in run.err


def test_baseline_with_new_from_rev_and_machine_output(legacy):
    gorules(legacy, "baseline", ".", "-o", "base.json")
    run = gorules(legacy, "scan", "--format", "sarif", "--baseline", "base.json", ".")
    assert json.loads(run.out)["runs"][0]["results"] == []


@pytest.mark.parametrize("content,needle", [
    (None, "no such file; record one with `gorules baseline . -o"),
    ("{not json", "base.json:1: not valid JSON"),
    ('{"findings": []}', "is not a gorules baseline"),
    ('{"gorules-baseline": 7, "findings": []}', "has baseline format 7"),
    ('{"gorules-baseline": 1, "findings": [{"code": "GR001"}]}', "findings[0] needs string fields"),
])
def test_bad_baseline_files(legacy, content, needle):
    if content is not None:
        (legacy / "base.json").write_text(content)
    run = gorules(legacy, "scan", "--baseline", "base.json", ".")
    assert run.code == 2 and needle in run.err and "Traceback" not in run.err
