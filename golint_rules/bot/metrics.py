"""Prometheus text exposition (format 0.0.4) for ``GET /metrics``.

Job outcomes, job durations and GitLab API errors are counted in the queue's
store (SQLite or Redis), so ``/metrics`` on any bot machine shows the totals of
every worker, wherever the job ran. Webhook request counts are per process, as
Prometheus counters usually are.
"""

from __future__ import annotations

import math
import threading
from typing import Iterable, Mapping, Protocol

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Upper bounds (seconds) of the job duration histogram.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
OUTCOMES = ("success", "failed", "error", "superseded", "canceled")

Labels = tuple[tuple[str, str], ...]


class CounterStore(Protocol):
    def incr(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None: ...

    def counters(self) -> dict[tuple[str, Labels], float]: ...


def labels_key(labels: Mapping[str, str] | None) -> Labels:
    return tuple(sorted((str(k), str(v)) for k, v in (labels or {}).items()))


def encode_labels(labels: Labels) -> str:
    return ",".join(f"{k}={v}" for k, v in labels)


def decode_labels(text: str) -> Labels:
    if not text:
        return ()
    out = []
    for part in text.split(","):
        k, _, v = part.partition("=")
        out.append((k, v))
    return tuple(out)


def observe_duration(store: CounterStore, seconds: float, outcome: str) -> None:
    """Record one job duration in the cumulative histogram."""
    for le in DURATION_BUCKETS:
        if seconds <= le:
            store.incr("job_duration_seconds_bucket", {"le": _fmt(le)})
    store.incr("job_duration_seconds_bucket", {"le": "+Inf"})
    store.incr("job_duration_seconds_sum", None, seconds)
    store.incr("job_duration_seconds_count", None)
    store.incr("jobs_total", {"outcome": outcome})


class LocalCounters:
    """In-memory counters of one process (webhook requests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, Labels], float] = {}

    def incr(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        key = (name, labels_key(labels))
        with self._lock:
            self._data[key] = self._data.get(key, 0.0) + amount

    def counters(self) -> dict[tuple[str, Labels], float]:
        with self._lock:
            return dict(self._data)


def _fmt(v: float) -> str:
    if math.isinf(v):
        return "+Inf"
    if float(v).is_integer():
        return f"{v:.1f}"
    return repr(float(v))


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _line(name: str, labels: Labels, value: float) -> str:
    lab = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    val = _fmt(value) if not float(value).is_integer() or "sum" in name else str(int(value))
    return f"{name}{{{lab}}} {val}" if lab else f"{name} {val}"


def render(
    shared: Mapping[tuple[str, Labels], float],
    local: Mapping[tuple[str, Labels], float],
    gauges: Mapping[str, float],
    api_statuses: Iterable[str] = ("429", "5xx", "4xx", "network"),
) -> str:
    """The whole ``/metrics`` page; every series is present (zero if never seen)."""
    P = "gorules_bot_"
    out: list[str] = []

    def family(name: str, kind: str, help_: str) -> None:
        out.append(f"# HELP {P}{name} {help_}")
        out.append(f"# TYPE {P}{name} {kind}")

    family("queue_depth", "gauge", "Review jobs waiting in the queue.")
    out.append(_line(P + "queue_depth", (), gauges.get("queue_depth", 0)))
    family("jobs_running", "gauge", "Review jobs being worked on now.")
    out.append(_line(P + "jobs_running", (), gauges.get("jobs_running", 0)))

    family("jobs_total", "counter", "Finished review jobs by outcome (failed = the code failed the policy; error = the bot failed).")
    for o in OUTCOMES:
        out.append(_line(P + "jobs_total", (("outcome", o),), shared.get(("jobs_total", (("outcome", o),)), 0)))

    family("job_duration_seconds", "histogram", "Wall time of review jobs, from claim to outcome.")
    for le in (*DURATION_BUCKETS, math.inf):
        lab = (("le", _fmt(le)),)
        out.append(_line(P + "job_duration_seconds_bucket", lab, shared.get(("job_duration_seconds_bucket", lab), 0)))
    out.append(_line(P + "job_duration_seconds_sum", (), shared.get(("job_duration_seconds_sum", ()), 0.0)))
    out.append(_line(P + "job_duration_seconds_count", (), shared.get(("job_duration_seconds_count", ()), 0)))

    family("gitlab_api_errors_total", "counter", "GitLab API responses that were errors (429, 5xx, other 4xx) or network failures, retried or not.")
    seen = {dict(k[1]).get("status") for k in shared if k[0] == "gitlab_api_errors_total"}
    for status in sorted(set(api_statuses) | {s for s in seen if s}):
        lab = (("status", status),)
        out.append(_line(P + "gitlab_api_errors_total", lab, shared.get(("gitlab_api_errors_total", lab), 0)))

    family("gitlab_api_retries_total", "counter", "GitLab API calls retried after a 429, 5xx or network failure.")
    out.append(_line(P + "gitlab_api_retries_total", (), shared.get(("gitlab_api_retries_total", ()), 0)))

    family("jobs_recovered_total", "counter", "Jobs taken back from a worker that died or lost its lease.")
    out.append(_line(P + "jobs_recovered_total", (), shared.get(("jobs_recovered_total", ()), 0)))

    family("webhook_requests_total", "counter", "Webhook deliveries received by this process, by result.")
    results = ("queued", "duplicate", "ignored", "unauthorized", "bad_request", "too_large", "unavailable")
    for r in results:
        lab = (("result", r),)
        out.append(_line(P + "webhook_requests_total", lab, local.get(("webhook_requests_total", lab), 0)))
    return "\n".join(out) + "\n"
