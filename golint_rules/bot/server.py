"""The HTTP side: ``POST /webhook``, ``GET /healthz``, ``GET /metrics`` (Starlette).

Order of work for a delivery, cheapest and safest first: token (401, nothing
read or queued) -> declared size (413 before the body is read) -> body read
with a running limit (413 as soon as it is passed) -> optional signature ->
JSON and fields (400 with the reason) -> policy -> durable enqueue -> 202.
Events needing no work get 200; a queue that cannot be reached gives 503.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .metrics import CONTENT_TYPE, LocalCounters, render
from .queue import QueueUnavailable
from .settings import Settings, log_event
from .webhook import decide, delivery_key, signature_problem, token_ok

log = logging.getLogger("gorules.bot.server")


class _TooLarge(Exception):
    pass


def create_app(settings: Settings, queue, wake: Callable[[], None] = lambda: None) -> Starlette:
    settings.require_web()
    secret = settings.webhook_secret or ""
    local = LocalCounters()

    def answer(status: int, result: str, reason: str, t0: float, **fields: object) -> JSONResponse:
        local.incr("webhook_requests_total", {"result": result})
        log_event(
            log, "webhook", level=logging.INFO if status < 400 else logging.WARNING,
            status=status, result=result, reason=reason, ms=round((time.perf_counter() - t0) * 1000, 2), **fields,
        )
        headers = {"Connection": "close"} if status == 413 else None
        body = {"result": result, "reason": reason}
        return JSONResponse(body, status_code=status, headers=headers)

    async def webhook(request: Request) -> Response:
        t0 = time.perf_counter()
        if not token_ok(secret, request.headers.get("x-gitlab-token")):
            return answer(401, "unauthorized", "missing or wrong X-Gitlab-Token", t0)
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return answer(400, "bad_request", "Content-Length is not a number", t0)
            if int(length) > settings.max_body_bytes:
                return answer(
                    413, "too_large",
                    f"body of {length} bytes is over the limit of {settings.max_body_bytes} (GORULES_MAX_BODY_BYTES)", t0,
                )
        try:
            body = await _read_limited(request, settings.max_body_bytes)
        except _TooLarge:
            return answer(413, "too_large", f"body over the limit of {settings.max_body_bytes} bytes", t0)
        except _TooSlow:
            return answer(408, "bad_request", f"body not received within {BODY_READ_TIMEOUT:.0f}s", t0)
        if settings.signing_token:
            problem = signature_problem(settings.signing_token, request.headers, body)
            if problem:
                return answer(401, "unauthorized", problem, t0)
        delivery = delivery_key(request.headers, body)
        event = request.headers.get("x-gitlab-event")
        d = decide(event, body, settings, delivery)
        if d.result == "cancel" and d.cancel is not None:
            try:
                dropped = await run_in_threadpool(queue.cancel_mr, d.cancel[0], d.cancel[1], d.reason)
            except QueueUnavailable as exc:
                return answer(503, "unavailable", f"queue unavailable: {exc}", t0)
            return answer(200, "ignored", d.reason, t0, dropped=len(dropped), project_id=d.cancel[0], mr_iid=d.cancel[1])
        if d.spec is None:
            return answer(d.status, d.result, d.reason, t0)
        try:
            res = await run_in_threadpool(queue.enqueue, d.spec, delivery)
        except QueueUnavailable as exc:
            return answer(503, "unavailable", f"queue unavailable, the delivery was not stored: {exc}", t0)
        fields = dict(project_id=d.spec.project_id, mr_iid=d.spec.iid, sha=d.spec.sha, delivery=delivery[:80])
        if not res.accepted:
            return answer(200, "duplicate", "this head sha is already queued or reviewed", t0, **fields)
        wake()
        return answer(202, "queued", "review queued", t0, superseded=len(res.superseded), **fields)

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(queue.ping)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "queue": queue.backend, "error": str(exc)[:200]}, 503)
        return JSONResponse({"status": "ok", "queue": queue.backend})

    async def metrics(request: Request) -> Response:
        try:
            shared = await run_in_threadpool(queue.counters)
            gauges = await run_in_threadpool(queue.gauges)
        except Exception as exc:
            return Response(f"# queue unavailable: {str(exc)[:200]}\n", 503, media_type="text/plain")
        return Response(render(shared, local.counters(), gauges), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


BODY_READ_TIMEOUT = 30.0


class _TooSlow(Exception):
    pass


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes, within BODY_READ_TIMEOUT (no slow-loris)."""
    import anyio

    body = bytearray()
    try:
        with anyio.fail_after(BODY_READ_TIMEOUT):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise _TooLarge()
    except TimeoutError:
        raise _TooSlow() from None
    return bytes(body)
