"""Safe extraction of a repository archive (``archive.tar.gz`` from GitLab).

The archive comes from a repository anyone with push access controls, so it is
treated as hostile:

* names are checked before anything is written: no absolute paths, no ``..``,
  no NUL, no Windows drive letters; the single top directory GitLab adds
  (``<project>-<sha>-<sha>/``) is stripped;
* symbolic links are created only when their target stays inside the tree
  (checked again after extraction, so a chain of links cannot escape); hard
  links become copies of a file already extracted inside the tree; devices,
  FIFOs and other special members are skipped;
* limits: the decompressed stream is counted byte by byte (a gzip bomb stops
  at ``max_bytes``, however small its compressed form), members are counted
  (``max_files``), and one member larger than ``max_bytes`` stops extraction;
* only the files the scan reads are written (``.go``, ``go.mod``, ``go.work``,
  ``.toml`` and fuzz seed corpora under ``testdata/fuzz/``); directories are all
  created so that rules looking for a directory see it;
* files are written with mode 0644 / 0755 for directories; nothing is executed.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import shutil
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable


class ArchiveError(Exception):
    """The archive is malformed or over a limit; the message says which."""


@dataclass
class Extracted:
    root: Path
    files: int = 0
    bytes: int = 0
    skipped_links: list[str] = field(default_factory=list)
    skipped_special: list[str] = field(default_factory=list)


def wanted(relpath: str) -> bool:
    name = posixpath.basename(relpath)
    if name.endswith((".go", ".toml")) or name in ("go.mod", "go.work"):
        return True
    return "/testdata/fuzz/" in f"/{relpath}"


class _CountingReader(io.RawIOBase):
    """Decompressed bytes, counted; stops with ArchiveError past ``limit``."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        try:
            data = self.raw.read(len(b))
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"the archive is not a valid gzip stream: {exc}") from None
        n = len(data)
        self.count += n
        if self.count > self.limit:
            raise ArchiveError(
                f"the archive unpacks to more than GORULES_ARCHIVE_MAX_BYTES ({self.limit} bytes); "
                "raise the limit or keep large files out of the repository"
            )
        b[:n] = data
        return n


def _clean_name(name: str) -> str | None:
    """The member name as a safe relative path, or None if it must be refused."""
    if "\x00" in name or "\\" in name:
        return None
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def extract(
    src: BinaryIO | str | Path,
    dest: Path,
    *,
    max_bytes: int,
    max_files: int,
    strip_top: bool = True,
    want: Callable[[str], bool] = wanted,
) -> Extracted:
    """Extract a ``.tar.gz`` into ``dest`` (created, must be empty)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    if any(root.iterdir()):
        raise ArchiveError(f"extraction directory {root} is not empty")
    own = isinstance(src, (str, Path))
    fh: BinaryIO = open(src, "rb") if own else src  # type: ignore[arg-type]
    result = Extracted(root=root)
    links: list[tuple[Path, str]] = []
    top: str | None = None
    try:
        gz = gzip.GzipFile(fileobj=fh, mode="rb")
        counted = _CountingReader(gz, max_bytes + 64 * 1024)  # headers and padding on top of the content
        stream = io.BufferedReader(counted, buffer_size=64 * 1024)
        try:
            tar = tarfile.open(fileobj=stream, mode="r|")
        except tarfile.TarError as exc:
            raise ArchiveError(f"the archive is not a valid tar.gz: {exc}") from None
        members = 0
        try:
            for member in tar:
                members += 1
                if members > max_files:
                    raise ArchiveError(
                        f"the archive has more than GORULES_ARCHIVE_MAX_FILES ({max_files}) entries"
                    )
                if member.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
                    continue
                name = _clean_name(member.name)
                if name is None:
                    raise ArchiveError(f"the archive has an unsafe path {member.name!r}; refusing to extract it")
                if strip_top:
                    head, _, rest = name.partition("/")
                    if top is None:
                        top = head
                    if head != top:
                        raise ArchiveError(f"the archive has entries outside its top directory ({name!r})")
                    name = rest
                if not name:
                    continue
                if any(part.lower() == ".git" for part in name.split("/")):
                    continue  # never part of a GitLab archive; the scan uses .git as its root marker
                if member.size > max_bytes:
                    raise ArchiveError(f"{name} is {member.size} bytes, more than GORULES_ARCHIVE_MAX_BYTES ({max_bytes})")
                target = root / name
                if member.isdir():
                    _mkdirs(root, target)
                    continue
                _mkdirs(root, target.parent)
                if member.issym():
                    links.append((target, member.linkname))
                    continue
                if member.islnk():
                    src_name = _clean_name(member.linkname)
                    if src_name is not None and strip_top and top is not None and src_name.startswith(top + "/"):
                        src_name = src_name[len(top) + 1 :]
                    source = root / src_name if src_name else None
                    if source is None or not source.is_file() or source.is_symlink() or not _inside(root, source):
                        result.skipped_links.append(name)
                        continue
                    if want(name) and not target.exists():
                        shutil.copyfile(source, target)
                        os.chmod(target, 0o644)
                        result.files += 1
                    continue
                if not member.isreg():
                    result.skipped_special.append(name)
                    continue
                result.bytes += member.size
                if not want(name):
                    continue  # the stream skips the content
                if target.exists() or target.is_symlink():
                    raise ArchiveError(f"the archive lists {name!r} twice; refusing to extract it")
                data = tar.extractfile(member)
                if data is None:
                    continue
                with open(target, "xb") as out:
                    shutil.copyfileobj(data, out, 256 * 1024)
                os.chmod(target, 0o644)
                result.files += 1
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"the archive is corrupt: {exc}") from None
        finally:
            tar.close()
    finally:
        if own:
            fh.close()
    _make_links(root, links, result)
    return result


def _inside(root: Path, path: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(root)
    except ValueError:
        return False
    return True


def _mkdirs(root: Path, d: Path) -> None:
    """Create ``d`` below ``root``; refuse to pass through a symlink."""
    rel = d.relative_to(root)
    cur = root
    for part in rel.parts:
        cur = cur / part
        if cur.is_symlink():
            raise ArchiveError(f"the archive writes through a symbolic link ({cur.relative_to(root)}); refusing")
        if not cur.exists():
            cur.mkdir(mode=0o755)
        elif not cur.is_dir():
            raise ArchiveError(f"the archive uses {cur.relative_to(root)} as file and directory")


def _make_links(root: Path, links: list[tuple[Path, str]], result: Extracted) -> None:
    """Create symlinks whose targets stay inside the tree, then re-check the whole set."""
    made: list[Path] = []
    for target, linkname in links:
        rel_name = str(target.relative_to(root))
        if not linkname or linkname.startswith("/") or "\x00" in linkname:
            result.skipped_links.append(rel_name)
            continue
        resolved = os.path.normpath(os.path.join(os.path.dirname(rel_name), linkname))
        if resolved == ".." or resolved.startswith("../") or os.path.isabs(resolved):
            result.skipped_links.append(rel_name)
            continue
        if target.exists() or target.is_symlink():
            result.skipped_links.append(rel_name)
            continue
        os.symlink(linkname, target)
        made.append(target)
    # a link may point at another link: check what each one finally resolves to
    for link in made:
        if not _inside(root, link):
            link.unlink()
            result.skipped_links.append(str(link.relative_to(root)))
