"""Workers: take jobs from the queue and run reviews.

* SQLite (default): N worker threads in the bot process. Each claims a job
  (a lease renewed while it runs), runs it in a job process
  (:mod:`.runner`) and kills that process when ``GORULES_JOB_TIMEOUT`` (plus a
  grace period) is over. A job whose worker died is taken back at once by the
  next claim on the same host (its pid is gone), or after its lease elsewhere.
* Redis: RQ workers (``rq.Worker``, one per process; RQ forks a work horse per
  job and enforces the job timeout). ``--workers N`` starts N such processes
  under a small supervisor. A job abandoned by a dead worker is retried by RQ
  (``Retry``) once RQ's heartbeat for it expires.

Every job's outcome is logged as one structured line (``"msg": "job finished"``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from . import STATUS_NAME
from .metrics import observe_duration
from .queue import Job, JobSpec, QueueUnavailable, RedisQueue, SQLiteQueue, owner_id
from .render import bot_failed_description
from .settings import Settings, log_event

log = logging.getLogger("gorules.bot.worker")

KILL_GRACE = 15.0
SHUTDOWN_GRACE = 3.0


def log_outcome(spec: JobSpec, outcome: str, detail: str, duration: float, attempt: int, **fields: Any) -> None:
    log_event(
        log,
        "job finished",
        level=logging.INFO if outcome in ("success", "failed", "superseded", "canceled") else logging.ERROR,
        outcome=outcome,
        project_id=spec.project_id,
        mr_iid=spec.iid,
        sha=spec.sha,
        attempt=attempt,
        duration_s=round(duration, 3),
        detail=detail[:500],
        **fields,
    )


def report_bot_failure(settings: Settings, spec: JobSpec, reason: str, counters: Any) -> None:
    """Set the commit status to failed with a description that blames the bot."""
    from .job import make_client

    try:
        api = make_client(settings, counters, time.monotonic() + 30)
        api.max_retries = min(api.max_retries, 2)
        api.set_status(
            spec.source_project_id, spec.sha, "failed", name=STATUS_NAME, ref=spec.ref,
            target_url=spec.mr_url, description=bot_failed_description(reason),
        )
    except Exception as exc:
        log_event(log, "could not set the failed status", level=logging.WARNING, error=str(exc)[:300])


# ---------------------------------------------------------------------------
# SQLite: worker threads, one job process per job


class SQLiteWorkers:
    def __init__(self, settings: Settings, queue: SQLiteQueue, count: int) -> None:
        self.settings = settings
        self.queue = queue
        self.count = count
        self.kick = threading.Event()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.count):
            t = threading.Thread(target=self._loop, name=f"gorules-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)
        log_event(log, "workers started", workers=self.count, queue="sqlite", path=str(self.queue.path))

    def stop(self, timeout: float = SHUTDOWN_GRACE + 5.0) -> None:
        self.stopping.set()
        self.kick.set()
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, end - time.monotonic()))

    def wake(self) -> None:
        self.kick.set()

    def _loop(self) -> None:
        owner = owner_id()
        while not self.stopping.is_set():
            self.kick.clear()
            try:
                job = self.queue.claim(owner)
            except QueueUnavailable as exc:
                log_event(log, "queue unavailable", level=logging.ERROR, error=str(exc))
                self.stopping.wait(5)
                continue
            if job is None:
                self.kick.wait(self.settings.poll_interval)
                continue
            try:
                self._run(job)
            except Exception:
                log.exception("worker error while running job %s", job.id)
                try:
                    self.queue.release(job)
                except Exception:
                    pass
        self.queue.close()

    def _run(self, job: Job) -> None:
        s = self.settings
        spec = job.spec
        t0 = time.monotonic()
        if job.attempts > s.max_attempts:
            reason = f"the job process died {job.attempts - 1} times"
            report_bot_failure(s, spec, reason, self.queue)
            self.queue.finish(job, "error", reason, 0.0)
            log_outcome(spec, "error", reason, 0.0, job.attempts)
            return
        env = dict(os.environ)
        env["GORULES_PARENT_PID"] = str(os.getpid())
        env["GORULES_JOB_BUDGET"] = str(s.job_timeout)
        if s.fail_on:
            env["GORULES_FAIL_ON"] = s.fail_on
        proc = subprocess.Popen(
            [sys.executable, "-m", "golint_rules.bot.runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        hard_deadline = t0 + s.job_timeout + min(KILL_GRACE, max(1.0, s.job_timeout / 4))
        beat = max(0.2, min(s.lease_seconds / 3, 10.0))
        next_beat = time.monotonic() + beat
        data: bytes | None = spec.to_json().encode()
        out = b""
        timed_out = False
        while True:
            try:
                wait = max(0.05, min(0.25, hard_deadline - time.monotonic()))
                out, _ = proc.communicate(data, timeout=wait)
                break
            except subprocess.TimeoutExpired:
                data = None
            if self.stopping.is_set():
                try:  # a job about to finish may finish; a long one goes back to the queue
                    out, _ = proc.communicate(None, timeout=SHUTDOWN_GRACE)
                    break
                except subprocess.TimeoutExpired:
                    pass
                proc.kill()
                proc.communicate()
                self.queue.release(job)
                log_event(log, "job handed back at shutdown", job_id=job.id, sha=spec.sha)
                return
            now = time.monotonic()
            if now > hard_deadline:
                proc.kill()
                proc.communicate()
                timed_out = True
                break
            if now >= next_beat:
                next_beat = now + beat
                if not self.queue.heartbeat(job):
                    log_event(log, "lost the job's lease; stopping it", level=logging.WARNING, job_id=job.id)
                    proc.kill()
                    proc.communicate()
                    return
        duration = time.monotonic() - t0
        if timed_out:
            reason = f"the review did not finish within GORULES_JOB_TIMEOUT ({s.job_timeout:.0f}s)"
            report_bot_failure(s, spec, reason, self.queue)
            self.queue.finish(job, "error", reason, duration)
            log_outcome(spec, "error", reason, duration, job.attempts)
            return
        result = _last_json(out)
        if result is None:
            # the job process crashed (signal, OOM): run it again, up to max_attempts
            reason = f"the job process exited with code {proc.returncode} without an outcome"
            log_event(log, "job process died; the job goes back to the queue", level=logging.ERROR,
                      job_id=job.id, sha=spec.sha, returncode=proc.returncode, attempt=job.attempts)
            if job.attempts >= s.max_attempts:
                report_bot_failure(s, spec, reason, self.queue)
                self.queue.finish(job, "error", reason, duration)
                log_outcome(spec, "error", reason, duration, job.attempts)
            else:
                self.queue.requeue(job)
            return
        outcome = str(result.pop("outcome", "error"))
        detail = str(result.pop("detail", ""))
        self.queue.finish(job, outcome, detail, duration)
        log_outcome(spec, outcome, detail, duration, job.attempts, **result)


def _last_json(out: bytes) -> dict[str, Any] | None:
    for line in reversed(out.decode("utf-8", "replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "outcome" in data:
                return data
    return None


# ---------------------------------------------------------------------------
# Redis: RQ


def rq_run_job(spec_json: str) -> dict[str, Any]:
    """The RQ job function (runs in RQ's work horse)."""
    from .job import Outcome, run_review

    settings = Settings.from_env()
    q = RedisQueue(settings.queue_url, settings.job_timeout, settings.max_attempts)
    spec = JobSpec.from_json(spec_json)
    state = q.job_state(spec.key)
    attempt = int(state.get("attempts", "0") or 0) + 1
    t0 = time.monotonic()
    if state.get("state") in ("superseded", "canceled") or not q.is_current(spec):
        outcome = Outcome("superseded", "a newer head sha of the MR was queued")
        if state.get("state") == "canceled":
            outcome = Outcome("canceled", state.get("detail", "the MR was closed"))
    else:
        q.mark(spec.key, state="running", attempts=attempt, started_at=time.time())
        outcome = run_review(spec, settings, q, deadline=time.monotonic() + max(1.0, settings.job_timeout - 5))
    duration = time.monotonic() - t0
    q.mark(spec.key, state="done", outcome=outcome.outcome, detail=outcome.detail[:2000], finished_at=time.time())
    observe_duration(q, duration, outcome.outcome)
    log_outcome(spec, outcome.outcome, outcome.detail, duration, attempt, **outcome.fields)
    return outcome.to_dict()


def rq_on_failure(job: Any, connection: Any, exc_type: Any, value: Any, traceback: Any) -> None:
    """RQ calls this when the job raised, timed out or was abandoned by a dead worker."""
    try:
        settings = Settings.from_env()
        spec = JobSpec.from_json(job.args[0])
    except Exception:
        log.exception("failure callback could not read the job")
        return
    name = getattr(exc_type, "__name__", str(exc_type))
    if job.retries_left:
        log_event(log, "job failed in the worker; RQ will retry it", level=logging.WARNING,
                  sha=spec.sha, error=name, retries_left=job.retries_left)
        return
    q = RedisQueue(settings.queue_url, settings.job_timeout, settings.max_attempts)
    if name == "JobTimeoutException":
        reason = f"the review did not finish within GORULES_JOB_TIMEOUT ({settings.job_timeout:.0f}s)"
    else:
        reason = f"the job failed in the worker ({name})"
    report_bot_failure(settings, spec, reason, q)
    q.mark(spec.key, state="done", outcome="error", detail=reason, finished_at=time.time())
    q.incr("jobs_total", {"outcome": "error"})
    log_outcome(spec, "error", reason, 0.0, int(q.job_state(spec.key).get("attempts", "0") or 0))


def run_rq_worker(settings: Settings) -> int:
    from rq import Worker

    from .runner import set_parent_death_signal

    if os.environ.get("GORULES_PARENT_PID"):
        set_parent_death_signal()
    q = RedisQueue(settings.queue_url, settings.job_timeout, settings.max_attempts)
    q.ping()
    name = f"gorules-{socket.gethostname()}-{os.getpid()}"
    worker = Worker(
        [q.rq],
        connection=q.redis,
        name=name,
        job_monitoring_interval=10,
        maintenance_interval=int(os.environ.get("GORULES_RQ_MAINTENANCE_INTERVAL", "60")),
    )
    log_event(log, "worker started", queue="redis", name=name)
    worker.work(logging_level="WARNING")
    return 0


class ProcessSupervisor:
    """N ``gorules bot worker`` processes (Redis mode), restarted if they die."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.procs: list[subprocess.Popen] = []
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen:
        env = dict(os.environ)
        env["GORULES_PARENT_PID"] = str(os.getpid())
        if self.settings.fail_on:
            env["GORULES_FAIL_ON"] = self.settings.fail_on
        return subprocess.Popen(
            [sys.executable, "-m", "golint_rules.bot", "worker", "--workers", "1"], env=env, close_fds=True
        )

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.count)]
        self.thread = threading.Thread(target=self._watch, name="gorules-supervisor", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stopping.wait(1.0):
            for i, p in enumerate(self.procs):
                if p.poll() is not None and not self.stopping.is_set():
                    log_event(log, "worker process exited; starting a new one", level=logging.WARNING,
                              pid=p.pid, returncode=p.returncode)
                    time.sleep(1.0)
                    self.procs[i] = self._spawn()

    def wake(self) -> None:
        pass

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        end = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
