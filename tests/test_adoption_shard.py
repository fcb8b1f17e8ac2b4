"""--shard I/N and gorules merge: the merged shard reports equal the unsharded report, byte for byte."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from adoption_support import commit_all, gorules, init_repo, write
from golint_rules.discover import discover
from golint_rules.shard import ShardError, assign, parse_shard, units

ROOT = Path(__file__).resolve().parent.parent
STDLIB = Path("/usr/share/go-1.19/src")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The project's fixture tree (every rule, nested modules, go.work) as a git repository."""
    repo = tmp_path_factory.mktemp("corpus") / "repo"
    shutil.copytree(ROOT / "fixtures", repo)
    init_repo(repo)
    commit_all(repo, "fixtures")
    return repo


def _scan(repo: Path, fmt: str, out: str, *extra: str) -> None:
    run = gorules(repo, "scan", "--format", fmt, "-o", out, *extra, ".")
    assert run.code in (0, 1), run.err


@pytest.mark.parametrize("fmt,total", [("sarif", 3), ("gitlab", 3), ("json", 3), ("sarif", 7)])
def test_merged_shards_equal_the_unsharded_report(corpus, tmp_path, fmt, total):
    whole = tmp_path / f"whole.{fmt}"
    _scan(corpus, fmt, str(whole))
    parts = []
    for i in range(1, total + 1):
        part = tmp_path / f"shard-{i}.{fmt}"
        _scan(corpus, fmt, str(part), "--shard", f"{i}/{total}")
        parts.append(str(part))
    sizes = [len(_findings(json.loads(Path(p).read_text()), fmt)) for p in parts]
    assert sum(sizes) == len(_findings(json.loads(whole.read_text()), fmt)) > 100
    assert sum(1 for s in sizes if s) >= 3, sizes  # the work really was split
    merged = tmp_path / f"merged.{fmt}"
    run = gorules(tmp_path, "merge", *reversed(parts), "-o", str(merged))  # input order does not matter
    assert run.code == 0, run.err
    assert merged.read_bytes() == whole.read_bytes()


def _findings(doc, fmt: str) -> list:
    if fmt == "sarif":
        return doc["runs"][0]["results"]
    if fmt == "gitlab":
        return doc
    return doc["findings"]


def test_every_file_is_in_exactly_one_shard(corpus, tmp_path):
    seen: dict[str, int] = {}
    for i in range(1, 5):
        out = tmp_path / f"s{i}.json"
        _scan(corpus, "json", str(out), "--shard", f"{i}/4")
        for f in json.loads(out.read_text())["findings"]:
            assert seen.setdefault(f["path"], i) == i, f"{f['path']} reported by shards {seen[f['path']]} and {i}"
    whole = tmp_path / "whole.json"
    _scan(corpus, "json", str(whole))
    assert set(seen) == {f["path"] for f in json.loads(whole.read_text())["findings"]}


def test_split_is_deterministic_and_balanced_by_bytes():
    pkgs = [STDLIB / d for d in ("net/http", "encoding/json", "strings", "bufio", "go/ast", "go/parser",
                                 "crypto/tls", "regexp", "sort", "text/template", "fmt", "io")]
    disc = discover(pkgs)
    ub = units(disc)
    assert len(ub) >= 12
    plan = assign(ub, 4, disc.root)
    # the same split whatever order the directories were found in
    keys = list(ub)
    random.Random(7).shuffle(keys)
    assert assign({k: ub[k] for k in keys}, 4, disc.root) == plan
    loads = [sum(b for d, b in ub.items() if plan[d] == s) for s in range(1, 5)]
    assert set(plan.values()) == {1, 2, 3, 4}
    # longest-processing-time bound: no shard exceeds the mean by more than the biggest unit
    assert max(loads) <= sum(loads) / 4 + max(ub.values())
    assert max(loads) <= 1.35 * min(loads) or max(loads) == max(ub.values())


def test_shard_split_does_not_depend_on_where_the_checkout_lives(tmp_path):
    for where in ("a", "b/deeper"):
        repo = tmp_path / where / "repo"
        for i in range(9):
            write(repo, f"p{i}/x.go", "package p\n" + "// pad\n" * (i * 7 % 5 + 1))
    plans = []
    for where in ("a", "b/deeper"):
        disc = discover([tmp_path / where / "repo"])
        plans.append({d.relative_to(disc.root).as_posix(): s for d, s in assign(units(disc), 3, disc.root).items()})
    assert plans[0] == plans[1]


@pytest.mark.parametrize("text,needle", [
    ("0/4", "CI_NODE_INDEX starts at 1"),
    ("5/4", "between 1 and N"),
    ("/", "give the job `parallel: N`"),
    ("2-4", "write I/N"),
])
def test_bad_shard_values(corpus, text, needle):
    with pytest.raises(ShardError, match=None) as exc:
        parse_shard(text)
    assert needle in str(exc.value)
    run = gorules(corpus, "scan", "--shard", text, ".")
    assert run.code == 2 and needle in run.err


def test_merge_refuses_mixed_or_foreign_inputs(corpus, tmp_path):
    _scan(corpus, "sarif", str(tmp_path / "a.sarif"), "--shard", "1/2")
    _scan(corpus, "gitlab", str(tmp_path / "b.json"), "--shard", "2/2")
    run = gorules(tmp_path, "merge", "a.sarif", "b.json")
    assert run.code == 2 and "different formats" in run.err
    (tmp_path / "c.json").write_text('{"hello": 1}')
    run = gorules(tmp_path, "merge", "a.sarif", "c.json")
    assert run.code == 2 and "is not a gorules SARIF, GitLab Code Quality or JSON report" in run.err
    run = gorules(tmp_path, "merge", "a.sarif", "missing.sarif")
    assert run.code == 2 and "did every shard job upload its report" in run.err
    doc = json.loads((tmp_path / "a.sarif").read_text())
    doc["runs"][0]["tool"]["driver"]["version"] = "9.9.9"
    (tmp_path / "old.sarif").write_text(json.dumps(doc))
    run = gorules(tmp_path, "merge", "a.sarif", "old.sarif")
    assert run.code == 2 and "run every shard with the same gorules" in run.err
