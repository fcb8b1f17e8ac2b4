"""``gorules bot serve`` and ``gorules bot worker``.

The main CLI wires this in with ``golint_rules.bot.cli.add_parser(subparsers)``
and then calls ``args.func(args)``, which returns the exit code: 0 after a
clean shutdown, 2 for a configuration problem (the message names the variable
and the fix), 1 if the queue cannot be reached at start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .settings import Settings, SettingsError, log_event, setup_logging

log = logging.getLogger("gorules.bot")

ENV_HELP = """\
environment:
  GORULES_WEBHOOK_SECRET   secret token typed into GitLab's webhook settings (required for serve)
  GORULES_GITLAB_URL       e.g. https://gitlab.example.com (required for workers)
  GORULES_GITLAB_TOKEN     the bot user's token, `api` scope (required for workers)
  GORULES_QUEUE            sqlite:///<state dir>/queue.db (default) or redis://host:port/db
  GORULES_STATE_DIR        queue database and job work space (default ~/.local/state/gorules-bot)
  see docs/bot.md for the optional settings (drafts, limits, timeouts, signed webhooks)
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bot`` (with ``serve`` and ``worker``) to the main CLI's subcommands."""
    bot = subparsers.add_parser(
        "bot",
        help="GitLab merge-request bot (webhook service and workers)",
        description="Review GitLab merge requests: inline threads on added lines, one summary note, "
        "and a `gorules` commit status.",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = bot.add_subparsers(dest="bot_command", metavar="{serve,worker}")
    sub.required = True

    serve = sub.add_parser(
        "serve",
        help="run the webhook endpoint and N in-process workers",
        description="Run POST /webhook, GET /healthz and GET /metrics, and N workers (SQLite: threads in this "
        "process; Redis: worker processes). --workers 0 runs the endpoint only.",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=_count, default=2, metavar="N", help="workers to run (default 2; 0 = none)")
    serve.add_argument(
        "--fail-on", choices=("error", "warning", "note"), default=None,
        help="lowest severity on an added line that fails the status (default: the repository's fail-on, else error)",
    )
    serve.set_defaults(func=run, bot_command="serve")

    worker = sub.add_parser(
        "worker",
        help="run workers only (for a Redis queue shared by several machines)",
        description="Run review workers without the webhook endpoint.",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument("--workers", type=_count, default=1, metavar="N", help="workers to run (default 1)")
    worker.add_argument("--fail-on", choices=("error", "warning", "note"), default=None,
                        help="as for serve")
    worker.set_defaults(func=run, bot_command="worker")


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if n < 0 or n > 64:
        raise argparse.ArgumentTypeError("must be between 0 and 64")
    return n


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(fail_on=getattr(args, "fail_on", None))
        if args.bot_command == "serve":
            settings.require_web()
            if args.workers > 0:
                settings.require_gitlab()
        else:
            settings.require_gitlab()
            if args.workers < 1:
                raise SettingsError("--workers must be at least 1 for `gorules bot worker`")
    except SettingsError as exc:
        print(f"gorules bot: error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings)
    if settings.fail_on:
        os.environ["GORULES_FAIL_ON"] = settings.fail_on  # job processes and RQ work horses read it
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        print(f"gorules bot: error: cannot create GORULES_STATE_DIR {settings.state_dir}: {exc.strerror}", file=sys.stderr)
        return 2
    from .queue import QueueUnavailable, open_queue

    try:
        queue = open_queue(settings)
        queue.ping()
    except (QueueUnavailable, Exception) as exc:
        print(f"gorules bot: error: cannot reach the queue {_safe_url(settings.queue_url)}: {exc}", file=sys.stderr)
        return 1
    if args.bot_command == "serve":
        return _serve(args, settings, queue)
    return _worker(args, settings, queue)


def _safe_url(url: str) -> str:
    """A queue URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _make_workers(settings: Settings, queue, n: int):
    from .worker import ProcessSupervisor, SQLiteWorkers

    if n <= 0:
        return None
    if settings.is_redis:
        return ProcessSupervisor(settings, n)
    return SQLiteWorkers(settings, queue, n)


def _serve(args: argparse.Namespace, settings: Settings, queue) -> int:
    import uvicorn

    from .server import create_app

    workers = _make_workers(settings, queue, args.workers)
    app = create_app(settings, queue, wake=workers.wake if workers else (lambda: None))
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=5,
        limit_concurrency=256,
        h11_max_incomplete_event_size=64 * 1024,
        server_header=False,
    )
    server = uvicorn.Server(config)
    log_event(
        log, "bot serving", host=args.host, port=args.port, workers=args.workers,
        queue=_safe_url(settings.queue_url), gitlab=settings.gitlab_url,
    )
    # uvicorn re-raises the signal that stopped it once it is done; with its default handler
    # that would kill the process before the workers hand their jobs back. Ours only records it.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    if workers:
        workers.start()
    try:
        server.run()
    finally:
        if workers:
            workers.stop()
        log_event(log, "bot stopped")
    return 0


def _worker(args: argparse.Namespace, settings: Settings, queue) -> int:
    if settings.is_redis and args.workers == 1:
        from .worker import run_rq_worker

        return run_rq_worker(settings)
    workers = _make_workers(settings, queue, args.workers)
    assert workers is not None
    done = threading.Event()

    def stop(signum, frame) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if os.environ.get("GORULES_PARENT_PID"):
        from .runner import set_parent_death_signal

        set_parent_death_signal()
    workers.start()
    done.wait()
    log_event(log, "workers stopping")
    workers.stop()
    return 0
