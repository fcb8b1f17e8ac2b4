"""The durable job queue: SQLite (default, one machine) or Redis + RQ (scale-out).

A job is one (project, MR iid, head sha). The webhook answers only after the
job is stored (SQLite: committed with ``synchronous=FULL``; Redis: written
before the reply, durable as far as the Redis server persists, see docs/bot.md).

Semantics shared by both backends:

* **dedupe**: a delivery whose ``Idempotency-Key`` was seen, or whose job key
  (project, iid, sha) is queued, running or finished, is a duplicate. A job that
  ended because the *bot* failed (outcome ``error``) or that was canceled (MR
  closed) is queued again by a redelivery: "processed once" means reviewed once.
* **supersede**: queueing a new head sha of an MR marks that MR's queued older
  jobs ``superseded``; a running older job sees it is no longer the MR's head
  (:meth:`is_current`) and stops before it posts anything.
* **restart**: a running job whose worker process died (same host, pid gone) or
  whose lease ran out is taken back and run again; the review job is idempotent
  (fingerprint markers, one summary note), so a second run posts nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .metrics import Labels, decode_labels, encode_labels, labels_key
from .settings import Settings, log_event

log = logging.getLogger("gorules.bot.queue")

DELIVERY_TTL = 7 * 24 * 3600
FINISHED_TTL = 30 * 24 * 3600


@dataclass
class JobSpec:
    """What a review needs to know; built from the webhook payload."""

    project_id: int  # target project: MR, notes, discussions, archive
    source_project_id: int  # where the commit lives: commit status
    iid: int
    sha: str
    ref: str = ""  # source branch, for the commit status
    mr_url: str = ""
    project_path: str = ""
    action: str = ""
    delivery: str = ""
    received_at: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        return f"{self.project_id}:{self.iid}:{self.sha}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes | Mapping[str, Any]) -> "JobSpec":
        data = dict(text) if isinstance(text, Mapping) else json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Job:
    id: int
    spec: JobSpec
    attempts: int
    owner: str


@dataclass
class EnqueueResult:
    result: str  # queued | requeued | duplicate
    job_key: str
    superseded: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.result in ("queued", "requeued")


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _owner_dead(owner: str | None) -> bool:
    """True when ``owner`` names a process on this host that no longer exists."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only its lease tells
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # a zombie is dead too
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state in (b"Z", b"X")
    except OSError:
        return False


def _rerunnable(state: str, outcome: str | None) -> bool:
    """A redelivery runs a job again only if the bot failed on it or the MR was closed meanwhile."""
    return state == "canceled" or (state == "done" and outcome == "error")


class QueueUnavailable(Exception):
    """The queue store cannot be reached; the webhook answers 503."""


# ---------------------------------------------------------------------------
# SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_key TEXT NOT NULL UNIQUE,
    project_id INTEGER NOT NULL,
    iid INTEGER NOT NULL,
    sha TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    detail TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
CREATE INDEX IF NOT EXISTS jobs_mr ON jobs(project_id, iid);
CREATE TABLE IF NOT EXISTS deliveries (
    idem_key TEXT PRIMARY KEY,
    job_key TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS heads (
    project_id INTEGER NOT NULL,
    iid INTEGER NOT NULL,
    sha TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (project_id, iid)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (name, labels)
);
"""


class SQLiteQueue:
    backend = "sqlite"

    def __init__(self, path: Path, lease_seconds: float = 60.0, max_attempts: int = 3) -> None:
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db().executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"cannot create the queue database {self.path}: {exc}") from exc
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
        self._last_prune = 0.0

    # -- plumbing -------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=True)
            except sqlite3.Error as exc:
                raise QueueUnavailable(f"cannot open the queue database {self.path}: {exc}") from exc
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type, exc, tb) -> None:
            if exc_type is None:
                self.db.execute("COMMIT")
            else:
                self.db.execute("ROLLBACK")

    def _tx(self) -> "SQLiteQueue._Tx":
        try:
            return SQLiteQueue._Tx(self._db())
        except sqlite3.Error as exc:
            raise QueueUnavailable(str(exc)) from exc

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- producer side --------------------------------------------------
    def enqueue(self, spec: JobSpec, delivery: str | None) -> EnqueueResult:
        now = time.time()
        key = spec.key
        try:
            with self._tx() as db:
                if delivery:
                    seen = db.execute("SELECT job_key FROM deliveries WHERE idem_key=?", (delivery,)).fetchone()
                    if seen is not None and seen["job_key"] != key:
                        return EnqueueResult("duplicate", seen["job_key"])
                    db.execute(
                        "INSERT OR REPLACE INTO deliveries(idem_key, job_key, created_at) VALUES (?,?,?)",
                        (delivery, key, now),
                    )
                row = db.execute("SELECT state, outcome FROM jobs WHERE job_key=?", (key,)).fetchone()
                if row is not None:
                    if not _rerunnable(row["state"], row["outcome"]):
                        return EnqueueResult("duplicate", key)
                    db.execute(
                        "UPDATE jobs SET state='queued', outcome=NULL, detail=NULL, attempts=0, owner=NULL, "
                        "lease_until=NULL, spec=?, created_at=?, started_at=NULL, finished_at=NULL WHERE job_key=?",
                        (spec.to_json(), now, key),
                    )
                else:
                    db.execute(
                        "INSERT INTO jobs(job_key, project_id, iid, sha, spec, state, created_at) "
                        "VALUES (?,?,?,?,?,'queued',?)",
                        (key, spec.project_id, spec.iid, spec.sha, spec.to_json(), now),
                    )
                superseded = [
                    r["job_key"]
                    for r in db.execute(
                        "SELECT job_key FROM jobs WHERE project_id=? AND iid=? AND state='queued' AND job_key<>?",
                        (spec.project_id, spec.iid, key),
                    )
                ]
                db.execute(
                    "UPDATE jobs SET state='superseded', outcome='superseded', finished_at=?, detail=? "
                    "WHERE project_id=? AND iid=? AND state='queued' AND job_key<>?",
                    (now, f"superseded by {spec.sha}", spec.project_id, spec.iid, key),
                )
                for _ in superseded:
                    self._incr(db, "jobs_total", {"outcome": "superseded"})
                db.execute(
                    "INSERT INTO heads(project_id, iid, sha, updated_at) VALUES (?,?,?,?) "
                    "ON CONFLICT(project_id, iid) DO UPDATE SET sha=excluded.sha, updated_at=excluded.updated_at",
                    (spec.project_id, spec.iid, spec.sha, now),
                )
                result = "requeued" if row is not None else "queued"
            self._maybe_prune()
            return EnqueueResult(result, key, superseded)
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"queue database error: {exc}") from exc

    def cancel_mr(self, project_id: int, iid: int, reason: str) -> list[str]:
        """The MR was closed or merged: drop its queued jobs; running ones stop at their next check."""
        now = time.time()
        with self._tx() as db:
            keys = [
                r["job_key"]
                for r in db.execute(
                    "SELECT job_key FROM jobs WHERE project_id=? AND iid=? AND state='queued'", (project_id, iid)
                )
            ]
            db.execute(
                "UPDATE jobs SET state='canceled', outcome='canceled', finished_at=?, detail=? "
                "WHERE project_id=? AND iid=? AND state='queued'",
                (now, reason, project_id, iid),
            )
            for _ in keys:
                self._incr(db, "jobs_total", {"outcome": "canceled"})
            db.execute("UPDATE heads SET sha='', updated_at=? WHERE project_id=? AND iid=?", (now, project_id, iid))
        return keys

    def is_current(self, spec: JobSpec) -> bool:
        row = self._db().execute(
            "SELECT sha FROM heads WHERE project_id=? AND iid=?", (spec.project_id, spec.iid)
        ).fetchone()
        return row is None or row["sha"] == spec.sha

    def head(self, project_id: int, iid: int) -> str | None:
        row = self._db().execute("SELECT sha FROM heads WHERE project_id=? AND iid=?", (project_id, iid)).fetchone()
        return row["sha"] if row else None

    # -- consumer side --------------------------------------------------
    def claim(self, owner: str) -> Job | None:
        now = time.time()
        with self._tx() as db:
            for r in db.execute("SELECT id, owner, lease_until FROM jobs WHERE state='running'").fetchall():
                if (r["lease_until"] or 0) < now or _owner_dead(r["owner"]):
                    db.execute("UPDATE jobs SET state='queued', owner=NULL, lease_until=NULL WHERE id=?", (r["id"],))
                    self._incr(db, "jobs_recovered_total")
                    log_event(log, "job taken back from a dead or silent worker", job_id=r["id"], owner=r["owner"])
            row = db.execute("SELECT * FROM jobs WHERE state='queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state='running', owner=?, lease_until=?, attempts=attempts+1, started_at=? WHERE id=?",
                (owner, now + self.lease_seconds, now, row["id"]),
            )
        return Job(row["id"], JobSpec.from_json(row["spec"]), row["attempts"] + 1, owner)

    def heartbeat(self, job: Job) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET lease_until=? WHERE id=? AND owner=? AND state='running'",
                (time.time() + self.lease_seconds, job.id, job.owner),
            )
            return cur.rowcount == 1

    def finish(self, job: Job, outcome: str, detail: str, duration: float) -> bool:
        from .metrics import observe_duration

        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state='done', outcome=?, detail=?, finished_at=?, owner=NULL, lease_until=NULL "
                "WHERE id=? AND owner=? AND state='running'",
                (outcome, detail[:2000], time.time(), job.id, job.owner),
            )
            if cur.rowcount != 1:
                return False
            observe_duration(_TxCounters(self, db), duration, outcome)
        return True

    def release(self, job: Job) -> None:
        """Give a job back (graceful shutdown): the next worker starts it at once."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state='queued', owner=NULL, lease_until=NULL, attempts=MAX(attempts-1,0) "
                "WHERE id=? AND owner=? AND state='running'",
                (job.id, job.owner),
            )

    def requeue(self, job: Job) -> None:
        """Run a job again after its process crashed (the attempt still counts)."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state='queued', owner=NULL, lease_until=NULL WHERE id=? AND owner=? AND state='running'",
                (job.id, job.owner),
            )

    def job_row(self, key: str) -> dict[str, Any] | None:
        row = self._db().execute("SELECT * FROM jobs WHERE job_key=?", (key,)).fetchone()
        return dict(row) if row else None

    def jobs(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._db().execute("SELECT * FROM jobs ORDER BY id")]

    # -- metrics --------------------------------------------------------
    def _incr(self, db: sqlite3.Connection, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        db.execute(
            "INSERT INTO counters(name, labels, value) VALUES (?,?,?) "
            "ON CONFLICT(name, labels) DO UPDATE SET value=value+excluded.value",
            (name, encode_labels(labels_key(labels)), amount),
        )

    def incr(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        try:
            with self._tx() as db:
                self._incr(db, name, labels, amount)
        except (sqlite3.Error, QueueUnavailable):
            log.warning("could not count metric %s", name)

    def counters(self) -> dict[tuple[str, Labels], float]:
        return {
            (r["name"], decode_labels(r["labels"])): r["value"]
            for r in self._db().execute("SELECT name, labels, value FROM counters")
        }

    def gauges(self) -> dict[str, float]:
        rows = self._db().execute(
            "SELECT state, COUNT(*) AS n FROM jobs WHERE state IN ('queued','running') GROUP BY state"
        ).fetchall()
        counts = {r["state"]: r["n"] for r in rows}
        return {"queue_depth": counts.get("queued", 0), "jobs_running": counts.get("running", 0)}

    def ping(self) -> None:
        self._db().execute("SELECT 1").fetchone()

    def _maybe_prune(self) -> None:
        now = time.time()
        if now - self._last_prune < 3600:
            return
        self._last_prune = now
        with self._tx() as db:
            db.execute("DELETE FROM deliveries WHERE created_at < ?", (now - DELIVERY_TTL,))
            db.execute(
                "DELETE FROM jobs WHERE state IN ('done','superseded','canceled') AND COALESCE(finished_at, created_at) < ?",
                (now - FINISHED_TTL,),
            )


class _TxCounters:
    """Counter writes inside an open SQLite transaction."""

    def __init__(self, q: SQLiteQueue, db: sqlite3.Connection) -> None:
        self.q, self.db = q, db

    def incr(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        self.q._incr(self.db, name, labels, amount)

    def counters(self) -> dict[tuple[str, Labels], float]:  # pragma: no cover - protocol filler
        return {}


# ---------------------------------------------------------------------------
# Redis + RQ

RQ_QUEUE_NAME = "gorules-bot"
PREFIX = "gorules:bot:"

# KEYS: 1 delivery key ("" if none), 2 job hash, 3 head key, 4 queued-set of the MR
# ARGV: 1 job key, 2 spec json, 3 now, 4 delivery ttl, 5 finished ttl
#       6 key prefix, 7 head sha
# returns {result, superseded job keys...}
_ENQUEUE_LUA = """
local function existing()
  local state = redis.call('HGET', KEYS[2], 'state')
  if not state then return nil end
  local outcome = redis.call('HGET', KEYS[2], 'outcome')
  if state == 'canceled' or (state == 'done' and outcome == 'error') then
    return 'rerun'
  end
  return 'duplicate'
end
if KEYS[1] ~= '' then
  local seen = redis.call('GET', KEYS[1])
  if seen and seen ~= ARGV[1] then return {'duplicate'} end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[4]))
end
local e = existing()
if e == 'duplicate' then return {'duplicate'} end
local result = 'queued'
if e == 'rerun' then result = 'requeued' end
local out = {result}
local members = redis.call('SMEMBERS', KEYS[4])
for _, k in ipairs(members) do
  if k ~= ARGV[1] then
    local h = ARGV[6] .. 'job:' .. k
    if redis.call('HGET', h, 'state') == 'queued' then
      redis.call('HSET', h, 'state', 'superseded', 'outcome', 'superseded', 'finished_at', ARGV[3])
      redis.call('EXPIRE', h, tonumber(ARGV[5]))
      table.insert(out, k)
    end
    redis.call('SREM', KEYS[4], k)
  end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'state', 'queued', 'spec', ARGV[2], 'created_at', ARGV[3], 'attempts', '0')
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('EXPIRE', KEYS[4], tonumber(ARGV[5]))
redis.call('SET', KEYS[3], ARGV[7], 'EX', tonumber(ARGV[5]))
return out
"""


def rq_job_id(job_key: str) -> str:
    return "gorules-" + job_key.replace(":", "-")


class RedisQueue:
    backend = "redis"

    def __init__(self, url: str, job_timeout: float = 600.0, max_attempts: int = 3) -> None:
        import redis
        from rq import Queue

        self.url = url
        self.job_timeout = job_timeout
        self.max_attempts = max_attempts
        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
        self.rq = Queue(RQ_QUEUE_NAME, connection=self.redis, default_timeout=int(job_timeout) + 30)
        self._enqueue_script = self.redis.register_script(_ENQUEUE_LUA)

    def _job_hash(self, key: str) -> str:
        return f"{PREFIX}job:{key}"

    def enqueue(self, spec: JobSpec, delivery: str | None) -> EnqueueResult:
        import redis
        from rq import Callback, Retry
        from rq.exceptions import NoSuchJobError
        from rq.job import Job as RQJob

        key = spec.key
        keys = [
            f"{PREFIX}delivery:{delivery}" if delivery else "",
            self._job_hash(key),
            f"{PREFIX}head:{spec.project_id}:{spec.iid}",
            f"{PREFIX}mrq:{spec.project_id}:{spec.iid}",
        ]
        args = [key, spec.to_json(), str(time.time()), str(DELIVERY_TTL), str(FINISHED_TTL), PREFIX, spec.sha]
        try:
            out = [x.decode() if isinstance(x, bytes) else x for x in self._enqueue_script(keys=keys, args=args)]
            result, superseded = out[0], out[1:]
            if result == "duplicate":
                # a queued job whose RQ entry never made it (crash between the two writes) is re-sent
                state = self.redis.hget(self._job_hash(key), "state")
                if state == b"queued" and not RQJob.exists(rq_job_id(key), connection=self.redis):
                    result = "requeued"
                else:
                    return EnqueueResult("duplicate", key)
            for old in superseded:
                try:
                    RQJob.fetch(rq_job_id(old), connection=self.redis).cancel()
                except (NoSuchJobError, Exception):
                    pass
                self.incr("jobs_total", {"outcome": "superseded"})
            try:
                old_job = RQJob.fetch(rq_job_id(key), connection=self.redis)
                old_job.delete()
            except NoSuchJobError:
                pass
            self.rq.enqueue_call(
                "golint_rules.bot.worker.rq_run_job",
                args=(spec.to_json(),),
                job_id=rq_job_id(key),
                timeout=int(self.job_timeout),
                result_ttl=24 * 3600,
                failure_ttl=7 * 24 * 3600,
                retry=Retry(max=self.max_attempts - 1) if self.max_attempts > 1 else None,
                on_failure=Callback("golint_rules.bot.worker.rq_on_failure"),
                description=f"gorules review {spec.project_path or spec.project_id}!{spec.iid} @ {spec.sha[:12]}",
            )
            return EnqueueResult(result, key, superseded)
        except redis.RedisError as exc:
            raise QueueUnavailable(f"redis error: {exc}") from exc

    def cancel_mr(self, project_id: int, iid: int, reason: str) -> list[str]:
        from rq.job import Job as RQJob

        setkey = f"{PREFIX}mrq:{project_id}:{iid}"
        keys = [k.decode() for k in self.redis.smembers(setkey)]
        canceled = []
        for k in keys:
            h = self._job_hash(k)
            if self.redis.hget(h, "state") == b"queued":
                self.redis.hset(h, mapping={"state": "canceled", "outcome": "canceled", "detail": reason})
                try:
                    RQJob.fetch(rq_job_id(k), connection=self.redis).cancel()
                except Exception:
                    pass
                canceled.append(k)
                self.incr("jobs_total", {"outcome": "canceled"})
        self.redis.delete(setkey)
        self.redis.set(f"{PREFIX}head:{project_id}:{iid}", "", ex=FINISHED_TTL)
        return canceled

    def is_current(self, spec: JobSpec) -> bool:
        head = self.redis.get(f"{PREFIX}head:{spec.project_id}:{spec.iid}")
        return head is None or head.decode() == spec.sha

    def head(self, project_id: int, iid: int) -> str | None:
        head = self.redis.get(f"{PREFIX}head:{project_id}:{iid}")
        return head.decode() if head is not None else None

    def job_state(self, key: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self._job_hash(key)).items()}

    def mark(self, key: str, **fields: Any) -> None:
        h = self._job_hash(key)
        self.redis.hset(h, mapping={k: str(v) for k, v in fields.items()})
        self.redis.expire(h, FINISHED_TTL)
        if fields.get("state") in ("done", "superseded", "canceled"):
            spec = self.redis.hget(h, "spec")
            if spec:
                s = JobSpec.from_json(spec)
                self.redis.srem(f"{PREFIX}mrq:{s.project_id}:{s.iid}", key)

    def incr(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        try:
            self.redis.hincrbyfloat(f"{PREFIX}counters", f"{name}|{encode_labels(labels_key(labels))}", amount)
        except Exception:
            log.warning("could not count metric %s", name)

    def counters(self) -> dict[tuple[str, Labels], float]:
        out: dict[tuple[str, Labels], float] = {}
        for k, v in self.redis.hgetall(f"{PREFIX}counters").items():
            name, _, labels = k.decode().partition("|")
            out[(name, decode_labels(labels))] = float(v)
        return out

    def gauges(self) -> dict[str, float]:
        from rq.registry import StartedJobRegistry

        return {
            "queue_depth": self.rq.count,
            "jobs_running": StartedJobRegistry(queue=self.rq).count,
        }

    def ping(self) -> None:
        self.redis.ping()

    def close(self) -> None:
        self.redis.close()


def open_queue(settings: Settings) -> SQLiteQueue | RedisQueue:
    if settings.is_redis:
        return RedisQueue(settings.queue_url, settings.job_timeout, settings.max_attempts)
    return SQLiteQueue(settings.sqlite_path(), settings.lease_seconds, settings.max_attempts)
