"""End-to-end: the real bot (HTTP on loopback, worker processes), a strict fake
GitLab on loopback, and a real redis-server; the sample webhook payloads go in,
the exact GitLab API calls the bot makes are checked."""

from __future__ import annotations

import json
import re
import select
import socket
import time
from pathlib import Path

import httpx
import pytest

from bot_support import (
    BACKOFF_GO_LINE,
    OPEN_SHA,
    SECRET,
    SETTLE_GO_LINE,
    TOKEN,
    UPDATE_SHA,
    Proc,
    RedisServer,
    bot_env,
    make_fake,
    metric,
    payload,
    start_bot,
)

STATUSES = "/projects/42/statuses/"
MR = "/projects/42/merge_requests/17"


@pytest.fixture
def fake():
    f = make_fake()
    yield f
    f.stop()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def final_status(fake, sha: str, timeout: float = 30.0) -> None:
    fake.wait_for(
        lambda g: any(s in ("success", "failed", "canceled") for s in g.status_states(42, sha)),
        timeout, f"a final status on {sha[:8]}",
    )


def writes_summary(fake, since: int = 0) -> list[tuple]:
    """(method, path, key facts, status) of every write, in order."""
    out = []
    for c in fake.writes()[since:]:
        b = c.body or {}
        if c.path.startswith(STATUSES):
            facts = (b.get("state"), b.get("name"), b.get("ref"))
        elif c.path.endswith("/discussions") and c.method == "POST":
            p = b.get("position") or {}
            code = re.search(r"\*\*\[?(GR\d{3})", b.get("body", ""))
            facts = (p.get("new_path"), p.get("new_line"), code.group(1) if code else None)
        elif "/discussions/" in c.path:
            facts = (c.query.get("resolved"),)
        else:
            facts = ("summary" if "<!-- gorules:summary -->" in b.get("body", "") else "other",)
        path = re.sub(r"/discussions/[0-9a-f]{40}", "/discussions/<id>", c.path)
        path = re.sub(r"/notes/\d+", "/notes/<id>", path)
        out.append((c.method, path, facts, c.status))
    return out


def test_open_then_update_posts_threads_resolves_and_edits_one_summary(fake, state, tmp_path):
    fake.projects[42].mrs[17].preparing = 2  # GitLab still preparing the diff right after "open"
    bot = start_bot(fake, state, tmp_path / "bot.log", workers=1)
    try:
        t0 = time.perf_counter()
        r = bot.post(payload("mr-open.json"), idem="7f0c6f5e-open")
        answer_ms = (time.perf_counter() - t0) * 1000
        assert r.status_code == 202, r.text
        assert r.json()["result"] == "queued"
        assert answer_ms < 1000, f"webhook answered in {answer_ms:.0f} ms"
        final_status(fake, OPEN_SHA)

        assert writes_summary(fake) == [
            ("POST", f"{STATUSES}{OPEN_SHA}", ("running", "gorules", "feature/retry-backoff"), 201),
            ("POST", f"{MR}/discussions", ("internal/settle/backoff.go", BACKOFF_GO_LINE, "GR001"), 201),
            ("POST", f"{MR}/notes", ("summary",), 201),
            ("POST", f"{STATUSES}{OPEN_SHA}", ("failed", "gorules", "feature/retry-backoff"), 201),
        ]
        gets = [c.path for c in fake.calls if c.method == "GET"]
        assert gets.count(MR) == 3  # two "preparing" answers, then diff_refs
        assert f"{MR}/diffs" in gets and "/projects/42/repository/archive.tar.gz" in gets
        disc = fake.calls[[c.path for c in fake.calls].index(f"{MR}/discussions", 0)]
        assert disc.method == "GET" and disc.query["per_page"] == "100"
        # the position is GitLab's: shas from diff_refs, both paths
        post = next(c for c in fake.writes() if c.path == f"{MR}/discussions")
        assert post.body["position"] == {
            "position_type": "text",
            "base_sha": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "start_sha": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "head_sha": OPEN_SHA,
            "old_path": "internal/settle/backoff.go",
            "new_path": "internal/settle/backoff.go",
            "new_line": BACKOFF_GO_LINE,
        }
        assert post.headers["private-token"] == TOKEN
        summary = next(c for c in fake.writes() if c.path == f"{MR}/notes").body["body"]
        assert "`internal/settle/settle.go:" + str(SETTLE_GO_LINE) + "`" in summary  # not an added line
        assert "https://gorules.invalid/rules/GR001" in summary
        final = fake.writes()[-1].body
        assert final["description"].startswith("gorules: 1 on added lines (1 error)")
        assert re.fullmatch(r"https://gitlab\.example\.com/group/payments-api/-/merge_requests/17#note_\d+", final["target_url"])

        # a new push: GR001 fixed, a replace directive added to go.mod
        n = len(fake.writes())
        fake.push(42, 17, UPDATE_SHA)
        assert bot.post(payload("mr-update.json"), idem="7f0c6f5e-update").status_code == 202
        final_status(fake, UPDATE_SHA)
        assert writes_summary(fake, n) == [
            ("POST", f"{STATUSES}{UPDATE_SHA}", ("running", "gorules", "feature/retry-backoff"), 201),
            ("POST", f"{MR}/discussions", ("go.mod", 5, "GR005"), 201),
            ("PUT", f"{MR}/discussions/<id>", ("true",), 200),
            ("PUT", f"{MR}/notes/<id>", ("summary",), 200),
            ("POST", f"{STATUSES}{UPDATE_SHA}", ("failed", "gorules", "feature/retry-backoff"), 201),
        ]
        threads = fake.discussions(42, 17)
        notes = [d for d in threads if d["individual_note"]]
        assert len(notes) == 1  # ONE summary note, edited in place
        gr001 = next(d for d in threads if "GR001" in d["notes"][0]["body"])
        assert gr001["notes"][0]["resolved"] is True
        assert "1 thread resolved" in notes[0]["notes"][0]["body"]

        # duplicate deliveries: same Idempotency-Key, then same sha under a new key
        n = len(fake.calls)
        r1 = bot.post(payload("mr-update.json"), idem="7f0c6f5e-update")
        r2 = bot.post(payload("mr-update.json"), idem="a-resend-with-a-new-key")
        assert (r1.status_code, r1.json()["result"]) == (200, "duplicate")
        assert (r2.status_code, r2.json()["result"]) == (200, "duplicate")
        time.sleep(0.6)  # workers poll every 0.1 s: a queued job would have started
        assert len(fake.calls) == n

        # events that need no work: 200, nothing queued
        push = bot.post(payload("push.json"), event="Push Hook")
        assert (push.status_code, push.json()["result"]) == (200, "ignored")
        meta = json.loads(payload("mr-update.json"))
        meta["object_attributes"].pop("oldrev")
        meta["object_attributes"]["action"] = "update"
        meta["changes"] = {"title": {"previous": "a", "current": "b"}}
        r = bot.post(json.dumps(meta).encode())
        assert (r.status_code, r.json()["result"]) == (200, "ignored")

        m = httpx.get(bot.url + "/metrics").text
        assert metric(m, 'gorules_bot_jobs_total{outcome="failed"}') == 2
        assert metric(m, "gorules_bot_job_duration_seconds_count") == 2
        assert metric(m, 'gorules_bot_webhook_requests_total{result="duplicate"}') == 2
        assert metric(m, 'gorules_bot_webhook_requests_total{result="queued"}') == 2
        assert metric(m, "gorules_bot_queue_depth") == 0
        assert "# TYPE gorules_bot_job_duration_seconds histogram" in m
    finally:
        bot.stop()
    log = (tmp_path / "bot.log").read_text()
    outcomes = bot.outcomes(2)
    assert [(o["outcome"], o["sha"]) for o in outcomes] == [("failed", OPEN_SHA), ("failed", UPDATE_SHA)]
    assert TOKEN not in log and SECRET not in log


def _send_huge(port: int, total: int, headers: str, chunk: int = 64 * 1024) -> tuple[bytes, int]:
    """Send a request declaring ``total`` body bytes; stop as soon as the server answers."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(headers.encode())
    sent = 0
    block = b"x" * chunk
    answer = b""
    s.setblocking(False)
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            r, w, _ = select.select([s], [s] if sent < total else [], [], 1.0)
            if r:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer:
                    break
            if w and sent < total:
                try:
                    sent += s.send(block[: min(chunk, total - sent)])
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    pass
    finally:
        s.close()
    return answer, sent


def test_webhook_rejects_bad_token_malformed_json_and_oversized_bodies(state, tmp_path):
    # workers=0: the endpoint alone, so nothing could ever be worked on by mistake
    bot = start_bot(None, state, tmp_path / "bot.log", workers=0, GORULES_MAX_BODY_BYTES=str(1024 * 1024))
    try:
        body = payload("mr-open.json")
        for token in (None, "", "wrong", SECRET + "x", SECRET[:-1]):
            r = bot.post(body, token=token)
            assert r.status_code == 401, token
        r = bot.post(b'{"object_kind": "merge_request", "project": {"id": 42,}')
        assert r.status_code == 400 and r.json()["reason"].startswith("invalid JSON: Expecting property name")
        bad = json.loads(body)
        del bad["object_attributes"]["last_commit"]
        r = bot.post(json.dumps(bad).encode())
        assert (r.status_code, r.json()["reason"]) == (400, "object_attributes.last_commit.id is missing")
        bad = json.loads(body)
        bad["object_attributes"]["iid"] = "17"
        r = bot.post(json.dumps(bad).encode())
        assert (r.status_code, r.json()["reason"]) == (400, "object_attributes.iid must be an integer, not a string")

        # 50 MB declared: refused from the headers, long before 50 MB could be sent
        total = 50 * 1024 * 1024
        head = (
            f"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Gitlab-Event: Merge Request Hook\r\nX-Gitlab-Token: {SECRET}\r\nContent-Length: {total}\r\n\r\n"
        )
        t0 = time.perf_counter()
        answer, sent = _send_huge(bot.port, total, head)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < total // 4, f"sent {sent} bytes before the answer"
        assert time.perf_counter() - t0 < 5
        # the same without Content-Length (chunked): the running count stops it at the limit
        chunked_head = (
            "POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            f"X-Gitlab-Event: Merge Request Hook\r\nX-Gitlab-Token: {SECRET}\r\n\r\n"
        )
        s = socket.create_connection(("127.0.0.1", bot.port))
        s.sendall(chunked_head.encode())
        piece = b"x" * 65536
        sent = 0
        s.settimeout(0.05)
        answer = b""
        for _ in range(800):  # up to 50 MB
            try:
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                answer += s.recv(4096)
                if answer:
                    break
            except socket.timeout:
                pass
        s.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < 8 * 1024 * 1024
        # a huge body with a bad token is refused without reading it
        answer, sent = _send_huge(bot.port, total, head.replace(SECRET, "nope"))
        assert answer.startswith(b"HTTP/1.1 401")

        m = httpx.get(bot.url + "/metrics").text
        assert metric(m, "gorules_bot_queue_depth") == 0
        assert metric(m, 'gorules_bot_webhook_requests_total{result="unauthorized"}') == 6
        assert metric(m, 'gorules_bot_webhook_requests_total{result="too_large"}') == 2
        assert metric(m, 'gorules_bot_webhook_requests_total{result="bad_request"}') == 3
        assert metric(m, 'gorules_bot_webhook_requests_total{result="queued"}') == 0
        assert httpx.get(bot.url + "/healthz").json() == {"status": "ok", "queue": "sqlite"}
    finally:
        bot.stop()
    assert SECRET not in (tmp_path / "bot.log").read_text()


def test_signed_webhooks_and_a_separate_sqlite_worker_process(fake, state, tmp_path):
    import base64
    import hashlib
    import hmac
    import os

    key = os.urandom(32)
    signing = "whsec_" + base64.b64encode(key).decode()
    web = start_bot(fake, state, tmp_path / "web.log", workers=0, GORULES_WEBHOOK_SIGNING_TOKEN=signing)
    worker = Proc(["worker"], bot_env(fake, state), tmp_path / "worker.log")  # same state dir, own process
    try:
        body = payload("mr-open.json")
        ts = str(int(time.time()))

        def sig(b: bytes, wid: str = "msg_2Lq", t: str = ts) -> dict[str, str]:
            mac = hmac.new(key, f"{wid}.{t}.".encode() + b, hashlib.sha256).digest()
            return {"webhook-id": wid, "webhook-timestamp": t, "webhook-signature": "v1," + base64.b64encode(mac).decode()}

        assert web.post(body).status_code == 401  # right token, no signature
        r = web.post(body, **sig(body + b" "))
        assert (r.status_code, r.json()["reason"]) == (401, "webhook-signature does not match the body")
        assert web.post(body, **sig(body, t=str(int(time.time()) - 600))).status_code == 401  # replayed
        assert web.post(body, token="wrong", **sig(body)).status_code == 401  # both are required
        r = web.post(body, **sig(body))
        assert (r.status_code, r.json()["result"]) == (202, "queued")
        final_status(fake, OPEN_SHA)
        out = worker.outcomes(1)
    finally:
        worker.stop()
        web.stop()
    assert [(o["outcome"], o["sha"]) for o in out] == [("failed", OPEN_SHA)]
    assert [c.body["state"] for c in fake.writes() if c.path.startswith(STATUSES)] == ["running", "failed"]


def test_bot_refuses_to_start_without_webhook_secret(state, tmp_path):
    env = bot_env(None, state)
    del env["GORULES_WEBHOOK_SECRET"]
    p = Proc(["serve", "--port", "0"], env, tmp_path / "bot.log")
    assert p.proc.wait(20) == 2
    p.stop()
    assert "GORULES_WEBHOOK_SECRET is not set" in (tmp_path / "bot.log").read_text()


def test_restart_during_a_job_loses_nothing_and_posts_nothing_twice(fake, state, tmp_path):
    held = fake.hold(r"/merge_requests/17/discussions$", method="GET")  # the first job stops half-way
    bot = start_bot(fake, state, tmp_path / "bot1.log", workers=1)
    assert bot.post(payload("mr-open.json"), idem="restart-1").status_code == 202
    fake.wait_for(lambda g: any(c.path == f"{MR}/discussions" for c in g.calls), 20, "the job to reach discussions")
    bot.kill()  # SIGKILL: no clean-up; the job process dies with it
    held.set()
    time.sleep(0.3)
    n = len(fake.calls)
    time.sleep(0.5)
    assert len(fake.calls) == n, "the killed job's process is still talking to GitLab"

    bot2 = start_bot(fake, state, tmp_path / "bot2.log", workers=1)
    try:
        final_status(fake, OPEN_SHA)
        m = httpx.get(bot2.url + "/metrics").text
        assert metric(m, "gorules_bot_jobs_recovered_total") == 1
    finally:
        bot2.stop()
    assert writes_summary(fake) == [
        ("POST", f"{STATUSES}{OPEN_SHA}", ("running", "gorules", "feature/retry-backoff"), 201),
        # the second run re-asserts "running"; GitLab refuses the unchanged state, the bot goes on
        ("POST", f"{STATUSES}{OPEN_SHA}", ("running", "gorules", "feature/retry-backoff"), 400),
        ("POST", f"{MR}/discussions", ("internal/settle/backoff.go", BACKOFF_GO_LINE, "GR001"), 201),
        ("POST", f"{MR}/notes", ("summary",), 201),
        ("POST", f"{STATUSES}{OPEN_SHA}", ("failed", "gorules", "feature/retry-backoff"), 201),
    ]
    outcomes = bot2.outcomes(1)
    assert [(o["outcome"], o["attempt"]) for o in outcomes] == [("failed", 2)]


def test_sigterm_hands_the_running_job_back_and_the_next_start_finishes_it(fake, state, tmp_path):
    held = fake.hold(r"/merge_requests/17/diffs$")
    bot = start_bot(fake, state, tmp_path / "bot1.log", workers=1)
    assert bot.post(payload("mr-open.json")).status_code == 202
    fake.wait_for(lambda g: any(c.path == f"{MR}/diffs" for c in g.calls), 20, "the job to read diffs")
    assert bot.stop(timeout=20) == 0  # systemd's stop: SIGTERM
    held.set()
    msgs = [l.get("msg") for l in bot.lines()]
    assert "job handed back at shutdown" in msgs and msgs[-1] == "bot stopped"
    bot2 = start_bot(fake, state, tmp_path / "bot2.log", workers=1)
    try:
        final_status(fake, OPEN_SHA)
        out = bot2.outcomes(1)
    finally:
        bot2.stop()
    assert [(o["outcome"], o["attempt"]) for o in out] == [("failed", 1)]
    assert [c.body["state"] for c in fake.writes() if c.path.startswith(STATUSES)] == ["running", "running", "failed"]


def test_newer_push_supersedes_a_running_review(fake, state, tmp_path):
    held = fake.hold(r"/merge_requests/17/diffs$")
    bot = start_bot(fake, state, tmp_path / "bot.log", workers=1)
    try:
        assert bot.post(payload("mr-open.json")).status_code == 202
        fake.wait_for(lambda g: any(c.path == f"{MR}/diffs" for c in g.calls), 20, "the first job to read diffs")
        fake.push(42, 17, UPDATE_SHA)
        assert bot.post(payload("mr-update.json")).status_code == 202
        held.set()
        final_status(fake, UPDATE_SHA)
        final_status(fake, OPEN_SHA)
    finally:
        bot.stop()
    assert fake.status_states(42, OPEN_SHA) == ["canceled"]  # running -> canceled, one record
    open_status = [c for c in fake.writes() if c.path == f"{STATUSES}{OPEN_SHA}"]
    assert [c.body["state"] for c in open_status] == ["running", "canceled"]
    assert "superseded" in open_status[-1].body["description"]
    posted = [w for w in writes_summary(fake) if w[1] == f"{MR}/discussions"]
    assert posted == [("POST", f"{MR}/discussions", ("go.mod", 5, "GR005"), 201)]  # nothing from the old sha
    outcomes = [(l["outcome"], l["sha"]) for l in bot.outcomes(2)]
    assert outcomes == [("superseded", OPEN_SHA), ("failed", UPDATE_SHA)]


def test_gitlab_faults_429_5xx_refused_position_and_giving_up(fake, state, tmp_path):
    # 429 with Retry-After on the thread, 502 twice on the diff list, and a push landing while
    # the job runs (its positions go stale: GitLab answers 400 and the finding moves to the summary)
    fake.rate_limit(r"/discussions$", count=1, retry_after="1", method="POST")
    fake.fail(r"/diffs$", count=2, status=502)
    bot = start_bot(fake, state, tmp_path / "bot.log", workers=1)
    try:
        assert bot.post(payload("mr-open.json")).status_code == 202
        final_status(fake, OPEN_SHA)
        diff_calls = [c for c in fake.calls if c.path == f"{MR}/diffs"]
        assert [c.status for c in diff_calls] == [502, 502, 200]
        posts = [c for c in fake.calls if c.path == f"{MR}/discussions" and c.method == "POST"]
        assert [c.status for c in posts] == [429, 201]
        assert posts[1].at - posts[0].at >= 0.95  # Retry-After: 1 honoured
        m = httpx.get(bot.url + "/metrics").text
        assert metric(m, 'gorules_bot_gitlab_api_errors_total{status="429"}') == 1
        assert metric(m, 'gorules_bot_gitlab_api_errors_total{status="5xx"}') == 2

        # a stale position: GitLab refuses it with 400; the finding goes to the summary instead
        fake.projects[42].mrs[17].discussions.clear()
        fake.add_mr(42, 18, "4b825dc642cb6eb9a060e54bf8d69288fbee4904", OPEN_SHA, source_branch="feature/retry-backoff")
        fake.after(r"/repository/archive", lambda g: g.push(42, 18, UPDATE_SHA))
        p18 = json.loads(payload("mr-open.json"))
        p18["object_attributes"]["iid"] = 18
        p18["object_attributes"]["url"] = p18["object_attributes"]["url"].replace("/17", "/18")
        n = len(fake.writes())
        assert bot.post(json.dumps(p18).encode()).status_code == 202
        fake.wait_for(lambda g: len([w for w in g.writes()[n:] if w.path.startswith(STATUSES)]) >= 2, 30, "final status")
        w18 = [(c.method, c.path, c.status) for c in fake.writes()[n:]]
        assert w18 == [
            ("POST", f"{STATUSES}{OPEN_SHA}", 201),
            ("POST", "/projects/42/merge_requests/18/discussions", 400),
            ("POST", "/projects/42/merge_requests/18/notes", 201),
            ("POST", f"{STATUSES}{OPEN_SHA}", 201),
        ]
        note = fake.writes()[n + 2].body["body"]
        assert "GitLab did not accept an inline thread for 1 finding" in note
        assert "`internal/settle/backoff.go:21`" in note
    finally:
        bot.stop()


def test_gitlab_down_ends_with_failed_status_blaming_the_bot(fake, state, tmp_path):
    fake.fail(r"/diffs$", count=100, status=503)
    bot = start_bot(fake, state, tmp_path / "bot.log", workers=1, GORULES_API_MAX_RETRIES="2")
    try:
        assert bot.post(payload("mr-open.json")).status_code == 202
        final_status(fake, OPEN_SHA)
    finally:
        bot.stop()
    last = fake.writes()[-1]
    assert last.body["state"] == "failed"
    assert last.body["description"] == (
        "gorules bot failed, the code was not reviewed: GitLab API 503 on GET merge_requests/17/diffs after 3 attempts"
    )
    assert [c.status for c in fake.calls if c.path == f"{MR}/diffs"] == [503, 503, 503]
    out = bot.outcomes(1)
    assert out[0]["outcome"] == "error" and out[0]["level"] == "error"


def test_a_job_over_its_time_limit_is_killed_and_reported(fake, state, tmp_path):
    held = fake.hold(r"/merge_requests/17/diffs$")  # GitLab never answers
    bot = start_bot(fake, state, tmp_path / "bot.log", workers=1, GORULES_JOB_TIMEOUT="2")
    try:
        t0 = time.monotonic()
        assert bot.post(payload("mr-open.json")).status_code == 202
        final_status(fake, OPEN_SHA)
        took = time.monotonic() - t0
    finally:
        held.set()
        bot.stop()
    assert 2.0 <= took < 12.0  # killed at 2 s + grace, not at the 30 s request timeout
    last = fake.writes()[-1].body
    assert (last["state"], last["description"]) == (
        "failed",
        "gorules bot failed, the code was not reviewed: the review did not finish within GORULES_JOB_TIMEOUT (2s)",
    )
    out = bot.outcomes(1)
    assert [(o["outcome"], o["detail"][:25]) for o in out] == [("error", "the review did not finish")]


def test_wrong_gitlab_token_is_reported_without_leaking_it(fake, state, tmp_path):
    wrong = "glpat-WRONG-should-never-be-logged"
    bot = start_bot(fake, state, tmp_path / "bot.log", workers=1, GORULES_GITLAB_TOKEN=wrong)
    try:
        assert bot.post(payload("mr-open.json")).status_code == 202
        fake.wait_for(lambda g: len(g.calls) >= 1, 20, "a GitLab call")
        bot.outcomes(1)
    finally:
        bot.stop()
    out = bot.outcomes(1)
    assert out and out[0]["outcome"] == "error"
    assert "GORULES_GITLAB_TOKEN" in out[0]["detail"]
    assert all(c.status == 401 for c in fake.calls)
    assert wrong not in (tmp_path / "bot.log").read_text()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def test_redis_queue_with_separate_worker_processes(fake, state, tmp_path, redis_server):
    redis_server.flush()
    web = start_bot(fake, state, tmp_path / "web.log", workers=0, queue=redis_server.url)
    try:
        fake.push(42, 17, UPDATE_SHA)
        assert web.post(payload("mr-open.json"), idem="r-open").json()["result"] == "queued"
        r = web.post(payload("mr-update.json"), idem="r-update")
        assert (r.status_code, r.json()["result"]) == (202, "queued")  # supersedes the queued open
        assert web.post(payload("mr-update.json"), idem="r-update").json()["result"] == "duplicate"
        assert web.post(payload("mr-update.json"), idem="r-other").json()["result"] == "duplicate"
        m = httpx.get(web.url + "/metrics").text
        assert metric(m, "gorules_bot_queue_depth") == 1

        # two machines' worth of workers: two `gorules bot worker` processes
        # separate worker processes, as on other machines: a single RQ worker, and one
        # `--workers 2` process that supervises two more
        workers = [
            Proc(args, bot_env(fake, state, redis_server.url), tmp_path / f"worker{i}.log")
            for i, args in enumerate((["worker"], ["worker", "--workers", "2"]))
        ]
        try:
            final_status(fake, UPDATE_SHA)
            time.sleep(0.3)
        finally:
            for w in workers:
                w.stop()
        assert fake.status_states(42, OPEN_SHA) == []  # superseded before it ran
        assert writes_summary(fake) == [
            ("POST", f"{STATUSES}{UPDATE_SHA}", ("running", "gorules", "feature/retry-backoff"), 201),
            ("POST", f"{MR}/discussions", ("go.mod", 5, "GR005"), 201),
            ("POST", f"{MR}/notes", ("summary",), 201),
            ("POST", f"{STATUSES}{UPDATE_SHA}", ("failed", "gorules", "feature/retry-backoff"), 201),
        ]
        m = httpx.get(web.url + "/metrics").text
        assert metric(m, 'gorules_bot_jobs_total{outcome="failed"}') == 1
        assert metric(m, 'gorules_bot_jobs_total{outcome="superseded"}') == 1
        assert metric(m, "gorules_bot_queue_depth") == 0
        assert httpx.get(web.url + "/healthz").json() == {"status": "ok", "queue": "redis"}
        finished = [l for w in workers for l in w.lines() if l.get("msg") == "job finished"]
        assert [(l["outcome"], l["sha"]) for l in finished] == [("failed", UPDATE_SHA)]
    finally:
        web.stop()
