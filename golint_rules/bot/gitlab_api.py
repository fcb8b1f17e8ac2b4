"""GitLab REST v4 calls the review job makes, through python-gitlab.

python-gitlab builds the URLs, sends the ``PRIVATE-TOKEN`` and encodes JSON; this
module adds the retry policy a bot needs and python-gitlab's own loop lacks:
429 and 5xx (and network errors) are retried with exponential backoff and full
jitter, a ``Retry-After`` header (seconds or an HTTP date) is honoured exactly,
a wait longer than ``max_wait`` or past the job's deadline ends the job instead
of hammering GitLab, and every error is counted for ``/metrics``.

The token is only ever handed to python-gitlab; no message built here contains it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from typing import Any, BinaryIO, Iterator, Mapping

import gitlab
import gitlab.exceptions
import requests

from .. import __version__
from .metrics import CounterStore
from .settings import log_event

log = logging.getLogger("gorules.bot.gitlab")

RETRYABLE = {429, 500, 502, 503, 504} | set(range(520, 531))
TRANSITION_ERROR = "Cannot transition status via"


class GitLabError(Exception):
    """A GitLab API call failed for good (after retries, or not retryable)."""

    def __init__(self, method: str, path: str, status: int | None, message: str, attempts: int = 1) -> None:
        self.method = method.upper()
        self.path = path
        self.status = status
        self.message = message
        self.attempts = attempts
        what = f"HTTP {status}" if status else "network error"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"GitLab API {self.method} {path}: {what}{tries}: {message}")

    def short(self) -> str:
        what = f"{self.status}" if self.status else "network error"
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"GitLab API {what} on {self.method} {_short_path(self.path)}{tries}"


class DeadlineExceeded(Exception):
    """The job ran out of its time budget."""


def _short_path(path: str) -> str:
    parts = path.split("?")[0].strip("/").split("/")
    # /projects/42/merge_requests/17/diffs -> merge_requests/17/diffs
    if len(parts) > 2 and parts[0] == "projects":
        parts = parts[2:]
    return "/".join(parts)[:80]


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(int(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class GitLabClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_wait: float = 60.0,
        backoff: float = 0.5,
        counters: CounterStore | None = None,
        deadline: float | None = None,
        sleep=time.sleep,
    ) -> None:
        self._last = threading.local()
        session = requests.Session()
        session.hooks["response"].append(self._remember)
        self.gl = gitlab.Gitlab(
            url,
            private_token=token,
            timeout=timeout,
            session=session,
            retry_transient_errors=False,
            user_agent=f"gorules-bot/{__version__}",
        )
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.backoff = backoff
        self.counters = counters
        self.deadline = deadline  # time.monotonic() value
        self.sleep = sleep
        self.calls = 0

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self._last.response = response
        return response

    def _count(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        if self.counters is not None:
            try:
                self.counters.incr(name, labels)
            except Exception:  # metrics never break a job
                pass

    # ------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        stream: bool = False,
        retry: bool = True,
    ) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            self._last.response = None
            self.calls += 1
            try:
                return self.gl.http_request(
                    method,
                    path,
                    query_data=dict(query or {}),
                    post_data=dict(body) if body is not None else None,
                    streamed=stream,
                    obey_rate_limit=False,
                    retry_transient_errors=False,
                    max_retries=0,
                )
            except (gitlab.exceptions.GitlabHttpError, gitlab.exceptions.GitlabAuthenticationError) as exc:
                status = exc.response_code or 0
                message = _message(exc)
                resp = getattr(self._last, "response", None)
                headers = resp.headers if resp is not None else {}
                self._count("gitlab_api_errors_total", {"status": _status_label(status)})
                retryable = status in RETRYABLE or (status == 409 and "Resource lock" in message)
                if not (retry and retryable) or attempt > self.max_retries:
                    raise GitLabError(method, path, status, message, attempt) from None
                wait = parse_retry_after(headers.get("Retry-After"))
                if wait is None and status == 429 and headers.get("RateLimit-Reset"):
                    try:
                        wait = max(0.0, float(headers["RateLimit-Reset"]) - time.time())
                    except ValueError:
                        wait = None
                if wait is not None and wait > self.max_wait:
                    raise GitLabError(
                        method, path, status,
                        f"GitLab asked to retry after {wait:.0f}s, longer than GORULES_API_MAX_WAIT ({self.max_wait:.0f}s)",
                        attempt,
                    ) from None
                if wait is None:
                    wait = self._backoff(attempt)
                self._wait(wait, method, path, status, message, attempt)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                self._count("gitlab_api_errors_total", {"status": "network"})
                if not retry or attempt > self.max_retries:
                    raise GitLabError(method, path, None, type(exc).__name__, attempt) from None
                self._wait(self._backoff(attempt), method, path, None, type(exc).__name__, attempt)

    def _backoff(self, attempt: int) -> float:
        cap = min(30.0, self.backoff * (2 ** (attempt - 1)))
        return random.uniform(cap / 2, cap)

    def _wait(self, wait: float, method: str, path: str, status: int | None, message: str, attempt: int) -> None:
        if self.deadline is not None and time.monotonic() + wait > self.deadline:
            raise GitLabError(
                method, path, status, f"{message}; no time left in the job's budget to retry", attempt
            ) from None
        self._count("gitlab_api_retries_total")
        log_event(
            log, "retrying GitLab API call", level=logging.WARNING,
            method=method.upper(), path=_short_path(path), status=status, attempt=attempt, wait=round(wait, 2),
        )
        self.sleep(wait)

    def get(self, path: str, **query: Any) -> Any:
        return self.request("get", path, query=query).json()

    def paginate(self, path: str, per_page: int = 100, max_pages: int = 200, **query: Any) -> Iterator[Any]:
        """Every item of a paginated list, following ``X-Next-Page``."""
        page = 1
        for _ in range(max_pages):
            resp = self.request("get", path, query={**query, "page": page, "per_page": per_page})
            items = resp.json()
            if not isinstance(items, list):
                raise GitLabError("get", path, resp.status_code, "expected a JSON list")
            yield from items
            nxt = resp.headers.get("X-Next-Page", "").strip()
            if not nxt:
                return
            page = int(nxt)
        raise GitLabError("get", path, None, f"more than {max_pages} pages; stopped")

    # ------------------------------------------------------------------
    # The calls the job makes

    def current_user(self) -> dict[str, Any]:
        return self.get("/user")

    def merge_request(self, pid: int, iid: int) -> dict[str, Any]:
        return self.get(f"/projects/{pid}/merge_requests/{iid}")

    def merge_request_diffs(self, pid: int, iid: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/projects/{pid}/merge_requests/{iid}/diffs"))

    def discussions(self, pid: int, iid: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/projects/{pid}/merge_requests/{iid}/discussions"))

    def create_discussion(self, pid: int, iid: int, body: str, position: Mapping[str, Any]) -> dict[str, Any]:
        return self.request(
            "post", f"/projects/{pid}/merge_requests/{iid}/discussions", body={"body": body, "position": dict(position)}
        ).json()

    def resolve_discussion(self, pid: int, iid: int, discussion_id: str, resolved: bool = True) -> dict[str, Any]:
        return self.request(
            "put",
            f"/projects/{pid}/merge_requests/{iid}/discussions/{discussion_id}",
            query={"resolved": "true" if resolved else "false"},
        ).json()

    def create_note(self, pid: int, iid: int, body: str) -> dict[str, Any]:
        return self.request("post", f"/projects/{pid}/merge_requests/{iid}/notes", body={"body": body}).json()

    def update_note(self, pid: int, iid: int, note_id: int, body: str) -> dict[str, Any]:
        return self.request("put", f"/projects/{pid}/merge_requests/{iid}/notes/{note_id}", body={"body": body}).json()

    def set_status(
        self, pid: int, sha: str, state: str, *, name: str, ref: str = "", target_url: str = "", description: str = ""
    ) -> bool:
        """Set the commit status; False when GitLab says the status is already in that state."""
        body: dict[str, Any] = {"state": state, "name": name}
        if ref:
            body["ref"] = ref
        if target_url:
            body["target_url"] = target_url[:255]
        if description:
            body["description"] = description[:255]
        try:
            self.request("post", f"/projects/{pid}/statuses/{sha}", body=body)
        except GitLabError as exc:
            if exc.status == 400 and TRANSITION_ERROR in exc.message:
                return False
            raise
        return True

    def download_archive(self, pid: int, sha: str, out: BinaryIO, max_bytes: int) -> int:
        """Stream ``archive.tar.gz`` of ``sha`` into ``out``; at most ``max_bytes``."""
        resp = self.request("get", f"/projects/{pid}/repository/archive.tar.gz", query={"sha": sha}, stream=True)
        total = 0
        try:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise ArchiveTooLarge(int(length), max_bytes)
            for chunk in resp.iter_content(chunk_size=256 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    raise ArchiveTooLarge(total, max_bytes)
                out.write(chunk)
        finally:
            resp.close()
        return total


class ArchiveTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the repository archive is larger than GORULES_ARCHIVE_MAX_DOWNLOAD ({limit} bytes; got {size}+)"
        )


def _status_label(status: int) -> str:
    if status == 429:
        return "429"
    if 500 <= status < 600:
        return "5xx"
    return "4xx"


def _message(exc: gitlab.exceptions.GitlabError) -> str:
    msg = exc.error_message
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    if not isinstance(msg, str):
        msg = str(msg)
    return " ".join(msg.split())[:500]
