"""Adopting the standard on an existing repository.

- ``gorules scan`` options: ``--new-from-rev``, ``--new-from-merge-base``,
  ``--new-from-patch`` (:mod:`.gitdiff`), ``--baseline`` (:mod:`.baseline`),
  ``--shard`` (:mod:`.shard`), ``--fix`` and ``--diff`` (:mod:`.fixes`). The CLI
  builds a :class:`ScanPlan` before the scan and calls :meth:`ScanPlan.after_scan`
  after it.
- ``gorules baseline``: record today's findings (or ``--shrink`` a baseline).
- ``gorules merge``: join the SARIF, GitLab Code Quality or JSON reports of
  ``--shard`` runs into the report an unsharded scan writes.

docs/adoption.md is the user guide.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO
from urllib.parse import unquote

from . import __version__

CONFIG_NAME = ".gorules.toml"


class AdoptionError(Exception):
    """A bad adoption option (diff, baseline, shard); ``str()`` says how to fix it."""


# ---------------------------------------------------------------------------
# scan options


def add_scan_arguments(s: argparse.ArgumentParser) -> None:
    g = s.add_argument_group("adoption (docs/adoption.md)")
    g.add_argument("--new-from-rev", metavar="REV",
                   help="report only findings on lines added or changed since git revision REV (work tree included)")
    g.add_argument("--new-from-merge-base", metavar="BRANCH",
                   help="report only findings on lines changed since the merge base of HEAD and BRANCH")
    g.add_argument("--new-from-patch", metavar="FILE",
                   help="report only findings on lines a unified diff adds (paths relative to the repository root)")
    g.add_argument("--baseline", metavar="FILE",
                   help="hide findings recorded in FILE by `gorules baseline`; say how many were hidden or are fixed")
    g.add_argument("--shard", metavar="I/N",
                   help="scan only shard I of N (1-based; package directories balanced by bytes); join the reports with `gorules merge`")
    g.add_argument("--fix", action="store_true",
                   help="apply the safe fixes (GR006 // indirect markers) to the files, then report what is left")
    g.add_argument("--diff", action="store_true",
                   help="print the safe fixes as a unified diff instead of the report; write nothing (exit 1 if there is one)")


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """A ``.gorules.toml`` named as a path (pre-commit passes it when it changes)
    stands for its directory: a policy change can change findings anywhere below it."""
    out: list[Path] = []
    for p in paths:
        q = p.parent if p.name == CONFIG_NAME else p
        if q == Path(""):
            q = Path(".")
        if q not in out:
            out.append(q)
    return out


@dataclass
class ScanPlan:
    paths: list[Path]
    file_filters: tuple = ()
    hash_files: bool = False
    changes: Any = None  # gitdiff.ChangeSet
    baseline: Any = None  # baseline.Baseline
    baseline_path: Path | None = None
    fix: bool = False
    diff: bool = False
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: argparse.Namespace, paths: Sequence[Path]) -> "ScanPlan":
        """Check the adoption options and prepare them (git diff, baseline) before the scan."""
        plan = cls(paths=expand_paths(paths))
        filters: list = []
        shard_text = getattr(args, "shard", None)
        if shard_text is not None:
            from .shard import Shard, ShardError, parse_shard

            try:
                filters.append(Shard(*parse_shard(shard_text)))
            except ShardError as exc:
                raise AdoptionError(str(exc)) from None
        chosen = [(flag, getattr(args, attr, None)) for flag, attr in (
            ("--new-from-rev", "new_from_rev"), ("--new-from-merge-base", "new_from_merge_base"),
            ("--new-from-patch", "new_from_patch"))]
        chosen = [(f, v) for f, v in chosen if v is not None]
        if len(chosen) > 1:
            raise AdoptionError(f"{' and '.join(f for f, _ in chosen)} cannot be combined: give only one of them")
        if chosen:
            from . import gitdiff

            flag, value = chosen[0]
            try:
                if flag == "--new-from-rev":
                    plan.changes = gitdiff.changes_since(plan.paths, value)
                elif flag == "--new-from-merge-base":
                    plan.changes = gitdiff.changes_since_merge_base(plan.paths, value)
                else:
                    plan.changes = gitdiff.changes_from_patch(plan.paths, value)
            except gitdiff.DiffError as exc:
                raise AdoptionError(str(exc)) from None
            changed = frozenset(gitdiff._real(p) for p in plan.changes.changed_paths())
            filters.append(gitdiff.ChangedPackages(changed))
        if getattr(args, "baseline", None):
            from .baseline import Baseline, BaselineError

            plan.baseline_path = Path(args.baseline)
            try:
                plan.baseline = Baseline.load(plan.baseline_path)
            except BaselineError as exc:
                raise AdoptionError(str(exc)) from None
        plan.fix = bool(getattr(args, "fix", False))
        plan.diff = bool(getattr(args, "diff", False))
        plan.hash_files = plan.fix or plan.diff
        plan.file_filters = tuple(filters)
        return plan

    # ------------------------------------------------------------------
    def after_scan(self, result, args: argparse.Namespace, err: TextIO | None = None) -> int | None:
        """Filter ``result`` (diff, baseline), apply or diff the fixes; print notes.

        Returns an exit code when the command is done (``--diff``), else None
        and the caller reports ``result`` as usual.
        """
        quiet = bool(getattr(args, "quiet", False))
        if self.changes is not None:
            self._filter_changes(result)
        if self.baseline is not None:
            self._filter_baseline(result, args)
        code: int | None = None
        if self.fix or self.diff:
            code = self._fixes(result, args)
        if not quiet or code is not None:
            for n in self.notes:
                print(f"gorules: {n}", file=err or sys.stderr)
        return code

    def _filter_changes(self, result) -> None:
        ch = self.changes
        ch.filter(result)
        relevant = [p for p in ch.changed_paths() if p.name.endswith(".go") or p.name in ("go.mod", "go.work")]
        note = (f"reporting findings on lines changed {ch.description} ({len(relevant)} changed Go or module "
                f"file{'s' if len(relevant) != 1 else ''}; unchanged packages were not read)")
        if ch.hidden:
            note += (f"; {ch.hidden} finding{'s' if ch.hidden != 1 else ''} on unchanged lines of the changed "
                     "packages not shown")
        if ch.outside_tree:
            note += (f" ({ch.outside_tree} of them in files outside the work tree {ch.base}, "
                     "which the diff cannot cover)")
        self.notes.append(note)
        scanned = {os.path.realpath(Path(result.root) / p) for p in getattr(result, "files", {})}
        go_changes = [p for p in ch.changed_paths() if p.name.endswith(".go") or p.name in ("go.mod", "go.work")]
        outside = [p for p in go_changes if os.path.realpath(p) not in scanned and p.exists()]
        if go_changes and len(outside) == len(go_changes) and not scanned:
            self.notes.append(
                f"none of the {len(go_changes)} changed Go or module files is under the scanned paths "
                f"({', '.join(map(str, self.paths))}); nothing was checked")

    def _filter_baseline(self, result, args) -> None:
        from . import baseline as bl

        outcome = bl.apply(result, self.baseline, bl.scope(result, _active_predicate(result, args)))
        n, fixed = outcome.baselined, len(outcome.fixed)
        note = f"{n} finding{'s' if n != 1 else ''} in the baseline {self.baseline_path} not shown"
        if fixed:
            targets = " ".join(str(p) for p in self.paths)
            note += (f"; {fixed} baseline entr{'ies are' if fixed != 1 else 'y is'} fixed: drop "
                     f"{'them' if fixed != 1 else 'it'} with `gorules baseline --shrink -o {self.baseline_path} {targets}`")
        self.notes.append(note)

    def _fixes(self, result, args) -> int | None:
        from . import fixes

        report = fixes.run(result, write=self.fix and not self.diff)
        for path, why in report.skipped:
            self.notes.append(f"not fixed: {path}: {why}")
        n = len(report.fixed)
        if self.diff:
            if args.output:
                Path(args.output).write_text(report.diff, encoding="utf-8", newline="")
            else:
                sys.stdout.write(report.diff)
                sys.stdout.flush()
            self.notes.append(f"{n} safe fix{'es' if n != 1 else ''} in {len(report.files)} file"
                              f"{'s' if len(report.files) != 1 else ''} (shown as a diff, nothing written; apply with --fix)")
            if result.internal_errors:
                return 2
            return 1 if report.diff else 0
        if n:
            self.notes.append(f"fixed {n} finding{'s' if n != 1 else ''} in {', '.join(report.files)}")
        return None


def _active_predicate(result, args) -> Callable[[str], bool]:
    select = getattr(args, "select", None)
    ignore = set(getattr(args, "ignore", None) or ())

    def active(code: str) -> bool:
        info = result.rules.get(code)
        if info is None or not info.enabled or any(code.startswith(s) for s in ignore):
            return False
        return code == "GR000" or select is None or any(code.startswith(s) for s in select)

    return active


# ---------------------------------------------------------------------------
# subcommands


def add_parser(sub) -> None:
    b = sub.add_parser(
        "baseline",
        help="record today's findings so that `scan --baseline` reports only new ones",
        description="Record every finding of PATH by its stable fingerprint (not its line number). "
                    "`gorules scan --baseline FILE` then reports only findings that are not in FILE.",
    )
    b.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    b.add_argument("-o", "--output", metavar="FILE", default=".gorules-baseline.json",
                   help="the baseline file to write (default: .gorules-baseline.json)")
    b.add_argument("--shrink", action="store_true",
                   help="only drop the entries of FILE that are fixed; never add new findings")
    b.add_argument("--config", metavar="FILE", help="use this .gorules.toml instead of searching upward")
    b.add_argument("--include-generated", action="store_true", default=None,
                   help="also check generated files")
    b.add_argument("-q", "--quiet", action="store_true")
    b.set_defaults(func=cmd_baseline)

    m = sub.add_parser(
        "merge",
        help="join the reports of `scan --shard` runs (SARIF, GitLab Code Quality or JSON) into one",
        description="Join the reports that `gorules scan --shard I/N` wrote for every I into the report an "
                    "unsharded scan writes. All inputs must have the same format.",
    )
    m.add_argument("reports", nargs="+", metavar="REPORT")
    m.add_argument("-o", "--output", metavar="FILE", help="write the merged report to FILE instead of stdout")
    m.set_defaults(func=cmd_merge)


def cmd_baseline(args) -> int:
    from .baseline import Baseline, BaselineError, apply, scope
    from .cli import EXIT_ERROR, EXIT_OK, _err, load_config_for
    from .engine import ScanOptions, scan

    paths = expand_paths([Path(p) for p in args.paths])
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        return _err(f"no such file or directory: {', '.join(missing)} (check the PATH arguments)")
    out = Path(args.output)
    old = None
    if args.shrink:
        try:
            old = Baseline.load(out)
        except BaselineError as exc:
            return _err(str(exc).replace("--baseline", "--shrink -o", 1))
    cfg = load_config_for(args, paths)
    result = scan(paths, cfg, ScanOptions(include_generated=args.include_generated))
    if result.internal_errors:
        print(f"gorules: {result.internal_errors} internal error(s) during the scan (GR000 internal-error): "
              "the baseline was not written; fix or report them first", file=sys.stderr)
        return EXIT_ERROR
    if old is not None:
        outcome = apply(result, old, scope(result, _active_predicate(result, argparse.Namespace())))
        kept = Baseline(outcome.kept)
        kept.write(out, tool_version=__version__, pack=cfg.pack.name)
        if not args.quiet:
            print(f"gorules: {out}: dropped {len(outcome.fixed)} fixed entr{'ies' if len(outcome.fixed) != 1 else 'y'}, "
                  f"{len(outcome.kept)} remain; {len(result.findings)} finding{'s' if len(result.findings) != 1 else ''} "
                  "not in the baseline were not added", file=sys.stderr)
        return EXIT_OK
    base = Baseline.from_findings(result.findings)
    try:
        base.write(out, tool_version=__version__, pack=cfg.pack.name)
    except OSError as exc:
        return _err(f"cannot write {out}: {exc.strerror or exc}")
    if not args.quiet:
        from collections import Counter

        by_rule = Counter(e.code for e in base.entries)
        detail = ", ".join(f"{c} {n}" for c, n in sorted(by_rule.items()))
        print(f"gorules: recorded {len(base.entries)} finding{'s' if len(base.entries) != 1 else ''} in {out}"
              f"{' (' + detail + ')' if detail else ''}; `gorules scan --baseline {out}` now reports only new ones",
              file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------------------
# merge


class MergeError(Exception):
    pass


def _kind(doc: Any) -> str:
    if isinstance(doc, list):
        return "gitlab"
    if isinstance(doc, dict) and isinstance(doc.get("runs"), list) and doc.get("version") == "2.1.0":
        return "sarif"
    if isinstance(doc, dict) and "findings" in doc and isinstance(doc.get("tool"), dict) and "summary" in doc:
        return "json"
    return "unknown"


def _sarif_path_key(result: dict) -> str:
    try:
        loc = result["locations"][0]["physicalLocation"]["artifactLocation"]
    except (KeyError, IndexError, TypeError):
        return ""
    uri = str(loc.get("uri", ""))
    if loc.get("uriBaseId"):
        return unquote(uri)
    return "../" + uri  # outside the scan root (absolute URI): such paths start with ../


def merge_sarif(logs: list[dict], names: list[str]) -> dict:
    import copy

    runs = []
    for log, name in zip(logs, names):
        if len(log["runs"]) != 1:
            raise MergeError(f"{name} has {len(log['runs'])} runs; gorules writes exactly one per scan")
        runs.append(log["runs"][0])
    first = runs[0]
    driver0 = first["tool"]["driver"]
    rules: dict[str, dict] = {}
    for run, name in zip(runs, names):
        d = run["tool"]["driver"]
        if (d.get("name"), d.get("version")) != (driver0.get("name"), driver0.get("version")):
            raise MergeError(f"{name} was written by {d.get('name')} {d.get('version')}, {names[0]} by "
                             f"{driver0.get('name')} {driver0.get('version')}: run every shard with the same gorules")
        for r in d.get("rules", []):
            prev = rules.setdefault(r["id"], r)
            if prev != r:
                raise MergeError(f"rule {r['id']} is described differently in {name} and an earlier report: "
                                 "the shards ran with different policies (.gorules.toml); run them with the same one")
    codes = sorted(rules)
    index = {c: i for i, c in enumerate(codes)}
    results = []
    for run in runs:
        for res in run.get("results", []):
            res = dict(res)
            if "ruleIndex" in res:
                res["ruleIndex"] = index[res["ruleId"]]
            results.append(res)
    results.sort(key=_sarif_path_key)  # stable: each file's results come from one shard, already in order
    merged = copy.deepcopy(logs[0])
    run0 = merged["runs"][0]
    run0["tool"]["driver"]["rules"] = [rules[c] for c in codes]
    run0["results"] = results
    invs = [inv for run in runs for inv in run.get("invocations", [])]
    if invs:
        inv = dict(invs[0])
        inv["executionSuccessful"] = all(i.get("executionSuccessful", True) for i in invs)
        notes: list = []
        for i in invs:
            for n in i.get("toolExecutionNotifications", []):
                if n not in notes:
                    notes.append(n)
        if notes:
            inv["toolExecutionNotifications"] = notes
        else:
            inv.pop("toolExecutionNotifications", None)
        run0["invocations"] = [inv]
    return merged


def merge_gitlab(docs: list[list], names: list[str]) -> list:
    entries: list = []
    by_fp: dict[str, dict] = {}
    for doc, name in zip(docs, names):
        for e in doc:
            fp = e.get("fingerprint") if isinstance(e, dict) else None
            if not isinstance(fp, str):
                raise MergeError(f"{name}: an entry without a fingerprint is not a GitLab Code Quality issue")
            if fp in by_fp:
                if by_fp[fp] == e:
                    continue  # the same finding reported by two shards
                raise MergeError(f"fingerprint {fp} names different findings in {name} and an earlier report; "
                                 "were the shards scanned from different commits?")
            by_fp[fp] = e
            entries.append(e)
    entries.sort(key=lambda e: str((e.get("location") or {}).get("path", "")))
    return entries


def merge_json(docs: list[dict], names: list[str]) -> dict:
    import copy
    from collections import Counter

    first = docs[0]
    for doc, name in zip(docs, names):
        for key in ("version", "tool", "root", "rules"):
            if doc.get(key) != first.get(key):
                raise MergeError(f"{name} differs from {names[0]} in {key!r}: merge reports of one scan, split with --shard")
    merged = copy.deepcopy(first)
    findings = [f for d in docs for f in d["findings"]]
    findings.sort(key=lambda f: str(f.get("path", "")))
    merged["findings"] = findings
    s = merged["summary"]
    for key in ("findings", "files_scanned", "internal_errors"):
        if key in s:
            s[key] = sum(int(d["summary"].get(key, 0)) for d in docs)
    sev: Counter = Counter()
    rule: Counter = Counter()
    for d in docs:
        sev.update(d["summary"].get("by_severity", {}))
        rule.update(d["summary"].get("by_rule", {}))
    if "by_severity" in s:
        s["by_severity"] = {k: sev.get(k, 0) for k in s["by_severity"]}
    if "by_rule" in s:
        s["by_rule"] = {c: rule[c] for c in sorted(rule) if rule[c]}
    if "problems" in s:
        probs: list = []
        for d in docs:
            for p in d["summary"].get("problems", []):
                if p not in probs:
                    probs.append(p)
        s["problems"] = probs
    return merged


def merge_files(paths: Sequence[str]) -> str:
    docs, kinds = [], []
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MergeError(f"{p}: no such file (did every shard job upload its report as an artifact?)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MergeError(f"{p}: cannot read it ({exc})") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MergeError(f"{p}:{exc.lineno}: not valid JSON ({exc.msg}); was the shard's scan interrupted?") from None
        kind = _kind(doc)
        if kind == "unknown":
            raise MergeError(f"{p} is not a gorules SARIF, GitLab Code Quality or JSON report")
        docs.append(doc)
        kinds.append(kind)
    if len(set(kinds)) != 1:
        mixed = ", ".join(f"{p} ({k})" for p, k in zip(paths, kinds))
        raise MergeError(f"the reports have different formats ({mixed}): merge each format separately")
    names = list(paths)
    kind = kinds[0]
    if kind == "sarif":
        merged: Any = merge_sarif(docs, names)
    elif kind == "gitlab":
        merged = merge_gitlab(docs, names)
    else:
        merged = merge_json(docs, names)
    return json.dumps(merged, indent=2, ensure_ascii=False) + "\n"


def cmd_merge(args) -> int:
    from .cli import EXIT_OK, _err

    try:
        text = merge_files(args.reports)
    except MergeError as exc:
        return _err(str(exc))
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8", newline="\n")
        except OSError as exc:
            return _err(f"cannot write {args.output}: {exc.strerror or exc}")
    else:
        sys.stdout.write(text)
    return EXIT_OK
