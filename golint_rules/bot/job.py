"""The review job: one MR head sha in, threads + summary note + commit status out.

1. status ``gorules`` -> ``running`` on the source project's commit;
2. read the MR (waiting while GitLab still prepares ``diff_refs``) and its
   changed files (``/diffs``, every page);
3. download ``archive.tar.gz`` at the head sha and extract it safely;
4. load the repository's ``.gorules.toml`` at that sha and scan, with the same
   :func:`golint_rules.engine.scan` the CLI uses, the changed Go files (with
   the rest of their package for context) and the go.mod/go.work of the
   modules they belong to;
5. post one thread per finding on an added line (hidden fingerprint marker:
   never the same finding twice), resolve the bot's threads whose finding is
   gone, create or edit the one summary note;
6. status -> ``success`` or ``failed`` (findings on added lines at or above
   ``fail-on``). If the bot itself fails, the status is ``failed`` with a
   description that says so.

Before each write the job checks it is still the MR's newest head; if not it
stops (``superseded``). Every step is idempotent, so a job run twice (worker
restart, redelivery after a bot failure) changes nothing the first run did.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import config as gconfig
from .. import engine
from ..discover import skip_dir
from ..model import Finding, Severity
from . import STATUS_NAME
from .archive import ArchiveError, extract
from .diffs import FileDiff
from .gitlab_api import ArchiveTooLarge, GitLabClient, GitLabError
from .queue import JobSpec
from .render import (
    SUMMARY_MARKER,
    Review,
    bot_failed_description,
    counts,
    fingerprints_in,
    inline_body,
    status_description,
    summary_body,
)
from .settings import Settings, log_event

log = logging.getLogger("gorules.bot.job")

MODULE_FILES = ("go.mod", "go.work")


class QueueView(Protocol):
    def is_current(self, spec: JobSpec) -> bool: ...

    def incr(self, name: str, labels: Any = None, amount: float = 1.0) -> None: ...


class Superseded(Exception):
    pass


class Canceled(Exception):
    pass


class DeadlineExceeded(Exception):
    pass


@dataclass
class Outcome:
    outcome: str  # success | failed | error | superseded | canceled
    detail: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "detail": self.detail, **self.fields}


def make_client(settings: Settings, counters: Any, deadline: float | None) -> GitLabClient:
    settings.require_gitlab()
    return GitLabClient(
        settings.gitlab_url or "",
        settings.gitlab_token or "",
        timeout=settings.api_timeout,
        max_retries=settings.api_max_retries,
        max_wait=settings.api_max_wait,
        backoff=float(os.environ.get("GORULES_API_BACKOFF", "0.5") or 0.5),
        counters=counters,
        deadline=deadline,
    )


def run_review(spec: JobSpec, settings: Settings, queue: QueueView, *, deadline: float | None = None) -> Outcome:
    """Run one review; never raises (the outcome says what happened)."""
    if deadline is None:
        deadline = time.monotonic() + settings.job_timeout
    api = make_client(settings, queue, deadline)
    job = _Review(spec, settings, queue, api, deadline)
    try:
        return job.run()
    except Superseded as exc:
        job.finish_status("canceled", f"gorules: superseded by a newer push{exc.args[0] if exc.args else ''}; not reviewed")
        return Outcome("superseded", "a newer head sha of the MR was queued", job.stats())
    except Canceled as exc:
        job.finish_status("canceled", f"gorules: {exc}")
        return Outcome("canceled", str(exc), job.stats())
    except GitLabError as exc:
        reason = exc.short()
        if exc.status == 401:
            reason = "GitLab rejected the bot's token (401): check GORULES_GITLAB_TOKEN"
        elif exc.status in (403, 404) and "statuses" in exc.path:
            reason = f"{exc.short()}: the bot user needs Developer access to the source project"
        job.finish_status("failed", bot_failed_description(reason), quiet=exc.status == 401)
        return Outcome("error", f"{reason} ({exc.message})", job.stats())
    except (DeadlineExceeded, ArchiveError, ArchiveTooLarge) as exc:
        job.finish_status("failed", bot_failed_description(str(exc)))
        return Outcome("error", str(exc), job.stats())
    except Exception as exc:  # a bug in the bot: say so on the MR, keep the trace in the log
        log.exception("review job crashed")
        job.finish_status("failed", bot_failed_description(f"internal error {type(exc).__name__}"))
        return Outcome("error", f"internal error: {type(exc).__name__}: {exc}", job.stats())
    finally:
        job.cleanup()


class _Review:
    def __init__(self, spec: JobSpec, settings: Settings, queue: QueueView, api: GitLabClient, deadline: float) -> None:
        self.spec = spec
        self.settings = settings
        self.queue = queue
        self.api = api
        self.deadline = deadline
        self.status_set = False
        self.workdir: Path | None = None
        self.review: Review | None = None
        self.summary_url = spec.mr_url

    # -- helpers ---------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        r = self.review
        out: dict[str, Any] = {"api_calls": self.api.calls}
        if r is not None:
            out.update(
                findings=len(r.findings),
                on_added_lines=len(r.inline),
                posted=r.posted,
                kept=r.already,
                refused=len(r.refused),
                resolved=r.resolved,
                by_rule=counts(r.findings),
            )
        return out

    def check_current(self) -> None:
        if not self.queue.is_current(self.spec):
            raise Superseded()
        if time.monotonic() > self.deadline:
            raise DeadlineExceeded(f"the review took longer than GORULES_JOB_TIMEOUT ({self.settings.job_timeout:.0f}s)")

    def set_status(self, state: str, description: str) -> None:
        self.api.set_status(
            self.spec.source_project_id,
            self.spec.sha,
            state,
            name=STATUS_NAME,
            ref=self.spec.ref,
            target_url=self.summary_url,
            description=description,
        )
        self.status_set = True

    def finish_status(self, state: str, description: str, quiet: bool = False) -> None:
        """Best effort final status after a problem; never raises."""
        if state == "canceled" and not self.status_set:
            return  # nothing was shown for this sha; leave it alone
        try:
            self.api.max_retries = min(self.api.max_retries, 2)
            self.set_status(state, description)
        except Exception as exc:  # the failure we report on may be GitLab itself
            if not quiet:
                log_event(log, "could not set the final commit status", level=logging.WARNING, error=str(exc)[:300])

    def cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- the job ---------------------------------------------------------
    def run(self) -> Outcome:
        spec = self.spec
        self.check_current()
        self.set_status("running", "gorules is reviewing this commit")
        mr = self.wait_for_mr()
        refs = mr["diff_refs"]
        diffs = [FileDiff.from_api(e) for e in self.api.merge_request_diffs(spec.project_id, spec.iid)]
        me = self.api.current_user()
        discussions = self.api.discussions(spec.project_id, spec.iid)

        fail_on = self.settings.fail_on
        review = Review(sha=spec.sha, fail_on=fail_on or "error")
        self.review = review
        go_changed = [
            fd for fd in diffs
            if not fd.deleted_file and not fd.generated and fd.new_path.endswith(".go") and _scannable(fd.new_path)
        ]
        mod_changed = [
            fd for fd in diffs
            if not fd.deleted_file and Path(fd.new_path).name in (*MODULE_FILES, "go.sum") and _scannable(fd.new_path)
        ]
        review.go_files_changed = len(go_changed)
        by_path = {fd.new_path: fd for fd in diffs if not fd.deleted_file}

        if go_changed or mod_changed:
            findings, cfg_fail_on, docs = self.scan(go_changed, mod_changed)
            review.docs_base = docs
            if fail_on is None and cfg_fail_on:
                review.fail_on = cfg_fail_on
            review.findings = findings
        else:
            try:
                review.docs_base = gconfig.load_pack().docs
            except Exception:
                review.docs_base = ""
        self.check_current()

        threshold = Severity.parse(review.fail_on)
        for f in review.findings:
            fd = by_path.get(f.path)
            if fd is not None and f.line in fd.added:
                review.inline.append(f)
            else:
                review.outside.append(f)
        review.failing = [f for f in review.inline if Severity.parse(f.severity) >= threshold]

        mine = [d for d in discussions if _author_id(d) == me.get("id")]
        known: dict[str, dict[str, Any]] = {}
        summary_note: dict[str, Any] | None = None
        for d in mine:
            for n in d.get("notes") or []:
                if (n.get("author") or {}).get("id") != me.get("id"):
                    continue
                body = n.get("body") or ""
                if SUMMARY_MARKER in body and summary_note is None:
                    summary_note = n
                for fp in fingerprints_in(body):
                    known.setdefault(fp, d)

        # inline threads
        for f in review.inline:
            if f.fingerprint in known:
                review.already += 1
                continue
            if review.posted >= self.settings.max_inline:
                review.over_cap.append(f)
                continue
            self.check_current()
            fd = by_path[f.path]
            position = {
                "position_type": "text",
                "base_sha": refs["base_sha"],
                "start_sha": refs["start_sha"],
                "head_sha": refs["head_sha"],
                "old_path": fd.old_path,
                "new_path": fd.new_path,
                "new_line": f.line,
            }
            try:
                d = self.api.create_discussion(spec.project_id, spec.iid, inline_body(f, review.docs_base), position)
            except GitLabError as exc:
                if exc.status == 400:
                    review.refused.append((f, exc.message))
                    log_event(
                        log, "GitLab refused a thread position; listing the finding in the summary",
                        level=logging.WARNING, path=f.path, line=f.line, code=f.code, error=exc.message[:200],
                    )
                    continue
                raise
            known[f.fingerprint] = d
            review.posted += 1

        # resolve the bot's threads whose finding is gone
        present = {f.fingerprint for f in review.findings}
        resolve_errors = 0
        for d in mine if review.config_error is None else []:  # nothing was scanned: nothing is known gone
            notes = d.get("notes") or []
            if not notes or d.get("individual_note"):
                continue
            first = notes[0]
            fps = fingerprints_in(first.get("body") or "")
            if not fps or not first.get("resolvable") or first.get("resolved"):
                continue
            if any(fp in present for fp in fps):
                continue
            self.check_current()
            try:
                self.api.resolve_discussion(spec.project_id, spec.iid, d["id"])
                review.resolved += 1
            except GitLabError as exc:
                if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 429):
                    resolve_errors += 1
                    continue
                raise
        if resolve_errors:
            review.notes.append(
                f"{resolve_errors} outdated thread(s) could not be resolved: the bot user needs the Developer role."
            )

        # the one summary note
        self.check_current()
        body = summary_body(review)
        if summary_note is None:
            note = self.api.create_note(spec.project_id, spec.iid, body)
        elif summary_note.get("body") != body:
            note = self.api.update_note(spec.project_id, spec.iid, summary_note["id"], body)
        else:
            note = summary_note
        if spec.mr_url and note.get("id"):
            self.summary_url = f"{spec.mr_url}#note_{note['id']}"

        self.check_current()
        state = "success" if review.passed else "failed"
        self.set_status(state, status_description(review))
        return Outcome(state, status_description(review), self.stats())

    def wait_for_mr(self) -> dict[str, Any]:
        """GET the MR until GitLab has prepared its diff for our sha."""
        spec = self.spec
        wait_until = time.monotonic() + self.settings.diff_refs_wait
        delay = 0.25
        while True:
            mr = self.api.merge_request(spec.project_id, spec.iid)
            if mr.get("state") in ("closed", "merged"):
                raise Canceled(f"the MR was {mr['state']} before the review finished")
            refs = mr.get("diff_refs") or {}
            ready = all(refs.get(k) for k in ("base_sha", "start_sha", "head_sha"))
            preparing = mr.get("merge_status") == "preparing" or mr.get("detailed_merge_status") == "preparing"
            if ready and refs["head_sha"] == spec.sha and not (preparing and mr.get("changes_count") is None):
                return mr
            if time.monotonic() + delay > wait_until:
                if ready and refs["head_sha"] != spec.sha:
                    raise Superseded(f" (the MR's head is now {refs['head_sha'][:8]})")
                raise GitLabError(
                    "get", f"/projects/{spec.project_id}/merge_requests/{spec.iid}", None,
                    f"GitLab had not prepared the MR diff after {self.settings.diff_refs_wait:.0f}s "
                    "(diff_refs missing); GORULES_DIFF_REFS_WAIT sets the wait",
                )
            time.sleep(delay)
            delay = min(delay * 2, 4.0)

    # -- scanning --------------------------------------------------------
    def scan(self, go_changed: list[FileDiff], mod_changed: list[FileDiff]) -> tuple[list[Finding], str | None, str]:
        spec = self.spec
        base = self.settings.state_dir / "work"
        base.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"job-{spec.project_id}-{spec.iid}-", dir=base))
        tarball = self.workdir / "archive.tar.gz"
        with open(tarball, "wb") as out:
            self.api.download_archive(spec.project_id, spec.sha, out, self.settings.archive_max_download)
        self.check_current()
        tree = self.workdir / "tree"
        extracted = extract(
            tarball, tree, max_bytes=self.settings.archive_max_bytes, max_files=self.settings.archive_max_files
        )
        tarball.unlink()
        tree = extracted.root

        try:
            cfg = load_repo_config(tree)
        except gconfig.ConfigError as exc:
            assert self.review is not None
            self.review.config_error = str(exc).replace(str(tree) + os.sep, "")
            return [], None, ""

        changed: set[str] = set()
        paths: set[Path] = set()
        module_files: set[Path] = set()
        for fd in go_changed:
            p = tree / fd.new_path
            if not _regular_inside(tree, p):
                continue
            changed.add(fd.new_path)
            for sib in sorted(p.parent.iterdir()):
                if sib.name.endswith(".go") and _regular_inside(tree, sib):
                    paths.add(sib)
            module_files.update(_module_files_for(tree, p.parent))
        for fd in mod_changed:
            p = tree / fd.new_path
            if p.name == "go.sum":
                module_files.update(_module_files_for(tree, p.parent))
            elif _regular_inside(tree, p):
                module_files.add(p)
        paths.update(module_files)
        keep = changed | {str(m.relative_to(tree)).replace(os.sep, "/") for m in module_files}
        if not paths:
            return [], cfg.fail_on, cfg.pack.docs

        def progress(done: int, total: int) -> None:
            if time.monotonic() > self.deadline:
                raise DeadlineExceeded(
                    f"the scan took longer than GORULES_JOB_TIMEOUT ({self.settings.job_timeout:.0f}s)"
                )

        result = engine.scan(sorted(paths), cfg, scan_options(tree), progress=progress)
        out: list[Finding] = []
        for f in result.findings:
            rel = os.path.relpath(os.path.join(result.root, f.path), tree).replace(os.sep, "/")
            if rel not in keep:
                continue
            f.path = rel
            if not f.fingerprint:
                import hashlib

                f.fingerprint = hashlib.sha256(f"{f.code}\0{f.slug}\0{rel}\0{f.message}".encode()).hexdigest()[:32]
            out.append(f)
        out.sort(key=Finding.sort_key)
        return out, cfg.fail_on, cfg.pack.docs


def scan_options(tree: Path) -> engine.ScanOptions:
    """Scan options whose findings are relative to the tree root."""
    return engine.ScanOptions(root=tree)


def load_repo_config(tree: Path) -> gconfig.Config:
    """The ``.gorules.toml`` at the tree root (never one above it), or the default policy."""
    found = gconfig.find_config(tree)
    if found is None or found.parent.resolve() != tree.resolve():
        return gconfig.load_config(None)
    if found.is_symlink():
        raise gconfig.ConfigError(found.name, None, "is a symbolic link; the bot reads only a regular .gorules.toml")
    try:
        data = tomllib.loads(found.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        data = {}  # load_config reports it with a line number
    for key in ("extends", "radar"):
        value = data.get(key)
        if isinstance(value, str) and ("/" in value or value.endswith(".toml")):
            target = (tree / value).resolve()
            try:
                target.relative_to(tree.resolve())
            except ValueError:
                line = gconfig.locate(found.read_text("utf-8"), (key,))
                raise gconfig.ConfigError(
                    ".gorules.toml", line, f"{key} = {value!r} points outside the repository; use a path inside it"
                ) from None
    return gconfig.load_config(found)


def _scannable(relpath: str) -> bool:
    parts = relpath.split("/")
    return not any(skip_dir(p) for p in parts[:-1])


def _regular_inside(tree: Path, p: Path) -> bool:
    try:
        real = Path(os.path.realpath(p))
        real.relative_to(tree)
    except (ValueError, OSError):
        return False
    return real.is_file()


def _module_files_for(tree: Path, d: Path) -> list[Path]:
    """The nearest go.mod and go.work at or above ``d``, inside the tree."""
    found: list[Path] = []
    want = set(MODULE_FILES)
    cur = d
    while True:
        for name in list(want):
            cand = cur / name
            if _regular_inside(tree, cand):
                found.append(cand)
                want.discard(name)
        if not want or cur == tree or tree not in cur.parents:
            break
        cur = cur.parent
    return found


def _author_id(discussion: dict[str, Any]) -> Any:
    notes = discussion.get("notes") or []
    return (notes[0].get("author") or {}).get("id") if notes else None
