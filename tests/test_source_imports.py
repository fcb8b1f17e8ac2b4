"""The import table's indexes (local name -> path, path -> names) and the memoised
default package name answer like a scan of the import list, even after it changes."""

from __future__ import annotations

from pathlib import Path

from golint_rules.source import Import, ImportTable, SourceFile, default_package_name

CODE = b"""package p

import (
	"context"
	nethttp "net/http"
	"net/http"
	. "strings"
	_ "embed"
	yaml "gopkg.in/yaml.v3"
	"gopkg.in/yaml.v3"
	"github.com/go-chi/chi/v5"
	"github.com/a/b-c"
	dup "os"
	dup "io"
)
"""


def scan_resolve(table: ImportTable, name: str) -> str | None:
    for i in table.imports:
        if i.local_name == name:
            return i.path
    return None


def scan_names(table: ImportTable, path: str) -> set[str]:
    return {i.local_name for i in table.imports if i.path == path and i.local_name}


NAMES = ("context", "nethttp", "http", "strings", "embed", "yaml", "chi", "b_c", "dup", "_", ".", "os", "io", "x")
PATHS = ("context", "net/http", "strings", "embed", "gopkg.in/yaml.v3", "github.com/go-chi/chi/v5",
         "github.com/a/b-c", "os", "io", "nope")


def check(table: ImportTable) -> None:
    for name in NAMES:
        assert table.resolve(name) == scan_resolve(table, name), name
    for path in PATHS:
        assert table.names_for(path) == scan_names(table, path), path


def test_index_matches_a_scan():
    table = SourceFile(Path("x.go"), "x.go", CODE).imports
    check(table)
    assert table.resolve("dup") == "os"  # the first import bound to a name wins
    assert table.names_for("net/http") == {"nethttp", "http"}
    assert table.resolve("chi") == "github.com/go-chi/chi/v5"
    assert table.resolve("b_c") == "github.com/a/b-c"
    got = table.names_for("net/http")
    got.add("mutated")  # a caller's set is its own
    assert table.names_for("net/http") == {"nethttp", "http"}


def test_index_follows_changes_to_the_list():
    table = SourceFile(Path("x.go"), "x.go", CODE).imports
    check(table)
    table.imports.append(Import("example.com/extra", None, 20, 0, 0))
    check(table)
    assert table.resolve("extra") == "example.com/extra"
    table.imports[0] = Import("example.com/ctx", "context", 3, 0, 0)
    check(table)
    assert table.resolve("context") == "example.com/ctx"
    del table.imports[1:3]
    check(table)
    assert table.resolve("nethttp") is None and table.names_for("net/http") == set()
    table.imports.clear()
    check(table)
    empty = ImportTable()
    check(empty)
    assert empty.resolve("fmt") is None


def test_default_package_name_memoised_and_pure():
    cases = {
        "gopkg.in/yaml.v3": "yaml",
        "github.com/go-chi/chi/v5": "chi",
        "github.com/a/b-c": "b_c",
        "net/http": "http",
        "example.com/go-foo.go": "foo",
        "v2": "v2",
        "github.com/x/mod/v2/": "mod",
    }
    for path, want in cases.items():
        assert default_package_name(path) == want
        assert default_package_name(path) == want  # from the cache
    assert default_package_name.cache_info().hits >= len(cases)


def full_scan_imports(src: SourceFile) -> list[tuple[str, str | None, int]]:
    from golint_rules import parsing
    from golint_rules.source import IMPORTS_QUERY

    out = []
    for _, m in parsing.matches(IMPORTS_QUERY, src.root):
        name = m.get("name")
        out.append((src.text(m["path"][0]).strip('"`'), src.text(name[0]) if name else None, m["spec"][0].start_byte))
    return out


def test_depth_limited_import_query_finds_every_spec():
    broken = CODE + b"""
func f() {
	x := 
}

import "late/after/error"
"""
    late = CODE + b'\nfunc g() {}\n\nimport "late/valid"\n'
    for data in (CODE, broken, late, b'package p\nimport "fmt"\n', b"package p\n"):
        src = SourceFile(Path("x.go"), "x.go", data)
        got = [(i.path, i.name, i.start_byte) for i in src.imports.imports]
        assert got == full_scan_imports(src)
    src = SourceFile(Path("x.go"), "x.go", late)
    assert not src.root.has_error and src.imports.resolve("valid") == "late/valid"
    src = SourceFile(Path("x.go"), "x.go", broken)
    assert src.root.has_error
