"""The bot's settings (environment variables) and its structured logging.

Every setting comes from the environment so that the same values reach the web
process, in-process workers, job processes and ``gorules bot worker`` processes
on other machines. A bad value stops the bot at start with a message that names
the variable and the fix (:class:`SettingsError`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MiB = 1024 * 1024


class SettingsError(Exception):
    """A missing or malformed setting; the message says which and how to fix it."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number: set it to e.g. {default}") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} is too small: it must be at least {minimum}")
    return value


def _float(name: str, default: float, minimum: float = 0.0) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number: set it to e.g. {default}") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} is too small: it must be at least {minimum}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean: use true or false")


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "gorules-bot"


@dataclass
class Settings:
    gitlab_url: str | None
    gitlab_token: str | None
    webhook_secret: str | None
    signing_token: str | None
    state_dir: Path
    queue_url: str
    review_drafts: bool = False
    max_body_bytes: int = 10 * MiB
    job_timeout: float = 600.0
    max_inline: int = 50
    archive_max_download: int = 512 * MiB
    archive_max_bytes: int = 1024 * MiB
    archive_max_files: int = 200_000
    api_timeout: float = 30.0
    api_max_retries: int = 5
    api_max_wait: float = 60.0
    diff_refs_wait: float = 30.0
    lease_seconds: float = 60.0
    poll_interval: float = 1.0
    max_attempts: int = 3
    fail_on: str | None = None  # None: the repository's fail-on, else "error"
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_env(cls, fail_on: str | None = None) -> "Settings":
        state = Path(_env("GORULES_STATE_DIR") or default_state_dir()).expanduser()
        queue_url = _env("GORULES_QUEUE") or f"sqlite:///{state / 'queue.db'}"
        if not queue_url.startswith(("sqlite://", "redis://", "rediss://", "unix://")):
            raise SettingsError(
                f"GORULES_QUEUE={queue_url!r} is not supported: use sqlite:///path/queue.db "
                "or redis://host:port/db"
            )
        url = _env("GORULES_GITLAB_URL")
        if url is not None:
            url = url.rstrip("/")
            if url.endswith("/api/v4"):
                url = url[: -len("/api/v4")]
            if not url.startswith(("http://", "https://")):
                raise SettingsError(
                    f"GORULES_GITLAB_URL={url!r} must start with https:// (e.g. https://gitlab.example.com)"
                )
        token = _env("GORULES_GITLAB_TOKEN")
        secret = os.environ.get("GORULES_WEBHOOK_SECRET") or None
        signing = _env("GORULES_WEBHOOK_SIGNING_TOKEN")
        fail_on = fail_on or _env("GORULES_FAIL_ON")
        if fail_on is not None and fail_on not in ("error", "warning", "note"):
            raise SettingsError(f"fail-on {fail_on!r} is not a severity: use error, warning or note")
        s = cls(
            gitlab_url=url,
            gitlab_token=token,
            webhook_secret=secret,
            signing_token=signing,
            state_dir=state,
            queue_url=queue_url,
            review_drafts=_bool("GORULES_REVIEW_DRAFTS", False),
            max_body_bytes=_int("GORULES_MAX_BODY_BYTES", 10 * MiB, 1024),
            job_timeout=_float("GORULES_JOB_TIMEOUT", 600.0, 1.0),
            max_inline=_int("GORULES_MAX_INLINE_COMMENTS", 50, 0),
            archive_max_download=_int("GORULES_ARCHIVE_MAX_DOWNLOAD", 512 * MiB, 1024),
            archive_max_bytes=_int("GORULES_ARCHIVE_MAX_BYTES", 1024 * MiB, 1024),
            archive_max_files=_int("GORULES_ARCHIVE_MAX_FILES", 200_000, 1),
            api_timeout=_float("GORULES_API_TIMEOUT", 30.0, 0.1),
            api_max_retries=_int("GORULES_API_MAX_RETRIES", 5, 0),
            api_max_wait=_float("GORULES_API_MAX_WAIT", 60.0, 0.0),
            diff_refs_wait=_float("GORULES_DIFF_REFS_WAIT", 30.0, 0.0),
            lease_seconds=_float("GORULES_LEASE_SECONDS", 60.0, 1.0),
            poll_interval=_float("GORULES_POLL_INTERVAL", 1.0, 0.01),
            max_attempts=_int("GORULES_MAX_ATTEMPTS", 3, 1),
            fail_on=fail_on,
            secrets=tuple(x for x in (token, secret, signing) if x),
        )
        if signing is not None and not signing.startswith("whsec_"):
            raise SettingsError(
                "GORULES_WEBHOOK_SIGNING_TOKEN must be the whsec_... value GitLab shows for the hook's signing token"
            )
        return s

    def require_web(self) -> None:
        if not self.webhook_secret:
            raise SettingsError(
                "GORULES_WEBHOOK_SECRET is not set: the bot refuses to accept unauthenticated webhooks. "
                "Set it to the secret token typed into GitLab's webhook settings (e.g. `openssl rand -hex 32`)"
            )

    def require_gitlab(self) -> None:
        if not self.gitlab_url:
            raise SettingsError("GORULES_GITLAB_URL is not set: set it to your GitLab, e.g. https://gitlab.example.com")
        if not self.gitlab_token:
            raise SettingsError(
                "GORULES_GITLAB_TOKEN is not set: create a token with the `api` scope for the bot user "
                "(Developer role on the projects) and export it"
            )

    @property
    def is_redis(self) -> bool:
        return not self.queue_url.startswith("sqlite://")

    def sqlite_path(self) -> Path:
        assert self.queue_url.startswith("sqlite://")
        rest = self.queue_url[len("sqlite://"):]
        # sqlite:///abs/path -> /abs/path ; sqlite://rel/path -> rel/path
        return Path(rest[1:] if rest.startswith("//") else rest)


# ---------------------------------------------------------------------------
# Logging: one JSON object per line on stderr; secrets never reach the output.


class JsonFormatter(logging.Formatter):
    """One JSON object per record; every configured secret becomes ``[REDACTED]``.

    Redaction runs on the final line, so a secret cannot leak through the
    message, the structured fields or an exception's text.
    """

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        forms: set[str] = set()
        for s in secrets:
            if s and len(s) >= 4:
                forms.add(s)
                forms.add(json.dumps(s)[1:-1])
        self.secrets = tuple(sorted(forms, key=len, reverse=True))

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        line = json.dumps(out, default=str, ensure_ascii=False)
        for s in self.secrets:
            line = line.replace(s, "[REDACTED]")
        return line


def setup_logging(settings: Settings | None, level: str | None = None) -> None:
    level = (level or os.environ.get("GORULES_LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(settings.secrets if settings else ()))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "rq.worker", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: object) -> None:
    """One structured line: ``msg`` plus ``fields`` as JSON keys."""
    logger.log(level, msg, extra={"fields": fields})
