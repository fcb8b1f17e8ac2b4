"""The ``gorules`` command line: parses arguments, calls the engine, prints.

Exit codes: 0 no finding at or above ``--fail-on``; 1 findings; 2 usage,
config or internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence, TextIO

from . import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FORMATS = ("text", "json", "sarif", "gitlab")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2 with a hint
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"gorules: error: {message}\nRun `gorules {self.prog.split()[-1] if ' ' in self.prog else ''} --help` for the options.\n".replace("  ", " "))


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes >= 1, not {text!r}")
    return n


def _codes(text: str) -> set[str]:
    return {c.strip().upper() for c in text.split(",") if c.strip()}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gorules", description="Lint and policy engine for Go repositories (V2.3 standard).")
    p.add_argument("--version", action="version", version=f"gorules {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("scan", help="scan Go files, directories, go.mod and go.work files")
    s.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    s.add_argument("--format", choices=FORMATS, default="text")
    s.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    s.add_argument("--select", type=_codes, metavar="CODES", help="only these rules (comma-separated codes or prefixes)")
    s.add_argument("--ignore", type=_codes, default=set(), metavar="CODES", help="skip these rules")
    s.add_argument("--config", metavar="FILE", help="use this .gorules.toml instead of searching upward")
    s.add_argument("--fail-on", choices=("error", "warning", "note"), default=None,
                   help="lowest severity that makes the exit code 1 (default: warning, or fail-on in .gorules.toml)")
    s.add_argument("--statistics", action="store_true", help="print a count per rule")
    s.add_argument("--no-color", action="store_true", help="plain text output even on a terminal")
    s.add_argument("-q", "--quiet", action="store_true", help="print only the summary line (text format)")
    s.add_argument("--report-unused-ignores", action="store_true", help="report gorules:ignore comments that suppress nothing")
    s.add_argument("--include-generated", action="store_true", default=None,
                   help="also check generated files (// Code generated ... DO NOT EDIT.)")
    s.add_argument("-j", "--jobs", type=_positive_int, default=None, metavar="N",
                   help="worker processes (default: one per core; 1 runs in this process)")
    s.add_argument("--cache-dir", metavar="DIR", help="keep results of unchanged packages here (default: $XDG_CACHE_HOME/gorules)")
    s.add_argument("--no-cache", action="store_true", help="analyse every file again; neither read nor write the cache")
    s.add_argument("--engine", choices=("python", "rust", "auto"), default="auto",
                   help="python: py-tree-sitter; rust: ast-grep finds candidates first (pip install ast-grep-cli); auto: by tree size")
    from .adoption import add_scan_arguments

    add_scan_arguments(s)  # --new-from-rev/-merge-base/-patch, --baseline, --shard, --fix, --diff
    s.set_defaults(func=cmd_scan)

    r = sub.add_parser("rules", help="list the rules of the pack")
    r.add_argument("--config", metavar="FILE")
    r.set_defaults(func=cmd_rules)

    d = sub.add_parser("rule", help="print a rule's doc page (rationale, bad and good example, options)")
    d.add_argument("code")
    d.add_argument("--config", metavar="FILE", help="the .gorules.toml whose custom rules to look in")
    d.add_argument("--no-color", action="store_true")
    d.set_defaults(func=cmd_rule)

    for modname in ("golint_rules.radar", "golint_rules.bot.cli", "golint_rules.adoption"):
        mod = _optional(modname)
        if mod is not None and hasattr(mod, "add_parser"):
            mod.add_parser(sub)
    return p


def _optional(name: str):
    import importlib
    import importlib.util

    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(name)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # stays fast: no heavy imports
        print(f"gorules {__version__}")
        return EXIT_OK
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("gorules: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


# ---------------------------------------------------------------------------


def _err(message: str) -> int:
    print(f"gorules: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def load_config_for(args, paths: list[Path]):
    from .config import ConfigError, load_config

    try:
        if getattr(args, "config", None):
            return load_config(Path(args.config))
        return load_config(search_from=paths[0] if paths else Path.cwd())
    except ConfigError as exc:
        raise SystemExit(_err(f"{exc}"))


def cmd_scan(args) -> int:
    from .adoption import AdoptionError, ScanPlan
    from .engine import ScanOptions, scan
    from .model import Severity

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        return _err(f"no such file or directory: {', '.join(missing)} (check the PATH arguments)")
    cfg = load_config_for(args, paths)
    known = set(cfg.rules) | {info.code for info in _custom_infos(cfg)}
    unknown = [c for c in (args.select or set()) | args.ignore if not any(code.startswith(c) for code in known)]
    if unknown:
        return _err(f"unknown rule code(s) {', '.join(sorted(unknown))}: `gorules rules` lists them")
    try:  # diff-aware scan, baseline, shard, fixes: checked and prepared before the scan
        plan = ScanPlan.from_args(args, paths)
    except AdoptionError as exc:
        return _err(str(exc))
    paths = plan.paths
    opts = ScanOptions(
        select=args.select,
        ignore=args.ignore,
        report_unused_ignores=args.report_unused_ignores,
        include_generated=args.include_generated,
        file_filters=plan.file_filters,
        hash_files=plan.hash_files,
        jobs=args.jobs,
        cache=not args.no_cache,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        engine=args.engine,
    )
    machine = args.format != "text"
    progress_cb, stop_progress = _progress(enabled=not machine and not args.quiet and sys.stderr.isatty())
    from .backends import BackendError

    try:
        result = scan(paths, cfg, opts, progress=progress_cb)
    except BackendError as exc:
        return _err(str(exc))
    finally:
        stop_progress()
    done = plan.after_scan(result, args)  # drops old/baselined findings, applies --fix; --diff ends here
    if done is not None:
        return done
    fail_on = Severity.parse(args.fail_on or cfg.fail_on or "warning")

    rendered = None
    if args.format != "text":
        try:
            rendered = render_machine(args.format, result, cfg.pack)
        except ValueError as exc:  # a reporter refused an invalid entry: write nothing
            return _err(f"cannot write the {args.format} report: {exc}")
    out: TextIO
    close = False
    if args.output:
        try:
            out = open(args.output, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            return _err(f"cannot write {args.output}: {exc.strerror} (check the --output path)")
        close = True
    else:
        out = sys.stdout
    try:
        if rendered is None:
            from .reporters import text

            color = (not args.no_color) and (out.isatty() if not close else False) and "NO_COLOR" not in os.environ
            text.write(result, out, color=color, statistics=args.statistics, quiet=args.quiet)
        else:
            out.write(rendered)
            out.write("\n")
    finally:
        if close:
            out.close()
    if args.output and args.format != "text" and not args.quiet:
        n = len(result.findings)
        print(f"gorules: wrote {n} finding{'s' if n != 1 else ''} to {args.output}", file=sys.stderr)
    if result.internal_errors:
        print(f"gorules: {result.internal_errors} internal error(s): see the GR000 internal-error findings", file=sys.stderr)
        return EXIT_ERROR
    worst = [Severity.parse(f.severity) for f in result.findings]
    return EXIT_FINDINGS if any(s >= fail_on for s in worst) else EXIT_OK


def render_machine(fmt: str, result, pack=None) -> str:
    if fmt == "json":
        from .reporters import json_report as mod
    elif fmt == "sarif":
        from .reporters import sarif as mod
    else:
        from .reporters import gitlab as mod
    return mod.render(result, tool_version=__version__, pack=pack)


def _progress(enabled: bool):
    """A rich progress bar on stderr, shown only once a scan has taken a second."""
    if not enabled:
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    start = time.monotonic()
    state: dict[str, object] = {}

    def cb(done: int, total: int) -> None:
        prog = state.get("progress")
        if prog is None:
            if time.monotonic() - start < 1.0:
                return
            prog = Progress(
                TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            prog.start()
            state["progress"] = prog
            state["task"] = prog.add_task("scan", total=total)
        prog.update(state["task"], completed=done, total=total)  # type: ignore[union-attr]

    def stop() -> None:
        prog = state.get("progress")
        if prog is not None:
            prog.stop()  # type: ignore[union-attr]

    return cb, stop


def _custom_infos(cfg):
    """RuleInfo of the declarative custom rules of a config (validated on load)."""
    if not cfg.custom_rules:
        return []
    from .custom import analyzers_from_config

    return analyzers_from_config(cfg)[1]


def cmd_rules(args) -> int:
    from rich.console import Console
    from rich.table import Table

    cfg = load_config_for(args, [Path.cwd()])
    from .checks import all_analyzers

    implemented = {a.code for a in all_analyzers()}
    table = Table(title=f"Rule pack {cfg.pack.name} ({cfg.pack.version})")
    for col in ("Code", "Slug", "Severity", "Enabled", "Summary"):
        table.add_column(col)
    for code, info in sorted(cfg.rules.items()):
        if code == "GR000":
            continue
        state = "yes" if info.enabled else "no"
        if code not in implemented:
            state = "not implemented"
        table.add_row(code, info.slug, info.severity, state, info.summary)
    for info in _custom_infos(cfg):
        table.add_row(info.code, info.slug, info.severity, "custom", info.summary)
    Console().print(table)
    return EXIT_OK


def cmd_rule(args) -> int:
    from rich.console import Console
    from rich.markdown import Markdown

    from .checks import by_code, module_doc
    from .config import load_pack

    code = args.code.upper()
    pack = load_pack()
    info = pack.rules.get(code)
    custom_doc = ""
    if info is None:
        # accept slugs, and the custom rules of the current repository's config
        candidates = list(pack.rules.values()) + _custom_infos(load_config_for(args, [Path.cwd()]))
        info = next((r for r in candidates if r.slug == args.code or r.code == code), None)
        if info is None:
            return _err(f"unknown rule {args.code!r}: `gorules rules` lists them")
        code = info.code
        custom_doc = info.doc or info.summary
    doc = custom_doc or module_doc(code) or (by_code().get(code).doc if code in by_code() else info.summary)
    lines = doc.strip().splitlines()
    title = f"# {code} {info.slug}: {lines[0]}" if lines else f"# {code} {info.slug}"
    body = "\n".join(lines[1:])
    meta = f"\n\n*Default severity:* **{info.severity}**. *Tags:* {', '.join(info.tags) or '-'}.\n"
    if info.options:
        meta += "\n*Options and defaults* (set them under `[rules." + code + "]` in `.gorules.toml`):\n\n" + "\n".join(
            f"- `{k} = {_toml_value(v)}`" for k, v in info.options.items()
        )
    meta += (
        f"\n\n*Disable it:* `[rules.{code}] enabled = false` in `.gorules.toml`, or `--ignore {code}`."
        f"\n*Suppress one finding:* `// gorules:ignore {code} -- <reason>` on the line or the line above."
    )
    console = Console(no_color=args.no_color)
    console.print(Markdown(title + "\n" + body + meta))
    return EXIT_OK


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
