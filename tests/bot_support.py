"""Helpers for the bot tests: the sample repository, starting processes on free ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from fake_gitlab import FakeGitLab

ROOT = Path(__file__).resolve().parent.parent
# copies of ../shared/reference/gitlab-webhooks (fictional project group/payments-api, MR !17)
WEBHOOKS = Path(__file__).resolve().parent / "data" / "gitlab-webhooks"

SECRET = "whk-3f9c2a7d1e5b"
TOKEN = "glpat-BOTTOKEN-1234567890"

BASE_SHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
OPEN_SHA = "f6010080e362a1a9389d280c506e1ba62981f15b"
UPDATE_SHA = "35fa3e71b91938d3a1b3e1f49d530a4d0109c856"

GO_MOD = """module gitlab.example.com/group/payments-api

go 1.23
"""

GO_MOD_REPLACE = GO_MOD + """
replace example.com/ledger => ./third_party/ledger
"""

SETTLE_BASE = """package settle

import (
	"context"
	"time"
)

// Settle books one batch and flushes the audit log when done.
func Settle(ctx context.Context, batch []string, flush func()) error {
	defer func() {
		go flush()
	}()
	for _, id := range batch {
		if err := book(ctx, id); err != nil {
			time.Sleep(5 * time.Second)
			return err
		}
	}
	return nil
}

func book(ctx context.Context, id string) error { return ctx.Err() }
"""

# the MR replaces the fixed sleep with Backoff (lines 16-17); the defer above stays as it was
SETTLE_MR = SETTLE_BASE.replace(
    "\t\t\ttime.Sleep(5 * time.Second)\n\t\t\treturn err\n",
    "\t\t\ttime.Sleep(Backoff(1))\n\t\t\treturn err\n",
)

BACKOFF_OPEN = """package settle

import (
	"context"
	"time"
)

// Backoff returns the wait before retry n: 250ms, 500ms, 1s ... capped at 8s.
func Backoff(n int) time.Duration {
	d := 250 * time.Millisecond << n
	if d > 8*time.Second || d <= 0 {
		return 8 * time.Second
	}
	return d
}

// Retry calls op until it succeeds or ctx is done.
func Retry(ctx context.Context, op func(context.Context) error, notify func(int)) error {
	attempt := 0
	defer func() {
		go notify(attempt)
	}()
	for {
		if err := op(ctx); err == nil {
			return nil
		}
		attempt++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(Backoff(attempt)):
		}
	}
}
"""
BACKOFF_GO_LINE = 21  # `go notify(attempt)`: GR001 on an added line

BACKOFF_UPDATE = BACKOFF_OPEN.replace(
    "\tdefer func() {\n\t\tgo notify(attempt)\n\t}()\n",
    "\tdefer func() {\n\t\tnotify(attempt)\n\t}()\n",
)

BACKOFF_TEST = """package settle

import (
	"testing"
	"time"
)

func TestBackoffCaps(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 250 * time.Millisecond, 2: time.Second, 10: 8 * time.Second} {
		if got := Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}
"""

MAIN_GO = """package main

import "fmt"

func main() { fmt.Println("payments-api") }
"""

SETTLE_GO_LINE = 11  # the pre-existing GR001 in settle.go: not an added line


def trees() -> dict[str, dict[str, str]]:
    base = {"go.mod": GO_MOD, "internal/settle/settle.go": SETTLE_BASE, "cmd/api/main.go": MAIN_GO}
    opened = {**base, "internal/settle/settle.go": SETTLE_MR, "internal/settle/backoff.go": BACKOFF_OPEN}
    updated = {
        **opened,
        "internal/settle/backoff.go": BACKOFF_UPDATE,
        "internal/settle/backoff_test.go": BACKOFF_TEST,
        "go.mod": GO_MOD_REPLACE,
    }
    return {BASE_SHA: base, OPEN_SHA: opened, UPDATE_SHA: updated}


def make_fake(**kw: Any) -> FakeGitLab:
    fake = FakeGitLab(token=TOKEN, **kw).start()
    fake.add_project(42, "group/payments-api")
    for sha, files in trees().items():
        fake.add_commit(42, sha, files)
    fake.add_mr(42, 17, BASE_SHA, OPEN_SHA, source_branch="feature/retry-backoff")
    return fake


def payload(name: str) -> bytes:
    return (WEBHOOKS / name).read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(fake: FakeGitLab | None, state_dir: Path, queue: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GORULES_")}
    env.update(
        GORULES_WEBHOOK_SECRET=SECRET,
        GORULES_GITLAB_URL=fake.url if fake else "http://127.0.0.1:9",
        GORULES_GITLAB_TOKEN=TOKEN,
        GORULES_STATE_DIR=str(state_dir),
        GORULES_POLL_INTERVAL="0.1",
        GORULES_API_BACKOFF="0.05",
        GORULES_DIFF_REFS_WAIT="10",
        GORULES_LEASE_SECONDS="30",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    if queue:
        env["GORULES_QUEUE"] = queue
    env.update(extra)
    return env


class Proc:
    """A bot process (``python -m golint_rules.bot ...``) with its stderr in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.log = log
        self.port = port
        self._fh = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "golint_rules.bot", *args],
            env=env, cwd=str(ROOT), stdout=self._fh, stderr=self._fh, start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"bot exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"bot not ready:\n{self.log.read_text()}")

    def post(self, body: bytes, token: str | None = SECRET, event: str = "Merge Request Hook",
             idem: str | None = None, **headers: str) -> httpx.Response:
        h = {"Content-Type": "application/json", "X-Gitlab-Event": event}
        if token is not None:
            h["X-Gitlab-Token"] = token
        if idem is not None:
            h["Idempotency-Key"] = idem
        h.update(headers)
        return httpx.post(self.url + "/webhook", content=body, headers=h, timeout=10)

    def kill(self) -> None:
        """SIGKILL: a crash, no clean-up."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._fh.close()

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._fh.close()
        return self.proc.returncode

    def outcomes(self, n: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The first ``n`` "job finished" log lines, waiting for them."""
        end = time.monotonic() + timeout
        while True:
            found = [l for l in self.lines() if l.get("msg") == "job finished"]
            if len(found) >= n or time.monotonic() > end:
                return found
            time.sleep(0.05)

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text("utf-8", "replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def start_bot(fake: FakeGitLab | None, state_dir: Path, log: Path, *, workers: int = 1, queue: str | None = None,
              extra_args: tuple[str, ...] = (), **env: str) -> Proc:
    port = free_port()
    p = Proc(["serve", "--port", str(port), "--workers", str(workers), *extra_args],
             bot_env(fake, state_dir, queue, **env), log, port)
    p.wait_ready()
    return p


class RedisServer:
    """A real redis-server on a free port with its data in a temp dir."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed: apt-get install redis-server (scripts/test does it)")
        self.port = free_port()
        self.dir = workdir
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        end = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port).flushall()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def metric(text: str, series: str) -> float:
    """The value of one series (``name`` or ``name{label="v"}``) in a /metrics page."""
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    raise KeyError(series)
