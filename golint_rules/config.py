"""Policy: the rule pack (``rules/v2.3.toml``) plus a repository's ``.gorules.toml``.

Every problem in a config file is a :class:`ConfigError` that names the file and
the line, and says how to fix it. Rules never read config files: the engine
hands each check its options.
"""

from __future__ import annotations

import copy
import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import SEVERITY_NAMES, RuleInfo

CONFIG_NAME = ".gorules.toml"
DEFAULT_PACK = "v2.3"
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024


class ConfigError(Exception):
    """A malformed policy or config file; ``str()`` is ``file:line: message``."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        loc = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{loc}: {message}")


def rules_dir() -> Path:
    """Where the shipped policy packs live (installed wheel or source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if (candidate / "v2.3.toml").is_file():
            return candidate
    raise FileNotFoundError("the shipped rule packs (rules/v2.3.toml) are missing from the installation")


# ---------------------------------------------------------------------------
# Locating keys in TOML text, for line numbers in error messages.

_TABLE_RE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_RE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_.-]+)\s*=')


def _unquote(k: str) -> str:
    k = k.strip()
    if len(k) >= 2 and k[0] == k[-1] and k[0] in "\"'":
        return k[1:-1]
    return k


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^.\s]+', key)
    return [_unquote(p) for p in parts]


def locate(text: str, path: tuple[str, ...]) -> int | None:
    """Best-effort 1-based line where the key ``path`` is defined in TOML ``text``."""
    table: list[str] = []
    best: int | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = _TABLE_RE.match(line)
        if m and not _KEY_RE.match(line):
            table = _split_dotted(m.group(1))
            if tuple(table) == path:
                return n
            if best is None and len(table) <= len(path) and tuple(path[: len(table)]) == tuple(table) and table:
                best = n
            continue
        k = _KEY_RE.match(line)
        if k:
            full = tuple(table + _split_dotted(k.group(1)))
            if full == path:
                return n
            if len(full) < len(path) and path[: len(full)] == full:
                return n
    return best


def _load_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read config: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(path, line, "not valid UTF-8; save the file as UTF-8") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        raise ConfigError(path, line, f"invalid TOML: {msg}") from None


# ---------------------------------------------------------------------------
# The pack


@dataclass
class Pack:
    name: str
    version: str
    docs: str
    rules: dict[str, RuleInfo]
    path: Path


_PACK_RULE_KEYS = {"slug", "severity", "summary", "tags", "messages", "options", "precision"}


def load_pack(name_or_path: str = DEFAULT_PACK) -> Pack:
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = rules_dir() / f"{name_or_path}.toml"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in rules_dir().glob("v*.toml")))
            raise ConfigError(name_or_path, None, f"unknown rule pack {name_or_path!r}: known packs are {known}")
    data, text = _load_toml(path)
    meta = data.get("pack", {})
    rules: dict[str, RuleInfo] = {}
    for code, body in data.get("rules", {}).items():
        line = locate(text, ("rules", code))
        if not re.fullmatch(r"GR\d{3}", code):
            raise ConfigError(path, line, f"rule code {code!r} must look like GR001")
        unknown = set(body) - _PACK_RULE_KEYS
        if unknown:
            raise ConfigError(path, line, f"unknown key(s) {sorted(unknown)} in [rules.{code}]")
        sev = body.get("severity", "warning")
        if sev not in SEVERITY_NAMES:
            raise ConfigError(path, locate(text, ("rules", code, "severity")), f"severity must be one of {SEVERITY_NAMES}")
        rules[code] = RuleInfo(
            code=code,
            slug=body["slug"],
            severity=sev,
            summary=body.get("summary", ""),
            messages=dict(body.get("messages", {})),
            options=dict(body.get("options", {})),
            tags=tuple(body.get("tags", ())),
            precision=body.get("precision", "high"),
        )
    return Pack(meta.get("name", path.stem), meta.get("version", "0"), meta.get("docs", ""), rules, path)


# ---------------------------------------------------------------------------
# The repository config


@dataclass
class Config:
    """The effective policy of one scan."""

    pack: Pack
    rules: dict[str, RuleInfo]
    path: Path | None = None  # the .gorules.toml, if any
    root: Path | None = None  # directory of the config file
    exclude: list[str] = field(default_factory=list)
    per_path_ignores: dict[str, list[str]] = field(default_factory=dict)
    include_generated: bool = False
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    fail_on: str | None = None
    custom_rules: list[dict[str, Any]] = field(default_factory=list)
    radar: str | None = None
    raw_text: str = ""

    def enabled_codes(self) -> set[str]:
        return {c for c, r in self.rules.items() if r.enabled}

    def options(self, code: str) -> dict[str, Any]:
        return self.rules[code].options if code in self.rules else {}

    def is_excluded(self, relpath: str) -> bool:
        return any(_glob_match(relpath, g) for g in self.exclude)

    def ignored_codes(self, relpath: str) -> set[str]:
        out: set[str] = set()
        for glob, codes in self.per_path_ignores.items():
            if _glob_match(relpath, glob):
                out.update(codes)
        return out

    def fingerprint(self) -> str:
        """A stable digest of everything that changes findings (for caches)."""
        import hashlib
        import json

        payload = {
            "pack": [self.pack.name, self.pack.version],
            "rules": {c: [r.enabled, r.severity, r.options] for c, r in sorted(self.rules.items())},
            "exclude": self.exclude,
            "ppi": self.per_path_ignores,
            "gen": self.include_generated,
            "max": self.max_file_size,
            "custom": self.custom_rules,
            "radar": self.radar,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _glob_match(relpath: str, glob: str) -> bool:
    glob = glob.strip("/")
    if glob.endswith("/**"):
        base = glob[:-3]
        if relpath == base or relpath.startswith(base + "/"):
            return True
    if fnmatch.fnmatchcase(relpath, glob):
        return True
    if glob.startswith("**/") and fnmatch.fnmatchcase(relpath, glob[3:]):
        return True
    # a directory glob matches everything below it
    parts = relpath.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), glob) for i in range(1, len(parts)))


_TOP_KEYS = {
    "extends": str,
    "exclude": list,
    "per-path-ignores": dict,
    "include-generated": bool,
    "max-file-size": int,
    "fail-on": str,
    "rules": dict,
    "custom-rules": list,
    "radar": str,
}
_RULE_KEYS = {"severity", "enabled"}


def find_config(start: Path) -> Path | None:
    """The nearest ``.gorules.toml`` at or above ``start``."""
    start = start.resolve()
    if start.is_file():
        start = start.parent
    for d in (start, *start.parents):
        cand = d / CONFIG_NAME
        if cand.is_file():
            return cand
    return None


def load_config(path: Path | None = None, *, search_from: Path | None = None) -> Config:
    """Load the pack and apply a repository config (``path``, or found upward)."""
    if path is None and search_from is not None:
        path = find_config(search_from)
    if path is None:
        pack = load_pack()
        return Config(pack=pack, rules=copy.deepcopy(pack.rules))
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, None, "config file not found: check the --config path")
    data, text = _load_toml(path)

    def err(keys: tuple[str, ...], message: str) -> ConfigError:
        return ConfigError(path, locate(text, keys), message)

    for key, value in data.items():
        if key not in _TOP_KEYS:
            raise err((key,), f"unknown key {key!r}; known keys: {', '.join(sorted(_TOP_KEYS))}")
        want = _TOP_KEYS[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise err((key,), f"{key!r} must be a {want.__name__}, not {type(value).__name__}")

    extends = data.get("extends", DEFAULT_PACK)
    try:
        pack = load_pack(extends if "/" not in extends else str((path.parent / extends).resolve()))
    except ConfigError as exc:
        raise err(("extends",), exc.message) from None
    rules = copy.deepcopy(pack.rules)
    cfg = Config(pack=pack, rules=rules, path=path, root=path.parent, raw_text=text)

    for i, g in enumerate(data.get("exclude", [])):
        if not isinstance(g, str):
            raise err(("exclude",), "exclude entries must be strings (glob patterns)")
    cfg.exclude = list(data.get("exclude", []))
    cfg.include_generated = data.get("include-generated", False)
    cfg.max_file_size = data.get("max-file-size", DEFAULT_MAX_FILE_SIZE)
    if cfg.max_file_size <= 0:
        raise err(("max-file-size",), "max-file-size must be a positive number of bytes")
    if "fail-on" in data:
        if data["fail-on"] not in SEVERITY_NAMES:
            raise err(("fail-on",), f"fail-on must be one of {', '.join(SEVERITY_NAMES)}")
        cfg.fail_on = data["fail-on"]
    cfg.radar = data.get("radar")

    for glob, codes in data.get("per-path-ignores", {}).items():
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise err(("per-path-ignores", glob), "per-path-ignores values must be lists of rule codes")
        for c in codes:
            if c not in rules and not _is_custom_id(c, data):
                raise err(("per-path-ignores", glob), f"unknown rule code {c!r} (see `gorules rules`)")
        cfg.per_path_ignores[glob] = list(codes)

    for code, body in data.get("rules", {}).items():
        keys = ("rules", code)
        if code not in rules:
            if _is_custom_id(code, data):
                continue
            raise err(keys, f"unknown rule code {code!r}; `gorules rules` lists the codes")
        if not isinstance(body, dict):
            raise err(keys, f"[rules.{code}] must be a table")
        info = rules[code]
        for k, v in body.items():
            if k == "severity":
                if v not in SEVERITY_NAMES:
                    raise err(keys + (k,), f"severity must be one of {', '.join(SEVERITY_NAMES)}, not {v!r}")
                info.severity = v
            elif k == "enabled":
                if not isinstance(v, bool):
                    raise err(keys + (k,), "enabled must be true or false")
                info.enabled = v
            elif k in info.options:
                default = info.options[k]
                if not _same_type(default, v):
                    raise err(
                        keys + (k,),
                        f"option {k!r} of {code} must be a {type(default).__name__} "
                        f"(default {default!r}), not {type(v).__name__}",
                    )
                info.options[k] = v
            else:
                opts = ", ".join(sorted(_RULE_KEYS | set(info.options)))
                raise err(keys + (k,), f"unknown option {k!r} for {code}; valid keys: {opts}")
    cfg.custom_rules = list(data.get("custom-rules", []))
    from .radar import bind_config  # resolves and validates the radar file (file:line errors)

    bind_config(cfg, text)
    return cfg


def _is_custom_id(code: str, data: dict[str, Any]) -> bool:
    return any(isinstance(r, dict) and r.get("id") == code for r in data.get("custom-rules", []))


def _same_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        return isinstance(value, list)
    return isinstance(value, type(default))
