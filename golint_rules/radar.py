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


def bind_config(cfg: Any, text: str) -> None:
    """Resolve and validate the radar a ``.gorules.toml`` names.

    ``radar = "path"`` at the top level, or ``radar`` in ``[rules.GR009]``
    (which wins), is relative to the config file and must stay inside its
    directory tree (a scanned repository cannot make the scanner read files
    elsewhere). A shipped radar can be named without a path (``radar-2024q3``).
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
    inside = real == base.resolve() or base.resolve() in real.parents
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
