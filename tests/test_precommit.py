"""The pre-commit hook, installed for real with the `pre-commit` package. SLOW (about 20-60 s).

This is what `pre-commit try-repo <this checkout> gorules` does, made to last for
several commits: the checkout is snapshotted the way try-repo snapshots it (a
clone of HEAD plus the uncommitted changes; unlike try-repo, untracked files that
.gitignore does not hide are included too, so that the snapshot is the code on
disk even while new modules are not committed yet), a throwaway Go
repository points its .pre-commit-config.yaml at the snapshot, `pre-commit install`
puts the git hook in place, and real `git commit`s run it. pre-commit builds the
hook's Python environment with pip (the package registry is the only network
access; pip's own configuration, e.g. a local mirror, applies). If pip cannot
reach any registry the test is skipped with pip's message, not passed.

One environment is installed (in a temporary PRE_COMMIT_HOME) and reused by
every commit; the whole test is bounded by TIMEOUT.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from adoption_support import GIT_ENV, git, init_repo, write

CHECKOUT = Path(__file__).resolve().parent.parent
TIMEOUT = 900  # seconds, for the whole test (the first commit installs the hook environment)

NETWORK = re.compile(r"(NewConnectionError|Temporary failure in name resolution|Network is unreachable|"
                     r"No matching distribution found|Could not find a version that satisfies)")

GOOD_MAIN = """
package main

import (
	"fmt"

	"github.com/google/uuid"
)

func main() {
	fmt.Println(uuid.NewString())
}
"""

BAD_WORKER = """
package worker

func flush() {}

// Close flushes in the background after returning: GR001.
func Close() {
	defer func() {
		go flush()
	}()
}
"""

GOOD_WORKER = """
package worker

func flush() {}

// Close flushes before returning.
func Close() {
	defer flush()
}
"""


def snapshot_checkout(dest: Path) -> tuple[str, str]:
    """(repo, rev) of a snapshot of this checkout's work tree, as `pre-commit try-repo` makes it."""
    head = git(CHECKOUT, "rev-parse", "HEAD").strip()
    subprocess.run(["git", "clone", "-q", str(CHECKOUT), str(dest)], check=True, capture_output=True)
    git(dest, "checkout", "-q", head, "-b", "_pc_tmp")
    dirty = git(CHECKOUT, "status", "--porcelain").strip() != ""
    if dirty:  # like try-repo: the uncommitted changes go into the snapshot's index (here untracked files too)
        env = dict(os.environ, **GIT_ENV,
                   GIT_INDEX_FILE=str(dest / ".git" / "index"), GIT_OBJECT_DIRECTORY=str(dest / ".git" / "objects"))
        subprocess.run(["git", "add", "-A"], cwd=CHECKOUT, env=env, check=True, capture_output=True)
        git(dest, "commit", "-q", "--no-verify", "-m", "snapshot of the checkout with its uncommitted changes")
        git(dest, "checkout", "-q", "--", ".")
    return str(dest), git(dest, "rev-parse", "HEAD").strip()


def test_precommit_hook_blocks_a_bad_commit_and_passes_a_good_one(tmp_path):
    deadline = time.monotonic() + TIMEOUT
    repo_url, rev = snapshot_checkout(tmp_path / "gorules-snapshot")
    manifest = yaml.safe_load((Path(repo_url) / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in manifest] == ["gorules"]

    project = init_repo(tmp_path / "service")
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(
        {"repos": [{"repo": repo_url, "rev": rev, "hooks": [{"id": "gorules"}]}]}))
    write(project, "go.mod", "module example.com/service\n\ngo 1.23\n\nrequire github.com/google/uuid v1.6.0\n")
    write(project, "cmd/service/main.go", GOOD_MAIN)
    env = dict(os.environ, **GIT_ENV, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
               PRE_COMMIT_COLOR="never", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("VIRTUAL_ENV", None)
    # the hook runs through git, which finds pre-commit's hook script; make sure it can run this Python's pre-commit
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")

    def run(*args: str) -> subprocess.CompletedProcess:
        left = deadline - time.monotonic()
        assert left > 0, "the pre-commit test ran out of time"
        return subprocess.run(list(args), cwd=project, env=env, capture_output=True, text=True, timeout=left)

    def commit(message: str) -> subprocess.CompletedProcess:
        p = run("git", "-c", "commit.gpgsign=false", "commit", "-m", message)
        out = p.stdout + p.stderr
        if p.returncode != 0 and "An unexpected error has occurred" in out and NETWORK.search(
                _log(tmp_path) + out):
            pytest.skip(f"pre-commit could not install the hook environment (no package registry): {NETWORK.search(_log(tmp_path) + out).group()}")
        return p

    p = run(sys.executable, "-m", "pre_commit", "install")
    assert p.returncode == 0, p.stdout + p.stderr
    assert (project / ".git/hooks/pre-commit").exists()

    # 1. a clean module commits (the hook installs its environment here)
    git(project, "add", "-A")
    p = commit("service skeleton")
    assert p.returncode == 0, _explain(p, tmp_path)
    assert re.search(r"gorules \(Go engineering standard V2\.3\)\.+Passed", p.stdout + p.stderr), p.stdout + p.stderr

    # 2. a bad file is blocked, and the output names the rule and the place
    write(project, "internal/worker/worker.go", BAD_WORKER)
    git(project, "add", "internal/worker/worker.go")
    p = commit("worker")
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "Failed" in out and "GR001" in out and "defer-go" in out
    assert "internal/worker/worker.go:8:3: GR001" in out
    assert git(project, "rev-list", "--count", "HEAD").strip() == "1"  # nothing was committed

    # 3. the fixed file passes
    write(project, "internal/worker/worker.go", GOOD_WORKER)
    git(project, "add", "internal/worker/worker.go")
    p = commit("worker, fixed")
    assert p.returncode == 0, _explain(p, tmp_path)
    assert git(project, "rev-list", "--count", "HEAD").strip() == "2"

    # 4. only go.mod is staged: GR006 still sees the imports of the unstaged main.go (uuid is direct) ...
    gm = project / "go.mod"
    gm.write_text(gm.read_text().replace("go 1.23", "go 1.23.4"))
    git(project, "add", "go.mod")
    p = commit("go 1.23.4")
    assert p.returncode == 0, _explain(p, tmp_path)

    # ... and a require nothing imports is blocked with GR006
    gm.write_text(gm.read_text() + "\nrequire golang.org/x/sync v0.8.0\n")
    git(project, "add", "go.mod")
    p = commit("add x/sync")
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "GR006" in out and "golang.org/x/sync" in out, out
    assert "github.com/google/uuid" not in out


def _log(tmp_path: Path) -> str:
    log = tmp_path / "pre-commit-home" / "pre-commit.log"
    return log.read_text(errors="replace") if log.exists() else ""


def _explain(p: subprocess.CompletedProcess, tmp_path: Path) -> str:
    return f"exit {p.returncode}\n{p.stdout}\n{p.stderr}\n{_log(tmp_path)[-4000:]}"


# -- fast checks of what the hook passes (no pre-commit install) ----------------------------------


def test_manifest_selects_go_module_and_config_files():
    (hook,) = yaml.safe_load((CHECKOUT / ".pre-commit-hooks.yaml").read_text())
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])

    def selected(path: str) -> bool:
        return bool(files.search(path)) and not exclude.search(path)

    for path in ("main.go", "svc/api/handler_test.go", "go.mod", "tools/go.mod", "go.work", ".gorules.toml",
                 "svc/.gorules.toml"):
        assert selected(path), path
    for path in ("README.md", "go.sum", "vendor/github.com/x/y.go", "svc/testdata/bad.go", ".github/x.go",
                 "_scratch/x.go", "notgo.mod", "gorules.toml"):
        assert not selected(path), path
    assert hook["language"] == "python" and hook["require_serial"] is True
    assert hook["entry"].split()[:2] == ["gorules", "scan"]


def test_a_staged_config_file_rechecks_its_directory(tmp_path):
    from adoption_support import gorules

    repo = init_repo(tmp_path / "repo")
    write(repo, "go.mod", "module example.com/x\n\ngo 1.23\n")
    write(repo, "svc/w.go", BAD_WORKER)
    write(repo, "svc/.gorules.toml", "[rules.GR001]\nseverity = \"warning\"\n")
    run = gorules(repo, "scan", "--format", "json", "svc/.gorules.toml")
    assert [(f["path"], f["code"], f["severity"]) for f in json.loads(run.out)["findings"]] == [
        ("svc/w.go", "GR001", "warning")]


def test_a_staged_gomod_alone_is_checked_with_its_module_imports(tmp_path):
    from adoption_support import gorules

    repo = init_repo(tmp_path / "repo")
    write(repo, "go.mod", "module example.com/service\n\ngo 1.23\n\nrequire (\n\tgithub.com/google/uuid v1.6.0\n"
                          "\tgolang.org/x/sync v0.8.0\n)\n")
    write(repo, "cmd/service/main.go", GOOD_MAIN)
    run = gorules(repo, "scan", "--format", "json", "go.mod")
    assert [(f["line"], f["code"]) for f in json.loads(run.out)["findings"]] == [(7, "GR006")]
