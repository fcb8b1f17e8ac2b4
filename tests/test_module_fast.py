"""module.py's fast paths: the import-header regex (module._fast_header) and the one walk per
module (discover.module_tree). Both must give exactly what the exact lexer and discover() give."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from golint_rules import module
from golint_rules.discover import discover, module_tree

GO_SRC = Path("/usr/share/go-1.19/src")


def same(a: module.Header, b: module.Header) -> bool:
    return (a.package, a.imports, a.complete, a.error) == (b.package, b.imports, b.complete, b.error)


# Headers the fast path reads itself: it must agree with scan_header field by field
# (paths, names, lines, byte offsets, completeness).
FAST = [
    'package p\n\nimport "fmt"\n\nfunc F() {}\n',
    '\ufeffpackage p\nimport "fmt"\nvar x = 1\n',  # a BOM
    "// Copyright 2024 Acme.\n// Licensed under the Apache License.\n\n// Package p does things.\npackage p\n\ntype T int\n",
    "/*\n * Copyright.\n */\n\n//go:build linux || darwin\n// +build linux darwin\n\npackage p // import \"example.com/p\"\n\nimport (\n\t\"os\"\n)\n\nconst C = 1\n",
    'package p\n\nimport (\n\t"fmt"\n\t"os" ; nethttp "net/http"\n\t_ "embed" // for the templates\n\t. "strings"\n\t/* a "quoted" comment */ x "example.com/x"\n\t// "commented/out"\n\ty /* between */ "example.com/y"\n\tz\n\t"example.com/z"\n)\nimport ()\nimport "C"\n\nfunc main() {}\nimport "late"\n',
    'package main\n\n/*\n#include <stdio.h>\n#cgo LDFLAGS: -lm\nstatic void hello() { printf("hi\\n"); }\n*/\nimport "C"\n\nimport "fmt"\n\nfunc main() { C.hello(); fmt.Println() }\n',
    'package p; import "fmt"; import ("os"; "io"); func F() {}\n',
    'package p\n\nimport\n"fmt"\n\nimport _ "embed"\nimport . "strings"\nimport\tf "flag"\n\ntype T struct{}\n',
    'package p\n\nimport."x"\nimport _"w"\nimport/**/"y"\n\nvar _ = 1\n',  # no spaces needed between tokens
    'package p\n\nimport (\n\tδ "example.com/δ"\n\t"example.com/ünï"\n)\n\nvar ü = δ.X\n',
    'package p\r\n\r\nimport (\r\n\t"fmt"\r\n)\r\n\r\nfunc F() {}\r\n',
    'package p\n\nimports := 1\n',  # any word after the imports ends them, as for the lexer
    'package p\n\nimport "fmt"\n\nimportant()\n',
    "package p\n\nfunc F() {}\n",
    'package p\n\nimport "\xff\xfe"\n\nvar x int\n',  # bytes that are not UTF-8: decoded the same way
    'package p\n\nimport import "odd"\n\nvar x int\n',
    '// import "not/this"\n/* package q */ package p\n\n/* import "nor/this" */\nimport "this"\n\nvar x int\n',
]

# Headers the fast path hands to scan_header (returns None): raw strings, escapes,
# unterminated comments/strings, the end of the data, anything the lexer rejects.
SLOW = [
    'package p\n\nimport `fmt`\n\nvar x int\n',
    'package p\n\nimport (\n\traw `github.com/acme/raw`\n)\n\nvar x int\n',
    'package p\n\nimport "a\\u00e9"\n\nvar x int\n',
    'package p\n\nimport (\n\t"fmt"\n\t/* never closed\n',
    'package p\n\nimport (\n\t"fmt\n)\n',
    "package",
    "",
    "// only a comment\n",
    'package p\n\nimport (\n\t"fmt"\n\t+ "os"\n)\n',
    'package p\n\nimport (\n\tfoo.bar "os"\n)\n',
    'package p\n\nimport ;"fmt"\n',
    'package p\n\n"fmt"\n',
    'package p\n\n. "fmt"\n',
    "package p\n\n(\n",
    'package "p"\n',
    'package p "x"\n',
    "; package p\n\nvar x int\n",
    "/* licence\npackage p\n",
    'package p\n\nimport "fmt" + "os"\n',
]


# Data that ends between declarations, after "import" or inside "import (": the lexer
# says "incomplete, no error" (read_header then reads the rest of the file), and so does
# the fast path.
INCOMPLETE = [
    'package p\n\nimport (\n\t"fmt"\n\t"os"\n)\n',
    'package p\n\nimport "fmt"',
    "package p",
    "// Package p is documented here.\npackage p\n",
    'package p\n\nimport (\n\t"fmt"\n',
    'package p\n\nimport (\n\t"fmt" // trailing\n\t/* closed */',
    "package p\n\nimport",
]


@pytest.mark.parametrize("src", INCOMPLETE)
def test_fast_header_stops_where_the_lexer_stops(src):
    fast = module._fast_header(src.encode())
    assert fast is not None and not fast.complete and fast.error is None
    assert same(fast, module.scan_header(src.encode()))


@pytest.mark.parametrize("src", FAST)
def test_fast_header_reads_common_headers_exactly(src):
    data = src.encode("latin-1") if "\xff" in src else src.encode()
    fast = module._fast_header(data)
    slow = module.scan_header(data)
    assert fast is not None, "the fast path should read this header"
    assert same(fast, slow)
    assert fast.complete and fast.error is None


@pytest.mark.parametrize("src", SLOW)
def test_fast_header_leaves_unusual_headers_to_the_lexer(src):
    data = src.encode()
    assert module._fast_header(data) is None
    # and any prefix of a common header either agrees with the lexer or falls back
    for s in FAST:
        d = s.encode("utf-8")
        for k in range(len(d) + 1):
            f = module._fast_header(d[:k])
            assert f is None or same(f, module.scan_header(d[:k])), (s, k)


def test_fast_header_offsets_and_lines():
    src = b'package p\n\nimport (\n\tx "a"\n\t"b" // c\n)\nimport "d"\nvar v int\n'
    h = module._fast_header(src)
    assert [(i.path, i.name, i.line, src[i.start : i.end]) for i in h.imports] == [
        ("a", "x", 4, b'x "a"'),
        ("b", None, 5, b'"b"'),
        ("d", None, 7, b'"d"'),
    ]


def test_read_header_falls_back_for_raw_strings_and_reads_the_rest(tmp_path):
    p = tmp_path / "raw.go"
    p.write_text('package p\n\nimport (\n\t"fmt"\n\traw `example.com/raw`\n)\n\nfunc F() {}\n')
    h, _ = module.read_header(p)
    assert [(i.path, i.name) for i in h.imports] == [("fmt", None), ("example.com/raw", "raw")]
    # a cgo preamble longer than the head: the rest of the file is read
    q = tmp_path / "cgo.go"
    q.write_text("package p\n\n/*\n" + "// c code\n" * 3000 + '*/\nimport "C"\nimport "os"\n\nvar x int\n')
    h, data = module.read_header(q)
    assert [i.path for i in h.imports] == ["C", "os"] and h.complete
    assert len(data) == q.stat().st_size > module.HEAD_BYTES


def test_fast_header_agrees_with_the_lexer_on_the_standard_library():
    if not GO_SRC.is_dir():
        pytest.skip("no Go source tree")
    files = sorted(p for p in GO_SRC.rglob("*.go") if p.is_file())
    random.Random(11).shuffle(files)
    fast = 0
    for p in files[:3000]:
        data = p.read_bytes()
        for d in (data[: module.HEAD_BYTES], data):
            f = module._fast_header(d)
            s = module.scan_header(d)
            if f is not None:
                assert same(f, s), p
        fast += module._fast_header(data[: module.HEAD_BYTES]) is not None
    assert fast > 2700  # the common shapes really take the fast path


# ---------------------------------------------------------------------------
# one walk per module


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


TREE = {
    "go.mod": "module example.com/outer\n\ngo 1.23\n",
    "a.go": 'package outer\n\nimport "example.com/dep"\n\nvar X = dep.Y\n',
    "a-b/x.go": "package ab\n",
    "a/b.go": "package a\n",
    "a/z/c.go": "package z\n",
    "A/up.go": "package up\n",
    "inner/go.mod": "module example.com/outer/inner\n\ngo 1.23\n",
    "inner/i.go": 'package inner\n\nimport "example.com/innerdep"\n',
    "inner/deep/go.mod": "module example.com/outer/inner/deep\n\ngo 1.23\n",
    "inner/deep/d.go": 'package deep\n\nimport "example.com/deepdep"\n',
    "inner/sub/s.go": "package sub\n",
    "vendor/v/v.go": "package v\n",
    "testdata/t.go": "package t\n",
    ".hidden/h.go": "package h\n",
    "_tmp/u.go": "package u\n",
    "x/_skip.go": "package x\n",
    "x/.skip.go": "package x\n",
    "x/x.go": "package x\n",
    "x/x_test.go": "package x\n",
    "x/x_linux_arm64.go": "package x\n",
    "x/notgo.txt": "",
    "only_go_work/go.work": "go 1.23\n",
    "only_go_work/w.go": "package w\n",
}


def discover_view(root: Path, use_gitignore: bool = True):
    """What build_module read before module_tree: discover() and cut nested modules afterwards."""
    disc = discover([root], use_gitignore=use_gitignore)
    nested_roots = sorted({p.parent for p in disc.module_files if p.name == "go.mod" and p.parent != root})
    packages = []
    for d in sorted(disc.packages):
        if any(d == n or n in d.parents for n in nested_roots):
            continue
        rel = d.relative_to(root).as_posix() if d != root else "."
        packages.append((rel, [f.name for f in sorted(disc.packages[d])]))
    return packages, [n.relative_to(root).as_posix() for n in nested_roots]


def outermost(nested: list[str]) -> list[str]:
    return [n for n in nested if not any(n.startswith(m + "/") for m in nested)]


def test_module_tree_equals_discover_without_nested_modules(tmp_path):
    write(tmp_path, TREE)
    (tmp_path / "linked").symlink_to(tmp_path / "a", target_is_directory=True)  # not followed
    (tmp_path / "x" / "link.go").symlink_to(tmp_path / "a.go")
    (tmp_path / "x" / "broken.go").symlink_to(tmp_path / "missing.go")
    want_pkgs, want_nested = discover_view(tmp_path)
    pkgs, nested = module_tree(tmp_path)
    assert pkgs == want_pkgs
    assert [d for d, _ in pkgs] == [".", "A", "a", "a/z", "a-b", "only_go_work", "x"]  # sorted(Path) order
    assert dict(pkgs)["x"] == [".skip.go", "_skip.go", "broken.go", "link.go", "x.go", "x_linux_arm64.go", "x_test.go"]
    assert nested == ["inner"] and want_nested == ["inner", "inner/deep"]  # the walk stops at inner/
    inner_pkgs, inner_nested = module_tree(tmp_path / "inner")
    assert (inner_pkgs, inner_nested) == (discover_view(tmp_path / "inner")[0], ["deep"])
    assert module_tree(tmp_path / "missing") == ([], [])


def test_build_module_owns_each_directory_once(tmp_path):
    write(tmp_path, TREE)
    outer = module.build_module(tmp_path)
    inner = module.build_module(tmp_path / "inner")
    deep = module.build_module(tmp_path / "inner" / "deep")
    assert outer.nested == ["inner"] and inner.nested == ["deep"] and deep.nested == []
    assert outer.files == ["a.go", "A/up.go", "a/b.go", "a/z/c.go", "a-b/x.go", "only_go_work/w.go",
                           "x/x.go", "x/x_linux_arm64.go", "x/x_test.go"]
    assert inner.files == ["i.go", "sub/s.go"] and deep.files == ["d.go"]
    assert set(outer.sites) == {"example.com/dep"} and set(inner.sites) == {"example.com/innerdep"}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_module_tree_honours_gitignore_like_discover(tmp_path):
    write(tmp_path, TREE)
    (tmp_path / ".gitignore").write_text("gen/\n*_mock.go\ninner/deep/\n")
    write(tmp_path, {"gen/g.go": "package gen\n", "x/y_mock.go": "package x\n"})
    # a nested work tree (its own .git) below the module: its files come from its own listing
    write(tmp_path, {"sub/repo/r.go": "package r\n", "sub/repo/r_mock.go": "package r\n"})
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    subprocess.run(["git", "init", "-q", str(tmp_path / "sub" / "repo")], check=True, env=env)
    for root in (tmp_path, tmp_path / "inner", tmp_path / "x"):
        for gi in (True, False):
            want_pkgs, want_nested = discover_view(root, use_gitignore=gi)
            pkgs, nested = module_tree(root, use_gitignore=gi)
            assert pkgs == want_pkgs, (root, gi)
            assert nested == outermost(want_nested), (root, gi)
    pkgs, nested = module_tree(tmp_path / "inner")
    assert nested == []  # inner/deep is ignored by git, so its go.mod does not cut the tree
    assert "gen" not in dict(module_tree(tmp_path)[0])
    assert "gen" in dict(module_tree(tmp_path, use_gitignore=False)[0])


def test_fast_regex_group_numbers():
    """_fast_header dispatches on group numbers (m.lastindex): they must be these."""
    assert module._FAST_RE.groupindex == {"spec": 1, "name": 2, "path": 3, "id": 4, "p": 5, "end": 6, "bad": 7}
