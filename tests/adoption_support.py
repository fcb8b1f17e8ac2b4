"""Helpers for the adoption tests: throwaway git repositories and in-process CLI runs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

from golint_rules import cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.environ.get("HOME", "/tmp"),
}


def git(repo: Path, *args: str, check: bool = True) -> str:
    env = dict(os.environ, **GIT_ENV)
    env.pop("GIT_DIR", None)
    env.pop("GIT_INDEX_FILE", None)
    p = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                       cwd=repo, env=env, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {p.stderr}")
    return p.stdout


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return p


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    return root


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def gorules(cwd: Path, *args: str) -> Run:
    """Run the gorules CLI in-process in ``cwd``."""
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:  # argparse usage errors
                code = int(exc.code or 0)
    finally:
        os.chdir(old)
    return Run(code, out.getvalue(), err.getvalue())


def found(run: Run) -> set[tuple[str, int, str]]:
    """(path, line, code) of a --format json run."""
    return {(f["path"], f["line"], f["code"]) for f in run.json()["findings"]}


GO_MOD = """
module example.com/shop

go 1.23
"""

# A GR001 violation: a goroutine started inside a deferred function literal.
DEFER_GO = """
func {name}() {{
	defer func() {{
		go flush()
	}}()
}}
"""


def defer_go(name: str) -> str:
    return DEFER_GO.format(name=name)


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    n = 0
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            n += 1
            if n == occurrence:
                return i
    raise AssertionError(f"{needle!r} not in {path}")
