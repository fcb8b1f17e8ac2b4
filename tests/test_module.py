"""The module context (module.py) and the module rules GR006, GR007, GR009 on go.mod."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from golint_rules import gomod, module
from golint_rules.config import ConfigError, load_config
from golint_rules.engine import scan
from golint_rules.source import SourceFile

GO_SRC = Path("/usr/share/go-1.19/src")


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def findings(paths, cfg=None, code=None):
    res = scan([str(p) for p in paths], cfg or load_config())
    return [(f.path, f.line, f.code, f.severity, f.message) for f in res.findings if code is None or f.code == code]


# ---------------------------------------------------------------------------
# build constraints: cmd/go/internal/imports.ShouldBuild with AnyTags()

CONSTRAINTS = [
    ("//go:build ignore\n\npackage p\n", False),
    ("// +build ignore\n\npackage p\n", False),
    ("//go:build linux && !linux\n\npackage p\n", True),  # every tag is both true and false
    ("//go:build !ignore\n\npackage p\n", True),
    ("//go:build ignore || linux\n\npackage p\n", True),
    ("//go:build ignore && linux\n\npackage p\n", False),
    ("//go:build !(linux || ignore)\n\npackage p\n", True),
    ("//go:build linux &&\n\npackage p\n", False),  # malformed: the go command skips the file
    ("//go:build linux\n//go:build darwin\n\npackage p\n", False),  # two //go:build lines
    ("// +build\n\npackage p\n", False),  # empty +build is "ignore"
    ("// +build linux,!linux darwin\n\npackage p\n", True),
    ("// +build ignore\npackage p\n", True),  # no blank line: a doc comment, not a constraint
    ("/*\n//go:build ignore\n*/\n\npackage p\n", True),  # inside a block comment
    ("/* licence */\n//go:build ignore\n\npackage p\n", False),
    ("package p\n\n//go:build ignore\n", True),  # after the package clause
    ("// Copyright\n\n//go:build ignore\n// +build ignore\n\n// Package p.\npackage p\n", False),
    ("//go:build ignore_test\n\npackage p\n", True),
    ("//go:buildignore\n\npackage p\n", True),  # not a //go:build line
    ("\ufeff//go:build ignore\n\npackage p\n", True),  # go/build does not strip a BOM here either
    ("package p\n", True),
]


@pytest.mark.parametrize("src,want", CONSTRAINTS)
def test_should_build_matches_cmd_go(src, want):
    assert module.should_build(src.encode()) is want


def _go() -> str | None:
    return shutil.which("go")


@pytest.fixture(scope="module")
def should_build_oracle(tmp_path_factory):
    """cmd/go's own ShouldBuild, compiled from the installed Go sources (not a copy in this repo)."""
    go = _go()
    build_go = GO_SRC / "cmd/go/internal/imports/build.go"
    if go is None or not build_go.is_file():
        pytest.skip("needs the go command and /usr/share/go-1.19/src (apt-get install golang-go golang-1.19-src)")
    d = tmp_path_factory.mktemp("oracle")
    text = build_go.read_text()
    text = text.replace("package imports", "package main").replace('"cmd/go/internal/cfg"\n', "")
    text = text.replace("unixOS[cfg.BuildContext.GOOS]", "false")
    (d / "build.go").write_text(text)
    (d / "main.go").write_text(
        textwrap.dedent(
            """
            package main

            import (
            	"bufio"
            	"fmt"
            	"os"
            )

            func main() {
            	tags := map[string]bool{"*": true}
            	sc := bufio.NewScanner(os.Stdin)
            	sc.Buffer(make([]byte, 1<<20), 1<<20)
            	for sc.Scan() {
            		data, err := os.ReadFile(sc.Text())
            		if err != nil {
            			fmt.Println("error")
            			continue
            		}
            		fmt.Println(ShouldBuild(data, tags))
            	}
            }
            """
        )
    )
    env = dict(os.environ, GO111MODULE="off", GOCACHE=str(d / "cache"), GOPATH=str(d / "gopath"), GOFLAGS="")
    exe = d / "shouldbuild"
    r = subprocess.run([go, "build", "-o", str(exe), "build.go", "main.go"], cwd=d, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot build the cmd/go oracle: {r.stderr}")

    def oracle(paths: list[Path]) -> list[bool]:
        out = subprocess.run([str(exe)], input="\n".join(map(str, paths)) + "\n", capture_output=True, text=True, check=True)
        return [line == "true" for line in out.stdout.splitlines()]

    return oracle


def test_should_build_table_agrees_with_cmd_go(should_build_oracle, tmp_path):
    files = []
    for i, (src, _) in enumerate(CONSTRAINTS):
        p = tmp_path / f"f{i}.go"
        p.write_bytes(src.encode())
        files.append(p)
    assert should_build_oracle(files) == [want for _, want in CONSTRAINTS]


def test_should_build_agrees_with_cmd_go_on_the_standard_library(should_build_oracle):
    files = sorted(p for p in GO_SRC.rglob("*.go") if p.is_file())
    assert len(files) > 4000
    want = should_build_oracle(files)
    got = [module.should_build(p.read_bytes()) for p in files]
    wrong = [str(p) for p, a, b in zip(files, got, want) if a != b]
    assert not wrong, wrong[:10]
    assert want.count(False) > 20  # the corpus does exercise `ignore`


# ---------------------------------------------------------------------------
# import headers


def test_scan_header_forms():
    src = b'''\xef\xbb\xbf// Package p.
package p // trailing

import "fmt"
import (
	"os" ; nethttp "net/http"
	_ "embed" // blank
	. "strings"
	/* a comment */ raw `github.com/acme/raw`
)
import ()
import "C"

func main() {}
import "late"
'''
    h = module.scan_header(src)
    assert h.package == "p" and h.complete and h.error is None
    assert [(i.path, i.name, i.line) for i in h.imports] == [
        ("fmt", None, 4),
        ("os", None, 6),
        ("net/http", "nethttp", 6),
        ("embed", "_", 7),
        ("strings", ".", 8),
        ("github.com/acme/raw", "raw", 9),
        ("C", None, 12),
    ]


def test_read_header_reads_past_a_long_head(tmp_path):
    licence = "// " + "x" * 100 + "\n"
    body = licence * 400 + "package p\n\nimport (\n" + "".join(f'\t"example.com/p{i}"\n' for i in range(300)) + ")\n\nfunc F() {}\n"
    p = tmp_path / "long.go"
    p.write_text(body)
    h, data = module.read_header(p)
    assert len(h.imports) == 300 and h.complete
    assert len(data) > module.HEAD_BYTES


def test_read_header_only_reads_the_head_of_a_big_file(tmp_path):
    p = tmp_path / "big.go"
    p.write_text('package p\n\nimport "fmt"\n\n' + "func f() { fmt.Println() }\n" * 5000)
    h, data = module.read_header(p)
    assert [i.path for i in h.imports] == ["fmt"]
    assert len(data) == module.HEAD_BYTES < p.stat().st_size


def test_odd_header_falls_back_to_tree_sitter(tmp_path):
    p = tmp_path / "odd.go"
    p.write_text('package p\n\nimport (\n\t"fmt"\n\t+ "os"\n)\n')
    h, _ = module.read_header(p)
    assert "fmt" in [i.path for i in h.imports]


def test_header_imports_equal_tree_sitter_on_the_standard_library():
    files = sorted(p for p in GO_SRC.rglob("*.go") if p.is_file())
    random.Random(7).shuffle(files)
    checked = 0
    for p in files[:1500]:
        data = p.read_bytes()
        h, _ = module.read_header(p)
        ref = [(i.path, i.name, i.line) for i in SourceFile(p, p.name, data).imports.imports]
        got = [(i.path, i.name, i.line) for i in h.imports]
        if "\\" in "".join(x[0] for x in ref):  # escapes in import paths (types2 testdata): tree-sitter keeps them raw
            continue
        assert got == ref, p
        checked += 1
    assert checked > 1400


# ---------------------------------------------------------------------------
# modules


LEDGER = {
    "go.mod": """
        module example.com/ledger

        go 1.23

        require (
        	github.com/google/uuid v1.6.0
        	cloud.google.com/go v0.115.1
        	cloud.google.com/go/storage v1.43.0
        	github.com/acme/kit v1.0.0
        	github.com/acme/kit/v2 v2.0.0
        	golang.org/x/tools v0.25.0
        	golang.org/x/sync v0.8.0 // indirect
        )

        tool golang.org/x/tools/cmd/stringer

        ignore (
        	./legacy
        	node_modules
        )
        """,
    "main.go": """
        package main

        import (
        	"fmt"

        	"github.com/google/uuid"
        	"cloud.google.com/go/storage"
        	kit "github.com/acme/kit/v2/log"
        	"example.com/ledger/internal"
        )

        func main() { fmt.Println(uuid.New(), storage.ScopeFullControl, kit.X, internal.Y) }
        """,
    "internal/x.go": "package internal\n\nconst Y = 1\n",
    "internal/gen.go": '//go:build ignore\n\npackage main\n\nimport "golang.org/x/sync/errgroup"\n',
    "legacy/old.go": 'package legacy\n\nimport "github.com/acme/kit"\n',
    "web/node_modules/x/x.go": 'package x\n\nimport "github.com/acme/kit"\n',
    "plugins/go.mod": "module example.com/ledger/plugins\n\ngo 1.23\n\nrequire golang.org/x/sync v0.8.0\n",
    "plugins/p.go": 'package plugins\n\nimport "golang.org/x/sync/errgroup"\n',
    "vendor/github.com/acme/kit/kit.go": 'package kit\n\nimport "golang.org/x/sync/errgroup"\n',
    "testdata/t.go": 'package t\n\nimport "github.com/acme/kit"\n',
    "_tmp/t.go": 'package t\n\nimport "github.com/acme/kit"\n',
    "internal/_draft.go": 'package internal\n\nimport "github.com/acme/kit"\n',
}


def test_module_direct_modules(tmp_path):
    write(tmp_path, LEDGER)
    mod = module.build_module(tmp_path)
    assert mod.path == "example.com/ledger"
    direct = mod.direct()
    assert set(direct) == {"github.com/google/uuid", "cloud.google.com/go/storage", "github.com/acme/kit/v2"}
    assert str(direct["github.com/google/uuid"]) == "main.go:6"
    assert mod.provider("cloud.google.com/go/storage/internal") == "cloud.google.com/go/storage"  # longest wins
    assert mod.provider("cloud.google.com/go/pubsub") == "cloud.google.com/go"
    assert mod.provider("github.com/acme/kitchen") is None  # prefix only at a '/' boundary
    assert mod.provider("example.com/ledger/internal") == "example.com/ledger"
    assert mod.provider("fmt") is None
    assert mod.nested == ["plugins"]
    assert sorted(mod.files) == ["internal/x.go", "main.go"]
    assert ("internal/gen.go", "build constraint") in mod.skipped
    assert ("legacy/old.go", "ignore directive") in mod.skipped
    assert ("web/node_modules/x/x.go", "ignore directive") in mod.skipped
    assert mod.tool_use("golang.org/x/tools") == "golang.org/x/tools/cmd/stringer"
    assert mod.excluded_use("golang.org/x/sync")[0].file == "internal/gen.go"
    assert mod.importing_packages("github.com/google/uuid") == ["."]


def test_gr006_scanning_only_go_mod_sees_the_module(tmp_path):
    write(tmp_path, LEDGER)
    only_mod = findings([tmp_path / "go.mod"], code="GR006")
    whole = [f for f in findings([tmp_path], code="GR006") if f[0].endswith("go.mod") and "/" not in f[0]]
    assert only_mod == whole
    lines = {f[1]: f[4] for f in only_mod}
    text = (tmp_path / "go.mod").read_text().splitlines()
    flagged = {text[n - 1].split()[0] for n in lines}
    assert flagged == {"cloud.google.com/go", "github.com/acme/kit", "golang.org/x/tools"}
    tools = next(m for n, m in lines.items() if "golang.org/x/tools " in m)
    assert "tool directive for golang.org/x/tools/cmd/stringer" in tools


def test_gr006_extra_indirect_names_the_importing_file(tmp_path):
    write(
        tmp_path,
        {
            "go.mod": "module example.com/a\n\ngo 1.23\n\nrequire github.com/google/uuid v1.6.0 // indirect\n",
            "a_test.go": 'package a\n\nimport (\n\t"testing"\n\n\t"github.com/google/uuid"\n)\n\nfunc TestX(t *testing.T) { _ = uuid.New() }\n',
        },
    )
    (f,) = findings([tmp_path / "go.mod"], code="GR006")
    assert f[1] == 5 and "imported directly (by a_test.go:6)" in f[4]


def test_gr006_go_semantics_of_indirect_comments(tmp_path):
    """`// indirect // x` is not indirect for the go command; `// indirect; x` is."""
    write(
        tmp_path,
        {
            "go.mod": textwrap.dedent(
                """
                module example.com/a

                go 1.23

                require (
                	example.com/one v1.0.0 // indirect // gorules:ignore GR009 -- not indirect any more for go
                	example.com/two v1.0.0 // indirect; kept for the plugin ABI
                )
                """
            ),
            "a.go": "package a\n",
        },
    )
    mf = gomod.load(tmp_path / "go.mod")
    assert [d.indirect for d in mf.of("require")] == [False, True]
    assert [f[1] for f in findings([tmp_path / "go.mod"], code="GR006")] == [6]


def test_module_context_is_built_once_per_scan(tmp_path, monkeypatch):
    from golint_rules.discover import discover

    write(tmp_path, LEDGER)
    calls = []
    real = module.build_module

    def counting(root, modfile=None, **kw):
        calls.append(root)
        return real(root, modfile, **kw)

    monkeypatch.setattr(module, "build_module", counting)
    disc = discover([tmp_path])
    first = module.module_for(tmp_path / "go.mod", None, disc)
    again = module.module_for(tmp_path / "go.mod", None, disc)  # a second module-level rule
    assert again is first and calls == [tmp_path]
    other = module.module_for(tmp_path / "go.mod", None, discover([tmp_path]))  # another scan: built afresh
    assert other is not first and calls == [tmp_path, tmp_path]
    calls.clear()
    scan([str(tmp_path)], load_config())
    assert sorted(calls) == [tmp_path, tmp_path / "plugins"]  # one per module of the scan


def test_gomod_parser_rejects_what_the_go_command_rejects():
    for bad, msg in [
        ("module a\nrequire (\n  b v1\n", "never closed"),
        ("module a\nfrobnicate x\n", "unknown directive"),
        ("module a\nrequire b\n", "needs a module path and a version"),
        ("module a\nreplace b v1\n", "needs '=>'"),
        ("use ./a\n", "unknown directive"),
        ("module a\ngo 1.23\ngo 1.24\n", "repeated go statement (first at line 2)"),
        ("module a\nmodule b\n", "repeated module statement"),
    ]:
        with pytest.raises(gomod.ModFileError) as exc:
            gomod.parse(bad.encode(), "go.mod")
        assert msg in str(exc.value)
    # a last ")" without a newline is fine for the go command (and here)
    assert [d.args[0] for d in gomod.parse(b"module a\n\nrequire (\n\tb v1.0.0\n)", "go.mod").of("require")] == ["b"]
    work = gomod.parse(b"go 1.23\n\nuse (\n\t./a\n\t./b\n)\n\nreplace x => ./x\n", "go.work")
    assert [d.args for d in work.of("use")] == [["./a"], ["./b"]]


# ---------------------------------------------------------------------------
# GR007


@pytest.mark.parametrize(
    "line,want",
    [
        ("go 1.23", None),
        ("go 1.23rc1", None),
        ("go 1.23.4", None),
        ("go 1.24", None),
        ("go 2.0", None),
        ("go 1.22.9", "too-old"),
        ("go 1.9", "too-old"),
        ("go 1.100", None),
        ("go 1", "malformed"),
        ("go 1.23.x", "malformed"),
        ("go 1.023", "malformed"),
        ("go v1.23", "malformed"),
        ("", "missing"),
    ],
)
def test_gr007_versions(tmp_path, line, want):
    (tmp_path / "go.mod").write_text(f"module example.com/a\n\n{line}\n")
    got = findings([tmp_path / "go.mod"], code="GR007")
    if want is None:
        assert got == []
    else:
        (f,) = got
        assert f[1] == (3 if line else 1)
        assert {"too-old": "below the minimum 1.23", "malformed": "is not a Go version", "missing": "has no go directive"}[want] in f[4]


def test_gr007_minimum_option_and_bad_option(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/a\n\ngo 1.23.5\n")
    (tmp_path / ".gorules.toml").write_text('[rules.GR007]\nminimum = "1.24"\n')
    (f,) = findings([tmp_path / "go.mod"], load_config(tmp_path / ".gorules.toml"), code="GR007")
    assert "below the minimum 1.24" in f[4]
    (tmp_path / ".gorules.toml").write_text('[rules.GR007]\nminimum = "1.x"\n')
    res = scan([str(tmp_path / "go.mod")], load_config(tmp_path / ".gorules.toml"))
    (f,) = [f for f in res.findings if f.code == "GR000"]
    assert "minimum = '1.x' is not a Go language version" in f.message


# ---------------------------------------------------------------------------
# GR009 on go.mod and .go


def test_gr009_severity_by_ring_and_cap(tmp_path):
    write(
        tmp_path,
        {
            "radar.toml": """
                [[entry]]
                path = "example.com/held"
                ring = "hold"
                replacement = "example.com/better"

                [[entry]]
                path = "example.com/maybe"
                ring = "assess"

                [[entry]]
                path = "example.com/trying"
                ring = "trial"

                [[entry]]
                path = "example.com/good"
                ring = "adopt"
                """,
            ".gorules.toml": 'radar = "radar.toml"\n',
            "svc/go.mod": """
                module example.com/svc

                go 1.23

                require (
                	example.com/held v1.0.0
                	example.com/maybe v1.0.0
                	example.com/trying v1.0.0
                	example.com/good v1.0.0
                	example.com/heldx v1.0.0
                	example.com/held/v2 v2.0.0 // indirect
                )

                exclude example.com/held v0.9.0

                replace example.com/maybe => example.com/maybe v1.0.1
                """,
            "svc/a.go": """
                package svc

                import (
                	h "example.com/held/sub"
                	_ "example.com/maybe"
                	"example.com/trying"
                	"example.com/good"
                )
                """,
        },
    )
    cfg = load_config(tmp_path / ".gorules.toml")
    got = [(f[0], f[1], f[3]) for f in findings([tmp_path], cfg, code="GR009")]
    assert got == [
        ("svc/a.go", 4, "error"),
        ("svc/a.go", 5, "warning"),
        ("svc/a.go", 6, "note"),
        ("svc/go.mod", 6, "error"),
        ("svc/go.mod", 7, "warning"),
        ("svc/go.mod", 8, "note"),
        ("svc/go.mod", 11, "error"),
    ]
    msgs = {(f[0], f[1]): f[4] for f in findings([tmp_path], cfg, code="GR009")}
    assert "use example.com/better instead" in msgs[("svc/a.go", 4)]
    assert "example.com/held/sub (radar entry example.com/held)" in msgs[("svc/a.go", 4)]
    assert "go mod why -m example.com/held" in msgs[("svc/go.mod", 11)]
    # a configured severity caps the rings; indirect = false leaves indirect requires alone
    (tmp_path / ".gorules.toml").write_text('radar = "radar.toml"\n[rules.GR009]\nseverity = "warning"\nindirect = false\n')
    cfg = load_config(tmp_path / ".gorules.toml")
    got = [(f[1], f[3]) for f in findings([tmp_path / "svc/go.mod"], cfg, code="GR009")]
    assert got == [(6, "warning"), (7, "warning"), (8, "note")]


def test_radar_config_errors_name_the_file_and_line(tmp_path):
    (tmp_path / ".gorules.toml").write_text('# team config\nradar = "missing.toml"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / ".gorules.toml")
    assert str(exc.value).startswith(f"{tmp_path / '.gorules.toml'}:2: radar file 'missing.toml' not found")
    (tmp_path / ".gorules.toml").write_text('radar = "../elsewhere/radar.toml"\n')
    with pytest.raises(ConfigError, match="outside this repository"):
        load_config(tmp_path / ".gorules.toml")
    (tmp_path / "radar.toml").write_text('[[entry]]\npath = "a.b/c"\nring = "hold"\n\n[[entry]]\npath = "a.b/c"\nring = "Trial"\n')
    (tmp_path / ".gorules.toml").write_text('radar = "radar.toml"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / ".gorules.toml")
    assert str(exc.value).startswith(f"{tmp_path / 'radar.toml'}:6: duplicate entry 'a.b/c': already listed at line 2")
    (tmp_path / ".gorules.toml").write_text('[rules.GR009]\nradar = "radar-2024q3"\n')
    assert load_config(tmp_path / ".gorules.toml").rules["GR009"].options["radar"].endswith("radar-2024q3.toml")


def test_module_rules_never_run_repository_code(tmp_path):
    """A module whose files would do something if run: only bytes are read."""
    marker = tmp_path / "ran"
    write(
        tmp_path,
        {
            "go.mod": "module example.com/x\n\ngo 1.23\n\nrequire github.com/rs/zerolog v1.33.0\n",
            "gen.go": f'//go:build ignore\n\n//go:generate touch {marker}\npackage main\n\nimport "github.com/rs/zerolog"\n',
            "tools.go": f'package x\n\n// #cgo LDFLAGS: -Wl,--something\n// int x() {{ return system("touch {marker}"); }}\nimport "C"\n',
        },
    )
    findings([tmp_path])
    assert not marker.exists()


def test_radar_may_live_anywhere_in_the_git_work_tree(tmp_path):
    import git

    git.Repo.init(tmp_path)
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy/radar.toml").write_text('[[entry]]\npath = "example.com/old"\nring = "hold"\n')
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc/.gorules.toml").write_text('radar = "../policy/radar.toml"\n')
    cfg = load_config(tmp_path / "svc/.gorules.toml")
    assert cfg.rules["GR009"].options["radar"] == str(tmp_path / "policy/radar.toml")
    (tmp_path / "svc/.gorules.toml").write_text('radar = "../../radar.toml"\n')
    with pytest.raises(ConfigError, match="outside this repository"):
        load_config(tmp_path / "svc/.gorules.toml")


def test_gr009_prefilter_knows_a_radar_set_without_load_config(tmp_path):
    """A Config built in code (the MR bot's way) with GR009's radar option set directly."""
    from golint_rules import radar

    (tmp_path / "r.toml").write_text('[[entry]]\npath = "example.org/unusual/lib"\nring = "hold"\n')
    (tmp_path / "a.go").write_text('package a\n\nimport _ "example.org/unusual/lib"\n')
    cfg = load_config()
    cfg.rules["GR009"].options["radar"] = str(tmp_path / "r.toml")
    radar._TOKENS.discard(b"example.org/unusual/lib")
    assert [(f[1], f[2]) for f in findings([tmp_path / "a.go"], cfg)] == [(3, "GR009")]
