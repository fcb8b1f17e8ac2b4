"""Declarative custom rules: a tree-sitter query, a message, a severity.

A repository (or a shared policy file) adds rules without writing Python, and
without gorules ever running code from the repository: a rule is data.

In ``.gorules.toml``::

    [[custom-rules]]
    id = "ACME001"                       # letters/digits/-/_, ending in a digit; GR... is reserved
    slug = "no-fmt-print"                # optional (default: the id in lower case)
    severity = "warning"                 # error | warning | note (default warning)
    message = "fmt.{fn} writes to stdout: use the service logger"   # {capture} = its text
    query = '''
    (call_expression
      function: (selector_expression
        operand: (identifier) @pkg
        field: (field_identifier) @fn)
      (#package? @pkg "fmt")
      (#match? @fn "^Print"))
    '''
    unless = '''...'''                   # optional: no finding if this query matches inside the reported node
    report = "fn"                        # optional: the capture to report at (default: the widest)
    paths = ["internal/**", "!**/*_test.go"]   # optional globs, relative to the config file ('!' excludes)
    description = "why the rule exists"  # optional, shown by `gorules rules` and in SARIF
    enabled = true                       # optional

``custom-rules`` may also list policy files (``"policy/acme.toml"``, relative
to the config file and inside the repository: its git work tree, or the
config's directory outside git), or shipped examples by name
(``"examples/ebpf-perf-event-array"``); such a file holds ``[[custom-rules]]``
tables.

Predicates: ``#eq?``, ``#not-eq?``, ``#match?``, ``#not-match?``, ``#any-of?``
(and their ``#any-`` forms for quantified captures), which py-tree-sitter 0.26
applies itself while matching, and ``#package? @id "import/path"``, applied
here: the captured identifier is a name the file's imports bind to that
package (alias-aware, not shadowed by a local). ``#not-any-of?`` is refused:
py-tree-sitter 0.26 accepts it but does not apply it.

Everything is checked when the configuration loads: keys and their types, the
id, severity and globs, that the query compiles (a bad query is reported at
its line in the TOML file), its predicates, and the message's placeholders.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import tree_sitter as ts

from . import parsing
from .analysis import Analyzer, Pass
from .config import Config, ConfigError, _glob_match, rules_dir
from .model import SEVERITY_NAMES, RuleInfo

_ID_RE = re.compile(r"^[A-Z][A-Z0-9_-]*[0-9]$")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_KEYS = {"id", "slug", "severity", "message", "query", "unless", "report", "paths", "description", "enabled"}
#: applied natively by py-tree-sitter 0.26's QueryCursor (verified in tests/test_custom.py)
NATIVE_PREDICATES = {
    "eq?", "not-eq?", "match?", "not-match?", "any-of?",
    "any-eq?", "any-not-eq?", "any-match?", "any-not-match?",
}
#: applied by gorules through QueryCursor's predicate callback
OWN_PREDICATES = {"package?"}
_REFUSED = {
    "not-any-of?": 'py-tree-sitter 0.26 accepts #not-any-of? but does not apply it: write (#not-match? @x "^(a|b)$") instead',
}


@dataclass
class CustomRule:
    id: str
    slug: str
    severity: str
    message: str
    query: ts.Query
    query_text: str
    unless: ts.Query | None
    report: str | None
    paths: list[str]
    description: str
    enabled: bool
    source: str  # file:line of the rule, for messages
    base: Path | None  # directory the path globs are relative to
    uses_package: bool = False
    needs: tuple[bytes, ...] = ()
    placeholders: set[str] = field(default_factory=set)

    def applies_to(self, file_path: Path, relpath: str) -> bool:
        if not self.paths:
            return True
        rel = relpath
        if self.base is not None:
            try:
                rel = file_path.resolve().relative_to(self.base.resolve()).as_posix()
            except ValueError:
                rel = relpath
        included = False
        any_include = False
        for g in self.paths:
            if g.startswith("!"):
                if _glob_match(rel, g[1:]):
                    return False
                continue
            any_include = True
            if _glob_match(rel, g):
                included = True
        return included or not any_include


# ---------------------------------------------------------------------------
# Locating things in TOML text


def _rule_headers(text: str) -> list[int]:
    return [n for n, l in enumerate(text.splitlines(), 1) if re.match(r"^\s*\[\[\s*custom-rules\s*\]\]\s*(#.*)?$", l)]


def _key_lines(text: str, key: str) -> list[int]:
    pat = re.compile(rf'(?:^|[{{,]\s*)(?:"{re.escape(key)}"|{re.escape(key)})\s*=')
    return [n for n, l in enumerate(text.splitlines(), 1) if pat.search(l)]


class _Locator:
    """Lines of the i-th rule's keys in a TOML text (``[[custom-rules]]`` tables or inline tables)."""

    def __init__(self, text: str, index_offset: int = 0) -> None:
        self.text = text
        self.lines = text.splitlines()
        self.headers = _rule_headers(text)
        self.offset = index_offset

    def rule_line(self, i: int) -> int | None:
        if i < len(self.headers):
            return self.headers[i]
        ids = _key_lines(self.text, "id")
        return ids[i] if i < len(ids) else None

    def key_line(self, i: int, key: str) -> int | None:
        if i < len(self.headers):
            start = self.headers[i]
            end = self.headers[i + 1] if i + 1 < len(self.headers) else len(self.lines) + 1
            pat = re.compile(rf'^\s*(?:"{re.escape(key)}"|{re.escape(key)})\s*=')
            for n in range(start + 1, end):
                if pat.match(self.lines[n - 1]):
                    return n
            return start
        hits = _key_lines(self.text, key)
        return hits[i] if i < len(hits) else self.rule_line(i)

    def value_first_line(self, i: int, key: str) -> int | None:
        """Line of the first character of a (possibly multi-line) string value."""
        n = self.key_line(i, key)
        if n is None:
            return None
        line = self.lines[n - 1]
        m = re.search(r"=\s*('''|\"\"\")\s*$", line)
        return n + 1 if m else n


# ---------------------------------------------------------------------------
# Validation


def _predicates(query_text: str) -> list[tuple[str, int]]:
    """``#name`` tokens of a query outside strings and comments, with their row."""
    out: list[tuple[str, int]] = []
    i, row, n = 0, 0, len(query_text)
    while i < n:
        c = query_text[i]
        if c == "\n":
            row += 1
        elif c == ";":
            while i < n and query_text[i] != "\n":
                i += 1
            continue
        elif c == '"':
            i += 1
            while i < n and query_text[i] != '"':
                if query_text[i] == "\\":
                    i += 1
                elif query_text[i] == "\n":
                    row += 1
                i += 1
        elif c == "#":
            m = re.match(r"#([A-Za-z0-9_?!.-]+)", query_text[i:])
            if m:
                out.append((m.group(1), row))
                i += len(m.group(0))
                continue
        i += 1
    return out


def _compile(query_text: str, what: str, err: Callable[[int | None, str], ConfigError], first_line: int | None) -> tuple[ts.Query, bool]:
    def at(row: int | None) -> int | None:
        return first_line + row if first_line is not None and row is not None else first_line

    uses_package = False
    for name, row in _predicates(query_text):
        if name in NATIVE_PREDICATES:
            continue
        if name in OWN_PREDICATES:
            uses_package = True
            continue
        if name in _REFUSED:
            raise err(at(row), f"{what}: {_REFUSED[name]}")
        allowed = ", ".join(f"#{p}" for p in sorted(NATIVE_PREDICATES | OWN_PREDICATES))
        raise err(at(row), f"{what}: unsupported predicate #{name}: use one of {allowed}")
    try:
        q = ts.Query(parsing.GO_LANGUAGE, query_text)
    except ts.QueryError as exc:
        msg = str(exc)
        m = re.search(r"at row (\d+)", msg)
        row = int(m.group(1)) if m else None
        raise err(at(row), f"{what} does not compile for the Go grammar: {msg}") from None
    for m in re.finditer(r"\(\s*#package\?", query_text):
        if not re.match(r'\(\s*#package\?\s+@[\w.-]+\s+"[^"\s]+"\s*\)', query_text[m.start():]):
            row = query_text.count("\n", 0, m.start())
            raise err(at(row), f'{what}: #package? takes a capture and an import path: (#package? @pkg "github.com/cilium/ebpf")')
    if q.capture_count == 0:
        raise err(first_line, f"{what} has no capture: add one (e.g. `@report` after the pattern) to say where to report")
    return q, uses_package


def _needs(q: ts.Query, text: str) -> tuple[bytes, ...]:
    """Prefilter tokens: a pattern whose ``#eq?`` (or ``#package?``) predicate is on a
    capture every match has needs that literal in the file. A pattern without one
    can match anywhere: then there is no prefilter."""
    raw = text.encode()
    names = {q.capture_name(i): i for i in range(q.capture_count)}
    tokens: list[bytes] = []
    for i in range(q.pattern_count):
        seg = raw[q.start_byte_for_pattern(i) : q.end_byte_for_pattern(i)].decode("utf-8", "replace")
        lits = re.findall(r'\(#(?:eq|any-eq)\?\s+@([\w.-]+)\s+"((?:[^"\\]|\\.)*)"\s*\)', seg)
        lits += re.findall(r'\(#package\?\s+@([\w.-]+)\s+"((?:[^"\\]|\\.)*)"\s*\)', seg)
        required = [
            lit for cap, lit in lits
            if lit and "\\" not in lit and cap in names and q.capture_quantifier(i, names[cap]) in ("", "+")
        ]
        if not required:
            return ()
        tokens.append(max(required, key=len).encode())
    return tuple(dict.fromkeys(tokens))


_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][\w.-]*)\}")


def _load_rule(
    body: Any, i: int, loc: _Locator, path: Path, base: Path | None, seen: dict[str, str]
) -> CustomRule:
    def err(line: int | None, message: str) -> ConfigError:
        return ConfigError(path, line, message)

    head = loc.rule_line(i)
    if not isinstance(body, dict):
        raise err(head, "a custom rule is a table: [[custom-rules]] id = \"ACME001\" query = '''...''' message = \"...\"")
    for key in body:
        if key not in _KEYS:
            import difflib

            close = difflib.get_close_matches(key, sorted(_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise err(loc.key_line(i, key), f"unknown key {key!r} in a custom rule{hint}; known keys: {', '.join(sorted(_KEYS))}")
    for key in ("id", "message", "query"):
        if key not in body:
            raise err(head, f"custom rule #{i + 1} has no {key!r}: every custom rule needs id, message and query")
    for key in ("id", "slug", "severity", "message", "query", "unless", "report", "description"):
        if key in body and not isinstance(body[key], str):
            raise err(loc.key_line(i, key), f"{key!r} of a custom rule must be a string, not {type(body[key]).__name__}")
    rid = body["id"].strip()
    if not _ID_RE.match(rid):
        raise err(loc.key_line(i, "id"), f"custom rule id {rid!r} must be upper-case letters, digits, '-' or '_', starting with a letter and ending with a digit (e.g. ACME001)")
    if rid.startswith("GR") and re.fullmatch(r"GR\d+", rid):
        raise err(loc.key_line(i, "id"), f"custom rule id {rid!r}: GR codes are reserved for the built-in rules; pick your own prefix (e.g. ACME001)")
    if rid in seen:
        raise err(loc.key_line(i, "id"), f"custom rule id {rid!r} is already used by the rule at {seen[rid]}")
    slug = body.get("slug", rid.lower()).strip()
    if not _SLUG_RE.match(slug):
        raise err(loc.key_line(i, "slug"), f"slug {slug!r} must be lower-case letters, digits and '-'")
    severity = body.get("severity", "warning")
    if severity not in SEVERITY_NAMES:
        raise err(loc.key_line(i, "severity"), f"severity of {rid} must be one of {', '.join(SEVERITY_NAMES)}, not {severity!r}")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise err(loc.key_line(i, "enabled"), f"enabled of {rid} must be true or false")
    paths = body.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) and p.strip("!") for p in paths):
        raise err(loc.key_line(i, "paths"), f"paths of {rid} must be a list of globs, e.g. paths = [\"internal/**\", \"!**/*_test.go\"]")
    message = body["message"].strip()
    if not message:
        raise err(loc.key_line(i, "message"), f"message of {rid} is empty: say what is wrong and how to fix it")

    query, uses_pkg = _compile(body["query"], f"query of {rid}", err, loc.value_first_line(i, "query"))
    unless = None
    if "unless" in body:
        unless, uses_pkg2 = _compile(body["unless"], f"unless query of {rid}", err, loc.value_first_line(i, "unless"))
        uses_pkg = uses_pkg or uses_pkg2
    captures = {query.capture_name(k) for k in range(query.capture_count)}
    report = body.get("report")
    if report is not None:
        report = report.lstrip("@")
        if report not in captures:
            raise err(loc.key_line(i, "report"), f"report = {report!r}: the query of {rid} has no capture @{report}; captures: {', '.join('@' + c for c in sorted(captures))}")
    placeholders = set(_PLACEHOLDER_RE.findall(message))
    unknown = {p for p in placeholders if p not in captures}
    if unknown:
        raise err(
            loc.key_line(i, "message"),
            f"message of {rid} uses {', '.join('{' + u + '}' for u in sorted(unknown))}, which the query does not capture; "
            f"captures: {', '.join(sorted(captures))} (write {{{{ and }}}} for literal braces)",
        )
    source = f"{path}:{head}" if head else str(path)
    seen[rid] = source
    return CustomRule(
        id=rid,
        slug=slug,
        severity=severity,
        message=message,
        query=query,
        query_text=body["query"],
        unless=unless,
        report=report,
        paths=[p.strip() for p in paths],
        description=str(body.get("description", "")).strip(),
        enabled=enabled,
        source=source,
        base=base,
        uses_package=uses_pkg,
        needs=_needs(query, body["query"]),
        placeholders=placeholders,
    )


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read custom rules file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "custom rules file is not valid UTF-8") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        raise ConfigError(path, int(m.group(1)) if m else None, "invalid TOML: " + re.sub(r"\s*\(at line.*\)", "", msg)) from None


def _included_file(ref: str, cfg_path: Path, base: Path, line: int | None) -> Path:
    if not ref.endswith(".toml"):
        cand = rules_dir() / f"{ref}.toml"
        if cand.is_file():
            return cand
        known = ", ".join(sorted(str(p.relative_to(rules_dir()).with_suffix("")) for p in (rules_dir() / "examples").glob("*.toml")))
        raise ConfigError(cfg_path, line, f"no shipped custom rules named {ref!r} (shipped: {known}); a file of your own must end in .toml")
    from .radar import repo_boundary

    p = (base / ref).resolve()
    boundary = repo_boundary(base)
    if not (p == boundary or boundary in p.parents):
        raise ConfigError(cfg_path, line, f"custom rules file {ref!r} is outside this repository: keep policy files inside it, relative to {cfg_path.name}")
    if not p.is_file():
        raise ConfigError(cfg_path, line, f"custom rules file {ref!r} not found (looked at {p})")
    return p


def load_rules(entries: list[Any], text: str, path: Path, base: Path | None) -> list[CustomRule]:
    """Validate the ``custom-rules`` entries of one TOML file (``text`` is its source)."""
    loc = _Locator(text)
    rules: list[CustomRule] = []
    seen: dict[str, str] = {}
    table_index = 0
    string_lines = [n for n, l in enumerate(text.splitlines(), 1) if re.search(r'custom-rules\s*=', l)]
    for body in entries:
        if isinstance(body, str):
            line = string_lines[0] if string_lines else None
            inc = _included_file(body, path, base or path.parent, line)
            data, inc_text = _read_toml(inc)
            extra = data.get("custom-rules", [])
            unknown = set(data) - {"custom-rules"}
            if unknown:
                raise ConfigError(inc, None, f"unknown key(s) {sorted(unknown)}: a custom rules file holds [[custom-rules]] tables only")
            if not isinstance(extra, list):
                raise ConfigError(inc, None, "custom-rules must be an array of tables: [[custom-rules]]")
            inc_base = base if inc.is_relative_to(rules_dir()) else inc.parent
            inc_loc = _Locator(inc_text)
            for j, b in enumerate(extra):
                r = _load_rule(b, j, inc_loc, inc, inc_base, seen)
                rules.append(r)
            continue
        rules.append(_load_rule(body, table_index, loc, path, base, seen))
        table_index += 1
    return rules


# ---------------------------------------------------------------------------
# Running


def _package_predicate(src: Any) -> Callable[[str, list[tuple[str, str]], int, dict[str, list[ts.Node]]], bool]:
    from .source import is_shadowed

    def predicate(name: str, args: list[tuple[str, str]], pattern_index: int, captures: dict[str, list[ts.Node]]) -> bool:
        if name != "package?":
            return True
        if len(args) != 2 or args[0][1] != "capture" or args[1][1] != "string":
            return False
        nodes = captures.get(args[0][0], [])
        if not nodes:
            return False
        names = src.imports.names_for(args[1][0])
        for node in nodes:
            text = src.text(node)
            if text not in names:
                return False
            if node.type == "identifier" and is_shadowed(src, node, text):
                return False
        return True

    return predicate


def _fill(message: str, caps: dict[str, list[ts.Node]], src: Any) -> str:
    def sub(m: re.Match) -> str:
        nodes = caps.get(m.group(1))
        if not nodes:
            return m.group(0)
        text = src.text(nodes[0])
        return text if len(text) <= 80 else text[:77] + "..."

    filled = _PLACEHOLDER_RE.sub(sub, message.replace("{{", "\x00").replace("}}", "\x01"))
    return filled.replace("\x00", "{").replace("\x01", "}")


def _matches(q: ts.Query, node: ts.Node, predicate: Callable | None) -> list[tuple[int, dict[str, list[ts.Node]]]]:
    cursor = ts.QueryCursor(q)
    return cursor.matches(node, predicate=predicate) if predicate is not None else cursor.matches(node)


def _runner(rule: CustomRule) -> Callable[[Pass], None]:
    def run(pass_: Pass) -> None:
        src = pass_.file
        assert src is not None
        if not rule.applies_to(src.path, src.relpath):
            return
        predicate = _package_predicate(src) if rule.uses_package else None
        seen: set[tuple[int, int]] = set()
        for _, caps in _matches(rule.query, src.root, predicate):
            if rule.report is not None:
                nodes = caps.get(rule.report) or []
                node = nodes[0] if nodes else None
            else:
                all_nodes = [n for ns in caps.values() for n in ns]
                node = max(all_nodes, key=lambda n: (n.end_byte - n.start_byte, -n.start_byte)) if all_nodes else None
            if node is None:
                continue
            key = (node.start_byte, node.end_byte)
            if key in seen:
                continue
            if rule.unless is not None and _matches(rule.unless, node, predicate):
                continue
            seen.add(key)
            pass_.report(node, "match", message=_fill(rule.message, caps, src))

    return run


def _doc(rule: CustomRule) -> str:
    lines = [rule.description or rule.message, "", f"Custom rule declared at {rule.source}.", "", "Query:", "", "```", rule.query_text.strip(), "```"]
    return "\n".join(lines)


def analyzers_from_config(config: Config) -> tuple[list[Analyzer], list[RuleInfo]]:
    """The custom rules of a configuration, as analyzers and rule descriptions.

    The engine calls this once per scan, before any file is read (and before
    worker processes fork): it is also where the radar GR009 will use is loaded,
    so that GR009's byte prefilter knows its entries even for a configuration
    built without ``load_config``."""
    info = config.rules.get("GR009")
    if info is not None and info.enabled:
        from . import radar

        radar.for_options(info.options)
    if not config.custom_rules:
        return [], []
    path = config.path or Path(".gorules.toml")
    rules = load_rules(config.custom_rules, config.raw_text, path, config.root)
    analyzers: list[Analyzer] = []
    infos: list[RuleInfo] = []
    for r in rules:
        doc = _doc(r)
        infos.append(
            RuleInfo(
                code=r.id,
                slug=r.slug,
                severity=r.severity,
                summary=r.description.splitlines()[0] if r.description else r.message,
                messages={"match": r.message},
                options={},
                enabled=r.enabled,
                doc=doc,
                tags=("custom",),
                custom=True,
            )
        )
        analyzers.append(
            Analyzer(code=r.id, slug=r.slug, doc=doc, run=_runner(r), kind="go", needs=r.needs, messages=("match",))
        )
    return analyzers, infos
