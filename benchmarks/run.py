"""Benchmarks: gorules (both engines, cold and warm cache) vs ast-grep and semgrep, same trees, same run.

    bash benchmarks/install.sh            # corpora, ast-grep-cli, semgrep, matplotlib, the trees
    python benchmarks/run.py              # all suites -> benchmarks/results/latest.json
    python benchmarks/plot.py             # PNG plots -> docs/img/

Every number is a whole process (``subprocess``), page cache warm (each tree is
read once before), measured with:

- wall time (``time.perf_counter`` around the process), CPU time (user + sys of
  the process and its children, from ``getrusage``);
- peak RSS of the largest process (``/usr/bin/time -f %M``, what ``ru_maxrss`` says)
  and the peak of the summed PSS of the whole process tree (sampled from
  ``/proc/PID/smaps_rollup`` every 50 ms: shared pages counted once).

gorules runs from a snapshot of the committed tree (``git archive HEAD``),
byte-compiled as pip would install it, so files being edited do not change
the code (or the cache namespace) between runs.

Suites: ``corpus`` (the issue's comparison on stdlib, prometheus, gocode16k),
``full`` (all of /usr/share/gocode/src), ``scaling`` (generated monorepos),
``precommit`` (3 files, and ``--version``). Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = HERE / "peers"
BENCH = Path(os.environ.get("GORULES_BENCH_DIR", "/var/tmp/gorules-bench"))
BIN = Path(sys.executable).parent
PRECOMMIT_FILES = (
    "github.com/prometheus/client_golang/prometheus/promhttp/instrument_server.go",
    "github.com/prometheus/common/config/http_config.go",
    "github.com/prometheus/alertmanager/api/v2/api.go",
)


# ---------------------------------------------------------------------------
# measuring one process


def _children(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str], *, env: dict | None = None, stdout=None, timeout: float | None = None,
            sample: bool = True) -> dict:
    """Run ``cmd`` once; wall, cpu, peak RSS (largest process) and peak summed PSS."""
    timefile = tempfile.NamedTemporaryFile(prefix="gorules-time-", delete=False)
    timefile.close()
    full = ["/usr/bin/time", "-f", "%M", "-o", timefile.name, *cmd]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # cwd: the snapshot, never the work tree (``python -m golint_rules`` imports from the
    # current directory first: from the repository it would run the edited, uncompiled sources)
    proc = subprocess.Popen(full, env={**os.environ, **(env or {})}, stdout=stdout or subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=str(BENCH / "snap") if (BENCH / "snap").is_dir() else None)
    peak_pss = 0
    timed_out = False
    while True:
        if sample:
            peak_pss = max(peak_pss, sum(_pss_kb(p) for p in _children(proc.pid)[1:]))
        if timeout and time.perf_counter() - t0 > timeout:
            for p in reversed(_children(proc.pid)):
                try:
                    os.kill(p, 9)
                except OSError:
                    pass
            timed_out = True
        try:  # returns the moment the process ends: the wall time is not rounded up to the sampling step
            proc.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            continue
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    try:
        max_rss_kb = int(Path(timefile.name).read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        max_rss_kb = 0
    os.unlink(timefile.name)
    return {"wall": round(wall, 3), "cpu": round(cpu, 3), "max_rss_mb": round(max_rss_kb / 1024, 1),
            "pss_peak_mb": round(peak_pss / 1024, 1), "rc": proc.returncode, "timed_out": timed_out,
            "stderr": err[-400:] if proc.returncode not in (0, 1) else ""}


# ---------------------------------------------------------------------------
# the tools


def snapshot() -> Path:
    """The committed tree, byte-compiled (what ``pip install`` gives)."""
    dest = BENCH / "snap"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(dest / "golint_rules")], check=True)
    return dest


class Tools:
    def __init__(self, snap: Path) -> None:
        self.env = {"PYTHONPATH": str(snap), "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}
        self.gorules = [sys.executable, "-m", "golint_rules"]
        self.astgrep = str(BIN / "ast-grep") if (BIN / "ast-grep").exists() else shutil.which("ast-grep")
        self.semgrep = str(BIN / "semgrep") if (BIN / "semgrep").exists() else shutil.which("semgrep")
        self.version = subprocess.run(self.gorules + ["--version"], env={**os.environ, **self.env},
                                      capture_output=True, text=True, cwd=str(snap)).stdout.strip()


def count_json_findings(path: Path) -> int | None:
    try:
        return len(json.loads(path.read_text())["findings"])
    except (OSError, ValueError, KeyError):
        return None


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def warm_page_cache(tree: Path) -> None:
    for dirpath, _, filenames in os.walk(tree):
        for n in filenames:
            try:
                with open(os.path.join(dirpath, n), "rb") as f:
                    while f.read(1 << 20):
                        pass
            except OSError:
                pass


def tree_info(tree: Path) -> dict:
    stamp = tree / ".corpus.json"
    if stamp.is_file():
        info = json.loads(stamp.read_text())
        return {"go_files": info["go_files"], "go_mb": round(info["go_bytes"] / 1e6, 1)}
    files = [os.path.join(d, n) for d, _, fs in os.walk(tree) for n in fs if n.endswith(".go")]
    return {"go_files": len(files), "go_mb": round(sum(os.path.getsize(f) for f in files) / 1e6, 1)}


# ---------------------------------------------------------------------------
# suites


class Runner:
    def __init__(self, tools: Tools, out: Path, repeat: int, semgrep_max_mb: float, jobs: int | None) -> None:
        self.t = tools
        self.rows: list[dict] = []
        self.work = Path(tempfile.mkdtemp(prefix="gorules-bench-"))
        self.out = out
        self.repeat = repeat
        self.semgrep_max_mb = semgrep_max_mb
        self.jobs = jobs

    def record(self, tree: str, case: str, tool: str, res: dict, **extra) -> dict:
        row = {"tree": tree, "case": case, "tool": tool, **res, **extra, "load1": round(os.getloadavg()[0], 2)}
        self.rows.append(row)
        shown = {k: row[k] for k in ("wall", "cpu", "max_rss_mb", "pss_peak_mb") if k in row}
        print(f"  {tree:12} {case:28} {tool:10} {shown} {({k: v for k, v in extra.items() if k != 'info'})}",
              flush=True)
        self.save()
        return row

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps({"machine": machine(), "gorules": self.t.version, "rows": self.rows}, indent=1))

    def gorules(self, tree: Path, *args: str, name: str) -> tuple[dict, int | None]:
        out = self.work / f"{name}.json"
        cmd = self.t.gorules + ["scan", str(tree), "--format", "json", "-o", str(out), "-q", *args]
        if self.jobs:
            cmd += ["--jobs", str(self.jobs)]
        res = measure(cmd, env=self.t.env)
        return res, count_json_findings(out)

    def best(self, fn, n: int) -> dict:
        runs = [fn() for _ in range(n)]
        res = dict(runs[0][0]) if isinstance(runs[0], tuple) else dict(runs[0])
        walls = [(r[0] if isinstance(r, tuple) else r)["wall"] for r in runs]
        res["wall"] = statistics.median(walls)
        res["walls"] = walls
        return res

    # -- the comparison ---------------------------------------------------
    def corpus(self, name: str) -> None:
        tree = BENCH / name
        info = tree_info(tree)
        print(f"\n== {name}: {info['go_files']} .go files, {info['go_mb']} MB", flush=True)
        warm_page_cache(tree)
        for mode in ("read", "parse", "prefilter-issue", "prefilter-gorules"):
            out = self.work / f"floor-{name}-{mode}.txt"
            with open(out, "w") as f:
                res = measure([sys.executable, str(HERE / "floors.py"), mode, str(tree)], env=self.t.env, stdout=f)
            detail = json.loads(out.read_text() or "{}")
            self.record(name, f"floor: {mode}", "python", res, info=info, kept_mb=round(detail.get("kept_bytes", 0) / 1e6, 1))
        findings: dict[str, int | None] = {}
        outputs: dict[str, Path] = {}
        for engine in ("python", "rust"):
            res, n = self.gorules(tree, "--no-cache", "--engine", engine, name=f"{name}-{engine}")
            findings[engine] = n
            outputs[engine] = self.work / f"{name}-{engine}.json"
            self.record(name, "cold, all rules", f"gorules/{engine}", res, info=info, findings=n)
        same = _findings(outputs["python"]) == _findings(outputs["rust"])
        self.record(name, "engines agree", "gorules", {"wall": 0}, identical=same)
        cache = self.work / f"cache-{name}"
        res, n = self.gorules(tree, "--cache-dir", str(cache), name=f"{name}-cachecold")
        self.record(name, "cold, cache filling", "gorules/auto", res, info=info, findings=n)
        res = self.best(lambda: self.gorules(tree, "--cache-dir", str(cache), name=f"{name}-warm"), self.repeat)
        n = count_json_findings(self.work / f"{name}-warm.json")
        self.record(name, "warm, nothing changed", "gorules/auto", res, info=info, findings=n,
                    identical=_findings(self.work / f"{name}-warm.json") == _findings(outputs["python"]))
        if self.t.astgrep:
            for case, rule in (("one rule (GR001)", ["-r", str(PEERS / "ast-grep" / "gr001-defer-go.yml")]),
                               ("structural rules", ["-c", str(PEERS / "sgconfig.yml")])):
                out = self.work / f"{name}-astgrep.jsonl"
                with open(out, "w") as f:
                    res = measure([self.t.astgrep, "scan", *rule, "--json=stream", str(tree)], stdout=f)
                self.record(name, case, "ast-grep", res, info=info, findings=count_lines(out))
        if self.t.semgrep and info["go_mb"] <= self.semgrep_max_mb:
            for case, rule in (("one rule (GR001)", PEERS / "semgrep" / "gr001-defer-go.yml"),
                               ("structural rules", PEERS / "semgrep" / "rules.yml")):
                out = self.work / f"{name}-semgrep.json"
                res = measure([self.t.semgrep, "scan", "--metrics=off", "--disable-version-check", "--quiet",
                               "--config", str(rule), "--json", "-o", str(out), "--jobs", str(os.cpu_count()),
                               "--max-target-bytes", "0", "--timeout", "0", str(tree)],
                              env={"SEMGREP_SEND_METRICS": "off"}, timeout=3600)
                try:
                    n = len(json.loads(out.read_text())["results"])
                except (OSError, ValueError, KeyError):
                    n = None
                self.record(name, case, "semgrep", res, info=info, findings=n)

    def jobs1(self, name: str) -> None:
        tree = BENCH / name
        out = self.work / f"{name}-j1.json"
        res = measure(self.t.gorules + ["scan", str(tree), "--format", "json", "-o", str(out), "-q", "--no-cache",
                                        "--engine", "python", "--jobs", "1"], env=self.t.env)
        self.record(name, "cold, all rules, --jobs 1", "gorules/python", res, info=tree_info(tree),
                    findings=count_json_findings(out),
                    identical=_findings(out) == _findings(self.work / f"{name}-python.json"))

    # -- scaling ------------------------------------------------------------------
    def scaling(self, names: list[str]) -> None:
        print("\n== scaling", flush=True)
        for name in names:
            tree = BENCH / name
            info = tree_info(tree)
            warm_page_cache(tree)
            res, n = self.gorules(tree, "--no-cache", "--engine", "python", name=f"{name}-scale")
            self.record(name, "scaling: cold, all rules", "gorules/python", res, info=info, findings=n,
                        s_per_mb=round(res["wall"] / info["go_mb"], 4))
            if self.t.astgrep:
                out = self.work / f"{name}-astgrep.jsonl"
                with open(out, "w") as f:
                    res = measure([self.t.astgrep, "scan", "-r", str(PEERS / "ast-grep" / "gr001-defer-go.yml"),
                                   "--json=stream", str(tree)], stdout=f)
                self.record(name, "scaling: one rule (GR001)", "ast-grep", res, info=info,
                            s_per_mb=round(res["wall"] / info["go_mb"], 4))

    # -- pre-commit ---------------------------------------------------------------
    def precommit(self) -> None:
        print("\n== pre-commit and --version", flush=True)
        res = self.best(lambda: measure(self.t.gorules + ["--version"], env=self.t.env, sample=False), 10)
        self.record("-", "--version", "gorules", res)
        tree = BENCH / "prometheus"
        files = [str(tree / f) for f in PRECOMMIT_FILES]
        cache = self.work / "cache-precommit"
        for label, extra in (("pre-commit, 3 files, --no-cache", ["--no-cache"]),
                             ("pre-commit, 3 files, cache warm", ["--cache-dir", str(cache)])):
            res = self.best(lambda: measure(self.t.gorules + ["scan", "-q", *extra, *files], env=self.t.env,
                                            sample=False), 10)
            self.record("prometheus", label, "gorules", res, files=len(files))


def _findings(path: Path) -> list | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return sorted((f["path"], f["line"], f["column"], f["code"], f["message"], f["fingerprint"]) for f in data["findings"])


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = 0
    try:
        mem = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))) // 1024
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "mem_mb": mem, "python": platform.python_version(),
            "kernel": platform.release(), "load_before": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main() -> int:
    ap = argparse.ArgumentParser(description="gorules benchmarks (see the module docstring)")
    ap.add_argument("--suites", default="precommit,corpus,scaling",
                    help="comma-separated: precommit, corpus, jobs1, full, scaling")
    ap.add_argument("--trees", default="stdlib,prometheus,gocode16k", help="trees of the corpus suite")
    ap.add_argument("--scaling-trees", default="mono-10k,mono-25k,mono-50k,mono-100k")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the warm-cache case (median)")
    ap.add_argument("--semgrep-max-mb", type=float, default=400.0, help="skip semgrep on larger trees")
    ap.add_argument("--jobs", type=int, default=None, help="pass --jobs to gorules")
    ap.add_argument("-o", "--output", type=Path, default=HERE / "results" / "latest.json")
    args = ap.parse_args()
    tools = Tools(snapshot())
    print(f"{tools.version}; ast-grep: {tools.astgrep}; semgrep: {tools.semgrep}; machine: {machine()}", flush=True)
    r = Runner(tools, args.output, args.repeat, args.semgrep_max_mb, args.jobs)
    suites = args.suites.split(",")
    if "precommit" in suites:
        r.precommit()
    if "corpus" in suites:
        for name in args.trees.split(","):
            r.corpus(name)
    if "jobs1" in suites:
        r.jobs1("gocode16k")
    if "full" in suites:
        r.semgrep_max_mb = min(r.semgrep_max_mb, 0)
        r.corpus("gocode-full")
    if "scaling" in suites:
        r.scaling(args.scaling_trees.split(","))
    r.save()
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
