"""The tech radar: loading and validating radar files, matching paths, and the
``gorules radar`` adoption report.

A radar file is TOML::

    [radar]
    name = "Platform tech radar"
    edition = "2024 Q3"
    quadrants = ["Standard library", "Libraries", "Frameworks", "Tools"]

    [[entry]]
    path = "github.com/rs/zerolog"      # module or package path
    ring = "hold"                       # adopt | trial | assess | hold
    quadrant = "Libraries"              # one of [radar].quadrants (default: "Libraries" or the first)
    replacement = "log/slog"            # optional
    note = "one structured logger"      # optional

Every problem is a :class:`RadarError` (a ``ConfigError``) naming the file and
line: unknown keys, a ring that is not one of the four, an unknown quadrant, a
path that is not an import path, the same path listed twice.

Matching is by path prefix at ``/`` boundaries; the longest entry wins, so a
radar can hold ``github.com/acme/kit`` and adopt ``github.com/acme/kit/log``.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .config import ConfigError, rules_dir

RINGS = ("adopt", "trial", "assess", "hold")
#: severity of a finding per ring (capped by the rule's configured severity)
RING_SEVERITY = {"hold": "error", "assess": "warning", "trial": "note"}
DEFAULT_QUADRANTS = ("Standard library", "Libraries", "Frameworks", "Tools")
SHIPPED = "radar-2024q3"

_PATH_RE = re.compile(r"^[A-Za-z0-9_~+-][A-Za-z0-9._~+-]*(/[A-Za-z0-9._~+-]+)*$")
_RADAR_KEYS = {"name", "edition", "quadrants"}
_ENTRY_KEYS = {"path", "ring", "quadrant", "replacement", "note"}
_TOP_KEYS = {"radar", "entry"}


class RadarError(ConfigError):
    """A malformed radar file; ``str()`` is ``file:line: message``."""


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    ring: str
    quadrant: str
    replacement: str | None = None
    note: str | None = None
    line: int = 0

    @property
    def severity(self) -> str | None:
        return RING_SEVERITY.get(self.ring)


@dataclass
class Radar:
    path: Path
    name: str
    edition: str
    quadrants: tuple[str, ...]
    entries: list[Entry] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.name} {self.edition}".strip()

    def match(self, path: str) -> Entry | None:
        """The entry covering ``path`` (longest prefix at a ``/`` boundary), or None."""
        best: Entry | None = None
        for e in self.entries:
            p = e.path
            if (path == p or (path.startswith(p) and path[len(p)] == "/")) and (best is None or len(p) > len(best.path)):
                best = e
        return best

    @property
    def tokens(self) -> tuple[bytes, ...]:
        """Byte strings a Go file must contain to import a non-adopt entry."""
        return tuple(e.path.encode() for e in self.entries if e.ring != "adopt")


# ---------------------------------------------------------------------------
# Loading


def _entry_lines(text: str) -> list[int]:
    """Lines of the ``[[entry]]`` headers, in order."""
    return [n for n, line in enumerate(text.splitlines(), 1) if re.match(r"^\s*\[\[\s*entry\s*\]\]\s*(#.*)?$", line)]


def _key_line(text: str, header_line: int, key: str) -> int | None:
    """Line of ``key = ...`` in the table whose header is at ``header_line`` (0: the top level)."""
    lines = text.splitlines()
    pat = re.compile(rf'^\s*(?:"{re.escape(key)}"|\'{re.escape(key)}\'|{re.escape(key)})\s*=')
    for idx in range(header_line, len(lines)):
        if re.match(r"^\s*\[", lines[idx]):
            break
        if pat.match(lines[idx]):
            return idx + 1
    return None


def _table_line(text: str, key: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(rf"^\s*\[\[?\s*{re.escape(key)}\s*[\].]", line):
            return n
    return None


def _find_literal(text: str, value: str, nth: int = 0) -> int | None:
    """Line of the ``nth`` occurrence of the TOML string ``value``."""
    pat = re.compile(r"[\"']" + re.escape(value) + r"[\"']")
    hits = [text.count("\n", 0, m.start()) + 1 for m in pat.finditer(text)]
    return hits[nth] if nth < len(hits) else (hits[-1] if hits else None)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_radar(text: str, path: Path | str) -> Radar:
    """Validate and build a radar from TOML ``text`` (``path`` is for messages)."""
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        raise RadarError(path, int(m.group(1)) if m else None, "invalid TOML: " + re.sub(r"\s*\(at line.*\)", "", msg)) from None

    def err(line: int | None, message: str) -> RadarError:
        return RadarError(path, line, message)

    for key in data:
        if key not in _TOP_KEYS:
            raise err(_key_line(text, 0, key) or _table_line(text, key), f"unknown key {key!r}: a radar file has a [radar] table and [[entry]] tables")
    meta = data.get("radar", {})
    radar_line = _table_line(text, "radar")
    if not isinstance(meta, dict):
        raise err(radar_line, "[radar] must be a table: [radar] name = \"...\" edition = \"...\"")
    for key, value in meta.items():
        line = _key_line(text, radar_line or 0, key) if radar_line else None
        if key not in _RADAR_KEYS:
            raise err(line or radar_line, f"unknown key {key!r} in [radar]; known keys: {', '.join(sorted(_RADAR_KEYS))}{_suggest(key, _RADAR_KEYS)}")
        if key in ("name", "edition") and not isinstance(value, str):
            raise err(line, f"[radar] {key} must be a string")
    quadrants = meta.get("quadrants", list(DEFAULT_QUADRANTS))
    q_line = _key_line(text, radar_line or 0, "quadrants") if radar_line else None
    if (
        not isinstance(quadrants, list)
        or not all(isinstance(q, str) and q.strip() for q in quadrants)
        or not 1 <= len(quadrants) <= 8
    ):
        raise err(q_line, "quadrants must be a list of 1 to 8 names, e.g. quadrants = [\"Standard library\", \"Libraries\", \"Frameworks\", \"Tools\"]")
    if len(set(quadrants)) != len(quadrants):
        raise err(q_line, "quadrants lists the same name twice")
    default_quadrant = "Libraries" if "Libraries" in quadrants else quadrants[0]

    raw_entries = data.get("entry", [])
    if not isinstance(raw_entries, list):
        raise err(_key_line(text, 0, "entry") or _table_line(text, "entry"), "entries are [[entry]] tables (an array of tables), not a single table")
    headers = _entry_lines(text)
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    occurrences: dict[str, int] = {}
    for i, body in enumerate(raw_entries):
        head = headers[i] if i < len(headers) else None
        if not isinstance(body, dict):
            raise err(head, "each entry must be a table with path and ring")

        def line_of(key: str) -> int | None:
            if head is not None:
                return _key_line(text, head, key) or head
            return None

        for key in body:
            if key not in _ENTRY_KEYS:
                raise err(line_of(key), f"unknown key {key!r} in [[entry]]; known keys: {', '.join(sorted(_ENTRY_KEYS))}{_suggest(key, _ENTRY_KEYS)}")
        p = body.get("path")
        if not isinstance(p, str):
            raise err(head, "[[entry]] needs path = \"module/or/package/path\"")
        nth = occurrences.get(p, 0)
        occurrences[p] = nth + 1
        entry_line = line_of("path") or _find_literal(text, p, nth) or head
        if not _PATH_RE.match(p) or "//" in p or p.endswith("/") or "..." in p:
            hint = p.split("://", 1)[-1].rstrip("/") if "://" in p or p.endswith("/") else "github.com/rs/zerolog"
            raise err(entry_line, f"path {p!r} is not an import path: write a module or package path such as {hint!r} (no scheme, no trailing '/', no '...')")
        if p in seen:
            raise err(entry_line, f"duplicate entry {p!r}: already listed at line {seen[p]}; keep one entry per path")
        seen[p] = entry_line or 0
        ring = body.get("ring")
        if not isinstance(ring, str) or ring not in RINGS:
            shown = ring if isinstance(ring, str) else type(ring).__name__
            hint = ""
            if isinstance(ring, str) and ring.strip().lower() in RINGS:
                hint = f" (ring names are lowercase: {ring.strip().lower()!r})"
            elif isinstance(ring, str):
                hint = _suggest(ring, RINGS)
            raise err(line_of("ring") if "ring" in body else head, f"ring {shown!r} of {p} is not a ring: use one of {', '.join(RINGS)}{hint}")
        quadrant = body.get("quadrant", default_quadrant)
        if not isinstance(quadrant, str) or quadrant not in quadrants:
            raise err(
                line_of("quadrant"),
                f"quadrant {quadrant!r} of {p} is not declared: use one of {', '.join(map(repr, quadrants))} or add it to [radar].quadrants",
            )
        for key in ("replacement", "note"):
            if key in body and not isinstance(body[key], str):
                raise err(line_of(key), f"{key} of {p} must be a string")
        entries.append(
            Entry(p, ring, quadrant, body.get("replacement") or None, body.get("note") or None, entry_line or 0)
        )
    return Radar(path, str(meta.get("name", "Tech radar")), str(meta.get("edition", "")), tuple(quadrants), entries)


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int, size: int) -> Radar:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise RadarError(p, None, f"cannot read radar file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RadarError(p, raw[: exc.start].count(b"\n") + 1, "not valid UTF-8; save the radar file as UTF-8") from None
    return parse_radar(text, p)


def shipped_path() -> Path:
    return rules_dir() / f"{SHIPPED}.toml"


def resolve_name(name: str, base: Path | None = None) -> Path:
    """A radar option value to a file: "" is the shipped radar, a bare name
    (``radar-2024q3``) a shipped one, anything else a path (relative to ``base``)."""
    name = name.strip()
    if not name:
        return shipped_path()
    if "/" not in name and "\\" not in name and not name.endswith(".toml"):
        cand = rules_dir() / f"{name}.toml"
        if cand.is_file():
            return cand
        known = ", ".join(sorted(p.stem for p in rules_dir().glob("radar-*.toml")))
        raise RadarError(name, None, f"unknown shipped radar {name!r}: shipped radars are {known}; or give a path to a .toml file")
    p = Path(name)
    if not p.is_absolute() and base is not None:
        p = base / p
    return Path(os.path.abspath(p))


def load(path: Path | str | None = None) -> Radar:
    """Load (once per file version) and validate a radar file; None: the shipped one."""
    p = Path(path) if path else shipped_path()
    try:
        st = p.stat()
    except OSError:
        raise RadarError(p, None, "radar file not found: check the path (radar = \"...\" in .gorules.toml, or --radar)") from None
    radar = _load_cached(str(p), st.st_mtime_ns, st.st_size)
    _TOKENS.update(radar.tokens)
    return radar


def for_options(options: dict[str, Any]) -> Radar:
    """The radar a check should use, from its ``radar`` option."""
    return load(resolve_name(str(options.get("radar", "") or "")))


#: every non-adopt entry path of every radar loaded in this process (GR009's prefilter)
_TOKENS: set[bytes] = set()


_shipped_loaded = False


def prefilter_tokens() -> set[bytes]:
    """Paths of every non-adopt entry of the shipped radar and of every radar
    loaded so far (a configured radar is loaded when the configuration is)."""
    global _shipped_loaded
    if not _shipped_loaded:
        load()
        _shipped_loaded = True
    return _TOKENS


def repo_boundary(config_dir: Path) -> Path:
    """What files a config may name: its git work tree, or its own directory outside git."""
    from .discover import git_toplevel

    top = git_toplevel(Path(config_dir).resolve())
    return (top or Path(config_dir)).resolve()


def bind_config(cfg: Any, text: str) -> None:
    """Resolve and validate the radar a ``.gorules.toml`` names.

    ``radar = "path"`` at the top level, or ``radar`` in ``[rules.GR009]``
    (which wins), is relative to the config file and must stay inside the
    repository (its git work tree, or the config's directory outside git): a
    scanned repository cannot make the scanner read files elsewhere. A shipped radar can be named without a path (``radar-2024q3``).
    The resolved path is stored in GR009's options; a bad radar file raises a
    :class:`RadarError` with the radar file's line.
    """
    from .config import locate

    info = cfg.rules.get("GR009")
    option = str(info.options.get("radar", "") or "") if info else ""
    value, keys = (option, ("rules", "GR009", "radar")) if option else (cfg.radar or "", ("radar",))
    if not value:
        return
    cfg_path = cfg.path or Path(".gorules.toml")
    line = locate(text, keys) if text else None
    base = cfg.root or cfg_path.parent
    try:
        resolved = resolve_name(value, base)
    except RadarError as exc:
        raise ConfigError(cfg_path, line, exc.message) from None
    shipped = rules_dir().resolve()
    real = resolved.resolve()
    boundary = repo_boundary(base)
    inside = real == boundary or boundary in real.parents
    if not inside and shipped not in real.parents:
        raise ConfigError(
            cfg_path, line,
            f"radar file {value!r} is outside this repository ({real}): put the radar file in the repository "
            "(a path relative to .gorules.toml) or name a shipped radar such as radar-2024q3",
        )
    if not resolved.is_file():
        raise ConfigError(cfg_path, line, f"radar file {value!r} not found (looked at {resolved}): fix the path, relative to {cfg_path.name}")
    load(resolved)  # validates; RadarError carries the radar file's line
    if info is not None:
        info.options["radar"] = str(resolved)
    cfg.radar = str(resolved)


# ---------------------------------------------------------------------------
# What GR009 reports


def finding(radar: Radar, entry: Entry, used: str, *, indirect: bool = False) -> tuple[str, str, dict[str, str]]:
    """(message key, severity, message args) for a use of ``entry`` (``used`` is the import or module path)."""
    what = used if used == entry.path else f"{used} (radar entry {entry.path})"
    note = f" ({entry.note})" if entry.note else ""
    if entry.ring == "hold":
        remedy = f"use {entry.replacement} instead" if entry.replacement else "move off it (the radar names no replacement: ask the platform team)"
    else:
        remedy = ""
    args = {
        "path": what,
        "entry": entry.path,
        "ring": entry.ring,
        "radar": radar.title,
        "note": note,
        "remedy": remedy,
        "replacement": entry.replacement or "",
    }
    key = "indirect" if indirect else entry.ring
    if indirect:
        args["remedy"] = f"; then {remedy}" if remedy else ""
    return key, RING_SEVERITY[entry.ring], args


# ---------------------------------------------------------------------------
# The adoption report: `gorules radar PATH...`

#: code hosts whose repositories are host/owner/name (GOPATH layout)
_THREE_PART_HOSTS = {
    "github.com", "gitlab.com", "bitbucket.org", "code.google.com", "golang.org", "git.sr.ht",
    "codeberg.org", "salsa.debian.org", "gitee.com", "git.torproject.org",
}
_REPO_MARKERS = (".git", "go.mod", "go.work")


@dataclass
class RepoUsage:
    """How one repository uses one radar entry."""

    packages: list[str] = field(default_factory=list)  # package directories importing it
    requires: list[dict[str, Any]] = field(default_factory=list)  # {file, line, module, version, indirect}

    @property
    def used(self) -> bool:
        return bool(self.packages or self.requires)


@dataclass
class Repository:
    name: str
    path: Path
    modules: list[str] = field(default_factory=list)  # module paths (go.mod files)
    gomods: list[str] = field(default_factory=list)  # go.mod files, relative to the repository
    packages: int = 0
    #: import path -> package dirs importing it (the repository's own packages left out)
    imports: dict[str, set[str]] = field(default_factory=dict)
    #: module path -> list of (go.mod file, line, version, indirect)
    requires: dict[str, list[tuple[str, int, str, bool]]] = field(default_factory=dict)
    #: import path -> providing module (from the go.mod requires), when known
    providers: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    radar: Radar
    repositories: list[Repository]
    usage: dict[str, dict[str, RepoUsage]]  # entry path -> repo name -> usage
    candidates: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)

    def entry_totals(self, entry: Entry) -> tuple[int, int, int]:
        """(repositories using it, packages importing it, go.mod files requiring it)."""
        per = self.usage.get(entry.path, {})
        repos = sum(1 for u in per.values() if u.used)
        pkgs = sum(len(u.packages) for u in per.values())
        reqs = sum(len(u.requires) for u in per.values())
        return repos, pkgs, reqs

    def to_dict(self) -> dict[str, Any]:
        entries = []
        for e in self.radar.entries:
            repos, pkgs, reqs = self.entry_totals(e)
            entries.append(
                {
                    "path": e.path,
                    "ring": e.ring,
                    "quadrant": e.quadrant,
                    "replacement": e.replacement,
                    "note": e.note,
                    "repositories_using": repos,
                    "packages": pkgs,
                    "requires": reqs,
                    "repositories": {
                        name: {"packages": u.packages, "requires": u.requires}
                        for name, u in sorted(self.usage.get(e.path, {}).items())
                        if u.used
                    },
                }
            )
        return {
            "version": 1,
            "radar": {
                "name": self.radar.name,
                "edition": self.radar.edition,
                "file": str(self.radar.path),
                "quadrants": list(self.radar.quadrants),
            },
            "repositories": [
                {"name": r.name, "path": str(r.path), "modules": r.modules, "go_mod_files": r.gomods, "packages": r.packages}
                for r in self.repositories
            ],
            "entries": entries,
            "candidates": self.candidates,
            "problems": self.problems,
        }


def _is_gopath_like(rel_parts: tuple[str, ...]) -> bool:
    return bool(rel_parts) and "." in rel_parts[0]


def _conventional_root(rel_parts: tuple[str, ...]) -> int:
    """How many leading path elements name the repository in a GOPATH-style tree."""
    host = rel_parts[0]
    if host == "gopkg.in":
        return 2 if len(rel_parts) > 1 and re.search(r"\.v\d+$", rel_parts[1]) else 3
    if host in _THREE_PART_HOSTS:
        return 3
    return 2


def find_repositories(path: Path) -> list[Path]:
    """Repositories at or under ``path``: a directory with .git, go.mod or go.work,
    or, in a GOPATH-style tree (``host/owner/name``) without such markers, the
    conventional repository directory of a package."""
    path = Path(os.path.abspath(path))
    if path.is_file():
        path = path.parent
    if any((path / m).exists() for m in _REPO_MARKERS):
        return [path]
    found: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        d = Path(dirpath)
        if d != path and any(m in filenames or m in dirnames for m in _REPO_MARKERS):
            found.add(d)
            dirnames[:] = []
            continue
        dirnames[:] = sorted(n for n in dirnames if not (n in ("vendor", "testdata") or n.startswith((".", "_"))))
        if d != path and any(f.endswith(".go") for f in filenames):
            rel = d.relative_to(path).parts
            if _is_gopath_like(rel):
                k = _conventional_root(rel)
                root = path.joinpath(*rel[:k]) if len(rel) >= k else d
            else:
                root = d
            found.add(root)
            if root == d:
                dirnames[:] = []
    if not found and any(path.glob("*.go")):
        found.add(path)
    # a repository inside another is part of it
    roots = sorted(found, key=lambda p: (len(p.parts), str(p)))
    kept: list[Path] = []
    for r in roots:
        if not any(k == r or k in r.parents for k in kept):
            kept.append(r)
    return sorted(kept)


def _dep_key(import_path: str, providers: dict[str, str]) -> str:
    """The dependency an import belongs to: its required module, else its repository root."""
    if import_path in providers:
        return providers[import_path]
    parts = tuple(import_path.split("/"))
    k = _conventional_root(parts)
    key = "/".join(parts[:k])
    if len(parts) > k and re.fullmatch(r"v[2-9]\d*", parts[k]):
        key += "/" + parts[k]
    return key


def analyze_repository(root: Path, name: str, problems: list[str] | None = None) -> Repository:
    """Read a repository's go.mod files and the import headers of its packages."""
    from . import gomod as gomod_mod
    from .discover import discover
    from .module import build_module, is_std, longest_match

    repo = Repository(name, root)
    disc = discover([root])
    gomods = sorted(p for p in disc.module_files if p.name == "go.mod")
    module_roots = {p.parent for p in gomods}
    roots = sorted(module_roots | {root})
    own: list[str] = []
    if _is_gopath_like(tuple(name.split("/"))):
        own.append(name)
    mods = []
    for mroot in roots:
        mf = None
        if mroot in module_roots:
            rel_mod = (mroot / "go.mod").relative_to(root).as_posix()
            try:
                mf = gomod_mod.load(mroot / "go.mod", rel_mod)
            except (gomod_mod.ModFileError, OSError) as exc:
                if problems is not None:
                    problems.append(f"{name}: {exc} (its requires are left out of the report)")
                mf = None
            else:
                repo.gomods.append(rel_mod)
                if mf.module_path:
                    repo.modules.append(mf.module_path)
                    own.append(mf.module_path)
                for d in mf.of("require"):
                    repo.requires.setdefault(d.args[0], []).append((rel_mod, d.line, d.args[1], d.indirect))
        mods.append((mroot, build_module(mroot, mf)))
    for mroot, mod in mods:
        prefix = "" if mroot == root else mroot.relative_to(root).as_posix() + "/"
        required = [d.args[0] for d in mod.requires()]
        for pkg_dir, imports in mod.package_imports.items():
            pkg = (prefix + pkg_dir) if pkg_dir != "." else (prefix.rstrip("/") or ".")
            repo.packages += 1
            for ip in imports:
                if not is_std(ip) and longest_match(own, ip) is not None:
                    continue  # the repository's own packages
                repo.imports.setdefault(ip, set()).add(pkg)
                prov = longest_match(required, ip)
                if prov is not None:
                    repo.providers[ip] = prov
    return repo


def build_report(paths: list[Path], radar: Radar, top: int = 20) -> Report:
    """The adoption matrix of ``radar`` across the repositories at or under ``paths``."""
    from .module import is_std

    problems: list[str] = []
    repos: list[Repository] = []
    seen_names: set[str] = set()
    for p in paths:
        p = Path(os.path.abspath(p))
        if not p.exists():
            problems.append(f"{p}: no such file or directory")
            continue
        for root in find_repositories(p):
            name = root.relative_to(p).as_posix() if root != p else root.name
            if name in seen_names:
                name = str(root)
            seen_names.add(name)
            repos.append(analyze_repository(root, name, problems))
    usage: dict[str, dict[str, RepoUsage]] = {e.path: {} for e in radar.entries}
    dep_repos: dict[str, set[str]] = {}
    dep_pkgs: dict[str, int] = {}
    dep_reqs: dict[str, int] = {}
    for repo in repos:
        for ip, pkgs in repo.imports.items():
            entry = radar.match(ip)
            if entry is not None:
                u = usage[entry.path].setdefault(repo.name, RepoUsage())
                u.packages = sorted(set(u.packages) | pkgs)
                continue
            if is_std(ip):
                continue
            key = _dep_key(ip, repo.providers)
            if radar.match(key) is not None:
                continue
            dep_repos.setdefault(key, set()).add(repo.name)
            dep_pkgs[key] = dep_pkgs.get(key, 0) + len(pkgs)
        for module, lines in repo.requires.items():
            entry = radar.match(module)
            for (gm, line, version, indirect) in lines:
                if entry is not None:
                    usage[entry.path].setdefault(repo.name, RepoUsage()).requires.append(
                        {"file": gm, "line": line, "module": module, "version": version, "indirect": indirect}
                    )
                elif not indirect:
                    dep_reqs[module] = dep_reqs.get(module, 0) + 1
                    dep_repos.setdefault(module, set()).add(repo.name)
    candidates = sorted(
        (
            {"module": k, "repositories": len(v), "packages": dep_pkgs.get(k, 0), "required_by": dep_reqs.get(k, 0)}
            for k, v in dep_repos.items()
        ),
        key=lambda c: (-c["repositories"], -c["packages"], c["module"]),
    )[: max(top, 0)]
    return Report(radar, repos, usage, candidates, problems)


# ---------------------------------------------------------------------------
# Rendering: rich table, Markdown, HTML (with the radar drawn as SVG)

RING_COLOURS = {"adopt": "#1a9850", "trial": "#3288bd", "assess": "#e08a00", "hold": "#d53e4f"}
_RICH_STYLES = {"adopt": "green", "trial": "blue", "assess": "yellow", "hold": "red"}


def _usage_cell(u: RepoUsage | None, markdown: bool = False) -> str:
    if u is None or not u.used:
        return "—"
    parts = []
    if u.packages:
        parts.append(f"{len(u.packages)} pkg")
    for r in u.requires:
        parts.append(f"{r['file']}: {r['version']}" + (" (indirect)" if r["indirect"] else ""))
    return ("<br>" if markdown else "\n").join(parts)


def _used_repos(report: Report) -> list[Repository]:
    return [r for r in report.repositories if any(report.usage[e.path].get(r.name, RepoUsage()).used for e in report.radar.entries)]


def render_table(report: Report, out: Any, *, color: bool | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, no_color=color is False, force_terminal=color if color else None, width=max(100, min(200, getattr(out, "columns", 140) or 140)))
    radar = report.radar
    t = Table(title=f"{radar.title}: adoption across {len(report.repositories)} repositories", title_justify="left")
    for col in ("#", "entry", "ring", "quadrant", "repos", "packages", "go.mod requires", "note"):
        t.add_column(col, justify="right" if col in ("#", "repos", "packages", "go.mod requires") else "left", overflow="fold")
    for i, e in enumerate(radar.entries, 1):
        repos, pkgs, reqs = report.entry_totals(e)
        note = (f"use {e.replacement}. " if e.replacement else "") + (e.note or "")
        t.add_row(str(i), e.path, f"[{_RICH_STYLES[e.ring]}]{e.ring}[/]", e.quadrant, str(repos), str(pkgs), str(reqs), note)
    console.print(t)
    used = _used_repos(report)
    if used:
        m = Table(title="By repository (packages importing it; go.mod files requiring it)", title_justify="left")
        m.add_column("repository", overflow="fold")
        for i, e in enumerate(radar.entries, 1):
            m.add_column(f"{i}. {e.path}\n[{_RICH_STYLES[e.ring]}]{e.ring}[/]", overflow="fold")
        for r in used:
            m.add_row(r.name, *[_usage_cell(report.usage[e.path].get(r.name)) for e in radar.entries])
        console.print(m)
    else:
        console.print("No repository uses a radar entry.")
    if report.candidates:
        c = Table(title="Most used dependencies not on the radar (candidates for the next edition)", title_justify="left")
        for col in ("dependency", "repos", "packages", "required by (go.mod)"):
            c.add_column(col, justify="left" if col == "dependency" else "right", overflow="fold")
        for cand in report.candidates:
            c.add_row(cand["module"], str(cand["repositories"]), str(cand["packages"]), str(cand["required_by"]))
        console.print(c)
    for p in report.problems:
        console.print(f"[yellow]warning:[/] {p}", markup=True, highlight=False)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    radar = report.radar
    lines = [f"# {radar.title}: adoption", "", f"{len(report.repositories)} repositories scanned; radar file `{radar.path.name}`.", ""]
    lines += ["| # | entry | ring | quadrant | repos | packages | go.mod requires | note |", "|---:|---|---|---|---:|---:|---:|---|"]
    for i, e in enumerate(radar.entries, 1):
        repos, pkgs, reqs = report.entry_totals(e)
        note = (f"use `{e.replacement}`. " if e.replacement else "") + (e.note or "")
        lines.append(f"| {i} | `{e.path}` | **{e.ring}** | {_md(e.quadrant)} | {repos} | {pkgs} | {reqs} | {_md(note)} |")
    used = _used_repos(report)
    lines += ["", "## By repository", ""]
    if used:
        lines.append("| repository | " + " | ".join(f"{i}. `{e.path}` ({e.ring})" for i, e in enumerate(radar.entries, 1)) + " |")
        lines.append("|---|" + "---|" * len(radar.entries))
        for r in used:
            cells = [_md(_usage_cell(report.usage[e.path].get(r.name), markdown=True)).replace("\\|", "|") for e in radar.entries]
            lines.append(f"| `{_md(r.name)}` | " + " | ".join(cells) + " |")
    else:
        lines.append("No repository uses a radar entry.")
    if report.candidates:
        lines += ["", "## Candidates for the next radar", "", "Most used dependencies that the radar does not list.", ""]
        lines += ["| dependency | repos | packages | required by (go.mod) |", "|---|---:|---:|---:|"]
        for c in report.candidates:
            lines.append(f"| `{_md(c['module'])}` | {c['repositories']} | {c['packages']} | {c['required_by']} |")
    if report.problems:
        lines += ["", "## Problems", ""] + [f"- {_md(p)}" for p in report.problems]
    return "\n".join(lines) + "\n"


def _blip_layout(report: Report, cx: float, cy: float, radius: float) -> list[dict[str, Any]]:
    import math

    radar = report.radar
    bands = {"adopt": (0.0, 0.40), "trial": (0.40, 0.62), "assess": (0.62, 0.82), "hold": (0.82, 1.0)}
    n = len(radar.quadrants)
    span = 2 * math.pi / n
    buckets: dict[tuple[int, str], list[int]] = {}
    for i, e in enumerate(radar.entries):
        buckets.setdefault((radar.quadrants.index(e.quadrant), e.ring), []).append(i)
    out: list[dict[str, Any]] = [{} for _ in radar.entries]
    for (q, ring), idxs in buckets.items():
        a0 = -math.pi / 2 + q * span
        lo, hi = bands[ring]
        k = len(idxs)
        for j, i in enumerate(idxs):
            frac = (j + 1) / (k + 1)
            angle = a0 + span * (0.12 + 0.76 * frac)
            wobble = 0.0 if k == 1 else (0.22 if j % 2 else -0.22)
            rr = radius * (lo + (hi - lo) * (0.55 + wobble if lo > 0 else 0.62 + wobble))
            e = radar.entries[i]
            repos, pkgs, reqs = report.entry_totals(e)
            size = min(24.0, 9.0 + 4.0 * math.log2(1 + repos))
            out[i] = {"x": cx + rr * math.cos(angle), "y": cy + rr * math.sin(angle), "r": size}
    return out


def render_html(report: Report) -> str:
    import html
    import json
    import math

    radar = report.radar
    esc = html.escape
    W, H = 920, 800
    cx, cy, R = W / 2, 395.0, 340.0
    bands = [("adopt", 0.40), ("trial", 0.62), ("assess", 0.82), ("hold", 1.0)]
    svg: list[str] = [
        f'<svg id="radar" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{esc(radar.title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    fills = {"adopt": "#eef6ee", "trial": "#f3f7fb", "assess": "#f8f8f1", "hold": "#fbf3f3"}
    for ring, frac in reversed(bands):
        svg.append(f'<circle class="ring ring-{ring}" cx="{cx:.1f}" cy="{cy:.1f}" r="{R * frac:.1f}" fill="{fills[ring]}" stroke="#b9bec4" stroke-width="1"/>')
    n = len(radar.quadrants)
    for q in range(n):
        a = -math.pi / 2 + q * 2 * math.pi / n
        if n > 1:
            svg.append(f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{cx + R * math.cos(a):.1f}" y2="{cy + R * math.sin(a):.1f}" stroke="#9aa1a8" stroke-width="1.5"/>')
        mid = a + math.pi / n
        lx, ly = cx + (R + 26) * math.cos(mid), cy + (R + 26) * math.sin(mid)
        anchor = "start" if math.cos(mid) > 0.2 else ("end" if math.cos(mid) < -0.2 else "middle")
        svg.append(f'<text class="quadrant" x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">{esc(radar.quadrants[q])}</text>')
    prev = 0.0
    for ring, frac in bands:
        y = cy - R * (prev + frac) / 2
        svg.append(f'<text class="ring-label" x="{cx:.1f}" y="{y + 4:.1f}" text-anchor="middle" fill="{RING_COLOURS[ring]}">{ring.upper()}</text>')
        prev = frac
    layout = _blip_layout(report, cx, cy, R)
    for i, (e, pos) in enumerate(zip(radar.entries, layout), 1):
        repos, pkgs, reqs = report.entry_totals(e)
        title = f"{e.path} ({e.ring}): {repos} repositories, {pkgs} packages, {reqs} go.mod requires"
        svg.append(
            f'<g class="blip" tabindex="0" data-index="{i - 1}" data-path="{esc(e.path)}" data-ring="{e.ring}" '
            f'transform="translate({pos["x"]:.1f},{pos["y"]:.1f})">'
            f'<title>{esc(title)}</title>'
            f'<circle r="{pos["r"]:.1f}" fill="{RING_COLOURS[e.ring]}" stroke="#fff" stroke-width="2"/>'
            f'<text text-anchor="middle" dy="0.35em">{i}</text></g>'
        )
    svg.append("</svg>")

    # tables
    rows = []
    for i, e in enumerate(radar.entries, 1):
        repos, pkgs, reqs = report.entry_totals(e)
        note = (f"use <code>{esc(e.replacement)}</code>. " if e.replacement else "") + esc(e.note or "")
        rows.append(
            f'<tr id="entry-{i}" data-index="{i - 1}"><td class="num">{i}</td><td><code>{esc(e.path)}</code></td>'
            f'<td><span class="tag" style="background:{RING_COLOURS[e.ring]}">{e.ring}</span></td><td>{esc(e.quadrant)}</td>'
            f'<td class="num">{repos}</td><td class="num">{pkgs}</td><td class="num">{reqs}</td><td>{note}</td></tr>'
        )
    used = _used_repos(report)
    matrix = []
    if used:
        head = "".join(
            f'<th><span class="tag" style="background:{RING_COLOURS[e.ring]}">{i}</span> <code>{esc(e.path)}</code></th>'
            for i, e in enumerate(radar.entries, 1)
        )
        matrix.append(f"<div class='scroll'><table class='matrix'><thead><tr><th>repository</th>{head}</tr></thead><tbody>")
        for r in used:
            cells = []
            for e in radar.entries:
                u = report.usage[e.path].get(r.name)
                cells.append(f"<td>{'<br>'.join(esc(x) for x in _usage_cell(u).split(chr(10)))}</td>")
            matrix.append(f"<tr><th scope='row'><code>{esc(r.name)}</code></th>{''.join(cells)}</tr>")
        matrix.append("</tbody></table></div>")
    else:
        matrix.append("<p>No repository uses a radar entry.</p>")
    cands = "".join(
        f"<tr><td><code>{esc(c['module'])}</code></td><td class='num'>{c['repositories']}</td><td class='num'>{c['packages']}</td><td class='num'>{c['required_by']}</td></tr>"
        for c in report.candidates
    )
    problems = "".join(f"<li>{esc(p)}</li>" for p in report.problems)
    data = {
        "entries": [
            {
                "path": e.path,
                "ring": e.ring,
                "quadrant": e.quadrant,
                "replacement": e.replacement,
                "note": e.note,
                "repositories": [
                    {"name": name, "packages": len(u.packages), "requires": [f"{r['file']}: {r['version']}" + (" (indirect)" if r["indirect"] else "") for r in u.requires]}
                    for name, u in sorted(report.usage[e.path].items())
                    if u.used
                ],
            }
            for e in radar.entries
        ]
    }
    blob = json.dumps(data, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    legend = "".join(
        f'<span class="legend-item"><span class="dot" style="background:{RING_COLOURS[r]}"></span>{r}</span>' for r in RINGS
    )
    return _HTML_TEMPLATE.format(
        title=esc(radar.title),
        repos=len(report.repositories),
        used=len(used),
        radar_file=esc(radar.path.name),
        svg="\n".join(svg),
        legend=legend,
        entry_rows="\n".join(rows),
        matrix="\n".join(matrix),
        candidates=cands or "<tr><td colspan='4'>none</td></tr>",
        problems=f"<h2>Problems</h2><ul>{problems}</ul>" if problems else "",
        data=blob,
    )


_HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}: adoption</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; padding: 0 16px; }}
h1 {{ font-size: 1.6em; margin-bottom: 0.2em; }}
.sub {{ color: #555; margin-top: 0; }}
#radar-wrap {{ position: relative; display: flex; justify-content: center; }}
#radar {{ max-width: 100%; height: auto; }}
#radar .quadrant {{ font-size: 17px; font-weight: 600; fill: #333; }}
#radar .ring-label {{ font-size: 12px; font-weight: 700; letter-spacing: 0.08em; paint-order: stroke; stroke: #fff; stroke-width: 5px; stroke-linejoin: round; }}
#radar .blip {{ cursor: pointer; outline: none; }}
#radar .blip text {{ fill: #fff; font-size: 12px; font-weight: 700; pointer-events: none; }}
#radar .blip:hover circle, #radar .blip:focus circle {{ stroke: #222; }}
#tip {{ position: absolute; display: none; pointer-events: none; background: #fff; border: 1px solid #999; border-radius: 6px;
       padding: 8px 10px; box-shadow: 0 2px 8px rgba(0,0,0,.2); font-size: 13px; max-width: 380px; z-index: 2; }}
#tip h3 {{ margin: 0 0 4px; font-size: 14px; }}
#tip ul {{ margin: 4px 0 0; padding-left: 18px; }}
.legend-item {{ margin-right: 14px; }}
.dot {{ display: inline-block; width: 11px; height: 11px; border-radius: 50%; margin-right: 4px; vertical-align: -1px; }}
table {{ border-collapse: collapse; margin: 8px 0 24px; font-size: 14px; }}
th, td {{ border: 1px solid #d6d9dc; padding: 4px 8px; text-align: left; vertical-align: top; }}
thead th {{ background: #f4f5f6; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.tag {{ color: #fff; border-radius: 4px; padding: 1px 6px; font-size: 12px; font-weight: 600; }}
tr.highlight td {{ background: #fffbe0; }}
.scroll {{ overflow-x: auto; }}
code {{ font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.95em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="sub">Adoption across {repos} repositories ({used} use a radar entry). Radar file: <code>{radar_file}</code>.
Blip size grows with the number of repositories using the entry; hover or focus a blip for the repositories.</p>
<p>{legend}</p>
<div id="radar-wrap">
{svg}
<div id="tip" role="tooltip"></div>
</div>
<h2>Entries</h2>
<table class="entries"><thead><tr><th>#</th><th>entry</th><th>ring</th><th>quadrant</th><th>repos</th><th>packages</th><th>go.mod requires</th><th>note</th></tr></thead>
<tbody>
{entry_rows}
</tbody></table>
<h2>Adoption matrix</h2>
<p>Per repository: how many packages import the entry, and which go.mod files require it (with the version).</p>
{matrix}
<h2>Candidates for the next radar</h2>
<p>The most used dependencies that the radar does not list.</p>
<table class="candidates"><thead><tr><th>dependency</th><th>repos</th><th>packages</th><th>required by (go.mod)</th></tr></thead>
<tbody>{candidates}</tbody></table>
{problems}
<script type="application/json" id="radar-data">{data}</script>
<script>
(function () {{
  "use strict";
  var data = JSON.parse(document.getElementById("radar-data").textContent);
  var tip = document.getElementById("tip");
  var wrap = document.getElementById("radar-wrap");
  function text(tag, value) {{ var el = document.createElement(tag); el.textContent = value; return el; }}
  function show(blip) {{
    var e = data.entries[Number(blip.getAttribute("data-index"))];
    if (!e) {{ return; }}
    tip.replaceChildren();
    tip.appendChild(text("h3", e.path));
    tip.appendChild(text("div", e.ring + " \\u00b7 " + e.quadrant + (e.replacement ? " \\u00b7 use " + e.replacement : "")));
    if (e.note) {{ tip.appendChild(text("div", e.note)); }}
    var list = document.createElement("ul");
    var shown = e.repositories.slice(0, 25);
    shown.forEach(function (r) {{
      var parts = [];
      if (r.packages) {{ parts.push(r.packages + (r.packages === 1 ? " package" : " packages")); }}
      if (r.requires.length) {{ parts.push(r.requires.join(", ")); }}
      list.appendChild(text("li", r.name + ": " + parts.join("; ")));
    }});
    if (e.repositories.length > shown.length) {{ list.appendChild(text("li", "+" + (e.repositories.length - shown.length) + " more")); }}
    if (!e.repositories.length) {{ tip.appendChild(text("div", "used by no repository")); }} else {{ tip.appendChild(list); }}
    var box = blip.getBoundingClientRect(), outer = wrap.getBoundingClientRect();
    tip.style.display = "block";
    var left = box.right - outer.left + 8;
    if (left + tip.offsetWidth > wrap.clientWidth) {{ left = box.left - outer.left - tip.offsetWidth - 8; }}
    tip.style.left = Math.max(0, left) + "px";
    tip.style.top = Math.max(0, Math.min(box.top - outer.top, wrap.clientHeight - tip.offsetHeight)) + "px";
    var row = document.getElementById("entry-" + (Number(blip.getAttribute("data-index")) + 1));
    if (row) {{ row.classList.add("highlight"); }}
  }}
  function hide() {{
    tip.style.display = "none";
    document.querySelectorAll("tr.highlight").forEach(function (r) {{ r.classList.remove("highlight"); }});
  }}
  document.querySelectorAll("#radar .blip").forEach(function (blip) {{
    blip.addEventListener("mouseenter", function () {{ show(blip); }});
    blip.addEventListener("focus", function () {{ show(blip); }});
    blip.addEventListener("mouseleave", hide);
    blip.addEventListener("blur", hide);
  }});
  document.body.setAttribute("data-radar-ready", String(data.entries.length));
}})();
</script>
</body>
</html>
"""


# ---------------------------------------------------------------------------
# The command line: `gorules radar`


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "radar",
        help="the tech radar's adoption across repositories (table, JSON, Markdown, HTML)",
        description=(
            "For each radar entry: its ring, and per repository how many packages import it and which "
            "go.mod files require it; then the most used dependencies that the radar does not list. "
            "Each PATH is a repository or a directory of repositories (a GOPATH-style tree works too). "
            "Nothing from the repositories is executed: only go.mod files and import blocks are read."
        ),
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="repositories, or directories holding repositories")
    p.add_argument("--radar", metavar="FILE", help="radar file (default: the radar of --config, else the shipped radar-2024q3)")
    p.add_argument("--config", metavar="FILE", help="take the radar from this .gorules.toml")
    p.add_argument("--format", choices=("table", "json", "markdown"), default="table", help="report format (default: table)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--html", metavar="FILE", help="also write one self-contained HTML page: the radar drawn as SVG above the matrix")
    p.add_argument("--top", type=int, default=20, metavar="N", help="how many non-radar dependencies to list as candidates (default: 20)")
    p.add_argument("--check", action="store_true", help="only validate the radar file and print its entries")
    p.add_argument("--no-color", action="store_true", help="plain table output")
    p.set_defaults(func=run)


def _radar_from_args(args: Any) -> Radar:
    if getattr(args, "radar", None):
        return load(resolve_name(args.radar, Path.cwd()))
    if getattr(args, "config", None):
        from .config import load_config

        cfg = load_config(Path(args.config))
        return load(cfg.radar) if cfg.radar else load()
    return load()


def run(args: Any) -> int:
    import json
    import sys

    try:
        radar = _radar_from_args(args)
    except ConfigError as exc:
        print(f"gorules: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        rings = {r: sum(1 for e in radar.entries if e.ring == r) for r in RINGS}
        print(f"{radar.path}: {radar.title}: {len(radar.entries)} entries ({', '.join(f'{n} {r}' for r, n in rings.items())}) in {len(radar.quadrants)} quadrants: OK")
        return 0
    if not args.paths:
        print("gorules: error: give at least one PATH (a repository or a directory of repositories), or --check", file=sys.stderr)
        return 2
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"gorules: error: no such file or directory: {', '.join(missing)} (check the PATH arguments)", file=sys.stderr)
        return 2
    if args.top < 0:
        print("gorules: error: --top must be 0 or more", file=sys.stderr)
        return 2
    report = build_report([Path(p) for p in args.paths], radar, top=args.top)
    if args.format == "json":
        text: str | None = json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"
    elif args.format == "markdown":
        text = render_markdown(report)
    else:
        text = None
    try:
        if args.html:
            Path(args.html).write_text(render_html(report), encoding="utf-8")
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                if text is None:
                    render_table(report, f, color=False)
                else:
                    f.write(text)
        elif text is None:
            render_table(report, sys.stdout, color=False if args.no_color else None)
        else:
            sys.stdout.write(text)
    except OSError as exc:
        print(f"gorules: error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.html:
        print(f"wrote {args.html}: {len(radar.entries)} radar entries across {len(report.repositories)} repositories", file=sys.stderr)
    return 0
