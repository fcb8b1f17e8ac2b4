"""One review job in its own process: ``python -m golint_rules.bot.runner``.

The SQLite worker starts this for every job (spec as JSON on stdin, outcome as
one JSON line on stdout), so a job's time limit is enforced by killing a
process, a crash or a leak in one job cannot take the worker down, and the job
process dies with its worker (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time


def set_parent_death_signal() -> None:
    """Ask Linux to SIGKILL this process when the thread that started it exits."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # not Linux: the worker still kills us on timeout
        return
    parent = os.environ.get("GORULES_PARENT_PID", "")
    if parent.isdigit() and os.getppid() != int(parent):
        os._exit(3)  # the parent died before prctl took effect


def main() -> int:
    set_parent_death_signal()
    from .job import run_review
    from .queue import JobSpec, open_queue
    from .settings import Settings, SettingsError, setup_logging

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(json.dumps({"outcome": "error", "detail": str(exc)}))
        return 0
    setup_logging(settings)
    spec = JobSpec.from_json(sys.stdin.read())
    budget = float(os.environ.get("GORULES_JOB_BUDGET", settings.job_timeout))
    queue = open_queue(settings)
    outcome = run_review(spec, settings, queue, deadline=time.monotonic() + budget)
    sys.stdout.write(json.dumps(outcome.to_dict(), default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
