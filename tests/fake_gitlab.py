"""A strict fake of the GitLab REST v4 API on loopback, for the bot's tests.

It is a real HTTP server (stdlib ``ThreadingHTTPServer``) that answers the
calls the bot makes the way GitLab does, including GitLab's refusals:

* ``PRIVATE-TOKEN`` must match, else ``401 {"message": "401 Unauthorized"}``;
* a diff thread whose ``position`` does not address a line of the MR's current
  diff (wrong shas, wrong paths, a ``new_line`` alone that is not an added line,
  an ``old_line`` alone that is not a removed line, an ``old_line``/``new_line``
  pair that is not the same unchanged line) gets GitLab's
  ``400 Bad request - Note {:line_code=>["can't be blank", "must be a valid line code"]}``;
* a commit status set to the state it already has (``running`` -> ``running``,
  ``pending`` -> ``pending``, ``running`` -> ``pending``) gets GitLab's
  ``400 Cannot transition status via :run from :running ...``; a status that is
  finished starts a new status record, as GitLab's CreateCommitStatusService does;
* lists are paginated (``page``/``per_page``, default 20, max 100) with
  ``X-Page``, ``X-Per-Page``, ``X-Total``, ``X-Total-Pages``, ``X-Next-Page``,
  ``X-Prev-Page`` and ``Link`` headers;
* on demand: 429 with ``Retry-After`` (rate limiting), 5xx, a "preparing" MR
  whose ``diff_refs`` are still null, and holding a request until the test
  releases it (to stop a job half-way).

Repositories are dicts of files per commit sha; MR diffs are computed with
difflib in GitLab's ``/diffs`` format (hunks only, no ``---``/``+++`` lines);
``archive.tar.gz`` is a real tarball with GitLab's ``<project>-<sha>-<sha>/`` top
directory. Every request is recorded in :attr:`FakeGitLab.calls`.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import re
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

LINE_CODE_ERROR = '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}'
_EVENTS = {"pending": "enqueue", "running": "run", "success": "success", "failed": "drop", "canceled": "cancel"}


@dataclass
class Call:
    method: str
    path: str  # without /api/v4 and without the query
    query: dict[str, str]
    body: Any
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass
class MR:
    project_id: int
    iid: int
    base_sha: str
    head_sha: str
    source_branch: str = "feature"
    target_branch: str = "main"
    source_project_id: int | None = None
    state: str = "opened"
    preparing: int = 0  # GETs left that answer with diff_refs null
    discussions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Project:
    id: int
    path: str  # group/name
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    mrs: dict[int, MR] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    archive_override: dict[str, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    count: int
    status: int = 0
    retry_after: str | None = None
    event: threading.Event | None = None
    method: str | None = None


class FakeGitLab:
    def __init__(self, token: str = "bot-secret-token", bot_user: tuple[int, str] = (990, "gorules-bot")) -> None:
        self.token = token
        self.bot = {"id": bot_user[0], "username": bot_user[1], "name": "gorules bot", "state": "active"}
        self.humans = {311: {"id": 311, "username": "dana.k", "name": "Dana Kovacs", "state": "active"}}
        self.projects: dict[int, Project] = {}
        self.calls: list[Call] = []
        self.lock = threading.RLock()
        self._rules: list[_Rule] = []
        self._after: list[tuple[re.Pattern[str], str | None, Any]] = []
        self._ids = 1000
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> "FakeGitLab":
        fake = self

        class Handler(_Handler):
            gitlab = fake

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-gitlab", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            for r in self._rules:
                if r.event is not None:
                    r.event.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- set-up ----------------------------------------------------------
    def add_project(self, pid: int, path: str) -> Project:
        p = Project(pid, path)
        self.projects[pid] = p
        return p

    def add_commit(self, pid: int, sha: str, files: dict[str, str | bytes]) -> None:
        self.projects[pid].commits[sha] = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}

    def add_mr(self, pid: int, iid: int, base_sha: str, head_sha: str, **kw: Any) -> MR:
        mr = MR(pid, iid, base_sha, head_sha, **kw)
        self.projects[pid].mrs[iid] = mr
        return mr

    def push(self, pid: int, iid: int, head_sha: str) -> None:
        with self.lock:
            self.projects[pid].mrs[iid].head_sha = head_sha

    # -- faults on demand -------------------------------------------------
    def rate_limit(self, pattern: str, count: int = 1, retry_after: str = "1", method: str | None = None) -> None:
        with self.lock:
            self._rules.append(_Rule(re.compile(pattern), count, 429, retry_after, method=method))

    def fail(self, pattern: str, count: int = 1, status: int = 502, method: str | None = None) -> None:
        with self.lock:
            self._rules.append(_Rule(re.compile(pattern), count, status, method=method))

    def hold(self, pattern: str, count: int = 1, method: str | None = None) -> threading.Event:
        """Requests matching ``pattern`` wait until the returned event is set."""
        ev = threading.Event()
        with self.lock:
            self._rules.append(_Rule(re.compile(pattern), count, 0, event=ev, method=method))
        return ev

    def after(self, pattern: str, fn, method: str | None = None) -> None:
        """Run ``fn(fake)`` once, right after answering the first request matching ``pattern``."""
        with self.lock:
            self._after.append((re.compile(pattern), method, fn))

    def _take_rule(self, method: str, path: str) -> _Rule | None:
        with self.lock:
            for r in self._rules:
                if r.count > 0 and r.pattern.search(path) and (r.method is None or r.method == method):
                    r.count -= 1
                    return r
        return None

    # -- queries for tests -----------------------------------------------
    def writes(self) -> list[Call]:
        """POST/PUT/DELETE calls, in order."""
        with self.lock:
            return [c for c in self.calls if c.method != "GET"]

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "condition") -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if predicate(self):
                    return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; calls so far: {self.calls}")

    def status_states(self, pid: int, sha: str) -> list[str]:
        with self.lock:
            return [s["status"] for s in self.projects[pid].statuses if s["sha"] == sha]

    def discussions(self, pid: int, iid: int) -> list[dict[str, Any]]:
        with self.lock:
            return json.loads(json.dumps(self.projects[pid].mrs[iid].discussions))

    def next_id(self) -> int:
        with self.lock:
            self._ids += 1
            return self._ids

    # -- model -----------------------------------------------------------
    def file_diffs(self, project: Project, mr: MR) -> list[dict[str, Any]]:
        old = project.commits[mr.base_sha]
        new = project.commits[mr.head_sha]
        out = []
        for path in sorted(set(old) | set(new)):
            a, b = old.get(path), new.get(path)
            if a == b:
                continue
            a_lines = a.decode().splitlines(keepends=True) if a is not None else []
            b_lines = b.decode().splitlines(keepends=True) if b is not None else []
            diff = "".join(list(difflib.unified_diff(a_lines, b_lines, n=3))[2:])
            out.append(
                {
                    "old_path": path,
                    "new_path": path,
                    "a_mode": "0" if a is None else "100644",
                    "b_mode": "0" if b is None else "100644",
                    "diff": diff,
                    "new_file": a is None,
                    "renamed_file": False,
                    "deleted_file": b is None,
                    "generated_file": False,
                    "collapsed": False,
                    "too_large": False,
                }
            )
        return out

    def line_maps(self, project: Project, mr: MR) -> dict[tuple[str, str], tuple[set[int], set[int], set[tuple[int, int]]]]:
        """Per changed file: added new lines, removed old lines, and the (old, new) pairs of
        unchanged lines (GitLab takes those anywhere in a changed file, given both numbers)."""
        old = project.commits[mr.base_sha]
        new = project.commits[mr.head_sha]
        maps = {}
        for fd in self.file_diffs(project, mr):
            a = old.get(fd["old_path"], b"").decode().splitlines(keepends=True)
            b = new.get(fd["new_path"], b"").decode().splitlines(keepends=True)
            added: set[int] = set()
            removed: set[int] = set()
            context: set[tuple[int, int]] = set()
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes():
                if tag == "equal":
                    context.update((i1 + k + 1, j1 + k + 1) for k in range(i2 - i1))
                else:
                    removed.update(range(i1 + 1, i2 + 1))
                    added.update(range(j1 + 1, j2 + 1))
            maps[(fd["old_path"], fd["new_path"])] = (added, removed, context)
        return maps

    def mr_json(self, project: Project, mr: MR) -> dict[str, Any]:
        ready = mr.preparing <= 0
        src = mr.source_project_id or project.id
        web = f"https://gitlab.example.com/{project.path}/-/merge_requests/{mr.iid}"
        return {
            "id": 90000 + mr.iid,
            "iid": mr.iid,
            "project_id": project.id,
            "title": "fake MR",
            "state": mr.state,
            "source_branch": mr.source_branch,
            "target_branch": mr.target_branch,
            "source_project_id": src,
            "target_project_id": project.id,
            "sha": mr.head_sha,
            "draft": False,
            "merge_status": "can_be_merged" if ready else "preparing",
            "detailed_merge_status": "mergeable" if ready else "preparing",
            "changes_count": str(len(self.file_diffs(project, mr))) if ready else None,
            "diff_refs": {"base_sha": mr.base_sha, "start_sha": mr.base_sha, "head_sha": mr.head_sha} if ready else None,
            "web_url": web,
            "author": self.humans[311],
        }

    def archive(self, project: Project, sha: str) -> bytes:
        if sha in project.archive_override:
            return project.archive_override[sha]
        top = f"{project.name}-{sha}-{sha}"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            dirs: set[str] = set()
            for path in sorted(project.commits[sha]):
                parts = path.split("/")[:-1]
                for i in range(len(parts) + 1):
                    d = "/".join([top, *parts[:i]])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type = tarfile.DIRTYPE
                        info.mode = 0o755
                        tar.addfile(info)
                data = project.commits[sha][path]
                info = tarfile.TarInfo(f"{top}/{path}")
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client (a killed job process) went away: GitLab does not care either
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    gitlab: FakeGitLab
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing --------------------------------------------------------
    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None, raw: bytes | None = None,
              ctype: str = "application/json") -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.call.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _paginate(self, items: list[Any], base: str) -> None:
        q = self.call.query
        try:
            per_page = min(max(int(q.get("per_page", "20")), 1), 100)
            page = max(int(q.get("page", "1")), 1)
        except ValueError:
            return self._send(400, {"error": "page is invalid"})
        total = len(items)
        pages = max(1, -(-total // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        links = []
        url = f"{self.gitlab.url}/api/v4{base}"
        if page < pages:
            links.append(f'<{url}?page={page + 1}&per_page={per_page}>; rel="next"')
        links.append(f'<{url}?page=1&per_page={per_page}>; rel="first"')
        links.append(f'<{url}?page={pages}&per_page={per_page}>; rel="last"')
        headers["Link"] = ", ".join(links)
        self._send(200, chunk, headers)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        g = self.gitlab
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        api = path[len("/api/v4"):] if path.startswith("/api/v4") else path
        self.call = Call(method, api, query, body, headers={k.lower(): v for k, v in self.headers.items()})
        with g.lock:
            g.calls.append(self.call)
        if not path.startswith("/api/v4/"):
            return self._send(404, {"message": "404 Not Found"})
        if self.headers.get("PRIVATE-TOKEN") != g.token:
            return self._send(401, {"message": "401 Unauthorized"})
        rule = g._take_rule(method, api)
        if rule is not None:
            if rule.event is not None:
                rule.event.wait(60)
            elif rule.status == 429:
                return self._send(
                    429, None, {"Retry-After": rule.retry_after or "1", "RateLimit-Limit": "600",
                                "RateLimit-Remaining": "0"}, raw=b"Retry later\n", ctype="text/plain",
                )
            elif rule.status:
                return self._send(rule.status, {"message": f"{rule.status} Server Error"})
        try:
            self._route(method, api, query, body)
        except _Err as e:
            self._send(e.status, e.payload)
        with g.lock:
            for i, (pat, m, fn) in enumerate(g._after):
                if pat.search(api) and (m is None or m == method):
                    del g._after[i]
                    fn(g)
                    break

    # -- routes ------------------------------------------------------------
    def _project(self, ident: str) -> Project:
        g = self.gitlab
        ident = unquote(ident)
        for p in g.projects.values():
            if str(p.id) == ident or p.path == ident:
                return p
        raise _Err(404, {"message": "404 Project Not Found"})

    def _mr(self, project: Project, iid: str) -> MR:
        mr = project.mrs.get(int(iid)) if iid.isdigit() else None
        if mr is None:
            raise _Err(404, {"message": "404 Not found"})
        return mr

    def _route(self, method: str, api: str, query: dict[str, str], body: Any) -> None:
        g = self.gitlab
        seg = api.strip("/").split("/")
        if api == "/user" and method == "GET":
            return self._send(200, g.bot)
        if len(seg) < 2 or seg[0] != "projects":
            raise _Err(404, {"message": "404 Not Found"})
        project = self._project(seg[1])
        rest = seg[2:]
        with g.lock:
            # /projects/:id/statuses/:sha
            if rest[:1] == ["statuses"] and len(rest) == 2 and method == "POST":
                return self._set_status(project, rest[1], body or {})
            if rest[:3] == ["repository", "commits"] and len(rest) == 5 and rest[4] == "statuses":
                items = [s for s in project.statuses if s["sha"] == rest[3]]
                return self._paginate(list(reversed(items)), api)
            if rest[:2] in (["repository", "archive.tar.gz"], ["repository", "archive"]) and method == "GET":
                sha = query.get("sha", "")
                if sha not in project.commits and sha not in project.archive_override:
                    raise _Err(404, {"message": "404 Commit Not Found"})
                data = g.archive(project, sha)
                return self._send(
                    200, None, {"Content-Disposition": f'attachment; filename="{project.name}-{sha}.tar.gz"'},
                    raw=data, ctype="application/octet-stream",
                )
            if rest[:1] != ["merge_requests"] or len(rest) < 2:
                raise _Err(404, {"message": "404 Not Found"})
            mr = self._mr(project, rest[1])
            sub = rest[2:]
            if not sub and method == "GET":
                data = g.mr_json(project, mr)
                if mr.preparing > 0:
                    mr.preparing -= 1
                return self._send(200, data)
            if sub == ["diffs"] and method == "GET":
                if mr.preparing > 0:
                    return self._paginate([], api)
                return self._paginate(g.file_diffs(project, mr), api)
            if sub == ["discussions"] and method == "GET":
                return self._paginate(mr.discussions, api)
            if sub == ["discussions"] and method == "POST":
                return self._create_discussion(project, mr, body or {})
            if len(sub) == 2 and sub[0] == "discussions" and method == "PUT":
                return self._resolve(mr, sub[1], query, body or {})
            if sub == ["notes"] and method == "GET":
                notes = [n for d in mr.discussions for n in d["notes"]]
                if query.get("sort") == "desc":
                    notes = list(reversed(notes))
                return self._paginate(notes, api)
            if sub == ["notes"] and method == "POST":
                return self._create_note(mr, body or {})
            if len(sub) == 2 and sub[0] == "notes" and method == "PUT":
                return self._update_note(mr, sub[1], body or {})
        raise _Err(404, {"message": "404 Not Found"})

    def _note(self, body: str, **extra: Any) -> dict[str, Any]:
        g = self.gitlab
        return {
            "id": g.next_id(),
            "type": None,
            "body": body,
            "author": g.bot,
            "created_at": "2026-03-10T10:00:00.000Z",
            "updated_at": "2026-03-10T10:00:00.000Z",
            "system": False,
            "noteable_type": "MergeRequest",
            "resolvable": False,
            "resolved": False,
            "resolved_by": None,
            **extra,
        }

    def _create_discussion(self, project: Project, mr: MR, body: dict[str, Any]) -> None:
        g = self.gitlab
        text = body.get("body")
        if not isinstance(text, str) or not text:
            raise _Err(400, {"error": "body is missing"})
        pos = body.get("position")
        if pos is None:
            d = {"id": _hexid(), "individual_note": False, "notes": [self._note(text)]}
            mr.discussions.append(d)
            return self._send(201, d)
        if not isinstance(pos, dict) or pos.get("position_type") not in ("text", "image", "file"):
            raise _Err(400, {"error": "position[position_type] does not have a valid value"})
        shas_ok = (
            pos.get("base_sha") == mr.base_sha and pos.get("start_sha") == mr.base_sha and pos.get("head_sha") == mr.head_sha
        )
        maps = g.line_maps(project, mr)
        key = (pos.get("old_path"), pos.get("new_path"))
        ok = False
        if shas_ok and key in maps:
            added, removed, context = maps[key]
            new_line, old_line = pos.get("new_line"), pos.get("old_line")
            if new_line is not None and old_line is None:
                ok = _int(new_line) in added
            elif old_line is not None and new_line is None:
                ok = _int(old_line) in removed
            elif old_line is not None and new_line is not None:
                ok = (_int(old_line), _int(new_line)) in context
        if not ok:
            raise _Err(400, {"message": LINE_CODE_ERROR})
        note = self._note(
            text, type="DiffNote", resolvable=True,
            position={**pos, "line_range": None},
        )
        d = {"id": _hexid(), "individual_note": False, "notes": [note]}
        mr.discussions.append(d)
        self._send(201, d)

    def _resolve(self, mr: MR, did: str, query: dict[str, str], body: dict[str, Any]) -> None:
        for d in mr.discussions:
            if d["id"] == did:
                break
        else:
            raise _Err(404, {"message": "404 Discussion Not Found"})
        value = query.get("resolved", body.get("resolved"))
        if value is None:
            raise _Err(400, {"error": "resolved is missing"})
        flag = str(value).lower() == "true"
        if not d["notes"][0].get("resolvable"):
            raise _Err(400, {"message": "400 Bad request - Discussion is not resolvable"})
        for n in d["notes"]:
            if n.get("resolvable"):
                n["resolved"] = flag
                n["resolved_by"] = self.gitlab.bot if flag else None
        self._send(200, d)

    def _create_note(self, mr: MR, body: dict[str, Any]) -> None:
        text = body.get("body")
        if not isinstance(text, str) or not text:
            raise _Err(400, {"error": "body is missing"})
        if len(text) > 1_000_000:
            raise _Err(400, {"message": {"note": ["is too long (maximum is 1000000 characters)"]}})
        note = self._note(text)
        mr.discussions.append({"id": _hexid(), "individual_note": True, "notes": [note]})
        self._send(201, note)

    def _update_note(self, mr: MR, nid: str, body: dict[str, Any]) -> None:
        for d in mr.discussions:
            for n in d["notes"]:
                if str(n["id"]) == nid:
                    if n["author"]["id"] != self.gitlab.bot["id"]:
                        raise _Err(403, {"message": "403 Forbidden"})
                    text = body.get("body")
                    if not isinstance(text, str) or not text:
                        raise _Err(400, {"error": "body is missing"})
                    n["body"] = text
                    n["updated_at"] = "2026-03-10T11:00:00.000Z"
                    return self._send(200, n)
        raise _Err(404, {"message": "404 Note Not Found"})

    def _set_status(self, project: Project, sha: str, body: dict[str, Any]) -> None:
        if sha not in project.commits:
            raise _Err(404, {"message": "404 Commit Not Found"})
        state = body.get("state")
        if state not in _EVENTS:
            raise _Err(400, {"error": "state does not have a valid value"})
        name = body.get("name") or body.get("context") or "default"
        ref = body.get("ref") or ""
        for k in ("description", "target_url", "name"):
            if isinstance(body.get(k), str) and len(body[k]) > 255:
                raise _Err(400, {"message": {k: ["is too long (maximum is 255 characters)"]}})
        existing = None
        for s in reversed(project.statuses):
            if s["sha"] == sha and s["name"] == name and s["ref"] == ref and s["status"] in ("pending", "running"):
                existing = s
                break
        if existing is not None:
            cur = existing["status"]
            bad = (cur == state) or (state == "pending" and cur == "running")
            if bad:
                ev = _EVENTS[state]
                raise _Err(
                    400,
                    {"message": f'Cannot transition status via :{ev} from :{cur} (Reason(s): Status cannot transition via "{ev}")'},
                )
            existing.update(status=state, description=body.get("description"), target_url=body.get("target_url"))
            record = existing
        else:
            record = {
                "id": self.gitlab.next_id(),
                "sha": sha,
                "ref": ref,
                "status": state,
                "name": name,
                "target_url": body.get("target_url"),
                "description": body.get("description"),
                "author": self.gitlab.bot,
            }
            project.statuses.append(record)
        self._send(201, record)


class _Err(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        self.status = status
        self.payload = payload


def _hexid() -> str:
    return hashlib.sha1(str(time.monotonic_ns()).encode() + threading.current_thread().name.encode()).hexdigest()


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def project_path_quoted(path: str) -> str:
    return quote(path, safe="")
