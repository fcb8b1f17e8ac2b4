"""templates/gitlab-ci.yml: its structure, its copy in docs/gitlab.md, and its jobs' scripts run for real.

The scripts run with bash the way a GitLab runner runs them (one shell, `set -eo
pipefail`, the pipeline's variables in the environment), in a clone of a real
repository with an `origin` remote and a merge-request branch. Only
`before_script` (pip install from your index) is not run: the gorules under test
is on PATH instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from adoption_support import commit_all, git, gorules, init_repo, write
from golint_rules.reporters.gitlab import entry_problems

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "templates" / "gitlab-ci.yml"
DOC = ROOT / "docs" / "gitlab.md"
MR_EVENT = '$CI_PIPELINE_SOURCE == "merge_request_event"'
RESERVED = {"stages", "variables", "default", "workflow", "include", "image", "services", "cache",
            "before_script", "after_script", "spec"}


@pytest.fixture(scope="module")
def ci() -> dict:
    return yaml.safe_load(TEMPLATE.read_text())


def jobs(ci: dict) -> dict[str, dict]:
    return {k: v for k, v in ci.items() if k not in RESERVED and not k.startswith(".")}


def resolved(ci: dict, name: str) -> dict:
    """A job with its `extends` applied (GitLab's deep merge: the job's own keys win)."""
    job = ci[name]
    parents = job.get("extends", [])
    parents = [parents] if isinstance(parents, str) else parents
    out: dict = {}
    for p in parents:
        _deep_merge(out, resolved(ci, p))
    _deep_merge(out, {k: v for k, v in job.items() if k != "extends"})
    return out


def _deep_merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_merge(dst[k], v)
        else:
            dst[k] = v


def _keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | set().union(*(_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys(v) for v in node)) if node else set()
    return set()


def _script(job: dict) -> str:
    return "\n".join(job["script"])


def test_structure(ci):
    assert "include" not in _keys(ci), "the template must work without include"
    assert ci["stages"] == ["lint", "report"]
    assert set(jobs(ci)) == {"gorules-scan", "gorules-report", "gorules-new"}
    for name in jobs(ci):
        job = resolved(ci, name)
        assert job["stage"] in ci["stages"]
        assert any(r.get("if") == MR_EVENT for r in job["rules"]), f"{name} must run in merge-request pipelines"
        assert all(isinstance(line, str) for line in job["script"] + job["before_script"])
    for extra in ci[".gorules"]["rules"]:
        assert set(extra) == {"if"}

    scan = resolved(ci, "gorules-scan")
    assert isinstance(scan["parallel"], int) and 2 <= scan["parallel"] <= 200
    shard_lines = [l for l in scan["script"] if "gorules scan" in l]
    assert len(shard_lines) == 2
    for line in shard_lines:
        assert '--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"' in line
    assert {re.search(r"--format (\w+)", l).group(1) for l in shard_lines} == {"sarif", "gitlab"}
    assert scan["artifacts"]["when"] == "always" and scan["artifacts"]["paths"] == ["gorules-shards/"]

    report = resolved(ci, "gorules-report")
    assert report["needs"] == ["gorules-scan"]
    assert ci["stages"].index(report["stage"]) > ci["stages"].index(scan["stage"])
    merges = [l for l in report["script"] if l.startswith("gorules merge ")]
    outputs = {re.search(r"-o (\S+)$", l).group(1) for l in merges}
    assert outputs == {"gorules.sarif", "gl-code-quality-report.json"}
    art = report["artifacts"]
    assert art["reports"]["codequality"] == "gl-code-quality-report.json"
    assert "gorules.sarif" in art["paths"] and art["when"] == "always"

    new = resolved(ci, "gorules-new")
    assert new["rules"] == [{"if": MR_EVENT}]
    assert new["variables"]["GIT_DEPTH"] == "0"
    assert "--new-from-merge-base" in _script(new) and "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" in _script(new)


def test_docs_include_the_template_verbatim():
    doc = DOC.read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    assert TEMPLATE.read_text() in blocks, "docs/gitlab.md must embed templates/gitlab-ci.yml unchanged"


# -- running the pipeline ------------------------------------------------------------------------


def _run_job(ci: dict, name: str, cwd: Path, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    job = resolved(ci, name)
    env = dict(os.environ)
    env.update({k: str(v) for k, v in ci.get("variables", {}).items()})
    env.update({k: str(v) for k, v in job.get("variables", {}).items()})
    env.update(CI_PROJECT_DIR=str(cwd), **env_extra)
    env["PIP_CACHE_DIR"] = str(cwd / ".cache/pip")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    script = "set -eo pipefail\n" + "\n".join(job["script"]) + "\n"
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def mr_checkout(tmp_path) -> dict:
    """origin (bare) with main = the project's fixtures; a clone on an MR branch that adds one violation."""
    seed = tmp_path / "seed"
    shutil.copytree(ROOT / "fixtures", seed)
    init_repo(seed)
    commit_all(seed, "fixtures as a legacy code base")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", f"file://{origin}", str(work)], check=True)
    git(work, "checkout", "-q", "-b", "feature/retry")
    write(work, "defer_go/retry.go",
          "package defergo\n\nfunc retryFlush() {}\n\nfunc Retry() {\n\tdefer func() {\n\t\tgo retryFlush()\n\t}()\n}\n")
    commit_all(work, "retry")
    return {"work": work}


def test_the_pipeline_runs_shards_merge_and_gate(ci, mr_checkout, tmp_path):
    work = mr_checkout["work"]
    mr = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
          "CI_DEFAULT_BRANCH": "main"}
    total = resolved(ci, "gorules-scan")["parallel"]
    for i in range(1, total + 1):
        p = _run_job(ci, "gorules-scan", work, {**mr, "CI_NODE_INDEX": str(i), "CI_NODE_TOTAL": str(total)})
        assert p.returncode == 0, f"shard {i}: {p.stdout}{p.stderr}"
    shards = sorted((work / "gorules-shards").iterdir())
    assert len(shards) == 2 * total

    p = _run_job(ci, "gorules-report", work, mr)
    assert p.returncode == 0, p.stdout + p.stderr
    # the merged reports are what one unsharded scan writes
    for fmt, name in (("sarif", "gorules.sarif"), ("gitlab", "gl-code-quality-report.json")):
        whole = gorules(work, "scan", "--format", fmt, "-o", str(tmp_path / f"whole-{fmt}"), ".")
        assert whole.code == 1
        assert (work / name).read_bytes() == (tmp_path / f"whole-{fmt}").read_bytes(), name
    cq = json.loads((work / "gl-code-quality-report.json").read_text())
    assert len(cq) > 100 and all(not entry_problems(e) for e in cq)
    assert any(e["location"]["path"] == "defer_go/retry.go" for e in cq)

    # the gate: fails, and reports only the merge request's own finding
    p = _run_job(ci, "gorules-new", work, mr)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "defer_go/retry.go:7:3: GR001" in p.stdout
    assert len(re.findall(r"^\S+:\d+:\d+: GR\d{3}", p.stdout, re.M)) == 1, p.stdout

    # once the finding is fixed, the gate passes although the old findings are still there
    (work / "defer_go/retry.go").write_text(
        "package defergo\n\nfunc retryFlush() {}\n\nfunc Retry() {\n\tdefer retryFlush()\n}\n")
    commit_all(work, "retry without a goroutine")
    p = _run_job(ci, "gorules-new", work, mr)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_scan_outside_a_parallel_job_says_what_is_missing(ci, mr_checkout):
    p = _run_job(ci, "gorules-scan", mr_checkout["work"], {"CI_NODE_INDEX": "", "CI_NODE_TOTAL": ""})
    assert p.returncode != 0 and "give the job `parallel: N`" in p.stderr


def test_merge_of_one_report_is_that_report(mr_checkout, tmp_path):
    work = mr_checkout["work"]
    gorules(work, "scan", "--format", "sarif", "-o", str(tmp_path / "one.sarif"), ".")
    gorules(tmp_path, "merge", "one.sarif", "-o", "merged.sarif")
    assert (tmp_path / "merged.sarif").read_bytes() == (tmp_path / "one.sarif").read_bytes()
