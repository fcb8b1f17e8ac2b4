"""The bot's parts, each against real inputs: archives, diffs, webhook policy and
signatures, Markdown escaping, the GitLab client's retries (against the fake
GitLab over HTTP), the SQLite and Redis queues, metrics, and the review job run
in-process for the cases the end-to-end tests do not cover."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from bot_support import (
    BASE_SHA,
    OPEN_SHA,
    SECRET,
    TOKEN,
    UPDATE_SHA,
    RedisServer,
    make_fake,
    payload,
    trees,
)
from golint_rules.bot import archive, diffs, metrics, render, webhook
from golint_rules.bot.gitlab_api import GitLabClient, GitLabError, parse_retry_after
from golint_rules.bot.job import load_repo_config, run_review
from golint_rules.bot.queue import JobSpec, RedisQueue, SQLiteQueue
from golint_rules.bot.settings import JsonFormatter, Settings, SettingsError
from golint_rules.config import ConfigError
from golint_rules.model import Finding


# ---------------------------------------------------------------------------
# archive


def _tgz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def _file(name: str, data: bytes = b"package x\n") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def _extract(tmp_path: Path, data: bytes, **kw):
    kw.setdefault("max_bytes", 10 * 1024 * 1024)
    kw.setdefault("max_files", 1000)
    return archive.extract(io.BytesIO(data), tmp_path / "tree", **kw)


def test_archive_extracts_wanted_files_below_the_top_directory(tmp_path):
    data = _tgz([
        _file("proj-sha-sha/go.mod", b"module m\n"),
        _file("proj-sha-sha/a/b.go"),
        _file("proj-sha-sha/README.md", b"# readme\n"),
        _file("proj-sha-sha/pkg/testdata/fuzz/FuzzX/seed1", b"go test fuzz v1\n"),
        _file("proj-sha-sha/.git/config", b"[core]\n\tfsmonitor = rm -rf /\n"),
    ])
    res = _extract(tmp_path, data)
    tree = res.root
    assert (tree / "go.mod").read_bytes() == b"module m\n"
    assert (tree / "a" / "b.go").is_file()
    assert (tree / "pkg/testdata/fuzz/FuzzX/seed1").is_file()
    assert not (tree / "README.md").exists()  # not read by the scan
    assert not (tree / ".git").exists()  # never written
    assert oct((tree / "a" / "b.go").stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize(
    "name",
    ["proj/../../evil.go", "/etc/evil.go", "proj/a/../../../evil.go", "C:/evil.go", "proj/a\\..\\b.go"],
)
def test_archive_refuses_path_traversal(tmp_path, name):
    with pytest.raises(archive.ArchiveError, match="unsafe path"):
        _extract(tmp_path, _tgz([_file("proj/ok.go"), _file(name)]))
    assert not (tmp_path / "evil.go").exists()


def test_archive_links_never_leave_the_tree(tmp_path):
    data = _tgz([
        _file("p/inside.go"),
        _link("p/abs.go", "/etc/passwd"),
        _link("p/up.go", "../../outside.go"),
        _link("p/dir/up2.go", "../../x.go"),
        _link("p/ok.go", "inside.go"),
        _link("p/chain1.go", "chain2.go"),
        _link("p/chain2.go", "dir/../../.."),
        _link("p/hard.go", "/etc/passwd", hard=True),
        _link("p/hardok.go", "p/inside.go", hard=True),
    ])
    res = _extract(tmp_path, data)
    tree = res.root
    assert os.readlink(tree / "ok.go") == "inside.go"
    assert (tree / "hardok.go").read_bytes() == b"package x\n" and not (tree / "hardok.go").is_symlink()
    for gone in ("abs.go", "up.go", "dir/up2.go", "chain2.go", "hard.go"):
        assert not (tree / gone).exists() and not (tree / gone).is_symlink(), gone
    assert sorted(res.skipped_links) == sorted(["abs.go", "up.go", "dir/up2.go", "chain2.go", "hard.go"])
    # what is left resolves inside the tree
    for p in tree.rglob("*"):
        assert Path(os.path.realpath(p)).is_relative_to(tree)


def test_archive_limits_files_bytes_and_gzip_bombs(tmp_path):
    many = _tgz([_file(f"p/f{i}.go") for i in range(30)])
    with pytest.raises(archive.ArchiveError, match="more than GORULES_ARCHIVE_MAX_FILES \\(20\\)"):
        _extract(tmp_path / "a", many, max_files=20)
    # a gzip bomb: 40 files of 1 MB of zeros, ~40 KB compressed; each file is under the
    # limit, the decompressed stream is not, and extraction stops there
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(40):
            info = tarfile.TarInfo(f"p/zeros{i}.go")
            info.size = 1024 * 1024
            tar.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = buf.getvalue()
    assert len(bomb) < 200 * 1024
    t0 = time.perf_counter()
    with pytest.raises(archive.ArchiveError, match="unpacks to more than GORULES_ARCHIVE_MAX_BYTES"):
        _extract(tmp_path / "b", bomb, max_bytes=5 * 1024 * 1024)
    assert time.perf_counter() - t0 < 5
    assert sum(f.stat().st_size for f in (tmp_path / "b").rglob("*.go")) <= 5 * 1024 * 1024
    one = _tgz([_file("p/big.go", bytes(6 * 1024 * 1024))])
    with pytest.raises(archive.ArchiveError, match="big.go is 6291456 bytes, more than GORULES_ARCHIVE_MAX_BYTES"):
        _extract(tmp_path / "c", one, max_bytes=5 * 1024 * 1024)
    with pytest.raises(archive.ArchiveError, match="not a valid gzip|corrupt|not a valid tar"):
        _extract(tmp_path / "d", b"\x1f\x8b\x08\x00garbage")


def test_archive_refuses_special_files_and_writing_through_links(tmp_path):
    fifo = tarfile.TarInfo("p/pipe.go")
    fifo.type = tarfile.FIFOTYPE
    dev = tarfile.TarInfo("p/dev.go")
    dev.type = tarfile.CHRTYPE
    res = _extract(tmp_path, _tgz([(fifo, None), (dev, None), _file("p/a.go")]))
    assert sorted(res.skipped_special) == ["dev.go", "pipe.go"]
    assert (res.root / "a.go").is_file() and not (res.root / "pipe.go").exists()
    with pytest.raises(archive.ArchiveError, match="twice"):
        _extract(tmp_path / "dup", _tgz([_file("p/a.go"), _file("p/a.go")]))


# ---------------------------------------------------------------------------
# diffs


def test_diff_hunks_give_added_removed_and_context_lines():
    text = (
        "@@ -1,4 +1,5 @@\n package settle\n-import \"time\"\n+import (\n+\t\"time\"\n+)\n \n"
        "@@ -10,3 +11,3 @@ func f() {\n \ta()\n-\tb()\n+\tc()\n \td()\n\\ No newline at end of file\n"
    )
    fd = diffs.FileDiff.from_api({"old_path": "a.go", "new_path": "a.go", "diff": text})
    assert fd.added == {2, 3, 4, 12}
    assert fd.removed == {2, 11}
    assert fd.context == {1: 1, 5: 3, 11: 10, 13: 12}
    new = diffs.FileDiff.from_api({"old_path": "n.go", "new_path": "n.go", "new_file": True, "diff": "@@ -0,0 +1,2 @@\n+a\n+b\n"})
    assert new.added == {1, 2} and new.new_file
    # an empty context line that lost its leading space still counts
    fd2 = diffs.FileDiff.from_api({"old_path": "b.go", "new_path": "b.go", "diff": "@@ -1,3 +1,4 @@\n a\n\n+c\n d\n"})
    assert fd2.added == {3} and fd2.context == {1: 1, 2: 2, 4: 3}


# ---------------------------------------------------------------------------
# webhook


def _settings(tmp_path: Path, **kw) -> Settings:
    s = Settings(
        gitlab_url="http://127.0.0.1:9", gitlab_token=TOKEN, webhook_secret=SECRET, signing_token=None,
        state_dir=tmp_path, queue_url=f"sqlite:///{tmp_path}/q.db",
    )
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_trigger_policy(tmp_path):
    s = _settings(tmp_path)
    d = webhook.decide("Merge Request Hook", payload("mr-open.json"), s, "k")
    assert (d.status, d.result) == (202, "queued")
    assert (d.spec.project_id, d.spec.source_project_id, d.spec.iid, d.spec.sha, d.spec.ref) == (
        42, 42, 17, OPEN_SHA, "feature/retry-backoff"
    )
    up = json.loads(payload("mr-update.json"))
    assert webhook.decide("Merge Request Hook", json.dumps(up).encode(), s, "k").result == "queued"
    up["object_attributes"].pop("oldrev")
    assert webhook.decide("Merge Request Hook", json.dumps(up).encode(), s, "k").result == "ignored"
    draft = json.loads(payload("mr-open.json"))
    draft["object_attributes"]["draft"] = True
    d = webhook.decide("Merge Request Hook", json.dumps(draft).encode(), s, "k")
    assert d.result == "ignored" and "GORULES_REVIEW_DRAFTS" in d.reason
    assert webhook.decide("Merge Request Hook", json.dumps(draft).encode(), _settings(tmp_path, review_drafts=True), "k").result == "queued"
    ready = json.loads(payload("mr-update.json"))
    ready["object_attributes"].pop("oldrev")
    ready["changes"] = {"draft": {"previous": True, "current": False}}
    assert webhook.decide("Merge Request Hook", json.dumps(ready).encode(), s, "k").result == "queued"
    closed = json.loads(payload("mr-open.json"))
    closed["object_attributes"].update(action="close", state="closed")
    d = webhook.decide("Merge Request Hook", json.dumps(closed).encode(), s, "k")
    assert (d.result, d.cancel) == ("cancel", (42, 17))
    fork = json.loads(payload("mr-open.json"))
    fork["object_attributes"]["source_project_id"] = 77
    assert webhook.decide("Merge Request Hook", json.dumps(fork).encode(), s, "k").spec.source_project_id == 77
    assert webhook.decide("Push Hook", payload("push.json"), s, "k").result == "ignored"
    assert webhook.decide("Merge Request Hook", b"[1,2]", s, "k").reason == "the body must be a JSON object"
    assert webhook.decide("Merge Request Hook", payload("push.json"), s, "k").status == 400
    bad_sha = json.loads(payload("mr-open.json"))
    bad_sha["object_attributes"]["last_commit"]["id"] = "HEAD; rm -rf /"
    assert "40-character hex" in webhook.decide("Merge Request Hook", json.dumps(bad_sha).encode(), s, "k").reason


def test_token_and_signature_checks():
    assert webhook.token_ok(SECRET, SECRET)
    assert not webhook.token_ok(SECRET, None) and not webhook.token_ok(SECRET, SECRET.upper())
    assert not webhook.token_ok(SECRET, "é" + SECRET)  # non-ASCII does not raise
    key = os.urandom(32)
    token = "whsec_" + base64.b64encode(key).decode()
    body = payload("mr-open.json")
    now = 1_770_000_000
    sig = base64.b64encode(hmac.new(key, f"msg_1.{now}.".encode() + body, hashlib.sha256).digest()).decode()
    good = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": f"v1,{sig}"}
    assert webhook.signature_problem(token, good, body, now=now) is None
    assert webhook.signature_problem(token, {**good, "webhook-signature": f"v1,bad v1,{sig}"}, body, now=now) is None
    assert "does not match" in webhook.signature_problem(token, good, body + b" ", now=now)
    assert "5 minutes" in webhook.signature_problem(token, good, body, now=now + 301)
    assert "missing" in webhook.signature_problem(token, {}, body, now=now)
    assert webhook.delivery_key({"idempotency-key": "abc"}, body) == "idem:abc"
    assert webhook.delivery_key({}, body).startswith("sha256:")


# ---------------------------------------------------------------------------
# rendering and logging


def test_markdown_from_the_repository_is_inert():
    text = render.md_text("call `x` <img src=x onerror=1> [a](javascript:alert) @all **b** http://e.x")
    assert "<img" not in text.replace("\\<img", "") and "\\<img" in text
    assert "@all" not in text and "@\u200ball" in text
    assert "\\[a\\]" in text and "\\*\\*b\\*\\*" in text and "://e" not in text
    assert render.md_code("a`b") == "``a`b``"
    f = Finding("GR001", "defer-go", "error", "msg <b>", "p.go", 3, fingerprint="ab" * 16)
    body = render.inline_body(f, "https://docs.example/rules/")
    assert "[GR001 defer-go](https://docs.example/rules/GR001)" in body
    assert render.fingerprints_in(body) == ["ab" * 16]
    assert render.doc_url("https://d/{code}.html", "GR005") == "https://d/GR005.html"


def test_log_lines_never_contain_secrets():
    import logging

    fmt = JsonFormatter((TOKEN, SECRET, 'q"uote\\d'))
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", (TOKEN,), None)
    rec.fields = {"header": f"PRIVATE-TOKEN: {TOKEN}", "s": SECRET, "q": 'q"uote\\d'}
    line = fmt.format(rec)
    assert TOKEN not in line and SECRET not in line and "uote" not in line
    assert json.loads(line)["msg"] == "token [REDACTED]"


def test_settings_errors_name_the_variable(monkeypatch, tmp_path):
    for k in list(os.environ):
        if k.startswith("GORULES_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("GORULES_STATE_DIR", str(tmp_path))
    s = Settings.from_env()
    with pytest.raises(SettingsError, match="GORULES_WEBHOOK_SECRET is not set"):
        s.require_web()
    with pytest.raises(SettingsError, match="GORULES_GITLAB_URL is not set"):
        s.require_gitlab()
    assert s.queue_url == f"sqlite:///{tmp_path}/queue.db" and s.sqlite_path() == tmp_path / "queue.db"
    monkeypatch.setenv("GORULES_QUEUE", "amqp://x")
    with pytest.raises(SettingsError, match="GORULES_QUEUE"):
        Settings.from_env()
    monkeypatch.setenv("GORULES_QUEUE", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("GORULES_JOB_TIMEOUT", "soon")
    with pytest.raises(SettingsError, match="GORULES_JOB_TIMEOUT='soon' is not a number"):
        Settings.from_env()
    monkeypatch.delenv("GORULES_JOB_TIMEOUT")
    monkeypatch.setenv("GORULES_GITLAB_URL", "https://gitlab.example.com/api/v4/")
    assert Settings.from_env().gitlab_url == "https://gitlab.example.com"


def test_metrics_text_format():
    store = metrics.LocalCounters()
    metrics.observe_duration(store, 0.7, "success")
    metrics.observe_duration(store, 42.0, "failed")
    store.incr("gitlab_api_errors_total", {"status": "429"})
    text = metrics.render(store.counters(), {}, {"queue_depth": 3, "jobs_running": 1})
    lines = text.splitlines()
    assert "gorules_bot_queue_depth 3" in lines
    assert 'gorules_bot_job_duration_seconds_bucket{le="0.5"} 0' in lines
    assert 'gorules_bot_job_duration_seconds_bucket{le="1.0"} 1' in lines
    assert 'gorules_bot_job_duration_seconds_bucket{le="60.0"} 2' in lines
    assert 'gorules_bot_job_duration_seconds_bucket{le="+Inf"} 2' in lines
    assert "gorules_bot_job_duration_seconds_count 2" in lines
    assert 'gorules_bot_jobs_total{outcome="error"} 0' in lines
    assert 'gorules_bot_gitlab_api_errors_total{status="429"} 1' in lines
    for line in lines:  # every sample line is `name{labels} value`
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2 and float(line.rsplit(" ", 1)[1]) >= 0


# ---------------------------------------------------------------------------
# GitLab client against the fake, over HTTP


@pytest.fixture
def fake():
    f = make_fake()
    yield f
    f.stop()


def test_client_retries_honour_retry_after_and_give_up(fake):
    counters = metrics.LocalCounters()
    api = GitLabClient(fake.url, TOKEN, max_retries=3, backoff=0.01, counters=counters)
    fake.rate_limit(r"/merge_requests/17$", count=1, retry_after="1")
    t0 = time.monotonic()
    assert api.merge_request(42, 17)["sha"] == OPEN_SHA
    assert time.monotonic() - t0 >= 0.95
    fake.fail(r"/user$", count=4, status=503)
    with pytest.raises(GitLabError) as e:
        api.current_user()
    assert (e.value.status, e.value.attempts) == (503, 4)
    assert e.value.short() == "GitLab API 503 on GET user after 4 attempts"
    fake.rate_limit(r"/user$", count=1, retry_after="3600")
    with pytest.raises(GitLabError, match="longer than GORULES_API_MAX_WAIT"):
        api.current_user()
    c = counters.counters()
    assert c[("gitlab_api_errors_total", (("status", "429"),))] == 2
    assert c[("gitlab_api_errors_total", (("status", "5xx"),))] == 4
    # a wait past the job's deadline ends the call at once
    api.deadline = time.monotonic() + 0.5
    fake.rate_limit(r"/user$", count=1, retry_after="2")
    with pytest.raises(GitLabError, match="no time left"):
        api.current_user()
    # 404 is not retried
    with pytest.raises(GitLabError) as e:
        api.merge_request(42, 99)
    assert (e.value.status, e.value.attempts) == (404, 1)


def test_client_paginates_and_status_transitions(fake):
    api = GitLabClient(fake.url, TOKEN)
    for i in range(230):
        fake.projects[42].mrs[17].discussions.append({"id": f"{i:040x}", "individual_note": True, "notes": []})
    got = list(api.paginate("/projects/42/merge_requests/17/discussions", per_page=100))
    assert len(got) == 230 and got[-1]["id"] == f"{229:040x}"
    assert [c.query["page"] for c in fake.calls if c.path.endswith("/discussions")] == ["1", "2", "3"]
    assert api.set_status(42, OPEN_SHA, "running", name="gorules") is True
    assert api.set_status(42, OPEN_SHA, "running", name="gorules") is False  # GitLab's 400, tolerated
    assert api.set_status(42, OPEN_SHA, "success", name="gorules") is True
    with pytest.raises(GitLabError) as e:
        api.set_status(42, "0" * 40, "running", name="gorules")
    assert e.value.status == 404


def test_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412475.0) == 5.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# ---------------------------------------------------------------------------
# queues


def _spec(sha: str, iid: int = 17) -> JobSpec:
    return JobSpec(project_id=42, source_project_id=42, iid=iid, sha=sha, ref="b", mr_url="u")


def test_sqlite_queue_dedupes_supersedes_and_recovers(tmp_path):
    q = SQLiteQueue(tmp_path / "q.db", lease_seconds=30)
    assert q.enqueue(_spec(OPEN_SHA), "idem:1").result == "queued"
    assert q.enqueue(_spec(OPEN_SHA), "idem:1").result == "duplicate"
    assert q.enqueue(_spec(OPEN_SHA), "idem:2").result == "duplicate"
    r = q.enqueue(_spec(UPDATE_SHA), "idem:3")
    assert (r.result, r.superseded) == ("queued", [f"42:17:{OPEN_SHA}"])
    assert q.gauges() == {"queue_depth": 1, "jobs_running": 0}
    # a worker on this host that died: its job is taken back at the next claim
    job = q.claim("%s:%d:1" % (os.uname().nodename, 2**22 + 12345))
    assert job.spec.sha == UPDATE_SHA and q.is_current(job.spec)
    again = q.claim("me:1:1")
    assert again is not None and again.id == job.id and again.attempts == 2
    assert q.counters()[("jobs_recovered_total", ())] == 1
    assert q.finish(again, "error", "GitLab down", 1.5)
    assert q.finish(job, "success", "", 1.0) is False  # the old owner lost the job
    # after a bot failure a redelivery runs the job again; after success it does not
    assert q.enqueue(_spec(UPDATE_SHA), "idem:3").result == "requeued"
    job = q.claim("me:1:1")
    assert q.finish(job, "failed", "1 finding", 2.0)
    assert q.enqueue(_spec(UPDATE_SHA), "idem:4").result == "duplicate"
    # close drops queued work; reopen of the same sha is reviewed
    assert q.enqueue(_spec(BASE_SHA), "idem:5").result == "queued"
    assert q.cancel_mr(42, 17, "closed") == [f"42:17:{BASE_SHA}"]
    assert not q.is_current(_spec(BASE_SHA))
    assert q.enqueue(_spec(BASE_SHA), "idem:6").result == "requeued"
    c = q.counters()
    assert c[("jobs_total", (("outcome", "failed"),))] == 1
    assert c[("jobs_total", (("outcome", "superseded"),))] == 1
    assert c[("jobs_total", (("outcome", "canceled"),))] == 1
    assert c[("job_duration_seconds_count", ())] == 2


def test_sqlite_queue_survives_a_new_process(tmp_path):
    q1 = SQLiteQueue(tmp_path / "q.db")
    q1.enqueue(_spec(OPEN_SHA), "idem:1")
    q1.close()
    q2 = SQLiteQueue(tmp_path / "q.db")
    job = q2.claim("me:1:1")
    assert (job.spec.project_id, job.spec.iid, job.spec.sha, job.attempts) == (42, 17, OPEN_SHA, 1)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-units"))
    yield server
    server.stop()


def test_redis_queue_dedupes_and_supersedes(redis_server):
    redis_server.flush()
    q = RedisQueue(redis_server.url)
    assert q.enqueue(_spec(OPEN_SHA), "idem:1").result == "queued"
    assert q.enqueue(_spec(OPEN_SHA), "idem:1").result == "duplicate"
    assert q.enqueue(_spec(OPEN_SHA), "idem:2").result == "duplicate"
    r = q.enqueue(_spec(UPDATE_SHA), "idem:3")
    assert (r.result, r.superseded) == ("queued", [f"42:17:{OPEN_SHA}"])
    assert q.gauges()["queue_depth"] == 1
    assert q.job_state(f"42:17:{OPEN_SHA}")["state"] == "superseded"
    assert not q.is_current(_spec(OPEN_SHA)) and q.is_current(_spec(UPDATE_SHA))
    q.mark(f"42:17:{UPDATE_SHA}", state="done", outcome="error")
    assert q.enqueue(_spec(UPDATE_SHA), "idem:3").result == "requeued"
    q.mark(f"42:17:{UPDATE_SHA}", state="done", outcome="success")
    assert q.enqueue(_spec(UPDATE_SHA), "idem:9").result == "duplicate"
    assert q.enqueue(_spec(BASE_SHA, iid=18), None).result == "queued"
    assert q.cancel_mr(42, 18, "closed") == [f"42:18:{BASE_SHA}"]
    assert q.gauges()["queue_depth"] == 1
    # the web process stored the job but died before RQ got it: a redelivery sends it again
    key = f"42:19:{BASE_SHA}"
    q.redis.hset(f"gorules:bot:job:{key}", mapping={"state": "queued", "spec": _spec(BASE_SHA, 19).to_json()})
    assert q.enqueue(_spec(BASE_SHA, iid=19), "idem:x").result == "requeued"


# ---------------------------------------------------------------------------
# the review job, in-process


def _queue(tmp_path: Path, spec: JobSpec) -> SQLiteQueue:
    q = SQLiteQueue(tmp_path / "q.db")
    q.enqueue(spec, None)
    return q


def test_job_reports_a_broken_repository_config_on_the_mr(fake, tmp_path):
    s = _settings(tmp_path, gitlab_url=fake.url)
    first = run_review(_spec(OPEN_SHA), s, _queue(tmp_path, _spec(OPEN_SHA)))
    assert first.fields["posted"] == 1
    files = {k: v for k, v in trees()[OPEN_SHA].items()}
    files[".gorules.toml"] = '[rules.GR001]\nseverity = "fatal"\n'
    sha = "c" * 40
    fake.add_commit(42, sha, files)
    fake.push(42, 17, sha)
    spec = _spec(sha)
    n = len(fake.writes())
    out = run_review(spec, s, _queue(tmp_path, spec))
    assert out.outcome == "failed"
    # nothing was scanned, so no thread is resolved as if its finding were gone
    assert [c.method for c in fake.writes()[n:]] == ["POST", "PUT", "POST"]  # running, summary edit, failed
    final = fake.writes()[-1].body
    assert final["state"] == "failed"
    assert final["description"].startswith("gorules: .gorules.toml is invalid: .gorules.toml:2: severity must be one of")
    note = fake.writes()[n + 1].body["body"]
    assert "could not be used" in note and str(tmp_path) not in note


def test_job_honours_repository_policy_fork_statuses_and_comment_cap(fake, tmp_path):
    files = dict(trees()[OPEN_SHA])
    files[".gorules.toml"] = '[rules.GR001]\nseverity = "warning"\n'
    files["internal/settle/more.go"] = "package settle\n\n" + "".join(
        f"func F{i}(f func()) {{\n\tdefer func() {{\n\t\tgo f()\n\t}}()\n}}\n\n" for i in range(3)
    )
    sha = "d" * 40
    fake.add_commit(42, sha, files)
    fake.add_project(77, "dana.k/payments-api")  # the fork: statuses go there
    fake.add_commit(77, sha, files)
    fake.projects[42].mrs[17].source_project_id = 77
    fake.push(42, 17, sha)
    spec = JobSpec(project_id=42, source_project_id=77, iid=17, sha=sha, ref="feature/retry-backoff", mr_url="u")
    s = _settings(tmp_path, gitlab_url=fake.url, max_inline=2)
    out = run_review(spec, s, _queue(tmp_path, spec))
    assert out.outcome == "success", out  # warnings do not fail at the default fail-on
    assert out.fields["on_added_lines"] == 4 and out.fields["posted"] == 2
    assert fake.status_states(77, sha) == ["success"] and fake.status_states(42, sha) == []
    note = next(c for c in fake.writes() if c.path.endswith("/notes")).body["body"]
    assert "2 more findings on added lines are listed below" in note
    # --fail-on warning fails the same MR; threads already posted are not posted again
    n = len(fake.writes())
    out = run_review(spec, _settings(tmp_path, gitlab_url=fake.url, max_inline=10, fail_on="warning"), _queue(tmp_path, spec))
    assert out.outcome == "failed"
    assert out.fields["kept"] == 2 and out.fields["posted"] == 2
    paths = [c.path for c in fake.writes()[n:]]
    assert paths.count("/projects/42/merge_requests/17/discussions") == 2
    assert paths.count("/projects/42/merge_requests/17/notes") == 0  # the summary is edited, not re-posted


def test_repository_config_cannot_point_outside_the_tree(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / ".gorules.toml").write_text('extends = "../../../etc/pack.toml"\n')
    with pytest.raises(ConfigError, match="points outside the repository"):
        load_repo_config(tree)
    (tree / ".gorules.toml").unlink()
    (tmp_path / ".gorules.toml").write_text('[rules.GR001]\nenabled = false\n')  # above the tree: ignored
    assert load_repo_config(tree).rules["GR001"].enabled


def test_fake_gitlab_refuses_what_gitlab_refuses(fake):
    """The fake is only useful if it says no where GitLab does."""
    import httpx

    from fake_gitlab import LINE_CODE_ERROR

    url = f"{fake.url}/api/v4/projects/42/merge_requests/17/discussions"
    h = {"PRIVATE-TOKEN": TOKEN}
    base = {"position_type": "text", "base_sha": BASE_SHA, "start_sha": BASE_SHA, "head_sha": OPEN_SHA,
            "old_path": "internal/settle/settle.go", "new_path": "internal/settle/settle.go"}

    def post(**pos):
        return httpx.post(url, json={"body": "x", "position": {**base, **pos}}, headers=h)

    assert post(new_line=15).status_code == 201  # the added line of settle.go
    for bad in ({"new_line": 11}, {"new_line": 999}, {"old_line": 16}, {"old_line": 10, "new_line": 11},
                {"new_line": 15, "head_sha": BASE_SHA}, {"new_line": 15, "new_path": "other.go"}):
        r = post(**bad)
        assert (r.status_code, r.json()) == (400, {"message": LINE_CODE_ERROR}), bad
    assert post(old_line=11, new_line=11).status_code == 201  # a context line needs both
    assert post(old_line=15).status_code == 201  # the removed line
    assert post(old_line=16, new_line=None).status_code == 400
    assert httpx.post(url, json={"body": "x"}, headers={"PRIVATE-TOKEN": "nope"}).status_code == 401
    st = f"{fake.url}/api/v4/projects/42/statuses/{OPEN_SHA}"
    assert httpx.post(st, json={"state": "pending", "name": "n"}, headers=h).status_code == 201
    r = httpx.post(st, json={"state": "pending", "name": "n"}, headers=h)
    assert r.status_code == 400 and r.json()["message"].startswith("Cannot transition status via :enqueue from :pending")
    assert httpx.post(st, json={"state": "running", "name": "n"}, headers=h).status_code == 201
    r = httpx.post(st, json={"state": "running", "name": "n"}, headers=h)
    assert r.json()["message"] == 'Cannot transition status via :run from :running (Reason(s): Status cannot transition via "run")'
    assert httpx.post(st, json={"state": "success", "name": "n"}, headers=h).status_code == 201
    assert httpx.post(st, json={"state": "running", "name": "n"}, headers=h).status_code == 201  # a new record
    r = httpx.get(f"{fake.url}/api/v4/projects/42/merge_requests/17/diffs", params={"per_page": 1}, headers=h)
    assert (r.headers["X-Total"], r.headers["X-Total-Pages"], r.headers["X-Next-Page"]) == ("2", "2", "2")
    assert 'rel="next"' in r.headers["Link"]
