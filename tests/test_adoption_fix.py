"""--fix / --diff for GR006 // indirect markers: re-scan the fixed tree, bytes kept, stale files left alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from adoption_support import commit_all, found, git, gorules, init_repo, write
from golint_rules.config import load_config
from golint_rules.engine import ScanOptions, scan
from golint_rules.fixes import split_lines
from golint_rules.fixes import run as run_fixes

GO_MOD = (
    "module example.com/shop\n"
    "\n"
    "go 1.23\n"
    "\n"
    "// dependencies, reviewed 2024-05\n"
    "require (\n"
    "\tgithub.com/google/uuid v1.6.0 // indirect\n"
    "\tgolang.org/x/sync v0.8.0\n"
    "\tgolang.org/x/text v0.14.0    // keep: pinned for CVE-2022-32149\n"
    "\tgolang.org/x/net v0.20.0 // indirect; pinned\n"
    "\tgolang.org/x/mod v0.14.0 // indirect\n"
    ")\n"
    "\n"
    "require github.com/pkg/errors v0.9.1\n"
    "\n"
    "exclude golang.org/x/net v0.19.0   //   odd   spacing stays\n"
)

FIXED_LINES = {
    7: "\tgithub.com/google/uuid v1.6.0",
    8: "\tgolang.org/x/sync v0.8.0 // indirect",
    9: "\tgolang.org/x/text v0.14.0 // indirect; keep: pinned for CVE-2022-32149",
    10: "\tgolang.org/x/net v0.20.0 // pinned",
    14: "require github.com/pkg/errors v0.9.1 // indirect",
}

MAIN = """
package main

import (
	"fmt"

	"github.com/google/uuid"
	"golang.org/x/net/http2"
)

func main() {
	fmt.Println(uuid.NewString(), http2.ClientPreface)
}
"""


def make_module(root: Path, gomod: bytes) -> Path:
    repo = init_repo(root)
    (repo / "go.mod").write_bytes(gomod)
    write(repo, "cmd/shop/main.go", MAIN)
    commit_all(repo, "module")
    return repo


@pytest.mark.parametrize("variant", ["lf", "crlf", "no-final-newline"])
def test_fix_then_rescan_finding_gone_nothing_new_bytes_kept(tmp_path, variant):
    data = GO_MOD.encode()
    if variant == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif variant == "no-final-newline":
        data = data.replace(b"\nrequire github.com/pkg/errors v0.9.1\n\nexclude golang.org/x/net v0.19.0   //   odd   spacing stays\n",
                            b"\nexclude golang.org/x/net v0.19.0   //   odd   spacing stays\n\nrequire github.com/pkg/errors v0.9.1")
    repo = make_module(tmp_path / "repo", data)
    before = gorules(repo, "scan", "--format", "json", ".")
    gr006 = {(p, ln) for p, ln, c in found(before) if c == "GR006"}
    assert len(gr006) == 5, before.out
    others = {x for x in found(before) if x[2] != "GR006"}

    run = gorules(repo, "scan", "--fix", ".")
    assert "fixed 5 findings in go.mod" in run.err, run.err
    assert "GR006" not in run.out
    after = gorules(repo, "scan", "--format", "json", ".")
    assert not any(c == "GR006" for _, _, c in found(after)), after.out
    assert found(after) == others  # nothing new

    new = (repo / "go.mod").read_bytes()
    old_lines, new_lines = split_lines(data), split_lines(new)
    assert len(old_lines) == len(new_lines)
    changed = {i + 1 for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b}
    assert changed == {ln for _, ln in gr006}
    for i, (a, b) in enumerate(zip(old_lines, new_lines), 1):
        assert a[1] == b[1], f"line {i}: terminator changed"  # LF/CRLF/none kept everywhere
        if i not in changed:
            assert a == b
    if variant != "no-final-newline":
        assert {i: new_lines[i - 1][0].decode() for i in changed} == FIXED_LINES
    else:
        assert new.endswith(b"require github.com/pkg/errors v0.9.1 // indirect")


def test_diff_is_what_fix_writes_and_git_apply_accepts_it(tmp_path):
    repo = make_module(tmp_path / "repo", GO_MOD.encode())
    run = gorules(repo, "scan", "--diff", ".")
    assert run.code == 1
    assert run.out.startswith("--- a/go.mod\n+++ b/go.mod\n@@ ")
    assert "+\tgolang.org/x/sync v0.8.0 // indirect\n" in run.out
    assert (repo / "go.mod").read_text() == GO_MOD  # --diff writes nothing
    patch = tmp_path / "fix.diff"
    patch.write_text(run.out)
    git(repo, "apply", str(patch))
    applied = (repo / "go.mod").read_bytes()
    git(repo, "checkout", "--", "go.mod")
    gorules(repo, "scan", "--fix", ".")
    assert (repo / "go.mod").read_bytes() == applied
    # nothing left to fix: empty diff, exit 0
    again = gorules(repo, "scan", "--diff", ".")
    assert again.code == 0 and again.out == ""


def test_sarif_offers_the_same_fixes(tmp_path):
    repo = make_module(tmp_path / "repo", GO_MOD.encode())
    log = json.loads(gorules(repo, "scan", "--format", "sarif", ".").out)
    fixes = {}
    for r in log["runs"][0]["results"]:
        if r["ruleId"] == "GR006":
            (change,) = r["fixes"][0]["artifactChanges"]
            (rep,) = change["replacements"]
            assert change["artifactLocation"]["uri"] == "go.mod"
            assert rep["deletedRegion"]["startLine"] == rep["deletedRegion"]["endLine"]
            fixes[rep["deletedRegion"]["startLine"]] = rep["insertedContent"]["text"]
    assert fixes == FIXED_LINES


def test_a_file_changed_since_it_was_read_is_not_touched(tmp_path):
    repo = make_module(tmp_path / "repo", GO_MOD.encode())
    result = scan([repo], load_config(search_from=repo), ScanOptions(hash_files=True))
    assert sum(f.code == "GR006" for f in result.findings) == 5
    edited = GO_MOD.replace("golang.org/x/mod v0.14.0", "golang.org/x/mod v0.15.0")
    (repo / "go.mod").write_text(edited)  # someone saves the file while gorules runs
    report = run_fixes(result, write=True)
    assert report.fixed == [] and report.files == []
    assert report.skipped == [("go.mod", "changed on disk since gorules read it; not touched (scan again to fix it)")]
    assert (repo / "go.mod").read_text() == edited
    assert sum(f.code == "GR006" for f in result.findings) == 5  # still reported


def test_fix_keeps_file_mode_and_needs_recorded_hashes(tmp_path):
    repo = make_module(tmp_path / "repo", GO_MOD.encode())
    (repo / "go.mod").chmod(0o640)
    result = scan([repo], load_config(search_from=repo), ScanOptions())  # no hashes recorded
    report = run_fixes(result, write=True)
    assert report.fixed == [] and "did not record" in report.skipped[0][1]
    assert (repo / "go.mod").read_text() == GO_MOD
    gorules(repo, "scan", "--fix", ".")
    assert (repo / "go.mod").stat().st_mode & 0o777 == 0o640
    assert not list(repo.glob(".go.mod.*"))  # no temporary file left behind


def test_fix_with_new_from_rev_fixes_only_new_findings(tmp_path):
    repo = make_module(tmp_path / "repo", GO_MOD.encode())
    gm = repo / "go.mod"
    gm.write_text(GO_MOD + "\nrequire golang.org/x/term v0.16.0\n")
    run = gorules(repo, "scan", "--fix", "--new-from-rev", "HEAD", ".")
    assert "fixed 1 finding in go.mod" in run.err
    assert gm.read_text() == GO_MOD + "\nrequire golang.org/x/term v0.16.0 // indirect\n"


def test_a_gomod_outside_the_scan_root_gets_no_fix_and_reports_still_render(tmp_path):
    write(tmp_path, "a/a.go", "package a\n")
    write(tmp_path, "b/go.mod", "module example.com/b\n\ngo 1.23\n\nrequire golang.org/x/sync v0.8.0\n")
    run = gorules(tmp_path / "a", "scan", "--format", "sarif", ".", "../b")
    assert run.code == 1, run.err
    (res,) = [r for r in json.loads(run.out)["runs"][0]["results"] if r["ruleId"] == "GR006"]
    # the scan root is the common ancestor of the scanned paths: b/go.mod is inside it
    loc = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert loc == "b/go.mod" and "fixes" in res
    # a go.mod named explicitly outside a git work tree's root still renders, without a fix
    subprocess.run(["git", "init", "-q", str(tmp_path / "a")], check=True)
    run = gorules(tmp_path / "a", "scan", "--format", "sarif", ".", "../b")
    assert run.code == 1, run.err
    (res,) = [r for r in json.loads(run.out)["runs"][0]["results"] if r["ruleId"] == "GR006"]
    assert "b/go.mod" in res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert "fixes" not in res
