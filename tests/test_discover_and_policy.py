"""Discovery like the go tool, suppressions, and policy from .gorules.toml."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from golint_rules import config, engine
from golint_rules.discover import discover

BAD = "package p\n\nfunc F() {\n\tdefer func() {\n\t\tgo g()\n\t}()\n}\n\nfunc g() {}\n"


def write(root: Path, rel: str, text: str = BAD) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def rels(root: Path) -> set[str]:
    d = discover([root])
    return {d.relpath(f) for f in d.go_files} | {d.relpath(f) for f in d.module_files}


def test_skips_what_the_go_tool_skips(tmp_path: Path):
    for rel in ["a.go", "vendor/v/v.go", "testdata/t.go", ".hidden/h.go", "_tmp/t.go", "sub/testdata/x.go",
                "sub/ok.go", "sub/go.mod", "README.md"]:
        write(tmp_path, rel)
    assert rels(tmp_path) == {"a.go", "sub/ok.go", "sub/go.mod"}


def test_honours_gitignore_in_a_work_tree(tmp_path: Path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write(tmp_path, ".gitignore", "gen/\n*_mock.go\n")
    write(tmp_path, "a.go")
    write(tmp_path, "a_mock.go")
    write(tmp_path, "gen/g.go")
    write(tmp_path, "pkg/b.go")
    assert rels(tmp_path) == {"a.go", "pkg/b.go"}
    # scanning a subdirectory reports paths relative to the work tree root
    r = engine.scan([tmp_path / "pkg"], config.load_config())
    assert [f.path for f in r.findings] == ["pkg/b.go"]


def test_explicit_file_is_scanned_even_if_ignored(tmp_path: Path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write(tmp_path, ".gitignore", "*.go\n")
    f = write(tmp_path, "x.go")
    r = engine.scan([f], config.load_config())
    assert [x.code for x in r.findings] == ["GR001"]


def scan_codes(root: Path, cfg=None, **opts):
    r = engine.scan([root], cfg or config.load_config(search_from=root), engine.ScanOptions(**opts))
    return [(f.path, f.line, f.code) for f in r.findings]


def test_suppressions(tmp_path: Path):
    write(tmp_path, "same_line.go", BAD.replace("go g()", "go g() // gorules:ignore GR001 -- flushes a bounded buffer"))
    write(tmp_path, "line_above.go", BAD.replace("\t\tgo g()", "\t\t// gorules:ignore GR001 -- reviewed in PLAT-7\n\t\tgo g()"))
    write(tmp_path, "no_reason.go", BAD.replace("go g()", "go g() // gorules:ignore GR001"))
    write(tmp_path, "whole_file.go", "// gorules:ignore-file GR001 -- legacy shim, removed in Q4\n" + BAD)
    write(tmp_path, "unknown.go", BAD.replace("go g()", "go g() // gorules:ignore GR001,GR777 -- x"))
    write(tmp_path, "unused.go", "package p\n\n// gorules:ignore GR001 -- nothing here\nfunc H() {}\n")
    got = scan_codes(tmp_path)
    assert ("same_line.go", 5, "GR001") not in got
    assert not [g for g in got if g[0] in ("line_above.go", "whole_file.go")]
    # a reasonless suppression suppresses nothing and is reported
    assert ("no_reason.go", 5, "GR001") in got and ("no_reason.go", 5, "GR000") in got
    assert ("unknown.go", 5, "GR000") in got and ("unknown.go", 5, "GR001") not in got
    assert not [g for g in got if g[0] == "unused.go"]
    got = scan_codes(tmp_path, report_unused_ignores=True)
    assert ("unused.go", 3, "GR000") in got
    assert ("same_line.go", 5, "GR000") not in got


def test_policy_severity_disable_exclude_per_path(tmp_path: Path):
    write(tmp_path, "a.go")
    write(tmp_path, "gen/b.go")
    write(tmp_path, "cmd/legacy/c.go")
    write(tmp_path, "go.mod", "module example.com/x\n\ngo 1.23\n\nreplace a => ../a\n")
    (tmp_path / ".gorules.toml").write_text(
        'extends = "v2.3"\nexclude = ["gen/**"]\n\n[rules.GR001]\nseverity = "note"\n\n'
        '[per-path-ignores]\n"cmd/legacy/**" = ["GR001"]\n'
    )
    cfg = config.load_config(search_from=tmp_path)
    r = engine.scan([tmp_path], cfg)
    assert [(f.path, f.code, f.severity) for f in r.findings] == [("a.go", "GR001", "note"), ("go.mod", "GR005", "error")]
    (tmp_path / ".gorules.toml").write_text("[rules.GR005]\nenabled = false\n")
    got = scan_codes(tmp_path)
    assert {c for _, _, c in got} == {"GR001"}


def test_select_and_ignore(tmp_path: Path):
    write(tmp_path, "a.go")
    write(tmp_path, "go.mod", "module example.com/x\n\ngo 1.23\n\nreplace a => ../a\n")
    assert {c for *_, c in scan_codes(tmp_path, select={"GR005"})} == {"GR005"}
    assert {c for *_, c in scan_codes(tmp_path, ignore={"GR005"})} == {"GR001"}


def test_config_found_upward(tmp_path: Path):
    (tmp_path / ".gorules.toml").write_text("[rules.GR001]\nseverity = \"warning\"\n")
    sub = tmp_path / "svc" / "api"
    write(sub, "a.go")
    cfg = config.load_config(search_from=sub)
    assert cfg.path == tmp_path / ".gorules.toml"
    assert cfg.rules["GR001"].severity == "warning"


def test_fingerprints_stable_when_unrelated_lines_move(tmp_path: Path):
    write(tmp_path, "a.go")
    before = engine.scan([tmp_path], config.load_config()).findings[0]
    write(tmp_path, "a.go", BAD.replace("package p\n", "package p\n\n// a new comment\n\nimport _ \"embed\"\n"))
    after = engine.scan([tmp_path], config.load_config()).findings[0]
    assert after.line == before.line + 4
    assert after.fingerprint == before.fingerprint
