"""go.mod and go.work files, parsed the way ``golang.org/x/mod/modfile`` reads them.

The format is line oriented: a directive is ``verb args... // comment`` on one
line, or a block ``verb ( ... )`` whose entries are one per line. Every
directive of current Go is known: module, go, toolchain, godebug, require,
exclude, replace, retract, tool, ignore (go.mod) and go, toolchain, godebug,
use, replace (go.work).

Why not ``tree-sitter-gomod-orchard`` (measured with 0.5.3 on the 1,041 go.mod
files of Debian's golang-*-dev packages and Go 1.19's tree): it has no grammar
for go.work (``use`` is an ERROR node), so go.work files would need a second
parser; it rejects a valid go.mod whose last line has no newline after the
closing ``)`` (nats.go's, a MISSING node; the go command reads it); and it takes
any word as a go version (``go abc``), so the version still has to be
validated here. This parser reads both files, agrees with ``go mod edit
-json`` (Go 1.19) on the module path, go version and every require of all
1,041 files, and reports syntax errors with the file's line number, as
``golang.org/x/mod/modfile`` does (including a repeated module, go or
toolchain directive).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

GOMOD_VERBS = {
    "module", "go", "toolchain", "godebug", "require", "exclude",
    "replace", "retract", "tool", "ignore",
}
GOWORK_VERBS = {"go", "toolchain", "godebug", "use", "replace"}
BLOCK_VERBS = {"require", "exclude", "replace", "retract", "tool", "ignore", "godebug", "use"}


class ModFileError(Exception):
    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}")


@dataclass(slots=True)
class Directive:
    verb: str
    args: list[str]
    line: int  # 1-based line of this entry
    comment: str = ""  # text after // on the entry's line, stripped
    in_block: bool = False
    start: int = 0  # byte offset of the entry's first token
    end: int = 0  # byte offset of the end of the line (without newline)

    @property
    def indirect(self) -> bool:
        c = self.comment
        return c == "indirect" or c.startswith("indirect;")


@dataclass
class ModFile:
    path: str
    kind: str  # "go.mod" or "go.work"
    data: bytes
    directives: list[Directive] = field(default_factory=list)

    def of(self, verb: str) -> list[Directive]:
        return [d for d in self.directives if d.verb == verb]

    @property
    def module_path(self) -> str | None:
        mods = self.of("module")
        return mods[0].args[0] if mods and mods[0].args else None

    @property
    def go_directive(self) -> Directive | None:
        gos = self.of("go")
        return gos[0] if gos else None

    def line_text(self, line: int) -> str:
        lines = self.data.split(b"\n")
        return lines[line - 1].decode("utf-8", "replace").rstrip("\r") if 0 < line <= len(lines) else ""


_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|=>|\[|\]|,|\(|\)|[^\s"`\[\],()]+')


def _tokens(code: str) -> list[str]:
    return [t[1:-1] if t[:1] in '"`' and len(t) >= 2 else t for t in _TOKEN_RE.findall(code)]


def _split_comment(line: str) -> tuple[str, str]:
    in_str: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if in_str:
            if ch == "\\" and in_str == '"':
                i += 2
                continue
            if ch == in_str:
                in_str = None
        elif ch in "\"`":
            in_str = ch
        elif line.startswith("//", i):
            return line[:i], line[i + 2 :].strip()
        i += 1
    return line, ""


def parse(data: bytes, path: str = "go.mod") -> ModFile:
    kind = "go.work" if path.endswith("go.work") else "go.mod"
    verbs = GOWORK_VERBS if kind == "go.work" else GOMOD_VERBS
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModFileError(path, data[: exc.start].count(b"\n") + 1, "invalid UTF-8") from None
    mf = ModFile(path, kind, data)
    block: str | None = None
    block_line = 0
    offset = 0
    for n, raw in enumerate(text.split("\n"), 1):
        line_bytes = len(raw.encode("utf-8"))
        line = raw.rstrip("\r")
        code, comment = _split_comment(line)
        stripped = code.strip()
        start = offset + len(code[: len(code) - len(code.lstrip())].encode("utf-8"))
        end = offset + len(line.encode("utf-8"))
        offset += line_bytes + 1
        if not stripped:
            continue
        toks = _tokens(stripped)
        if block is not None:
            if toks == [")"]:
                block = None
                continue
            if ")" in toks or "(" in toks and block != "retract":
                raise ModFileError(path, n, f"unexpected parenthesis inside {block} block")
            mf.directives.append(Directive(block, toks, n, comment, True, start, end))
            continue
        verb = toks[0]
        if verb not in verbs:
            raise ModFileError(path, n, f"unknown directive: {verb}")
        args = toks[1:]
        if args == ["("]:
            if verb not in BLOCK_VERBS:
                raise ModFileError(path, n, f"{verb} does not take a block")
            block, block_line = verb, n
            continue
        if args[:1] == ["("] and args[-1:] == [")"]:
            # one-line block: require ( a v1 )
            inner = args[1:-1]
            if inner:
                mf.directives.append(Directive(verb, inner, n, comment, True, start, end))
            continue
        if not args:
            raise ModFileError(path, n, f"{verb} directive needs an argument")
        mf.directives.append(Directive(verb, args, n, comment, False, start, end))
    if block is not None:
        raise ModFileError(path, block_line, f"{block} block opened here is never closed with ')'")
    seen: dict[str, int] = {}
    for d in mf.directives:
        _check_shape(d, path)
        if d.verb in ("module", "go", "toolchain"):
            if d.verb in seen:
                raise ModFileError(path, d.line, f"repeated {d.verb} statement (first at line {seen[d.verb]}): keep one")
            seen[d.verb] = d.line
    return mf


def _check_shape(d: Directive, path: str) -> None:
    if d.verb in ("require", "exclude") and len(d.args) != 2:
        raise ModFileError(path, d.line, f"{d.verb} needs a module path and a version: {d.verb} example.com/m v1.2.3")
    if d.verb == "replace":
        if "=>" not in d.args:
            raise ModFileError(path, d.line, "replace needs '=>': replace old/module [v1.2.3] => new/module v1.2.4 (or ../dir)")
        i = d.args.index("=>")
        if i not in (1, 2) or len(d.args) - i - 1 not in (1, 2):
            raise ModFileError(path, d.line, "malformed replace: replace old/module [version] => new/module [version]")
    if d.verb == "module" and len(d.args) != 1:
        raise ModFileError(path, d.line, "module needs exactly one path")


@dataclass(slots=True)
class Replace:
    directive: Directive
    old_path: str
    old_version: str | None
    new_path: str
    new_version: str | None

    @property
    def is_local(self) -> bool:
        p = self.new_path
        return p.startswith(("./", "../", "/", ".\\", "..\\")) or p in (".", "..") or re.match(r"^[A-Za-z]:[\\/]", p) is not None


def replaces(mf: ModFile) -> list[Replace]:
    out = []
    for d in mf.of("replace"):
        i = d.args.index("=>")
        old, new = d.args[:i], d.args[i + 1 :]
        out.append(Replace(d, old[0], old[1] if len(old) > 1 else None, new[0], new[1] if len(new) > 1 else None))
    return out


def load(path: Path, display: str | None = None) -> ModFile:
    return parse(path.read_bytes(), display or str(path))
