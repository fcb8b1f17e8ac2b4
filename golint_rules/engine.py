"""The engine: ``scan(paths, config) -> ScanResult``.

The CLI, the pre-commit hook and the MR bot all call :func:`scan`. The flow is
discover -> prefilter -> parse -> context -> checks -> filter; reporters only
format the result.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import backends, gomod, parsing
from . import suppressions as supp
from .analysis import Analyzer, Pass, RawFinding
from .checks import all_analyzers
from .config import Config
from .discover import Discovered, discover
from .model import Finding, RuleInfo, Severity
from .package import Package, package_key
from .source import SourceFile

ProgressFn = Callable[[int, int], None]  # (done, total) in files


@dataclass
class ScanResult:
    root: Path
    findings: list[Finding]
    rules: dict[str, RuleInfo]
    files_scanned: int = 0
    files_parsed: int = 0
    bytes_read: int = 0
    duration: float = 0.0
    internal_errors: int = 0
    problems: list[str] = field(default_factory=list)  # walk problems (e.g. missing path)
    #: every file the scan read, relative to root -> sha256 of the bytes read ("" unless ScanOptions.hash_files)
    files: dict[str, str] = field(default_factory=dict)
    #: files whose findings came from the cache (not read, not parsed this time)
    files_cached: int = 0

    def counts(self) -> Counter[str]:
        return Counter(f.code for f in self.findings)

    def worst(self) -> Severity | None:
        sevs = [Severity.parse(f.severity) for f in self.findings]
        return max(sevs) if sevs else None


@dataclass
class ScanOptions:
    select: set[str] | None = None
    ignore: set[str] = field(default_factory=set)
    report_unused_ignores: bool = False
    include_generated: bool | None = None
    #: objects with ``apply(discovered)`` that drop packages / module files right after
    #: discovery: ``--shard`` (shard.Shard) and diff-aware scans (gitdiff.ChangedPackages)
    file_filters: tuple = ()
    #: record the sha256 of every file read in ScanResult.files (``--fix`` checks it before writing)
    hash_files: bool = False
    #: worker processes (None: one per core; 1: this process only). Small scans stay in-process.
    jobs: int | None = None
    #: reuse results of unchanged packages (see golint_rules.cache); the CLI turns it on
    cache: bool = False
    #: where the cache lives (default $XDG_CACHE_HOME/gorules)
    cache_dir: Path | None = None
    #: "python", "rust" (ast-grep prefilters candidates outside the GIL) or "auto" (by tree size)
    engine: str = "auto"
    #: called in the main process with each unit's findings as they arrive (any order)
    on_findings: Callable[[list[Finding]], None] | None = None
    #: report paths relative to this directory (default: the git work tree, else the
    #: common ancestor of the scanned paths); the MR bot sets it to the extracted tree
    root: Path | None = None


class Engine:
    #: set by the scheduler when the cache needs the sha256 of every file read
    _hash_for_cache = False
    #: the Rust path's answer (file -> candidate kinds), None on the python path
    _candidates: dict[str, frozenset[str]] | None = None
    _backend = "python"

    def __init__(self, config: Config, options: ScanOptions | None = None) -> None:
        self.config = config
        self.options = options or ScanOptions()
        self.rules = config.rules
        self.analyzers = [a for a in self._all_analyzers() if self._active(a.code)]
        self.go_analyzers = [a for a in self.analyzers if a.kind == "go"]
        self.mod_analyzers = [a for a in self.analyzers if a.kind == "gomod"]
        self.include_generated = (
            config.include_generated if self.options.include_generated is None else self.options.include_generated
        )

    def _all_analyzers(self) -> list[Analyzer]:
        found = list(all_analyzers())
        try:
            from .custom import analyzers_from_config  # declarative rules, if any
        except ImportError:  # pragma: no cover
            return found
        extra, infos = analyzers_from_config(self.config)
        for info in infos:
            self.rules[info.code] = info
        return found + extra

    def _active(self, code: str) -> bool:
        info = self.rules.get(code)
        if info is None or not info.enabled:
            return False
        sel = self.options.select
        if sel is not None and not any(code.startswith(s) for s in sel):
            return False
        return not any(code.startswith(s) for s in self.options.ignore)

    def _code_visible(self, code: str) -> bool:
        """GR000 (the tool's own messages) shows unless disabled or ignored; --select does not hide it."""
        if code == "GR000":
            info = self.rules.get(code)
            return bool(info and info.enabled) and not any(code.startswith(s) for s in self.options.ignore)
        return self._active(code)

    # ------------------------------------------------------------------
    def scan(self, paths: Sequence[str | Path], progress: ProgressFn | None = None) -> ScanResult:
        t0 = time.perf_counter()
        dir_cache = None
        if self.options.cache:  # warm scans stat directories instead of listing them
            from .cache import dir_listings_path
            from .discover import DirListings

            dir_cache = DirListings.load(dir_listings_path(self.options.cache_dir, [Path(p) for p in paths]))
        disc = discover([Path(p) for p in paths], root=self.options.root, dir_cache=dir_cache)
        if dir_cache is not None:
            dir_cache.save()
        for file_filter in self.options.file_filters:
            file_filter.apply(disc)
        result = ScanResult(root=disc.root, findings=[], rules=self.rules)
        result.problems = [f"{p}: {msg}" for p, msg in disc.problems]
        from .scheduler import run_units  # packages and module files: cache, process pool, streaming

        run_units(self, disc, [Path(p) for p in paths], result, progress)
        result.findings.sort(key=Finding.sort_key)
        result.duration = time.perf_counter() - t0
        return result

    def _cfg_rel(self, path: Path, disc: Discovered) -> str:
        base = str(self.config.root or disc.root)
        text = str(path)
        if text.startswith(base) and text[len(base) : len(base) + 1] == os.sep and os.path.isabs(text):
            return text[len(base) + 1 :].replace(os.sep, "/")  # the common case, without relpath's normalising
        return os.path.relpath(path, base).replace(os.sep, "/")

    # ------------------------------------------------------------------
    def _read(self, path: Path, rel: str, result: ScanResult) -> tuple[bytes | None, list[Finding]]:
        """Read a file; on trouble return None and one GR000 finding that says why."""
        result.files[rel] = ""
        try:
            size = path.stat().st_size
        except OSError as exc:
            return None, [self._gr000(rel, 1, "unreadable", error=_oserror(exc))]
        if size > self.config.max_file_size:
            return None, [self._gr000(rel, 1, "too-large", size=size, limit=self.config.max_file_size)]
        try:
            data = path.read_bytes()
        except OSError as exc:
            return None, [self._gr000(rel, 1, "unreadable", error=_oserror(exc))]
        if self.options.hash_files or self._hash_for_cache:
            result.files[rel] = hashlib.sha256(data).hexdigest()
        result.bytes_read += len(data)
        nul = data.find(b"\0", 0, 8192)
        if nul != -1:
            return None, [self._gr000(rel, data.count(b"\n", 0, nul) + 1, "binary", offset=nul)]
        return data, []

    def _gr000(self, rel: str, at_line: int, key: str, severity: str | None = None, **args: object) -> Finding:
        info = self.rules["GR000"]
        msg = format_message(info.messages.get(key, key), args)
        return Finding("GR000", key, severity or info.severity, msg, rel, at_line, fingerprint="")

    # ------------------------------------------------------------------
    def _scan_package(self, directory: Path, files: list[Path], disc: Discovered, result: ScanResult) -> None:
        sources: dict[Path, SourceFile] = {}
        early: list[Finding] = []
        for path in files:
            rel = disc.relpath(path)
            data, problems = self._read(path, rel, result)
            early.extend(self._finish_file(problems, rel, b""))
            if data is not None:
                sources[path] = SourceFile(path, rel, data)
        result.files_scanned += len(files)
        result.findings.extend(early)

        packages: dict[str, Package] = {}

        def package_of(src: SourceFile) -> Package:
            key = package_key(src)
            if key not in packages:
                # generated files are not analysed by the .go rules (unless --include-generated),
                # and they are left out of the package view too: parsing them only to look
                # for same-package helpers cost 40% of a cold scan on real trees
                members = [
                    s for s in sources.values()
                    if package_key(s) == key and (self.include_generated or s is src or not s.is_generated)
                ]
                packages[key] = Package(str(directory), key, members)
            return packages[key]

        try:
            for path, src in sources.items():
                result.findings.extend(self._scan_file(src, package_of, result))
        finally:
            # The package views, their memos and the flow facts point at each other (cycles):
            # break them so the trees go now, not at the next full garbage collection.
            for pkg in packages.values():
                pkg.release()
            for src in sources.values():
                src.release()

    def _scan_file(self, src: SourceFile, package_of: Callable[[SourceFile], Package], result: ScanResult) -> list[Finding]:
        data = src.data
        out: list[Finding] = []
        # invalid UTF-8: one message, analysis goes on
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            out.append(self._gr000(src.relpath, line, "not-utf8", line=line, byte=data[exc.start]))
        generated = src.is_generated
        runnable = [
            a
            for a in self.go_analyzers
            if (not generated or self.include_generated or a.include_generated) and a.can_fire(data)
        ]
        if any(a.package_gate is not None for a in runnable):  # package-level prefilter: bytes only
            pkg = package_of(src)
            runnable = [
                a for a in runnable
                if a.package_gate is None or a.package_gate(src, pkg, self.rules[a.code].options)
            ]
        if runnable:  # candidate node kinds (python: query; rust: ast-grep found them earlier)
            runnable = backends.gate(self, runnable, src)
        if not runnable:
            return self._finish_file(out, src.relpath, data)
        tree = src.tree
        result.files_parsed += 1
        err_ranges: list[tuple[int, int]] = []
        if tree.root_node.has_error:
            first = parsing.first_error(tree.root_node)
            err_ranges = parsing.error_ranges(tree.root_node)
            line = first.start_point[0] + 1 if first is not None else 1
            out.append(self._gr000(src.relpath, line, "parse-error", what="file"))
        raws: list[RawFinding] = []
        shared: dict[str, object] = {}
        for a in runnable:
            try:
                for req in a.requires:
                    if req.name not in shared:
                        shared[req.name] = req.run(src)
                p = Pass(
                    a,
                    self.rules[a.code].options,
                    file=src,
                    package_loader=lambda: package_of(src),
                    results=shared,
                )
                a.run(p)
                raws.extend(p.findings)
            except Exception as exc:  # one check crashing on one file never stops the scan
                result.internal_errors += 1
                where = traceback.extract_tb(exc.__traceback__)[-1]
                out.append(
                    self._gr000(
                        src.relpath, 1, "internal-error", severity="error",
                        rule=a.code, error=f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})",
                    )
                )
        for value in shared.values():  # shared analyses: drop their cycles with the file
            release = getattr(value, "release", None)
            if release is not None:
                release()
        for raw in raws:
            if raw.start_byte >= 0 and any(s <= raw.start_byte < e for s, e in err_ranges):
                continue
            out.append(self._finding_from_raw(raw, src.relpath, src.data, src.line_starts))
        return self._finish_file(out, src.relpath, data)

    # ------------------------------------------------------------------
    def _scan_modfile(self, path: Path, disc: Discovered, result: ScanResult) -> None:
        rel = disc.relpath(path)
        result.files_scanned += 1
        data, problems = self._read(path, rel, result)
        if data is None:
            result.findings.extend(self._finish_file(problems, rel, b""))
            return
        try:
            mf = gomod.parse(data, rel)
        except gomod.ModFileError as exc:
            f = self._gr000(rel, exc.line, "bad-modfile", severity="error", what=path.name, error=exc.message)
            result.findings.extend(self._finish_file([f], rel, data))
            return
        out: list[Finding] = []
        line_starts = [0] + [m.end() for m in re.finditer(b"\n", data)]
        for a in self.mod_analyzers:
            if not a.can_fire(data):
                continue
            try:
                p = Pass(a, self.rules[a.code].options, modfile=mf, results={"path": path, "discovered": disc})
                a.run(p)
            except Exception as exc:
                result.internal_errors += 1
                out.append(self._gr000(rel, 1, "internal-error", severity="error", rule=a.code, error=f"{type(exc).__name__}: {exc}"))
                continue
            for raw in p.findings:
                out.append(self._finding_from_raw(raw, rel, data, line_starts))
        result.findings.extend(self._finish_file(out, rel, data))

    # ------------------------------------------------------------------
    def _finding_from_raw(self, raw: RawFinding, rel: str, data: bytes, line_starts: list[int]) -> Finding:
        info = self.rules[raw.code]
        if raw.message is not None:
            msg = raw.message
        else:
            template = info.messages.get(raw.key)
            msg = format_message(template, raw.args) if template else raw.key
        import bisect

        if raw.start_byte >= 0:
            line = bisect.bisect_right(line_starts, raw.start_byte)
            ls = line_starts[line - 1]
            end_b = max(raw.end_byte, raw.start_byte)
            end_line = bisect.bisect_right(line_starts, end_b)
            if end_line != line:  # report the first line only; caret to its end
                end_line = line
                nl = data.find(b"\n", ls)
                end_b = nl if nl != -1 else len(data)
            prefix = data[ls : raw.start_byte].decode("utf-8", "replace")
            span = data[raw.start_byte : end_b].decode("utf-8", "replace")
            col = len(prefix) + 1
            col16 = len(prefix.encode("utf-16-le")) // 2 + 1
            end_col = col + max(len(span), 1)
            end_col16 = col16 + max(len(span.encode("utf-16-le")) // 2, 1)
        else:
            line = max(raw.line, 1)
            end_line = line
            col = col16 = 1
            text = _line_text(data, line_starts, line)
            end_col = len(text) + 1 if text else 2
            end_col16 = len(text.encode("utf-16-le")) // 2 + 1 if text else 2
        return Finding(
            code=raw.code,
            slug=info.slug if raw.code != "GR000" else raw.key,
            severity=(
                _lower(info.severity, raw.severity)
                if raw.code != "GR000"
                else ("error" if raw.key == "internal-error" else info.severity)
            ),
            message=msg,
            path=rel,
            line=line,
            column=col,
            end_line=end_line,
            end_column=end_col,
            column_utf16=col16,
            end_column_utf16=end_col16,
            fix=raw.fix,
        )

    def _finish_file(self, findings: list[Finding], rel: str, data: bytes) -> list[Finding]:
        """Apply suppressions, per-path ignores, selection; add source lines and fingerprints."""
        if not findings and b"gorules:ignore" not in data:
            return []  # nothing to filter, no suppression to check (most files)
        items = supp.parse(data)
        index = supp.SuppressionIndex(items)
        ignored = self.config.ignored_codes(self._rel_for_config(rel))
        line_starts = [0] + [m.end() for m in re.finditer(b"\n", data)] if findings or items else []
        kept: list[Finding] = []
        for f in findings:
            if f.code in ignored or not self._code_visible(f.code):
                continue
            if index.suppresses(f.code, f.line):
                continue
            kept.append(f)
        known = set(self.rules)
        for s in items:
            if not s.codes or not s.reason:
                kept.append(self._gr000(rel, s.line, "missing-reason", severity="warning", codes=",".join(s.codes) or "GR00N"))
                continue
            for c in s.codes:
                if c not in known:
                    kept.append(self._gr000(rel, s.line, "unknown-code", severity="warning", code=c))
            if self.options.report_unused_ignores:
                unused = [c for c in s.codes if c in known and c not in s.used and self._active(c)]
                if unused:
                    kept.append(self._gr000(rel, s.line, "unused-ignore", severity="warning", codes=",".join(unused)))
        kept = [f for f in kept if f.code != "GR000" or self._code_visible("GR000")]
        occurrences: Counter[str] = Counter()
        for f in sorted(kept, key=Finding.sort_key):
            if not f.source_line:
                f.source_line = _line_text(data, line_starts, f.line)
            if not f.end_line:
                f.end_line = f.line
                f.end_column = max(len(f.source_line) + 1, 2)
                f.end_column_utf16 = len(f.source_line.encode("utf-16-le")) // 2 + 1
            base = fingerprint_base(f, data, line_starts)
            occurrences[base] += 1
            f.fingerprint = hashlib.sha256(f"{base}\0{occurrences[base]}".encode()).hexdigest()[:32]
        return kept

    def _rel_for_config(self, rel: str) -> str:
        return rel


_PLACEHOLDER = re.compile(r"\{(\w+)(![rs])?(:[^{}]*)?\}")


def format_message(template: str, args: dict) -> str:
    """Fill ``{name}`` placeholders; literal braces (``http.Client{Timeout: ...}``) stay as written."""
    def sub(m: re.Match) -> str:
        name, conv, spec = m.group(1), m.group(2), m.group(3) or ""
        if name not in args:
            return m.group(0)
        value = args[name]
        if conv == "!r":
            value = repr(value)
        try:
            return format(value, spec[1:]) if spec else str(value)
        except (ValueError, TypeError):
            return str(value)

    return _PLACEHOLDER.sub(sub, template.replace("{{", "\x00").replace("}}", "\x01")).replace("\x00", "{").replace("\x01", "}")


def _lower(configured: str, requested: str | None) -> str:
    """A check may report below its rule's severity, never above the configured one."""
    if requested is None:
        return configured
    return min(configured, requested, key=lambda s: Severity.parse(s))


def _oserror(exc: OSError) -> str:
    if exc.errno == 40:  # ELOOP
        return "symlink loop (the link points back to itself)"
    return exc.strerror or str(exc)


def _line_text(data: bytes, line_starts: list[int], line: int) -> str:
    if not line_starts or line < 1 or line > len(line_starts):
        return ""
    start = line_starts[line - 1]
    end = line_starts[line] - 1 if line < len(line_starts) else len(data)
    return data[start:end].decode("utf-8", "replace").rstrip("\r\n")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def fingerprint_base(f: Finding, data: bytes, line_starts: list[int]) -> str:
    """Rule, file, and the normalised source of the line and its neighbours; not the line number."""
    ctx = [_norm(_line_text(data, line_starts, ln)) for ln in (f.line - 1, f.line, f.line + 1)]
    return "\0".join([f.code, f.slug, f.path, *ctx])


def scan(
    paths: Sequence[str | Path],
    config: Config,
    options: ScanOptions | None = None,
    progress: ProgressFn | None = None,
) -> ScanResult:
    """Scan files or directories with a policy; the one entry point of the library."""
    return Engine(config, options).scan(paths, progress)
