"""Webhook checks and the trigger policy, free of any web framework.

* :func:`token_ok`: ``X-Gitlab-Token`` compared in constant time;
* :func:`signature_problem`: the optional signed mode (GitLab's signing token,
  Standard-Webhooks style ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
  ``"{webhook-id}.{webhook-timestamp}.{body}"``, timestamp within 5 minutes);
* :func:`decide`: parse and validate a "Merge Request Hook" body and say what
  to do: queue a review, cancel queued reviews (close/merge), or nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping

from .queue import JobSpec
from .settings import Settings

SIGNATURE_TOLERANCE = 300
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass
class Decision:
    status: int
    result: str  # queued | ignored | cancel | bad_request
    reason: str
    spec: JobSpec | None = None
    cancel: tuple[int, int] | None = None


def token_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the shared secret (bytes, so any text works)."""
    return hmac.compare_digest(expected.encode("utf-8"), (given or "").encode("utf-8"))


def signature_problem(signing_token: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str | None:
    """None if the signature is valid, else why not."""
    wid = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    sigs = headers.get("webhook-signature", "")
    if not (wid and ts and sigs):
        return "signed webhooks are required (GORULES_WEBHOOK_SIGNING_TOKEN is set) but webhook-signature headers are missing"
    try:
        t = int(ts)
    except ValueError:
        return "webhook-timestamp is not a number"
    if abs((time.time() if now is None else now) - t) > SIGNATURE_TOLERANCE:
        return "webhook-timestamp is more than 5 minutes away from the bot's clock"
    try:
        key = base64.b64decode(signing_token.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return "GORULES_WEBHOOK_SIGNING_TOKEN is not valid base64 after whsec_"
    expected = base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest())
    ok = False
    for part in sigs.split():
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(expected, sig.encode("ascii", "replace")):
            ok = True
    return None if ok else "webhook-signature does not match the body"


def delivery_key(headers: Mapping[str, str], body: bytes) -> str:
    """GitLab's ``Idempotency-Key`` (same on retries and resends), else a body digest."""
    key = (headers.get("idempotency-key") or headers.get("webhook-id") or "").strip()
    if key and len(key) <= 200:
        return "idem:" + key
    event = headers.get("x-gitlab-event", "")
    return "sha256:" + hashlib.sha256(event.encode() + b"\0" + body).hexdigest()


class _Invalid(Exception):
    pass


def _get(data: Any, path: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    cur = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur or cur[part] is None:
            if required:
                raise _Invalid(f"{path} is missing")
            return None
        cur = cur[part]
    if not isinstance(cur, kind) or (kind is int and isinstance(cur, bool)):
        raise _Invalid(f"{path} must be {_KIND_NAMES.get(kind, str(kind))}, not {_json_type(cur)}")
    return cur


_KIND_NAMES: dict[Any, str] = {int: "an integer", str: "a string", dict: "an object", list: "an array"}


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    return _KIND_NAMES.get(type(v), "a number" if isinstance(v, float) else type(v).__name__)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Invalid(f"body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise _Invalid(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def decide(event: str | None, body: bytes, settings: Settings, delivery: str) -> Decision:
    try:
        data = parse_json(body)
        if not isinstance(data, dict):
            raise _Invalid("the body must be a JSON object")
        kind = data.get("object_kind")
        if event and event != "Merge Request Hook":
            return Decision(200, "ignored", f"{event} is not reviewed (only Merge Request Hook)")
        if kind != "merge_request":
            if event == "Merge Request Hook":
                raise _Invalid(f"object_kind is {kind!r}, expected 'merge_request' for a Merge Request Hook")
            return Decision(200, "ignored", f"object_kind {kind!r} is not reviewed")
        oa = _get(data, "object_attributes", dict)
        project_id = _get(data, "project.id", int)
        iid = _get(data, "object_attributes.iid", int)
        action = _get(data, "object_attributes.action", str, required=False) or ""
        state = _get(data, "object_attributes.state", str, required=False) or ""
        target = _get(data, "object_attributes.target_project_id", int, required=False) or project_id
        source = _get(data, "object_attributes.source_project_id", int, required=False) or target
        if action in ("close", "merge") or state in ("closed", "merged", "locked"):
            return Decision(200, "cancel", f"MR {state or action}: queued reviews dropped", cancel=(target, iid))
        if state and state != "opened":
            return Decision(200, "ignored", f"MR state {state!r}")
        sha = _get(data, "object_attributes.last_commit.id", str)
        if not _SHA.match(sha):
            raise _Invalid("object_attributes.last_commit.id must be a 40-character hex commit sha")
        changes = data.get("changes") if isinstance(data.get("changes"), dict) else {}
        draft = bool(oa.get("draft") or oa.get("work_in_progress"))
        became_ready = _changed_to_false(changes, "draft") or _changed_to_false(changes, "work_in_progress")
        if draft and not settings.review_drafts:
            return Decision(200, "ignored", "draft MR (set GORULES_REVIEW_DRAFTS=true to review drafts)")
        if action in ("open", "reopen"):
            pass
        elif action == "update" and oa.get("oldrev"):
            pass
        elif action == "update" and became_ready:
            pass
        else:
            return Decision(200, "ignored", f"action {action!r} brings no new commits")
        spec = JobSpec(
            project_id=target,
            source_project_id=source,
            iid=iid,
            sha=sha,
            ref=_get(data, "object_attributes.source_branch", str, required=False) or "",
            mr_url=_get(data, "object_attributes.url", str, required=False) or "",
            project_path=_get(data, "project.path_with_namespace", str, required=False) or "",
            action=action,
            delivery=delivery,
        )
        return Decision(202, "queued", "review queued", spec=spec)
    except _Invalid as exc:
        return Decision(400, "bad_request", str(exc))


def _changed_to_false(changes: Mapping[str, Any], key: str) -> bool:
    ch = changes.get(key)
    return isinstance(ch, dict) and ch.get("previous") is True and ch.get("current") is False
