"""Machine reports: JSON (v1), SARIF 2.1.0 for GitHub, GitLab Code Quality.

Results are built by hand (to reach every branch) and by running the real
engine over a small Go tree. The SARIF schema is the OASIS file in
../shared/reference (a byte-identical copy ships in tests/data for checkouts
without it).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, Draft202012Validator

from golint_rules import config, engine
from golint_rules.model import Finding, RuleInfo
from golint_rules.reporters import fingerprints, gitlab, json_report, sarif

REPO = Path(__file__).resolve().parents[1]
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


def _schema_path() -> Path:
    shared = REPO.parent / "shared" / "reference" / "sarif-schema-2.1.0.json"
    return shared if shared.is_file() else REPO / "tests" / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def sarif_validator() -> Draft4Validator:
    path = _schema_path()
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def test_shipped_schema_copy_is_the_oasis_file():
    copy_ = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
    assert hashlib.sha256(copy_.read_bytes()).hexdigest() == SCHEMA_SHA256
    shared = REPO.parent / "shared" / "reference" / "sarif-schema-2.1.0.json"
    if shared.is_file():
        assert shared.read_bytes() == copy_.read_bytes()


def _errors(validator: Draft4Validator, log: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


# ---------------------------------------------------------------------------
# primaryLocationLineHash


def reference_line_hashes(text: str) -> list[str]:
    """A straightforward re-statement of GitHub's algorithm, written independently of the port:
    normalise the whole text first, then hash each line's 100-unit window from scratch."""
    norm = text.replace("\r\n", "\n").replace("\r", "\n").replace(" ", "").replace("\t", "")
    units = [b[0] | (b[1] << 8) for b in zip(*[iter(norm.encode("utf-16-le"))] * 2)]
    n = len(units)
    stream = units + [65535] + [0] * 100
    starts = [0] + [i + 1 for i, u in enumerate(units) if u == 10]
    out, seen = [], {}
    for s in starts:
        value = sum(stream[s + j] * 37 ** (99 - j) for j in range(100)) % 2**64
        hx = format(value, "x")
        seen[hx] = seen.get(hx, 0) + 1
        out.append(f"{hx}:{seen[hx]}")
    assert len(out) == norm.count("\n") + 1 and n == len(units)
    return out


# Expected values published in github/codeql-action src/fingerprints.test.ts (test 'hash').
GITHUB_VECTORS = [
    ("", ["c129715d7a2bc9a3:1"]),
    (" a\nb\n  \t\tc\n d", ["271789c17abda88f:1", "54703d4cd895b18:1", "180aee12dab6264:1", "a23a3dc5e078b07b:1"]),
    (
        " hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End",
        ["8b7cf3e952e7aeb2:1", "b1ae1287ec4718d9:1", "bff680108adb0fcc:1", "c6805c5e1288b612:1",
         "b86d3392aea1be30:1", "e6ceba753e1a442:1"],
    ),
    (
        " hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n",
        ["e9496ae3ebfced30:1", "fb7c023a8b9ccb3f:1", "ce8ba1a563dcdaca:1", "e20e36e16fcb0cc8:1",
         "b3edc88f2938467e:1", "c8e28b0b4002a3a0:1", "c129715d7a2bc9a3:1"],
    ),
    (
        " hello; \t\nworld!!!\r\n\n\r  \t\tGreetings\r End\r\n",
        ["e9496ae3ebfced30:1", "fb7c023a8b9ccb3f:1", "ce8ba1a563dcdaca:1", "e20e36e16fcb0cc8:1",
         "b3edc88f2938467e:1", "c8e28b0b4002a3a0:1", "c129715d7a2bc9a3:1"],
    ),
    (
        "Lorem ipsum dolor sit amet.\n" * 10,
        [f"a7f2ff13bc495cf2:{i}" for i in range(1, 7)]
        + ["a7f2ff1481e87703:1", "a9cf91f7bbf1862b:1", "55ec222b86bcae53:1", "cc97dc7b1d7d8f7b:1", "c129715d7a2bc9a3:1"],
    ),
]


@pytest.mark.parametrize("text,expected", GITHUB_VECTORS)
def test_line_hash_port_matches_github_test_vectors(text, expected):
    got = fingerprints.line_hashes(text)
    assert [got[i] for i in sorted(got)] == expected
    assert sorted(got) == list(range(1, len(expected) + 1))
    assert reference_line_hashes(text) == expected  # the reference is right too


SAMPLES = [
    "package main\n\nfunc main() {\n\tdefer func() { go f() }()\n}\n",
    'x := "héllo 😀 wörld"\n\ty := "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"\r\nz\r\r\n \r \n\t\n',
    ("\tgo work()\n" * 30) + "}" + ("a" * 250) + "\nend",
    "no newline at end, but a long line " + "x" * 140,
    "\n\n\n",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_line_hash_port_matches_independent_implementation(text):
    got = fingerprints.line_hashes(text)
    assert [got[i] for i in sorted(got)] == reference_line_hashes(text)


def test_line_hash_of_selected_lines_equals_full_walk():
    text = SAMPLES[2]
    full = fingerprints.line_hashes(text)
    part = fingerprints.line_hashes(text, {3, 17, 31})
    assert part == {k: full[k] for k in (3, 17, 31)}
    assert fingerprints.line_hashes(text, {999}) == {}  # a line past the end gets nothing


# ---------------------------------------------------------------------------
# Hand-built results


def _rules() -> dict[str, RuleInfo]:
    return {
        "GR000": RuleInfo("GR000", "gorules", "note", "gorules could not analyse a file", {"unreadable": "x"}, {}, tags=("tool",)),
        "GR001": RuleInfo("GR001", "defer-go", "error", "no goroutine started from a deferred call", {}, {},
                          tags=("concurrency", "reliability")),
        "GR006": RuleInfo("GR006", "gomod-indirect", "warning", "requires say truthfully whether they are indirect",
                          {}, {}, tags=("modules",)),
        "GR009": RuleInfo("GR009", "tech-radar", "note", "modules on hold", {}, {}, enabled=False),
    }


def _finding(code="GR001", severity="error", path="svc/main.go", line=4, col=2, end_col=4, src="\tgo f()", fp="a" * 32,
             fix=None) -> Finding:
    return Finding(code=code, slug=_rules()[code].slug, severity=severity, message=f"{code} says so", path=path,
                   line=line, column=col, end_line=line, end_column=end_col, column_utf16=col,
                   end_column_utf16=end_col, source_line=src, fingerprint=fp, fix=fix)


GOMOD = "module example.com/svc\n\ngo 1.22\n\nrequire (\n\tgolang.org/x/sys v0.20.0\n)\n"
INDIRECT_FIX = {
    "description": "mark golang.org/x/sys // indirect",
    "replacements": [{"path": "go.mod", "start_line": 6, "end_line": 6,
                      "new_text": "\tgolang.org/x/sys v0.20.0 // indirect"}],
}


@pytest.fixture
def hand_result(tmp_path: Path) -> engine.ScanResult:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "main.go").write_text("package main\n\nfunc main() {\n\tgo f()\n}\n")
    (tmp_path / "go.mod").write_text(GOMOD)
    findings = [
        _finding(path="go.mod", code="GR006", severity="warning", line=6, col=2, end_col=25,
                 src="\tgolang.org/x/sys v0.20.0", fp="b" * 32, fix=INDIRECT_FIX),
        _finding(),
        _finding(path="svc/main.go", line=4, col=3, end_col=5, fp="a" * 32),  # same fingerprint: must be split
        _finding(code="GR000", severity="note", path="gone/missing file ä.go", line=1, col=1, end_col=0, src="", fp=""),
    ]
    findings[-1].end_line = 0
    findings[-1].end_column_utf16 = 0
    return engine.ScanResult(root=tmp_path, findings=findings, rules=_rules(), files_scanned=3, files_parsed=1)


def test_sarif_from_hand_built_result_is_valid_and_github_ready(hand_result, sarif_validator):
    text = sarif.render(hand_result, tool_version="0.1.0")
    log = json.loads(text)
    assert _errors(sarif_validator, log) == []
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "gorules" and driver["semanticVersion"] == "0.1.0"
    assert run["columnKind"] == "utf16CodeUnits"
    assert run["automationDetails"]["id"] == "gorules/"
    ids = [r["id"] for r in driver["rules"]]
    assert ids == sorted(hand_result.rules)  # every rule of the policy, in a fixed order
    for rule in driver["rules"]:
        for key in ("shortDescription", "fullDescription"):
            assert 0 < len(rule[key]["text"]) <= 1024
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert rule["properties"]["precision"] in ("very-high", "high", "medium", "low")
        assert isinstance(rule["properties"]["tags"], list)
    gr009 = driver["rules"][ids.index("GR009")]
    assert gr009["defaultConfiguration"] == {"level": "note", "enabled": False}
    for res in run["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert len(res["locations"]) == 1
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not loc["artifactLocation"]["uri"].startswith("/")
    # the only complaint: the GR000 finding's file does not exist, so it has no end column and no line hash
    problems = sarif.github_problems(log, text)
    assert problems and all("result 3" in p for p in problems), problems


def test_sarif_the_rule_doc_page_is_the_help(hand_result):
    from golint_rules.checks import module_doc

    run = json.loads(sarif.render(hand_result, tool_version="0.1.0"))["runs"][0]
    gr001 = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "GR001")
    doc = module_doc("GR001")
    if doc:  # the check module exists in this checkout
        first = doc.strip().splitlines()[0]
        assert first in gr001["help"]["markdown"] and first in gr001["help"]["text"]
        assert gr001["fullDescription"]["text"] != gr001["shortDescription"]["text"]
    assert gr001["helpUri"].endswith("/GR001")


def test_sarif_results_locations_fingerprints_fixes(hand_result):
    run = json.loads(sarif.render(hand_result, tool_version="0.1.0"))["runs"][0]
    res = run["results"]
    mod, a, b, gone = res
    assert mod["ruleId"] == "GR006" and mod["level"] == "warning"
    assert mod["locations"][0]["physicalLocation"]["region"] == {"startLine": 6, "startColumn": 2, "endLine": 6, "endColumn": 25}
    assert mod["partialFingerprints"]["primaryLocationLineHash"] == reference_line_hashes(GOMOD)[5]
    assert a["partialFingerprints"]["primaryLocationLineHash"] == fingerprints.line_hashes(
        (hand_result.root / "svc/main.go").read_text())[4]
    # the two GR001 findings shared an engine fingerprint: the report keeps them apart
    assert a["partialFingerprints"]["gorules/v1"] == "a" * 32
    assert b["partialFingerprints"]["gorules/v1"] not in ("a" * 32, "")
    # an unreadable file: no line hash, but still a located result with our fingerprint
    assert "primaryLocationLineHash" not in gone["partialFingerprints"]
    assert gone["partialFingerprints"]["gorules/v1"]
    assert gone["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "gone/missing%20file%20%C3%A4.go"
    # the fix, as SARIF: whole line 6 of go.mod (23 UTF-16 units + 1) replaced
    (fix,) = mod["fixes"]
    assert fix["description"]["text"] == INDIRECT_FIX["description"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "go.mod", "uriBaseId": "%SRCROOT%"}
    assert change["replacements"] == [{
        "deletedRegion": {"startLine": 6, "startColumn": 1, "endLine": 6, "endColumn": len("\tgolang.org/x/sys v0.20.0") + 1},
        "insertedContent": {"text": "\tgolang.org/x/sys v0.20.0 // indirect"},
    }]
    assert "fixes" not in a


def test_sarif_fix_applies_to_the_file(hand_result):
    """Applying the SARIF replacement by its own coordinates yields the intended go.mod."""
    run = json.loads(sarif.render(hand_result, tool_version="0.1.0"))["runs"][0]
    rep = run["results"][0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    lines = GOMOD.split("\n")
    reg = rep["deletedRegion"]
    ln = lines[reg["startLine"] - 1]
    lines[reg["startLine"] - 1] = ln[: reg["startColumn"] - 1] + rep["insertedContent"]["text"] + ln[reg["endColumn"] - 1:]
    assert "\n".join(lines) == GOMOD.replace("v0.20.0\n", "v0.20.0 // indirect\n")


@pytest.mark.parametrize(
    "fix,needle",
    [
        ({"replacements": INDIRECT_FIX["replacements"]}, "description"),
        ({"description": "x", "replacements": []}, "non-empty list"),
        ({"description": "x", "replacements": [{"path": "/etc/go.mod", "start_line": 1, "end_line": 1, "new_text": ""}]}, "path"),
        ({"description": "x", "replacements": [{"path": "go.mod", "start_line": 3, "end_line": 2, "new_text": ""}]}, "end_line"),
        ({"description": "x", "replacements": [{"path": "go.mod", "start_line": 1, "end_line": 1, "new_text": None}]}, "new_text"),
        ({"description": "x", "replacements": [{"path": "go.mod", "start_line": 1, "end_line": 2, "new_text": ""},
                                               {"path": "go.mod", "start_line": 2, "end_line": 2, "new_text": ""}]}, "overlaps"),
        ({"description": "x", "edits": []}, "unknown fix key"),
    ],
)
def test_malformed_fix_is_an_error_that_names_the_rule(hand_result, fix, needle):
    hand_result.findings[0].fix = fix
    for mod in (sarif, json_report):
        with pytest.raises(ValueError, match=needle) as exc:
            mod.render(hand_result, tool_version="0.1.0")
        assert "go.mod:6: GR006" in str(exc.value) and "--ignore GR006" in str(exc.value)


def test_sarif_path_outside_root_is_an_absolute_uri(tmp_path, sarif_validator):
    (tmp_path / "root").mkdir()
    (tmp_path / "other.go").write_text("package x\n")
    f = _finding(path="../other.go", line=1, src="package x")
    result = engine.ScanResult(root=tmp_path / "root", findings=[f], rules=_rules())
    log = json.loads(sarif.render(result, tool_version="0.1.0"))
    assert _errors(sarif_validator, log) == []
    art = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art == {"uri": (tmp_path / "other.go").as_uri()}
    assert "primaryLocationLineHash" not in log["runs"][0]["results"][0]["partialFingerprints"]


def test_sarif_empty_scan_is_valid(tmp_path, sarif_validator):
    result = engine.ScanResult(root=tmp_path, findings=[], rules=_rules())
    log = json.loads(sarif.render(result, tool_version="0.1.0"))
    assert _errors(sarif_validator, log) == [] and log["runs"][0]["results"] == []
    assert sarif.github_problems(log) == []


@pytest.mark.parametrize(
    "breakage,needle",
    [
        (lambda log: log.update(version="2.0.0"), "'2.1.0'"),
        (lambda log: log.pop("runs"), "'runs' is a required property"),
        (lambda log: log["runs"][0]["results"][0].update(level="critical"), "'critical'"),
        (lambda log: log["runs"][0]["tool"]["driver"].update(information_uri="x"), "information_uri"),
        (lambda log: log["runs"][0]["tool"]["driver"].pop("name"), "'name' is a required property"),
        (lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(startLine=0), "0"),
        (lambda log: log["runs"][0]["results"][0].update(message={"markdown": "x"}), "message"),
        (lambda log: log["runs"][0].update(columnKind="bytes"), "'bytes'"),
        (lambda log: log["runs"][0]["results"][0]["partialFingerprints"].update(x=1), "1 is not of type 'string'"),
    ],
)
def test_a_broken_log_is_rejected(hand_result, sarif_validator, breakage, needle):
    log = json.loads(sarif.render(hand_result, tool_version="0.1.0"))
    assert _errors(sarif_validator, log) == []
    broken = copy.deepcopy(log)
    breakage(broken)
    errors = _errors(sarif_validator, broken)
    assert errors, "the schema accepted a broken log"
    assert any(needle in e for e in errors), errors


def test_github_checks_catch_what_the_schema_allows(hand_result):
    log = json.loads(sarif.render(hand_result, tool_version="0.1.0"))
    run = log["runs"][0]
    run["results"][1]["ruleIndex"] = 0
    run["tool"]["driver"]["rules"][1]["shortDescription"]["text"] = "x" * 1025
    run["tool"]["driver"]["rules"][1]["properties"]["tags"] = [str(i) for i in range(21)]
    run["results"][2]["locations"][0]["physicalLocation"]["region"]["endColumn"] = 1
    log["runs"].append(copy.deepcopy(run))
    problems = "\n".join(sarif.github_problems(log))
    for needle in ("ruleIndex 0 does not point", "longer than 1024", "21 tags", "endColumn before startColumn",
                   "share tool and category"):
        assert needle in problems


# ---------------------------------------------------------------------------
# GitLab Code Quality, hand-built


def test_gitlab_entries_valid_unique_and_mapped(hand_result):
    text = gitlab.render(hand_result, tool_version="0.1.0")
    assert not text.startswith("\ufeff") and not text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    entries = json.loads(text)
    assert isinstance(entries, list) and len(entries) == len(hand_result.findings)
    gl = Draft202012Validator(gitlab.GITLAB_ENTRY_SCHEMA)
    for e in entries:
        assert list(gl.iter_errors(e)) == [] and gitlab.entry_problems(e) == []
    assert [e["severity"] for e in entries] == ["major", "critical", "critical", "minor"]
    assert [e["check_name"] for e in entries] == ["gorules/GR006", "gorules/GR001", "gorules/GR001", "gorules/GR000"]
    fps = [e["fingerprint"] for e in entries]
    assert len(set(fps)) == len(fps)
    assert entries[0]["location"] == {"path": "go.mod", "lines": {"begin": 6, "end": 6}}
    assert entries[0]["categories"] == ["Compatibility"]  # tag "modules"
    assert entries[1]["categories"] == ["Bug Risk"]  # tags concurrency, reliability: the default
    assert entries[1]["description"].startswith("GR001 defer-go: ")


def test_gitlab_empty_report_is_an_empty_array(tmp_path):
    assert gitlab.render(engine.ScanResult(root=tmp_path, findings=[], rules=_rules()), tool_version="0") == "[]"


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda e: e["location"]["lines"].update(begin="12"), "GitLab schema: '12' is not of type 'integer'"),
        (lambda e: e.pop("fingerprint"), "GitLab schema: 'fingerprint' is a required property"),
        (lambda e: e.update(severity="high"), "gorules schema: 'high' is not one of"),
        (lambda e: e["location"].update(path="/abs/main.go"), "gorules schema"),
        (lambda e: e["location"].update(path="svc\\main.go"), "gorules schema"),
        (lambda e: e.update(check_name="GR001"), "gorules schema"),
        (lambda e: e["location"]["lines"].update(end=1), "end is before"),
    ],
)
def test_gitlab_entry_check_rejects_bad_entries(hand_result, mutate, needle):
    entry = gitlab.build(hand_result)[1]
    assert gitlab.entry_problems(entry) == []
    mutate(entry)
    problems = gitlab.entry_problems(entry)
    assert any(needle in p for p in problems), problems


def test_gitlab_refuses_to_write_an_invalid_entry(hand_result):
    hand_result.findings[1].severity = "fatal"
    with pytest.raises(ValueError, match="nothing was written"):
        gitlab.render(hand_result, tool_version="0.1.0")


def test_report_fingerprints_disambiguate_deterministically():
    fs = [_finding(fp="x" * 32), _finding(fp="x" * 32), _finding(fp="x" * 32), _finding(fp="")]
    one = fingerprints.report_fingerprints(fs)
    assert one == fingerprints.report_fingerprints(copy.deepcopy(fs))
    assert len(set(one)) == 4 and one[0] == "x" * 32
    # the fallback for a finding the engine could not fingerprint ignores the line number
    moved = copy.deepcopy(fs[3])
    moved.line += 40
    assert fingerprints.report_fingerprints([moved]) == fingerprints.report_fingerprints([fs[3]])


# ---------------------------------------------------------------------------
# JSON


def test_json_report_v1_matches_its_schema(hand_result):
    text = json_report.render(hand_result, tool_version="0.1.0")
    data = json.loads(text)
    assert list(Draft202012Validator(json_report.SCHEMA).iter_errors(data)) == []
    assert data["version"] == 1 and data["tool"]["version"] == "0.1.0"
    assert data["root"] == str(hand_result.root)
    assert data["summary"]["findings"] == 4
    assert data["summary"]["by_severity"] == {"error": 2, "warning": 1, "note": 1}
    assert data["summary"]["by_rule"] == {"GR000": 1, "GR001": 2, "GR006": 1}
    assert data["findings"][0]["fix"] == INDIRECT_FIX
    fps = [f["fingerprint"] for f in data["findings"]]
    assert len(set(fps)) == 4
    assert text == json_report.render(hand_result, tool_version="0.1.0")  # deterministic
    bad = copy.deepcopy(data)
    bad["findings"][0]["line"] = 0
    assert list(Draft202012Validator(json_report.SCHEMA).iter_errors(bad))


def test_output_formats_doc_names_every_json_field():
    doc = (REPO / "docs" / "output-formats.md").read_text(encoding="utf-8")
    props = json_report.SCHEMA["properties"]
    names = set(props) | set(props["tool"]["properties"]) | set(props["summary"]["properties"])
    names |= set(props["rules"]["additionalProperties"]["properties"])
    item = props["findings"]["items"]["properties"]
    names |= set(item) | set(item["fix"]["properties"]) | set(item["fix"]["properties"]["replacements"]["items"]["properties"])
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert missing == [], f"docs/output-formats.md does not describe: {missing}"


# ---------------------------------------------------------------------------
# The real engine on a small Go tree

MAIN_GO = """package main

import "fmt"

func flush() {}

// Handle greets and flushes.
func Handle() {
	defer func() { msg := "héllo 😀"; go flush(); fmt.Println(msg) }()
}

func main() { Handle() }
"""

GO_MOD = """module example.com/svc

go 1.22

require example.com/lib v1.4.0

replace example.com/lib => ../lib
"""

UNRELATED = """
// Version is the service version.
const Version = "1.2.3"

// Banner prints the version.
func Banner() string { return "svc " + Version }
"""


def _tree(base: Path, extra_above: bool = False) -> Path:
    root = base / "svc"
    root.mkdir(parents=True, exist_ok=True)
    text = MAIN_GO
    if extra_above:
        text = text.replace('import "fmt"\n', 'import "fmt"\n' + UNRELATED, 1)
    (root / "main.go").write_text(text, encoding="utf-8")
    gomod = GO_MOD.replace("module example.com/svc\n", "// pinned by the platform team\n\nmodule example.com/svc\n") if extra_above else GO_MOD
    (root / "go.mod").write_text(gomod, encoding="utf-8")
    return root


def _scan(root: Path) -> engine.ScanResult:
    return engine.scan([root], config.load_config())


@pytest.fixture
def scanned(tmp_path) -> engine.ScanResult:
    result = _scan(_tree(tmp_path))
    codes = {(f.path, f.line, f.code) for f in result.findings}
    if ("main.go", 9, "GR001") not in codes:
        pytest.fail(f"the engine did not report GR001 at main.go:9; got {sorted(codes)}")
    return result


def test_engine_sarif_validates_and_has_utf16_columns(scanned, sarif_validator):
    text = sarif.render(scanned, tool_version="0.1.0")
    log = json.loads(text)
    assert _errors(sarif_validator, log) == []
    assert sarif.github_problems(log, text) == []
    res = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "GR001")
    region = res["locations"][0]["physicalLocation"]["region"]
    line = MAIN_GO.splitlines()[8]
    idx = line.index("go flush")
    # independent arithmetic: tab=1 unit, é=1 unit, 😀=2 units (a surrogate pair)
    prefix = line[:idx]
    assert "😀" in prefix and len(prefix) == idx
    utf16 = sum(2 if ord(c) > 0xFFFF else 1 for c in prefix)
    assert region["startColumn"] == utf16 + 1 == idx + 2  # one more than the code-point column
    assert region["startLine"] == region["endLine"] == 9
    assert region["endColumn"] > region["startColumn"]
    assert log["runs"][0]["columnKind"] == "utf16CodeUnits"
    # GitHub's line hash, checked against the independent implementation on the real file
    expected = reference_line_hashes((scanned.root / "main.go").read_text(encoding="utf-8"))[8]
    assert res["partialFingerprints"]["primaryLocationLineHash"] == expected
    assert res["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "main.go", "uriBaseId": "%SRCROOT%"}


def test_engine_gitlab_entries_pass_gitlabs_check(scanned):
    text = gitlab.render(scanned, tool_version="0.1.0")
    entries = json.loads(text)
    assert len(entries) == len(scanned.findings) >= 2
    gl = Draft202012Validator(gitlab.GITLAB_ENTRY_SCHEMA)
    for e in entries:
        assert list(gl.iter_errors(e)) == []
        assert gitlab.entry_problems(e) == []
        assert "\\" not in e["location"]["path"] and not e["location"]["path"].startswith("/")
        assert isinstance(e["location"]["lines"]["begin"], int)
    fps = [e["fingerprint"] for e in entries]
    assert len(fps) == len(set(fps))
    assert {"gorules/GR001", "gorules/GR005"} <= {e["check_name"] for e in entries}


def test_engine_json_matches_schema(scanned):
    data = json.loads(json_report.render(scanned, tool_version="0.1.0"))
    assert list(Draft202012Validator(json_report.SCHEMA).iter_errors(data)) == []
    gr001 = next(f for f in data["findings"] if f["code"] == "GR001")
    assert gr001["column_utf16"] == gr001["column"] + 1


def test_fingerprints_stable_when_unrelated_lines_are_inserted_above(tmp_path):
    before = _scan(_tree(tmp_path / "a"))
    after = _scan(_tree(tmp_path / "b", extra_above=True))
    key = lambda r: {(f.path, f.code) for f in r.findings}  # noqa: E731
    assert key(before) == key(after)
    lines_before = {(f.path, f.code): f.line for f in before.findings}
    lines_after = {(f.path, f.code): f.line for f in after.findings}
    assert all(lines_after[k] > lines_before[k] for k in lines_before), "the findings did not move"

    def by_key(result, fmt):
        if fmt == "gitlab":
            return {(e["location"]["path"], e["check_name"]): e["fingerprint"] for e in gitlab.build(result)}
        if fmt == "json":
            data = json_report.build(result, tool_version="0")
            return {(f["path"], f["code"]): f["fingerprint"] for f in data["findings"]}
        log = sarif.build(result, tool_version="0")
        return {
            (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"]): dict(r["partialFingerprints"])
            for r in log["runs"][0]["results"]
        }

    for fmt in ("gitlab", "json", "sarif"):
        assert by_key(before, fmt) == by_key(after, fmt), fmt
    # and they differ from another finding's (the fingerprint is not a constant)
    assert len(set(by_key(before, "gitlab").values())) == len(before.findings)


def test_fingerprints_change_when_the_flagged_line_changes(tmp_path):
    before = _scan(_tree(tmp_path / "a"))
    root = _tree(tmp_path / "b")
    p = root / "main.go"
    p.write_text(p.read_text(encoding="utf-8").replace('"héllo 😀"', '"hello"'), encoding="utf-8")
    after = _scan(root)
    fp = lambda r: next(e["fingerprint"] for e in gitlab.build(r) if e["check_name"] == "gorules/GR001")  # noqa: E731
    assert fp(before) != fp(after)
