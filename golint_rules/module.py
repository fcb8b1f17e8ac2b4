"""The module context: one ``go.mod``, the ``.go`` files it owns, and what they import.

GR006 (are the ``// indirect`` comments true?) and the radar report need to
know which packages a module imports. A :class:`Module` answers that once per
module and is shared: when a scan names only ``go.mod`` (as the pre-commit
hook does), the module's ``.go`` files are still read.

Which files count is what ``go mod tidy`` counts (``cmd/go/internal/modload``
with ``imports.AnyTags()``):

- every ``.go`` file below the ``go.mod`` directory, except those under a
  directory that has its own ``go.mod`` (a nested module cuts the tree), under
  ``vendor/`` or ``testdata/``, or whose name or directory name starts with
  ``.`` or ``_``, and those under an ``ignore`` directive of ``go.mod``;
- test files, generated files and every GOOS/GOARCH file-name suffix count;
- a file is left out only when its build constraint is false with every tag
  "both present and absent" except ``ignore``, which is absent:
  ``//go:build ignore`` (or ``// +build ignore``) leaves a file out,
  ``//go:build linux && !linux`` does not. A malformed ``//go:build`` line
  leaves the file out, as in the go command.

Only each file's header is read (package clause and import declarations), by
one regular expression (a spec at a time) over at most the first 16 KiB of
the file, which hands anything unusual to a small lexer; nothing is parsed
with tree-sitter unless the lexer cannot make sense of the header. The module's
tree is walked once, stopping at nested modules (discover.module_tree).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, NamedTuple

from . import gomod

if TYPE_CHECKING:  # pragma: no cover
    from .discover import Discovered

HEAD_BYTES = 16 * 1024

# ---------------------------------------------------------------------------
# Build constraints, as cmd/go/internal/imports.ShouldBuild with AnyTags().


class ConstraintSyntaxError(ValueError):
    pass


def _valid_tag(word: str) -> bool:
    return bool(word) and all(c.isalnum() or c in "_." for c in word)


class _ExprParser:
    """``go/build/constraint``'s //go:build grammar: ``||``, ``&&``, ``!``, parentheses, tags."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.tok = ""
        self.is_tag = False

    def lex(self) -> None:
        s = self.s
        self.is_tag = False
        while self.i < len(s) and s[self.i] in " \t":
            self.i += 1
        if self.i >= len(s):
            self.tok = ""
            return
        c = s[self.i]
        if c in "()!":
            self.tok = c
            self.i += 1
            return
        if c in "&|":
            if self.i + 1 >= len(s) or s[self.i + 1] != c:
                raise ConstraintSyntaxError(f"invalid syntax at {c}")
            self.tok = c + c
            self.i += 2
            return
        j = self.i
        while j < len(s) and (s[j].isalnum() or s[j] in "_."):
            j += 1
        if j == self.i:
            raise ConstraintSyntaxError(f"invalid syntax at {c}")
        self.tok = s[self.i : j]
        self.is_tag = True
        self.i = j

    # Expressions are tuples: ("tag", name) ("not", x) ("and", x, y) ("or", x, y)
    def parse(self) -> tuple:
        self.lex()
        x = self.or_expr()
        if self.tok != "":
            raise ConstraintSyntaxError(f"unexpected token {self.tok}")
        return x

    def or_expr(self) -> tuple:
        x = self.and_expr()
        while self.tok == "||":
            self.lex()
            x = ("or", x, self.and_expr())
        return x

    def and_expr(self) -> tuple:
        x = self.not_expr()
        while self.tok == "&&":
            self.lex()
            x = ("and", x, self.not_expr())
        return x

    def not_expr(self) -> tuple:
        if self.tok == "!":
            self.lex()
            if self.tok == "!":
                raise ConstraintSyntaxError("double negation not allowed")
            return ("not", self.atom())
        return self.atom()

    def atom(self) -> tuple:
        if self.tok == "(":
            self.lex()
            x = self.or_expr()
            if self.tok != ")":
                raise ConstraintSyntaxError("missing close paren")
            self.lex()
            return x
        if not self.is_tag:
            raise ConstraintSyntaxError("unexpected end of expression" if self.tok == "" else f"unexpected token {self.tok}")
        t = ("tag", self.tok)
        self.lex()
        return t


def parse_go_build(expr: str) -> tuple:
    return _ExprParser(expr).parse()


def parse_plus_build(text: str) -> tuple:
    """``// +build a,!b c``: fields are ORed, commas AND, ``!`` negates; bad tags become ``ignore``."""
    x: tuple | None = None
    for clause in text.split():
        y: tuple | None = None
        for lit in clause.split(","):
            if lit.startswith("!!") or lit == "!":
                z: tuple = ("tag", "ignore")
            else:
                neg = lit.startswith("!")
                if neg:
                    lit = lit[1:]
                z = ("tag", lit) if _valid_tag(lit) else ("tag", "ignore")
                if neg:
                    z = ("not", z)
            y = z if y is None else ("and", y, z)
        x = y if x is None else ("or", x, y)
    return x if x is not None else ("tag", "ignore")


def eval_any_tags(x: tuple, prefer: bool = True) -> bool:
    """Evaluate with every tag but ``ignore`` both true and false (``prefer`` decides)."""
    kind = x[0]
    if kind == "tag":
        name = x[1]
        if not _valid_tag(name) or name == "ignore":
            return False
        return prefer
    if kind == "not":
        return not eval_any_tags(x[1], not prefer)
    if kind == "and":
        return eval_any_tags(x[1], prefer) and eval_any_tags(x[2], prefer)
    return eval_any_tags(x[1], prefer) or eval_any_tags(x[2], prefer)


def _split_go_build(line: str) -> str | None:
    if not line.startswith("//go:build"):
        return None
    rest = line[len("//go:build"):]
    trim = rest.strip()
    if len(rest) == len(trim) and rest != "":
        return None
    return trim


def _split_plus_build(line: str) -> str | None:
    if not line.startswith("//"):
        return None
    rest = line[2:].strip()
    if not rest.startswith("+build"):
        return None
    rest = rest[len("+build"):]
    trim = rest.strip()
    if len(rest) == len(trim) and rest != "":
        return None
    return trim


def _file_header(data: bytes) -> tuple[bytes, str | None, bool]:
    """go/build's parseFileHeader: (header for +build lines, //go:build line, error)."""
    end = 0
    ended = False
    in_star = False
    go_build: str | None = None
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl == -1:
            raw, pos = data[pos:], n
        else:
            raw, pos = data[pos:nl], nl + 1
        line = raw.strip()
        if not line and not ended:
            end = pos
            continue
        if not line.startswith(b"//"):
            ended = True
        if not in_star and line.startswith(b"//go:build"):
            text = line.decode("utf-8", "replace")
            if _split_go_build(text) is not None:
                if go_build is not None:
                    return b"", None, True  # multiple //go:build lines
                go_build = text
        while line:
            if in_star:
                i = line.find(b"*/")
                if i >= 0:
                    in_star = False
                    line = line[i + 2 :].strip()
                    continue
                break
            if line.startswith(b"//"):
                break
            if line.startswith(b"/*"):
                in_star = True
                line = line[2:].strip()
                continue
            return data[:end], go_build, False  # non-comment text: the header is over
    return data[:end], go_build, False


def should_build(data: bytes) -> bool:
    """Does ``go mod tidy`` read this file's imports? (False for ``//go:build ignore``.)"""
    if b"build" not in data:
        return True
    header, go_build, err = _file_header(data)
    if err:
        return False
    if go_build is not None:
        try:
            x = parse_go_build(_split_go_build(go_build) or "")
        except ConstraintSyntaxError:
            return False
        return eval_any_tags(x)
    ok = True
    for raw in header.split(b"\n"):
        line = raw.strip()
        if not line.startswith(b"//") or b"+build" not in line:
            continue
        expr = _split_plus_build(line.decode("utf-8", "replace"))
        if expr is None:
            continue
        if not eval_any_tags(parse_plus_build(expr)):
            ok = False
    return ok


# ---------------------------------------------------------------------------
# The import block, read with a small lexer.


class HeaderImport(NamedTuple):  # a tuple: made ~70,000 times per 16,000 files, 3x cheaper than a frozen dataclass
    path: str
    name: str | None  # alias, "." or "_"; None when implicit
    line: int  # 1-based line of the import path literal
    start: int  # byte offsets of the spec (name or path start .. path end)
    end: int


@dataclass(slots=True)
class Header:
    package: str | None
    imports: list[HeaderImport]
    complete: bool  # the lexer saw the end of the import declarations
    error: str | None = None


_TOKEN_RE = re.compile(
    rb"""
    (?P<ws>[ \t\r\n\f\v]+)
  | (?P<lc>//[^\n]*)
  | (?P<bc>/\*.*?\*/)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<id>[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)
  | (?P<p>.)
    """,
    re.S | re.X,
)

def _unquote(tok: bytes) -> str | None:
    text = tok.decode("utf-8", "replace")
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    if "\\" not in body:
        return body
    try:  # rare: escapes in an import path
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except Exception:
        return None


def scan_header(data: bytes) -> Header:
    """Package name and imports of Go source ``data`` (which may be only the file's head)."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    n = len(data)
    line = 1
    def next_tok() -> tuple[str, bytes, int, int, int] | None:
        nonlocal pos, line
        while pos < n:
            m = _TOKEN_RE.match(data, pos)
            if m is None:  # unterminated comment or string: need more of the file
                return None
            kind = m.lastgroup or "p"
            text = m.group()
            start = pos
            tok_line = line
            pos = m.end()
            nl = text.count(b"\n")
            line += nl
            if kind in ("ws", "lc"):
                if nl:
                    return ("nl", b"\n", tok_line, start, pos)
                continue
            if kind == "bc":
                if nl:
                    return ("nl", b"\n", tok_line, start, pos)
                continue
            return (kind, text, tok_line, start, pos)
        return None

    def tok_skip_nl() -> tuple[str, bytes, int, int, int] | None:
        while True:
            t = next_tok()
            if t is None or t[0] != "nl":
                return t

    t = tok_skip_nl()
    if t is None or t[0] != "id" or t[1] != b"package":
        return Header(None, [], False, None if t is None else "no package clause")
    t = tok_skip_nl()
    if t is None or t[0] != "id":
        return Header(None, [], False, None if t is None else "bad package clause")
    package = t[1].decode("utf-8", "replace")
    imports: list[HeaderImport] = []

    def spec(first: tuple[str, bytes, int, int, int]) -> str | None:
        """Parse one import spec starting at ``first``; None on success, or an error."""
        name: str | None = None
        t = first
        start = t[3]
        if t[0] == "id" or (t[0] == "p" and t[1] == b"."):
            name = t[1].decode("utf-8", "replace")
            t = next_tok()
            while t is not None and t[0] == "nl":
                t = next_tok()
            if t is None:
                return "eof"
        if t[0] not in ("str", "raw"):
            return "bad import spec"
        path = _unquote(t[1])
        if path is None:
            return "bad import path"
        imports.append(HeaderImport(path, name, t[2], start, t[4]))
        return None

    while True:
        t = tok_skip_nl()
        if t is None:
            return Header(package, imports, False)
        if t[0] == "p" and t[1] == b";":
            continue
        if t[0] != "id":  # a declaration starts with a keyword; anything else is not Go (or a cut head)
            return Header(package, imports, False, "unexpected token after imports")
        if t[1] != b"import":
            return Header(package, imports, True)
        t = tok_skip_nl()
        if t is None:
            return Header(package, imports, False)
        if t[0] == "p" and t[1] == b"(":
            while True:
                t = tok_skip_nl()
                if t is None:
                    return Header(package, imports, False)
                if t[0] == "p" and t[1] == b";":
                    continue
                if t[0] == "p" and t[1] == b")":
                    break
                err = spec(t)
                if err == "eof":
                    return Header(package, imports, False)
                if err:
                    return Header(package, imports, False, err)
        else:
            err = spec(t)
            if err == "eof":
                return Header(package, imports, False)
            if err:
                return Header(package, imports, False, err)


# The fast path. Most headers are a package clause and import declarations of
# plain quoted paths, with spaces, newlines and comments between them. One
# regular expression reads them a spec at a time instead of a token at a time:
# its tokens are the lexer's (same alternatives, same order, atomic so they
# cannot backtrack into another split), merged into runs. Whatever it does not
# expect (raw strings, escapes, an unterminated comment or string, a cut spec,
# anything the lexer would report as an error) makes it give up, and
# scan_header decides.
_SEP = rb"(?>[ \t\r\n\f\v]+|//[^\n]*|/\*.*?\*/)*+"  # a run of the lexer's ws, lc and bc tokens
_ID = rb"[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*+"
_FAST_PACKAGE_RE = re.compile(rb"(?:\xef\xbb\xbf)?" + _SEP + rb"package(?![A-Za-z0-9_\x80-\xff])" + _SEP + rb"(" + _ID + rb")", re.S)
_FAST_RE = re.compile(  # one token after a run of separators
    _SEP + rb"(?:"
    rb"(?P<spec>(?:(?P<name>" + _ID + rb"|\.)" + _SEP + rb")?(?P<path>\"[^\"\\\n]*+\"))"
    rb"|(?P<id>" + _ID + rb")"
    rb"|(?P<p>[;()])"
    rb"|(?P<end>\Z)"
    rb"|(?P<bad>.))",
    re.S,
)


def _fast_header(data: bytes) -> Header | None:
    """``scan_header(data)``, or None where the lexer has to decide (never an error header)."""
    m = _FAST_PACKAGE_RE.match(data)
    if m is None:
        return None
    package = m.group(1).decode("utf-8", "replace")
    imports: list[HeaderImport] = []
    add = imports.append
    count = data.count
    line = 1
    lpos = 0
    state = 2  # 2 between declarations, 3 after "import", 4 in "import ( ... )"
    # groups: 1 spec (2 name, 3 path), 4 id, 5 punctuation, 6 end of data, 7 anything else
    for m in _FAST_RE.finditer(data, m.end()):
        kind = m.lastindex
        if kind == 1:
            name, path = m.group(2, 3)
            if state == 2:
                if name != b"import":  # None or "." is the lexer's error, another word a declaration
                    return Header(package, imports, True) if name is not None and name != b"." else None
                name = None  # import "path"
                q = start = m.start(3)
            else:
                start = m.start(1)  # the spec, not the separators before it
                q = m.start(3)
                if state == 3:
                    state = 2
            line += count(b"\n", lpos, q)
            lpos = q
            add(HeaderImport(
                path[1:-1].decode("utf-8", "replace"),
                None if name is None else name.decode("utf-8", "replace"),
                line,
                start,
                m.end(),
            ))
        elif kind == 4:
            if state != 2:
                return None
            if m.group(4) != b"import":
                return Header(package, imports, True)
            state = 3
        elif kind == 5:
            tok = m.group(5)
            if tok == b";":
                if state == 3:
                    return None
            elif tok == b"(" and state == 3:
                state = 4
            elif tok == b")" and state == 4:
                state = 2
            else:
                return None
        elif kind == 6:  # only separators left: the lexer stops here too
            return Header(package, imports, False)
        else:
            return None
    return None  # pragma: no cover - "end" or "bad" always matches


def _read_head(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the end of the file), like ``BufferedReader.read(size)``."""
    data = os.read(fd, size)
    while len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            break
        data += more
    return data


def read_header(path: Path | str) -> tuple[Header, bytes]:
    """The header of a Go file, reading only its first 16 KiB when that is enough.

    Returns the header and the bytes read (enough for the build-constraint check:
    the constraint lines precede the package clause)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = _read_head(fd, HEAD_BYTES)
        if len(data) == HEAD_BYTES:
            h = _fast_header(data) or scan_header(data)
            if h.complete and h.error is None:
                return h, data
            chunks = [data]
            while True:
                more = os.read(fd, 1 << 20)
                if not more:
                    break
                chunks.append(more)
            data = b"".join(chunks)
    finally:
        os.close(fd)
    h = _fast_header(data) or scan_header(data)
    if h.error is not None:
        h = _tree_sitter_header(data, h)
    return h, data


def _tree_sitter_header(data: bytes, fallback: Header) -> Header:
    """When the lexer gives up (odd syntax), ask tree-sitter for the import specs."""
    from .source import SourceFile

    src = SourceFile(Path("x.go"), "x.go", data)
    try:
        imps = src.imports.imports
    except Exception:  # pragma: no cover - tree-sitter always returns a tree
        return fallback
    return Header(
        fallback.package or src.package_name or None,
        [HeaderImport(i.path, i.name, i.line, i.start_byte, i.end_byte) for i in imps],
        True,
        None,
    )


# ---------------------------------------------------------------------------
# Modules


def path_match(prefix: str, path: str) -> bool:
    """Is ``path`` ``prefix`` or below it at a ``/`` boundary?"""
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] == "/")


def longest_match(candidates: Iterable[str], path: str) -> str | None:
    best: str | None = None
    for c in candidates:
        if path_match(c, path) and (best is None or len(c) > len(best)):
            best = c
    return best


def is_std(path: str) -> bool:
    """Standard-library (or otherwise dotless) import path: never a required module."""
    first = path.split("/", 1)[0]
    return "." not in first


@dataclass(frozen=True, slots=True)
class ImportSite:
    path: str  # the import path
    file: str  # the importing file, relative to the module root, '/'-separated
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Module:
    """A module's go.mod and the imports of the ``.go`` files it owns."""

    root: Path
    modfile: gomod.ModFile | None
    #: counted .go files, relative to ``root``
    files: list[str] = field(default_factory=list)
    #: import path -> where it is imported (in file order)
    sites: dict[str, list[ImportSite]] = field(default_factory=dict)
    #: package directory (relative to root, "." for the root) -> import paths of its files
    package_imports: dict[str, set[str]] = field(default_factory=dict)
    #: files left out, with the reason (build constraint, ignore directive)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: nested module roots that cut the tree, relative to ``root`` (the outermost ones: the
    #: walk does not enter them, so modules nested in a nested module are not listed)
    nested: list[str] = field(default_factory=list)
    #: imports of the files left out by a build constraint or the ignore directive
    excluded_sites: dict[str, list[tuple[ImportSite, str]]] = field(default_factory=dict)

    @property
    def path(self) -> str | None:
        return self.modfile.module_path if self.modfile else None

    def requires(self) -> list[gomod.Directive]:
        return self.modfile.of("require") if self.modfile else []

    def provider(self, import_path: str) -> str | None:
        """The module that provides ``import_path``: the longest required module
        (or this module itself) whose path is a prefix at a ``/`` boundary."""
        if is_std(import_path):
            return None
        candidates = [d.args[0] for d in self.requires()]
        if self.path:
            candidates.append(self.path)
        return longest_match(candidates, import_path)

    def direct(self) -> dict[str, ImportSite]:
        """Required modules imported by some counted file -> the first such import."""
        out: dict[str, ImportSite] = {}
        main = self.path
        for ipath in sorted(self.sites):
            prov = self.provider(ipath)
            if prov is None or prov == main:
                continue
            site = self.sites[ipath][0]
            cur = out.get(prov)
            if cur is None or (site.file, site.line) < (cur.file, cur.line):
                out[prov] = site
        return out

    def excluded_use(self, module: str) -> tuple[ImportSite, str] | None:
        """A left-out file's import of a package of required ``module`` (for messages)."""
        for ipath in sorted(self.excluded_sites):
            if self.provider(ipath) == module:
                return self.excluded_sites[ipath][0]
        return None

    def tool_use(self, module: str) -> str | None:
        """A ``tool`` directive whose package ``module`` provides."""
        if self.modfile is None:
            return None
        for d in self.modfile.of("tool"):
            if d.args and self.provider(d.args[0]) == module:
                return d.args[0]
        return None

    def importing_packages(self, prefix: str) -> list[str]:
        """Package directories with a file importing ``prefix`` or a package below it."""
        return sorted(d for d, imps in self.package_imports.items() if any(path_match(prefix, p) for p in imps))


def _ignored_dirs(mf: gomod.ModFile | None) -> tuple[list[str], list[str]]:
    """The go.mod ``ignore`` directive: (paths relative to the root, names at any depth)."""
    rooted: list[str] = []
    anywhere: list[str] = []
    if mf is None:
        return rooted, anywhere
    for d in mf.of("ignore"):
        for arg in d.args:
            p = arg.replace("\\", "/").rstrip("/")
            if p.startswith("./"):
                rooted.append(p[2:].strip("/"))
            elif p:
                anywhere.append(p.strip("/"))
    return rooted, anywhere


def _under_ignored(rel_dir: str, rooted: list[str], anywhere: list[str]) -> bool:
    if rel_dir == ".":
        return False
    for r in rooted:
        if r in ("", ".") or path_match(r, rel_dir):
            return True
    if anywhere:
        parts = rel_dir.split("/")
        for a in anywhere:
            k = a.count("/") + 1
            for i in range(len(parts) - k + 1):
                if "/".join(parts[i : i + k]) == a:
                    return True
    return False


def build_module(root: Path, modfile: gomod.ModFile | None = None, *, use_gitignore: bool = True) -> Module:
    """Read the headers of every ``.go`` file the module at ``root`` owns."""
    from .discover import module_tree

    root = Path(os.path.abspath(root))
    if modfile is None and (root / "go.mod").is_file():
        try:
            modfile = gomod.load(root / "go.mod", "go.mod")
        except (gomod.ModFileError, OSError):
            modfile = None
    mod = Module(root, modfile)
    # One walk that stops at nested modules: each directory of a tree of
    # modules is listed once, by the module that owns it.
    packages, mod.nested = module_tree(root, use_gitignore=use_gitignore)
    rooted, anywhere = _ignored_dirs(modfile)
    base = str(root).rstrip("/") + "/"
    for rel_dir, names in packages:
        ignored_dir = _under_ignored(rel_dir, rooted, anywhere)
        dir_prefix = "" if rel_dir == "." else rel_dir + "/"
        for name in names:
            if name.startswith((".", "_")):
                continue
            rel = dir_prefix + name
            try:
                header, head = read_header(base + rel)
            except OSError:
                mod.skipped.append((rel, "unreadable"))
                continue
            reason = "ignore directive" if ignored_dir else ("build constraint" if not should_build(head) else None)
            if reason is not None:
                mod.skipped.append((rel, reason))
                for imp in header.imports:
                    mod.excluded_sites.setdefault(imp.path, []).append((ImportSite(imp.path, rel, imp.line), reason))
                continue
            mod.files.append(rel)
            pkg = mod.package_imports.setdefault(rel_dir, set())
            for imp in header.imports:
                if imp.path == "C":
                    continue
                pkg.add(imp.path)
                mod.sites.setdefault(imp.path, []).append(ImportSite(imp.path, rel, imp.line))
    return mod


def find_module_root(path: Path) -> Path | None:
    """The directory of the nearest ``go.mod`` at or above ``path``."""
    d = path if path.is_dir() else path.parent
    for cand in (d, *d.parents):
        if (cand / "go.mod").is_file():
            return cand
    return None


_MODULE_LINE_RE = re.compile(rb'^\s*module\s+("(?:[^"\\]|\\.)*"|`[^`]*`|[^\s/]\S*)', re.MULTILINE)


def _module_path_of(gomod_path: Path) -> str | None:
    try:
        data = gomod_path.read_bytes()
    except OSError:
        return None
    m = _MODULE_LINE_RE.search(data)
    if not m:
        return None
    return m.group(1).decode("utf-8", "replace").strip('"`')


_OWN_CACHE: dict[Path, Path | None] = {}  # directory -> nearest go.mod


def own_module(file_path: Path) -> str | None:
    """The module path of the go.mod nearest above ``file_path`` (None outside a module)."""
    d = Path(os.path.abspath(file_path)).parent
    if d in _OWN_CACHE and (_OWN_CACHE[d] is None or _OWN_CACHE[d].is_file()):
        gm = _OWN_CACHE[d]
    else:
        root = find_module_root(d)
        gm = root / "go.mod" if root is not None else None
        if len(_OWN_CACHE) > 100_000:
            _OWN_CACHE.clear()
        _OWN_CACHE[d] = gm
    if gm is None:
        return None
    try:
        st = gm.stat()
    except OSError:
        return None
    return _module_line(gm, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=4096)
def _module_line(gm: Path, mtime_ns: int, size: int) -> str | None:
    return _module_path_of(gm)


_CACHE_ATTR = "_gorules_modules"


def module_for(gomod_path: Path, modfile: gomod.ModFile | None = None, discovered: "Discovered | None" = None) -> Module:
    """The module of ``gomod_path``, built once per scan (cached on the scan's walk)."""
    root = Path(os.path.abspath(gomod_path)).parent
    cache: dict[Path, Module] | None = None
    if discovered is not None:
        cache = discovered.__dict__.setdefault(_CACHE_ATTR, {})
        if root in cache:
            return cache[root]
    mod = build_module(root, modfile)
    if cache is not None:
        cache[root] = mod
    return mod
