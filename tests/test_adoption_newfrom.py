"""--new-from-rev / --new-from-merge-base / --new-from-patch on real git histories made here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adoption_support import commit_all, found, git, gorules, init_repo, line_of, write
from golint_rules.gitdiff import DiffError, parse_unified_diff

HANDLER = """
package orders

func flush() {}

func Save() {
	defer func() {
		go flush() // old violation
	}()
}
"""

MOVED = """
package orders

func Audit() {
	defer func() {
		go flush() // old, in a file that is only renamed
	}()
}
"""

EDITED = """
package orders

func Sync() {
	defer func() {
		go flush() // old, in a file renamed with edits
	}()
}
"""

DOOMED = """
package orders

func Gone() {
	defer func() {
		go flush() // old, in a file that is deleted
	}()
}
"""

GO_MOD_V1 = """
module example.com/shop

go 1.23

require example.com/lib v1.4.0 // indirect

replace example.com/lib => example.com/lib-fork v1.4.1
"""


@pytest.fixture()
def history(tmp_path: Path) -> dict:
    """main: one commit with five old violations; then a second commit and a dirty work tree."""
    repo = init_repo(tmp_path / "repo")
    write(repo, "go.mod", GO_MOD_V1)
    write(repo, "orders/save.go", HANDLER)
    write(repo, "orders/audit.go", MOVED)
    write(repo, "orders/sync.go", EDITED)
    write(repo, "orders/gone.go", DOOMED)
    write(repo, "docs/notes.txt", "nothing to see\n")
    base = commit_all(repo, "legacy code")
    full_before = found(gorules(repo, "scan", "--format", "json", "."))
    assert {c for _, _, c in full_before} == {"GR001", "GR005"} and len(full_before) == 5

    # commit 2: add a violation to save.go, rename audit.go untouched, rename sync.go with an added
    # violation, delete gone.go, add a second replace to go.mod, touch a line next to the old replace
    save = repo / "orders/save.go"
    save.write_text(save.read_text() + "\nfunc Retry() {\n\tdefer func() {\n\t\tgo flush() // NEW in save.go\n\t}()\n}\n")
    git(repo, "mv", "orders/audit.go", "orders/audit_log.go")
    git(repo, "mv", "orders/sync.go", "orders/syncer.go")
    syncer = repo / "orders/syncer.go"
    syncer.write_text(syncer.read_text() + "\nfunc Resync() {\n\tdefer func() {\n\t\tgo flush() // NEW in renamed file\n\t}()\n}\n")
    git(repo, "rm", "-q", "orders/gone.go")
    write(repo, "go.mod", GO_MOD_V1.replace("v1.4.0", "v1.5.0") + "\nreplace example.com/other => ../other\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    commit_all(repo, "feature work")

    # uncommitted: a staged new file and an untracked one, each with a violation
    write(repo, "billing/charge.go", "package billing\n\nfunc flush() {}\n\nfunc Charge() {\n\tdefer func() {\n\t\tgo flush() // NEW staged\n\t}()\n}\n")
    git(repo, "add", "billing/charge.go")
    write(repo, "billing/refund.go", "package billing\n\nfunc Refund() {\n\tdefer func() {\n\t\tgo flush() // NEW untracked\n\t}()\n}\n")
    expected = {
        ("orders/save.go", line_of(save, "NEW in save.go"), "GR001"),
        ("orders/syncer.go", line_of(syncer, "NEW in renamed file"), "GR001"),
        ("billing/charge.go", line_of(repo / "billing/charge.go", "NEW staged"), "GR001"),
        ("billing/refund.go", line_of(repo / "billing/refund.go", "NEW untracked"), "GR001"),
        ("go.mod", line_of(repo / "go.mod", "example.com/other"), "GR005"),
    }
    return {"repo": repo, "base": base, "expected": expected}


def test_new_from_rev_reports_exactly_the_added_violations(history):
    repo = history["repo"]
    full = gorules(repo, "scan", "--format", "json", ".")
    assert len(found(full)) == 4 + 5  # 4 old ones left (one file was deleted) and 5 new ones
    run = gorules(repo, "scan", "--format", "json", "--new-from-rev", history["base"], ".")
    assert run.code == 1, run.err
    assert found(run) == history["expected"]
    # the old replace line did not change: not new, though the require line above it did
    assert ("go.mod", line_of(repo / "go.mod", "lib-fork"), "GR005") in found(full)
    assert "4 findings on unchanged lines of the changed packages not shown" in run.err
    assert f"since {history['base']} (5 changed Go or module files" in run.err
    # same findings, same fingerprints as the full scan: the filter only removes
    full_fps = {f["fingerprint"] for f in full.json()["findings"]}
    assert {f["fingerprint"] for f in run.json()["findings"]} <= full_fps


def test_new_from_rev_head_only_sees_the_work_tree(history):
    repo = history["repo"]
    run = gorules(repo, "scan", "--format", "json", "--new-from-rev", "HEAD", ".")
    assert {p for p, _, _ in found(run)} == {"billing/charge.go", "billing/refund.go"}


def test_clean_tree_since_head_reports_nothing_and_exits_0(history):
    repo = history["repo"]
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "wip")
    run = gorules(repo, "scan", "--new-from-rev", "HEAD", ".")
    assert run.code == 0, run.out + run.err
    assert "(0 changed Go or module files; unchanged packages were not read)" in run.err


def test_scanned_paths_limit_the_report_and_other_files_of_the_diff_are_ignored(history):
    repo = history["repo"]
    run = gorules(repo, "scan", "--format", "json", "--new-from-rev", history["base"], "billing")
    assert found(run) == {e for e in history["expected"] if e[0].startswith("billing/")}
    run = gorules(repo / "orders", "scan", "--format", "json", "--new-from-rev", history["base"], ".")
    assert found(run) == {e for e in history["expected"] if e[0].startswith("orders/")}


def test_new_from_patch_equals_new_from_rev(history, tmp_path):
    repo = history["repo"]
    git(repo, "add", "-A")  # the untracked file too, so that `git diff --cached` shows it
    patch = tmp_path / "mr.diff"
    patch.write_text(git(repo, "diff", "--cached", "-M", history["base"]))
    run = gorules(repo, "scan", "--format", "json", "--new-from-patch", str(patch), ".")
    assert run.code == 1, run.err
    assert found(run) == history["expected"]


def test_new_from_patch_reads_plain_diff_u(history, tmp_path):
    repo = history["repo"]
    old = tmp_path / "old_save.go"
    old.write_text(git(repo, "show", f"{history['base']}:orders/save.go"))
    p = subprocess.run(["diff", "-u", "--label", "orders/save.go", "--label", "orders/save.go",
                        str(old), str(repo / "orders/save.go")], capture_output=True, text=True)
    patch = tmp_path / "plain.diff"
    patch.write_text(p.stdout)
    run = gorules(repo, "scan", "--format", "json", "--new-from-patch", str(patch), ".")
    assert found(run) == {e for e in history["expected"] if e[0] == "orders/save.go"}


def test_new_from_merge_base_ignores_what_the_target_branch_added(tmp_path):
    repo = init_repo(tmp_path / "repo")
    write(repo, "go.mod", "module example.com/shop\n\ngo 1.23\n")
    write(repo, "api/api.go", "package api\n\nfunc flush() {}\n")
    commit_all(repo, "start")
    git(repo, "checkout", "-q", "-b", "feature")
    api = repo / "api/api.go"
    api.write_text(api.read_text() + "\nfunc Mine() {\n\tdefer func() {\n\t\tgo flush() // mine\n\t}()\n}\n")
    commit_all(repo, "feature adds a violation")
    git(repo, "checkout", "-q", "main")
    write(repo, "jobs/jobs.go", "package jobs\n\nfunc flush() {}\n\nfunc Theirs() {\n\tdefer func() {\n\t\tgo flush()\n\t}()\n}\n")
    commit_all(repo, "main moves on with its own violation")
    git(repo, "checkout", "-q", "feature")
    git(repo, "merge", "-q", "--no-edit", "main")  # jobs.go now in the branch, but not the branch's work
    run = gorules(repo, "scan", "--format", "json", "--new-from-merge-base", "main", ".")
    assert found(run) == {("api/api.go", line_of(api, "// mine"), "GR001")}
    # --new-from-rev main compares with main's tip: the same here, since main is merged in
    run = gorules(repo, "scan", "--format", "json", "--new-from-rev", "main", ".")
    assert found(run) == {("api/api.go", line_of(api, "// mine"), "GR001")}


def test_gomod_finding_is_new_only_when_its_directive_line_changed(tmp_path):
    repo = init_repo(tmp_path / "repo")
    write(repo, "go.mod", "module example.com/shop\n\ngo 1.23\n\nreplace (\n\texample.com/a => ../a\n)\n")
    commit_all(repo, "one replace")
    gm = repo / "go.mod"
    gm.write_text("module example.com/shop\n\n// a comment that moves everything down\n\ngo 1.23\n\nreplace (\n"
                  "\texample.com/a => ../a\n\texample.com/b => ../b\n)\n")
    run = gorules(repo, "scan", "--format", "json", "--new-from-rev", "HEAD", ".")
    assert found(run) == {("go.mod", line_of(gm, "example.com/b"), "GR005")}
    # changing the old entry's line (here its target) makes it new
    gm.write_text(gm.read_text().replace("example.com/a => ../a", "example.com/a => ../a2"))
    run = gorules(repo, "scan", "--format", "json", "--new-from-rev", "HEAD", ".")
    assert {ln for _, ln, _ in found(run)} == {line_of(gm, "example.com/a"), line_of(gm, "example.com/b")}


def test_a_go_file_that_became_binary_counts_as_new(tmp_path):
    repo = init_repo(tmp_path / "repo")
    write(repo, "go.mod", "module example.com/shop\n\ngo 1.23\n")
    write(repo, "blob.go", "package shop\n")
    commit_all(repo, "start")
    (repo / "blob.go").write_bytes(b"package shop\n\x00\x01\x02")
    run = gorules(repo, "scan", "--format", "json", "--new-from-rev", "HEAD", ".")
    assert found(run) == {("blob.go", 2, "GR000")}


# -- errors: a clear message, exit 2, never a traceback -------------------------------------------


def _assert_clean_error(run, *needles):
    assert run.code == 2, (run.code, run.out, run.err)
    assert "Traceback" not in run.err
    for n in needles:
        assert n in run.err, run.err


def test_unknown_revision(history):
    run = gorules(history["repo"], "scan", "--new-from-rev", "no-such-branch", ".")
    _assert_clean_error(run, "unknown revision 'no-such-branch'", "git fetch origin")


def test_not_a_git_work_tree(tmp_path):
    write(tmp_path, "x/go.mod", "module example.com/x\n\ngo 1.23\n")
    run = gorules(tmp_path / "x", "scan", "--new-from-rev", "HEAD", ".")
    _assert_clean_error(run, "needs a git work tree", "--new-from-patch")


def test_shallow_clone_without_the_revision_names_the_fix(history, tmp_path):
    repo = history["repo"]
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)], check=True)
    run = gorules(clone, "scan", "--new-from-rev", history["base"], ".")
    _assert_clean_error(run, "shallow", "git fetch --unshallow", "GIT_DEPTH: 0")
    run = gorules(clone, "scan", "--new-from-rev", "HEAD~1", ".")
    _assert_clean_error(run, "shallow", "git fetch --unshallow")


def test_merge_base_errors(history):
    repo = history["repo"]
    git(repo, "checkout", "-q", "--orphan", "island")
    git(repo, "commit", "-q", "-m", "unrelated")
    run = gorules(repo, "scan", "--new-from-merge-base", "main", ".")
    _assert_clean_error(run, "no common ancestor", "--new-from-rev")


def test_patch_errors(history, tmp_path):
    repo = history["repo"]
    run = gorules(repo, "scan", "--new-from-patch", str(tmp_path / "missing.diff"), ".")
    _assert_clean_error(run, "no such file", "git diff")
    junk = tmp_path / "junk.diff"
    junk.write_text("this is a commit message, not a diff\n")
    _assert_clean_error(gorules(repo, "scan", "--new-from-patch", str(junk), "."), "contains no unified diff")
    cut = tmp_path / "cut.diff"
    cut.write_text("--- a/x.go\n+++ b/x.go\n@@ -1,3 +1,4 @@\n package x\n+// added\n")
    _assert_clean_error(gorules(repo, "scan", "--new-from-patch", str(cut), "."), "truncated")


def test_only_one_new_from_option(history):
    run = gorules(history["repo"], "scan", "--new-from-rev", "HEAD", "--new-from-merge-base", "main", ".")
    _assert_clean_error(run, "cannot be combined")


# -- the diff parser -------------------------------------------------------------------------------


def test_parser_git_headers_renames_quotes_binary_and_no_newline():
    text = (
        'diff --git "a/caf\\303\\251.go" "b/caf\\303\\251.go"\n'
        "index 1..2 100644\n"
        '--- "a/caf\\303\\251.go"\n'
        '+++ "b/caf\\303\\251.go"\n'
        "@@ -1,2 +1,3 @@\n package x\n-a\n+b\n+c\n"
        "\\ No newline at end of file\n"
        "diff --git a/old.go b/new.go\nsimilarity index 100%\nrename from old.go\nrename to new.go\n"
        "diff --git a/img.bin b/img.bin\nindex 1..2 100644\nBinary files a/img.bin and b/img.bin differ\n"
        "diff --git a/dead.go b/dead.go\ndeleted file mode 100644\n--- a/dead.go\n+++ /dev/null\n@@ -1 +0,0 @@\n-package x\n"
        "diff --git a/my file.go b/my file.go\nnew file mode 100644\n--- /dev/null\n+++ b/my file.go\n@@ -0,0 +1 @@\n+package x\n"
    )
    files = parse_unified_diff(text)
    assert files["café.go"].lines == {2, 3} and files["café.go"].status == "modified"
    assert files["new.go"].status == "renamed" and files["new.go"].old_path == "old.go" and not files["new.go"].lines
    assert files["img.bin"].whole
    assert files["dead.go"].status == "deleted"
    assert files["my file.go"].whole


def test_parser_zero_context_hunks_and_crlf_patch():
    text = "--- a/x.go\r\n+++ b/x.go\r\n@@ -3 +3,2 @@\r\n-old\r\n+new\r\n+more\r\n@@ -10,0 +12 @@\r\n+tail\r\n"
    files = parse_unified_diff(text)
    assert files["x.go"].lines == {3, 4, 12}


def test_parser_rejects_bad_hunk_header():
    with pytest.raises(DiffError, match="malformed hunk header"):
        parse_unified_diff("--- a/x.go\n+++ b/x.go\n@@ bogus @@\n")
