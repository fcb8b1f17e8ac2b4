"""Diff-aware scanning: which lines are new since a revision, a merge base, or in a patch.

``--new-from-rev REV`` keeps only findings on lines added or changed since
``REV`` (``git diff REV``: committed, staged and unstaged changes of the work
tree, plus untracked files that ``.gitignore`` does not hide, which are new
as a whole). ``--new-from-merge-base BRANCH`` does the same from the merge
base of ``HEAD`` and ``BRANCH`` (what a merge request adds).
``--new-from-patch FILE`` reads the added lines from a unified diff (``git
diff`` output, or ``diff -u`` with ``a/``/``b/`` or bare paths relative to the
repository root).

What counts as changed, per file of the diff:

- added and modified lines (the ``+`` lines of each hunk, new-side numbers);
- a renamed or copied file: only the lines changed on the way (a pure rename
  adds nothing new);
- a deleted file: nothing (it is not scanned either);
- a binary diff, a new file, an untracked file: every line;
- files of the diff outside the scanned paths are ignored.

A ``go.mod`` or ``go.work`` finding is reported at its directive line (the
require, replace, go ... line, or the entry of a block), so it is new exactly
when that line changed; an unrelated edit elsewhere in the file does not make
old findings new.

Every git problem (not a work tree, an unknown revision, a shallow clone that
lacks the revision, no merge base) is a :class:`DiffError` whose message says
how to fix it. git runs through gitpython; nothing from the repository is
executed (``--no-ext-diff --no-textconv``: no configured diff drivers run).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

MODULE_FILES = ("go.mod", "go.work")


class DiffError(Exception):
    """A diff could not be computed or read; ``str()`` says why and what to do."""


@dataclass
class FileChange:
    """The new side of one file in a diff."""

    path: str  # new path, relative to the diff base, '/'-separated
    old_path: str | None = None  # the path before a rename or copy
    status: str = "modified"  # added, modified, renamed, copied, deleted, binary, untracked
    lines: set[int] = field(default_factory=set)  # changed lines (1-based, new side)

    @property
    def whole(self) -> bool:
        """Every line of the file counts as changed."""
        return self.status in ("added", "binary", "untracked")

    def changed(self, start: int, end: int | None = None) -> bool:
        if self.whole:
            return True
        end = start if end is None or end < start else end
        return any(n in self.lines for n in range(start, end + 1))


@dataclass
class ChangeSet:
    """What changed, as the diff's new side, relative to ``base`` (the repository root)."""

    base: Path
    files: dict[str, FileChange]
    description: str  # e.g. "since origin/main (3f2a9c1)"
    #: set by :meth:`filter`: how many findings were left out and their files
    hidden: int = 0
    outside_tree: int = 0

    def change_for(self, abs_path: Path) -> FileChange | None:
        rel = _rel_to(abs_path, self.base)
        return None if rel is None else self.files.get(rel)

    def is_new(self, abs_path: Path, line: int, end_line: int | None = None) -> bool:
        change = self.change_for(abs_path)
        return change is not None and change.status != "deleted" and change.changed(line, end_line)

    def changed_paths(self) -> list[Path]:
        """Absolute paths of the files whose new side has changed lines."""
        return [self.base / p for p, c in sorted(self.files.items()) if c.status != "deleted" and (c.whole or c.lines)]

    def filter(self, result) -> None:
        """Drop the findings of ``result`` (a ScanResult) that are not on changed lines.

        GR000 internal errors always stay: they mean the scan itself is incomplete.
        """
        root = Path(os.path.abspath(result.root))
        kept = []
        hidden = outside = 0
        for f in result.findings:
            if f.code == "GR000" and f.slug == "internal-error":
                kept.append(f)
                continue
            abs_path = Path(os.path.normpath(root / f.path))
            if _rel_to(abs_path, self.base) is None:
                outside += 1
                hidden += 1
                continue
            if self.is_new(abs_path, f.line, f.end_line or f.line):
                kept.append(f)
            else:
                hidden += 1
        result.findings = kept
        self.hidden, self.outside_tree = hidden, outside


@dataclass
class ChangedPackages:
    """A discovery filter for diff-aware scans (``ScanOptions.file_filters``).

    Only packages (directories) with a changed ``.go`` file are read, whole,
    so that package-level checks still see every file of the package; module
    files are read only if they changed. Findings outside changed lines are
    dropped afterwards by :meth:`ChangeSet.filter`, so the result equals a full
    scan filtered by the diff, without parsing the unchanged packages.
    """

    changed: frozenset[str]  # absolute, normalised paths of changed files

    def apply(self, disc) -> None:
        dirs = {os.path.dirname(p) for p in self.changed if p.endswith(".go")}
        for directory in list(disc.packages):
            if _real(directory) not in dirs:
                del disc.packages[directory]
        disc.module_files[:] = [m for m in disc.module_files if _real(m) in self.changed]


def _real(p: Path | str) -> str:
    return os.path.normcase(os.path.realpath(p))


def _rel_to(abs_path: Path, base: Path) -> str | None:
    """``abs_path`` relative to ``base`` ('/'-separated), or None if it is outside."""
    real, real_base = os.path.realpath(abs_path), os.path.realpath(base)
    try:
        rel = os.path.relpath(real, real_base)
    except ValueError:  # another drive on Windows
        return None
    if rel == os.curdir or rel.startswith(os.pardir + os.sep) or rel == os.pardir:
        return None
    return rel.replace(os.sep, "/")


# ---------------------------------------------------------------------------
# Unified diff parsing (git and plain diff -u)

_HUNK_RE = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_OLD_COUNTS_RE = re.compile(r"-\d+(?:,(\d+))?")


def _c_unquote(text: str) -> str:
    """git's C-style quoted path (``"a/t\\303\\251st.go"``) -> the path."""
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return text
    body = text[1:-1]
    out = bytearray()
    i = 0
    simple = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in simple:
                out.append(simple[n])
                i += 2
                continue
            if re.match(r"[0-7]{3}", body[i + 1 : i + 4]):
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
        out += c.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _header_path(raw: str) -> str | None:
    """The path of a ``---``/``+++`` line: None for /dev/null; timestamps and a/ b/ prefixes dropped."""
    text = raw.rstrip("\r")
    if text.startswith('"'):
        m = re.match(r'"(?:[^"\\]|\\.)*"', text)
        text = _c_unquote(m.group()) if m else text
    else:
        text = text.split("\t", 1)[0]
    if text == "/dev/null":
        return None
    return _strip_prefix(text)


def _strip_prefix(path: str) -> str:
    if path.startswith(("a/", "b/", "i/", "w/", "c/", "o/")) and len(path) > 2:
        path = path[2:]
    while path.startswith("./"):
        path = path[2:]
    return path


def _git_header_paths(rest: str) -> tuple[str | None, str | None]:
    """``diff --git a/x b/y`` -> (x, y) when unambiguous."""
    rest = rest.rstrip("\r")
    if rest.startswith('"'):
        m = re.match(r'("(?:[^"\\]|\\.)*") (.*)$', rest)
        if m:
            return _strip_prefix(_c_unquote(m.group(1))), _strip_prefix(_c_unquote(m.group(2)))
        return None, None
    # unquoted: "a/x b/x"; with identical halves the split is unambiguous
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " ":
        a, b = rest[:half], rest[half + 1 :]
        if _strip_prefix(a) == _strip_prefix(b):
            return _strip_prefix(a), _strip_prefix(b)
    m = re.match(r"(a/.*) (b/.*)$", rest)
    if m:
        return _strip_prefix(m.group(1)), _strip_prefix(m.group(2))
    return None, None


def parse_unified_diff(text: str, source: str = "the diff") -> dict[str, FileChange]:
    """The new-side changed lines of every file in a unified diff, by new path.

    Reads ``git diff`` output (extended headers: new/deleted file, rename,
    copy, binary) and plain ``diff -u``/``diff -ruN`` output. Raises DiffError
    (with the line number) for text that is not a diff or a hunk cut short.
    """
    lines = text.split("\n")
    files: dict[str, FileChange] = {}
    cur: FileChange | None = None
    in_git_header = False  # between `diff --git` and the file's first hunk
    saw_diff = False
    i = 0
    n = len(lines)

    def finish(change: FileChange | None) -> None:
        if change is None or not change.path:
            return
        prev = files.get(change.path)
        if prev is not None and change.status != "deleted":  # the same file twice: union
            prev.lines |= change.lines
            if change.whole:
                prev.status = change.status
            return
        files[change.path] = change

    while i < n:
        line = lines[i].rstrip("\r")
        if line.startswith("diff --git "):
            finish(cur)
            saw_diff = True
            a, b = _git_header_paths(line[len("diff --git ") :])
            cur = FileChange(path=b or a or "", old_path=a if a != b else None)
            in_git_header = True
            i += 1
            continue
        if in_git_header and cur is not None and not line.startswith(("--- ", "@@")):
            if line.startswith("new file mode"):
                cur.status = "added"
            elif line.startswith("deleted file mode"):
                cur.status = "deleted"
            elif line.startswith(("rename from ", "copy from ")):
                cur.old_path = _c_unquote(line.split(" ", 2)[2])
                cur.status = "renamed" if line.startswith("rename") else "copied"
            elif line.startswith(("rename to ", "copy to ")):
                cur.path = _c_unquote(line.split(" ", 2)[2])
                cur.status = "renamed" if line.startswith("rename") else "copied"
            elif line.startswith("Binary files ") or line == "GIT binary patch":
                if cur.status != "deleted":
                    cur.status = "binary"
                in_git_header = False
            i += 1
            continue
        if line.startswith("Binary files ") and line.endswith(" differ"):
            # plain `diff -r` output: "Binary files old/x and new/x differ"
            m = re.match(r"Binary files (.*) and (.*) differ$", line)
            if m:
                finish(cur)
                new = _header_path(m.group(2))
                cur = FileChange(path=new or _header_path(m.group(1)) or "", status="binary" if new else "deleted")
                saw_diff = True
            i += 1
            continue
        if line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "):
            old = _header_path(line[4:])
            new = _header_path(lines[i + 1].rstrip("\r")[4:])
            if not in_git_header:  # a plain `diff -u` section starts
                finish(cur)
                cur = FileChange(path=new or old or "")
                if old is not None and new is not None and old != new:
                    cur.old_path, cur.status = old, "renamed"
            assert cur is not None
            saw_diff = True
            if new is None:
                cur.status = "deleted"
                cur.path = cur.path or (old or "")
            else:
                cur.path = new
                if old is None:
                    cur.status = "added"
            in_git_header = False
            i += 2
            continue
        if line.startswith("@@"):
            m = _HUNK_RE.match(line)
            if cur is None or not m:
                raise DiffError(f"{source}, line {i + 1}: malformed hunk header {line[:60]!r} "
                                "(expected `@@ -start,count +start,count @@`); is this a unified diff (diff -u / git diff)?")
            in_git_header = False
            saw_diff = True
            new_line = int(m.group(1))
            new_left = int(m.group(2)) if m.group(2) is not None else 1
            old_m = _OLD_COUNTS_RE.search(line[2:])
            old_left = int(old_m.group(1)) if old_m and old_m.group(1) is not None else 1
            i += 1
            while (new_left > 0 or old_left > 0) and i < n:
                body = lines[i]
                tag = body[:1]
                if tag == "+":
                    cur.lines.add(new_line)
                    new_line += 1
                    new_left -= 1
                elif tag == "-":
                    old_left -= 1
                elif tag == " " or (body in ("", "\r") and i < n - 1):  # context (some tools drop a blank line's space)
                    new_line += 1
                    new_left -= 1
                    old_left -= 1
                elif tag == "\\":  # \ No newline at end of file
                    pass
                else:
                    raise DiffError(f"{source}, line {i + 1}: the hunk of {cur.path} ends early (expected {max(new_left, 0)} "
                                    f"more new and {max(old_left, 0)} more old lines); the patch is truncated or was edited by hand")
                i += 1
            if new_left > 0 or old_left > 0:
                raise DiffError(f"{source}: the last hunk of {cur.path} is cut short; the patch is truncated")
            continue
        i += 1  # commit messages, `index` lines, anything between files
    finish(cur)
    if not saw_diff:
        raise DiffError(f"{source} contains no unified diff (expected lines like `--- a/main.go`, `+++ b/main.go`, "
                        "`@@ -1,2 +1,3 @@`); make it with `git diff` or `diff -u`")
    return files


# ---------------------------------------------------------------------------
# git


def _repo_for(paths: Iterable[Path], flag: str):
    try:
        import git  # gitpython
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DiffError(f"{flag} needs gitpython: pip install gitpython ({exc})") from None
    first = Path(os.path.abspath(next(iter(paths), Path("."))))
    start = first if first.is_dir() else first.parent
    try:
        repo = git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise DiffError(f"{flag} needs a git work tree, and {first} is not inside one. "
                        "Run gorules inside the repository, or pass the changes as a unified diff with --new-from-patch FILE") from None
    except git.GitCommandNotFound:
        raise DiffError(f"{flag} needs the git command, which is not installed or not on PATH: install git") from None
    if repo.bare or repo.working_tree_dir is None:
        raise DiffError(f"{flag} needs a work tree; {repo.git_dir} is a bare repository")
    return repo


def _is_shallow(repo) -> bool:
    try:
        return repo.git.rev_parse("--is-shallow-repository").strip() == "true"
    except Exception:
        return os.path.exists(os.path.join(repo.git_dir, "shallow"))


def _resolve(repo, rev: str, flag: str) -> str:
    import git

    if not rev or rev.startswith("-"):
        raise DiffError(f"{flag}: {rev!r} is not a revision; give a commit, tag or branch, e.g. {flag} origin/main")
    try:
        return repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").strip()
    except git.GitCommandError:
        pass
    if _is_shallow(repo):
        raise DiffError(
            f"{flag} {rev}: {rev!r} is not in this clone, which is shallow (made with --depth). "
            f"Fetch the history it needs: `git fetch --unshallow` (or `git fetch --deepen=200`, or "
            f"`git fetch origin <branch>` for a branch); in GitLab CI set `GIT_DEPTH: 0` on the job"
        )
    raise DiffError(
        f"{flag} {rev}: unknown revision {rev!r} in {repo.working_tree_dir}. Check the name (`git log --oneline`, "
        f"`git branch -a`); a remote branch must be fetched first: `git fetch origin <branch>`"
    )


def _short(repo, sha: str) -> str:
    return sha[:12]


def changes_since(paths: Iterable[Path], rev: str, *, flag: str = "--new-from-rev") -> ChangeSet:
    """Lines added or changed in the work tree since ``rev`` (plus untracked files)."""
    import git

    repo = _repo_for(paths, flag)
    sha = _resolve(repo, rev, flag)
    label = f"since {rev}" if sha.startswith(rev) else f"since {rev} ({_short(repo, sha)})"
    return _diff_work_tree(repo, sha, label, flag)


def changes_since_merge_base(paths: Iterable[Path], branch: str) -> ChangeSet:
    """Lines added or changed since the merge base of HEAD and ``branch``."""
    import git

    flag = "--new-from-merge-base"
    repo = _repo_for(paths, flag)
    other = _resolve(repo, branch, flag)
    try:
        head = repo.git.rev_parse("--verify", "--quiet", "HEAD^{commit}").strip()
    except git.GitCommandError:
        raise DiffError(f"{flag} {branch}: this repository has no commit yet (HEAD is unborn); commit first") from None
    try:
        bases = repo.git.merge_base(head, other).split()
    except git.GitCommandError:
        bases = []
    if not bases:
        if _is_shallow(repo):
            raise DiffError(
                f"{flag} {branch}: no merge base of HEAD and {branch} in this clone, which is shallow (made with --depth). "
                f"Fetch more history: `git fetch --unshallow` (or `git fetch --deepen=200 origin {branch}`); "
                f"in GitLab CI set `GIT_DEPTH: 0` on the job"
            )
        raise DiffError(f"{flag} {branch}: HEAD and {branch} have no common ancestor; use --new-from-rev REV with the commit to compare against")
    base = bases[0]
    return _diff_work_tree(repo, base, f"since the merge base of HEAD and {branch} ({_short(repo, base)})", flag)


def _diff_work_tree(repo, sha: str, description: str, flag: str) -> ChangeSet:
    import git

    top = Path(repo.working_tree_dir)
    try:
        raw = repo.git.execute(
            ["git", "-c", "core.quotepath=false", "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false",
             "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--unified=0", "--find-renames",
             "--src-prefix=a/", "--dst-prefix=b/", sha, "--"],
            stdout_as_string=False,
        )
        untracked = repo.git.execute(
            ["git", "-c", "core.quotepath=false", "ls-files", "-z", "--others", "--exclude-standard"],
            stdout_as_string=False,
        )
    except git.GitCommandError as exc:
        err = (exc.stderr or "").strip().replace("\n", " ") if isinstance(exc.stderr, str) else str(exc)
        raise DiffError(f"{flag}: git diff failed in {top}: {err}") from None
    files = parse_unified_diff(raw.decode("utf-8", "surrogateescape"), "git diff") if raw.strip() else {}
    for p in untracked.decode("utf-8", "surrogateescape").split("\0"):
        if p:
            files[p] = FileChange(path=p, status="untracked")
    return ChangeSet(base=top, files=files, description=description)


def changes_from_patch(paths: Iterable[Path], patch: str | Path) -> ChangeSet:
    """Lines a unified diff adds; its paths are relative to the repository root
    (the git work tree of the scanned paths) or, outside git, to the current directory."""
    patch_path = Path(patch)
    try:
        data = patch_path.read_bytes() if str(patch) != "-" else os.fdopen(0, "rb", closefd=False).read()
    except FileNotFoundError:
        raise DiffError(f"--new-from-patch {patch}: no such file; write one with `git diff origin/main > {patch}`") from None
    except IsADirectoryError:
        raise DiffError(f"--new-from-patch {patch} is a directory; give the patch file") from None
    except OSError as exc:
        raise DiffError(f"--new-from-patch {patch}: cannot read it: {exc.strerror or exc}") from None
    if b"\0" in data[:8192] and not data.startswith((b"diff", b"---", b"From ")):
        raise DiffError(f"--new-from-patch {patch} is a binary file, not a unified diff")
    files = parse_unified_diff(data.decode("utf-8", "surrogateescape"), f"--new-from-patch {patch}")
    from .discover import git_toplevel

    plist = [Path(os.path.abspath(p)) for p in paths] or [Path.cwd()]
    base = git_toplevel(plist[0]) or Path.cwd()
    return ChangeSet(base=base, files=files, description="in the patch on standard input" if str(patch) == "-" else f"in {patch}")
