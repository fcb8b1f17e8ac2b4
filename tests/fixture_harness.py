"""The fixture harness: `// want CODE` markers in fixtures/ against the engine's findings.

A marker ``// want GR001`` (several codes allowed, repeated codes count twice)
says the engine must report exactly those codes on that line;
``// want-next GR001`` says it of the next line. Every fixture file is compared
as a multiset of (line, code): a missing or an extra finding fails, with a diff.

Each directory holding a ``.gorules.toml`` is scanned with that config (as a
repository would be); the rest of the tree with the default pack.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from golint_rules import config as config_mod
from golint_rules import engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
MARKER = re.compile(r"//\s*want(?P<next>-next)?\s+(?P<codes>[A-Z][A-Z0-9_-]*\d(?:[\s,]+[A-Z][A-Z0-9_-]*\d)*)")
FIXTURE_NAMES = (".go", "go.mod", "go.work")


def is_fixture(path: Path) -> bool:
    return path.is_file() and (path.suffix == ".go" or path.name in ("go.mod", "go.work"))


def expected_for(path: Path) -> Counter[tuple[int, str]]:
    want: Counter[tuple[int, str]] = Counter()
    text = path.read_bytes().decode("utf-8", "replace")
    for n, line in enumerate(text.splitlines(), 1):
        for m in MARKER.finditer(line):
            target = n + 1 if m.group("next") else n
            for code in re.split(r"[\s,]+", m.group("codes").strip()):
                want[(target, code)] += 1
    return want


def config_dir_for(path: Path, root: Path = FIXTURES) -> Path | None:
    for d in path.parents:
        if (d / config_mod.CONFIG_NAME).is_file():
            return d
        if d == root:
            break
    return None


@dataclass
class Outcome:
    findings: dict[Path, Counter[tuple[int, str]]]
    messages: dict[tuple[Path, int, str], str]


def run_fixtures(root: Path = FIXTURES) -> Outcome:
    """Scan every fixture group once; findings keyed by absolute file path."""
    files = sorted(p for p in root.rglob("*") if is_fixture(p))
    groups: dict[Path | None, list[Path]] = {}
    for f in files:
        groups.setdefault(config_dir_for(f, root), []).append(f)
    found: dict[Path, Counter[tuple[int, str]]] = {}
    messages: dict[tuple[Path, int, str], str] = {}
    for cfg_dir, members in groups.items():
        cfg = config_mod.load_config(cfg_dir / config_mod.CONFIG_NAME) if cfg_dir else config_mod.load_config()
        result = engine.scan(members, cfg)
        for f in result.findings:
            full = (result.root / f.path).resolve()
            found.setdefault(full, Counter())[(f.line, f.code)] += 1
            messages[(full, f.line, f.code)] = f.message
    return Outcome(found, messages)


def diff(path: Path, want: Counter[tuple[int, str]], got: Counter[tuple[int, str]], messages=None) -> str:
    """A readable account of missing and extra findings ('' when they agree)."""
    missing = want - got
    extra = got - want
    if not missing and not extra:
        return ""
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    out = [f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:"]
    for (ln, code), n in sorted(missing.items()):
        src = lines[ln - 1].strip() if 0 < ln <= len(lines) else ""
        out.append(f"  missing {code} x{n} at line {ln}: {src}")
    for (ln, code), n in sorted(extra.items()):
        src = lines[ln - 1].strip() if 0 < ln <= len(lines) else ""
        msg = (messages or {}).get((path, ln, code), "")
        out.append(f"  extra   {code} x{n} at line {ln}: {src}\n          message: {msg}")
    return "\n".join(out)
