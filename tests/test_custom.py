"""Declarative custom rules (custom.py): predicates, validation with file:line, running, reporting."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import tree_sitter as ts

from golint_rules import custom, parsing
from golint_rules.config import ConfigError, load_config
from golint_rules.engine import Engine, scan

ROOT = Path(__file__).resolve().parent.parent

SNIPPET = b"""package p

import (
	"fmt"
	f2 "fmt"
)

func run() {
	fmt.Println("a")
	fmt.Printf("b")
	f2.Sprintf("c")
	log.Println("d")
}
"""


def selector_calls(predicates: str) -> list[str]:
    q = ts.Query(
        parsing.GO_LANGUAGE,
        f"(call_expression function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn) {predicates})",
    )
    tree = parsing.parse(SNIPPET)
    return [f"{m['pkg'][0].text.decode()}.{m['fn'][0].text.decode()}" for _, m in ts.QueryCursor(q).matches(tree.root_node)]


ALL = ["fmt.Println", "fmt.Printf", "f2.Sprintf", "log.Println"]


@pytest.mark.parametrize(
    "predicates,want",
    [
        ('(#eq? @pkg "fmt")', ["fmt.Println", "fmt.Printf"]),
        ('(#not-eq? @pkg "fmt")', ["f2.Sprintf", "log.Println"]),
        ('(#match? @fn "^Print")', ["fmt.Println", "fmt.Printf", "log.Println"]),
        ('(#not-match? @fn "^Print")', ["f2.Sprintf"]),
        ('(#any-of? @pkg "f2" "log")', ["f2.Sprintf", "log.Println"]),
        ('(#eq? @pkg "fmt") (#match? @fn "f$")', ["fmt.Printf"]),
        ("(#eq? @pkg @fn)", []),
    ],
)
def test_py_tree_sitter_applies_the_standard_predicates_natively(predicates, want):
    """What custom.py relies on: QueryCursor.matches filters on these predicates by itself."""
    assert selector_calls(predicates) == want


def test_not_any_of_is_not_applied_natively_hence_refused():
    assert selector_calls('(#not-any-of? @pkg "fmt" "log")') == ALL  # accepted, silently not applied
    with pytest.raises(ConfigError, match="does not apply it"):
        load_rules('query = """(call_expression) @c (#not-any-of? @c "x")"""')


def load_rules(body: str, tmp: Path | None = None, extra: str = ""):
    text = f'[[custom-rules]]\nid = "ACME001"\nmessage = "m"\n{body}\n{extra}'
    import tomllib

    data = tomllib.loads(text)
    return custom.load_rules(data["custom-rules"], text, Path("/repo/.gorules.toml"), Path("/repo"))


def config_with(tmp_path: Path, text: str):
    (tmp_path / ".gorules.toml").write_text(textwrap.dedent(text).lstrip("\n"))
    return load_config(tmp_path / ".gorules.toml")


@pytest.mark.parametrize(
    "toml,line,fragment",
    [
        (
            """
            # rules of the orders team

            [[custom-rules]]
            id = "ACME001"
            message = "no"
            query = '''
            (call_expression
              function: (identifer) @f)
            '''
            """,
            8,
            "does not compile for the Go grammar: Invalid node type at row 1, column 13: identifer",
        ),
        (
            """
            [[custom-rules]]
            id = "ACME001"
            message = "no"
            query = '''
            (call_expression
              function: (identifier) @f
              (#match? @f "("))
            '''
            """,
            5,
            "does not compile",
        ),
        ('[[custom-rules]]\nid = "ACME001"\nmessage = "no"\nquery = "(call_expression (#eq? @x \\"a\\")) @c"\n', 4, "Invalid capture name"),
        ('[[custom-rules]]\nid = "ACME001"\nmessage = "no"\nquery = "(call_expression) @c (#is-nice? @c)"\n', 4, "unsupported predicate #is-nice?"),
        ('[[custom-rules]]\nid = "ACME001"\nmessage = "no"\nquery = "(call_expression)"\n', 4, "has no capture"),
        ('[[custom-rules]]\nid = "ACME001"\nmessage = "no {fn}"\nquery = "(call_expression) @c"\n', 3, "uses {fn}, which the query does not capture"),
        ('[[custom-rules]]\nid = "acme1"\nmessage = "no"\nquery = "(call_expression) @c"\n', 2, "must be upper-case"),
        ('[[custom-rules]]\nid = "GR013"\nmessage = "no"\nquery = "(call_expression) @c"\n', 2, "reserved for the built-in rules"),
        ('[[custom-rules]]\nid = "ACME001"\nseverity = "fatal"\nmessage = "no"\nquery = "(call_expression) @c"\n', 3, "severity of ACME001 must be one of"),
        ('[[custom-rules]]\nid = "ACME001"\nmesage = "no"\nquery = "(call_expression) @c"\n', 3, "did you mean 'message'"),
        ('[[custom-rules]]\nid = "ACME001"\nquery = "(call_expression) @c"\n', 1, "has no 'message'"),
        ('[[custom-rules]]\nid = "ACME001"\nmessage = "no"\nquery = "(call_expression) @c"\nreport = "x"\n', 5, "has no capture @x"),
        ('[[custom-rules]]\nid = "ACME001"\nmessage = "no"\nquery = "(call_expression) @c"\npaths = "internal"\n', 5, "must be a list of globs"),
        (
            '[[custom-rules]]\nid = "ACME001"\nmessage = "a"\nquery = "(call_expression) @c"\n\n'
            '[[custom-rules]]\nid = "ACME001"\nmessage = "b"\nquery = "(call_expression) @c"\n',
            7,
            "already used by the rule at",
        ),
        ('[[custom-rules]]\nid = "ACME001"\nmessage = "no"\nquery = "(identifier) @c (#package? @c)"\n', 4, "#package? takes a capture and an import path"),
        ('custom-rules = ["../shared/rules.toml"]\n', 1, "outside this repository"),
        ('custom-rules = ["policy/missing.toml"]\n', 1, "not found"),
        ('custom-rules = ["examples/nothing-like-this"]\n', 1, "no shipped custom rules named"),
    ],
)
def test_custom_rules_are_validated_with_file_and_line(tmp_path, toml, line, fragment):
    cfg = config_with(tmp_path, toml)
    with pytest.raises(ConfigError) as exc:
        Engine(cfg)
    assert exc.value.line == line, str(exc.value)
    assert exc.value.path == str(tmp_path / ".gorules.toml")
    assert fragment in exc.value.message


def test_errors_in_an_included_policy_file_name_that_file(tmp_path):
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy/acme.toml").write_text('# shared\n\n[[custom-rules]]\nid = "ACME001"\nmessage = "m"\nquery = "(foo) @x"\n')
    cfg = config_with(tmp_path, 'custom-rules = ["policy/acme.toml"]\n')
    with pytest.raises(ConfigError) as exc:
        Engine(cfg)
    assert exc.value.path == str(tmp_path / "policy/acme.toml") and exc.value.line == 6


def test_custom_rule_runs_like_a_built_in_rule(tmp_path):
    (tmp_path / "internal").mkdir()
    (tmp_path / "internal/a.go").write_text('package a\n\nimport out "fmt"\n\nfunc A() {\n\tout.Println("x") // gorules:ignore ACME002 -- demo output\n\tout.Print("y")\n}\n')
    (tmp_path / "internal/a_test.go").write_text('package a\n\nimport "fmt"\n\nfunc B() { fmt.Println("t") }\n')
    (tmp_path / "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt := struct{ Println func(string) }{}\n\tfmt.Println("shadowed")\n}\n')
    cfg = config_with(
        tmp_path,
        """
        [[custom-rules]]
        id = "ACME002"
        slug = "no-stdout"
        severity = "error"
        description = "Services log through slog."
        message = "{pkg}.{fn} writes to stdout: use slog"
        query = '''
        (call_expression
          function: (selector_expression
            operand: (identifier) @pkg
            field: (field_identifier) @fn)
          (#package? @pkg "fmt")
          (#match? @fn "^Print")) @call
        '''
        paths = ["**", "!**/*_test.go"]
        """,
    )
    res = scan([str(tmp_path)], cfg)
    got = [(f.path, f.line, f.code, f.slug, f.severity, f.message) for f in res.findings]
    assert got == [("internal/a.go", 7, "ACME002", "no-stdout", "error", "out.Print writes to stdout: use slog")]
    info = res.rules["ACME002"]
    assert info.custom and info.summary == "Services log through slog." and "(#package? @pkg" in info.doc
    # every reporter sees it as a rule: SARIF carries its descriptor, JSON its finding
    from golint_rules.reporters import json_report, sarif

    log = sarif.build(res, tool_version="test")
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert "ACME002" in rules and rules["ACME002"]["name"]
    assert log["runs"][0]["results"][0]["ruleId"] == "ACME002"
    data = json.loads(json_report.render(res, tool_version="test")) if hasattr(json_report, "render") else None
    if data is not None:
        assert "ACME002" in json.dumps(data)


def test_unless_report_and_generated_files(tmp_path):
    (tmp_path / "spec.go").write_text(
        'package p\n\nimport (\n\t"runtime"\n\n\t"github.com/cilium/ebpf"\n)\n\n'
        "var a = ebpf.MapSpec{Type: ebpf.PerfEventArray, MaxEntries: 4}\n"
        "var b = ebpf.MapSpec{Type: ebpf.PerfEventArray, MaxEntries: uint32(runtime.NumCPU())}\n"
    )
    (tmp_path / "gen.go").write_text(
        '// Code generated by bpf2go; DO NOT EDIT.\n\npackage p\n\nimport "github.com/cilium/ebpf"\n\n'
        "var g = ebpf.MapSpec{Type: ebpf.PerfEventArray}\n"
    )
    cfg = config_with(tmp_path, 'custom-rules = ["examples/ebpf-perf-event-array"]\n')
    res = scan([str(tmp_path)], cfg)
    assert [(f.path, f.line, f.code, f.column) for f in res.findings] == [("spec.go", 9, "EBPF001", 9)]


def test_disabled_rule_and_prefilter(tmp_path):
    cfg = config_with(
        tmp_path,
        """
        [[custom-rules]]
        id = "ACME003"
        enabled = false
        message = "panic"
        query = '((call_expression function: (identifier) @f) (#eq? @f "panic")) @call'
        """,
    )
    (tmp_path / "a.go").write_text("package a\n\nfunc A() { panic(1) }\n")
    eng = Engine(cfg)
    assert "ACME003" in eng.rules and not eng.rules["ACME003"].enabled
    assert not any(a.code == "ACME003" for a in eng.analyzers)
    assert scan([str(tmp_path)], cfg).findings == []
    rules = custom.load_rules(cfg.custom_rules, cfg.raw_text, cfg.path, cfg.root)
    assert rules[0].needs == (b"panic",)  # files without "panic" are never parsed for it


def test_shipped_example_is_valid_and_has_a_fixture():
    text = (ROOT / "rules/examples/ebpf-perf-event-array.toml").read_text()
    import tomllib

    (rule,) = custom.load_rules(tomllib.loads(text)["custom-rules"], text, ROOT / "rules/examples/x.toml", ROOT)
    assert rule.id == "EBPF001" and rule.severity == "error" and rule.unless is not None
    fixture = ROOT / "fixtures/custom/ebpf/probe/maps.go"
    assert "// want EBPF001" in fixture.read_text()


def test_any_predicates_on_quantified_captures_are_native():
    tree = parsing.parse(b"package p\n\n// a\n// b\nfunc f() {}\n")

    def count(pred: str) -> int:
        q = ts.Query(parsing.GO_LANGUAGE, f"((comment)+ @c {pred})")
        return len(ts.QueryCursor(q).matches(tree.root_node))

    assert count('(#eq? @c "// a")') == 0  # every node must equal
    assert count('(#any-eq? @c "// a")') == 1  # one node is enough
    assert count('(#match? @c "b")') == 0
    assert count('(#any-match? @c "b")') == 1
    assert count('(#any-not-eq? @c "// a")') == 1


def test_prefilter_only_from_captures_every_match_has():
    import tomllib

    def needs(query: str) -> tuple[bytes, ...]:
        text = f'[[custom-rules]]\nid = "ACME001"\nmessage = "m"\nquery = """{query}"""\n'
        (r,) = custom.load_rules(tomllib.loads(text)["custom-rules"], text, Path("/r/.gorules.toml"), Path("/r"))
        return r.needs

    assert needs('((call_expression function: (identifier) @f) @c (#eq? @f "panic"))') == (b"panic",)
    # an optional capture: a match may have no node to compare, so the literal proves nothing
    assert needs('((function_declaration (comment)? @doc) @f (#eq? @doc "// x"))') == ()
    assert needs('((identifier) @a (#eq? @a "x")) ((field_identifier) @b)') == ()  # 2nd pattern matches anywhere
    assert needs('((identifier) @a (#eq? @a "xy")) ((field_identifier) @b (#any-eq? @b "z"))') == (b"xy", b"z")
