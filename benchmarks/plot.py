"""Plots of benchmarks/results/*.json -> docs/img/*.png (matplotlib).

    python benchmarks/plot.py [RESULTS.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
IMG = HERE.parent / "docs" / "img"
COLORS = {"gorules/python": "#1f77b4", "gorules/rust": "#6baed6", "gorules/auto": "#2ca02c",
          "gorules": "#2ca02c", "ast-grep": "#ff7f0e", "semgrep": "#d62728", "python": "#7f7f7f"}


def load(paths: list[Path]) -> list[dict]:
    """Rows of all files; a later file's row replaces an earlier one for the same tree, case and tool."""
    rows: dict[tuple[str, str, str], dict] = {}
    for p in paths:
        for r in json.loads(p.read_text())["rows"]:
            rows[(r["tree"], r["case"], r["tool"])] = r
    return list(rows.values())


def corpus_bars(rows: list[dict], tree: str) -> Path | None:
    picked = [r for r in rows if r["tree"] == tree and r.get("wall") and not r["case"].startswith("scaling")
              and r["case"] != "engines agree" and not r.get("timed_out")]
    if not picked:
        return None
    picked.sort(key=lambda r: r["wall"])
    labels = [f"{r['tool']}: {r['case']}" for r in picked]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(picked) + 1.4))
    bars = ax.barh(labels, [r["wall"] for r in picked], color=[COLORS.get(r["tool"], "#999") for r in picked])
    for b, r in zip(bars, picked):
        ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {r['wall']:.2f} s", va="center", fontsize=8)
    info = next((r.get("info") for r in picked if r.get("info")), {}) or {}
    ax.set_xlabel("wall time, whole process (s), lower is better")
    ax.set_title(f"{tree}: {info.get('go_files', '?')} .go files, {info.get('go_mb', '?')} MB (2 cores)")
    ax.set_xlim(0, max(r["wall"] for r in picked) * 1.18)
    fig.tight_layout()
    out = IMG / f"bench-{tree}.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def scaling(rows: list[dict]) -> Path | None:
    pts = [r for r in rows if r["case"].startswith("scaling") and r.get("info")]
    if not pts:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for tool in sorted({r["tool"] for r in pts}):
        rs = sorted((r for r in pts if r["tool"] == tool), key=lambda r: r["info"]["go_mb"])
        mb = [r["info"]["go_mb"] for r in rs]
        ax1.plot(mb, [r["wall"] for r in rs], "o-", label=f"{tool}: {rs[0]['case'].split(': ', 1)[1]}",
                 color=COLORS.get(tool))
        ax2.plot(mb, [r["wall"] / r["info"]["go_mb"] * 1000 for r in rs], "o-", color=COLORS.get(tool), label=tool)
        for r in rs:
            ax1.annotate(f"{r['info']['go_files'] // 1000}k", (r["info"]["go_mb"], r["wall"]), fontsize=7,
                         textcoords="offset points", xytext=(3, -9))
    ax1.set_xlabel("MB of Go source")
    ax1.set_ylabel("wall time (s)")
    ax1.set_title("generated monorepo, 10k -> 100k files")
    ax1.legend(fontsize=8)
    ax1.set_ylim(bottom=0)
    ax1.set_xlim(left=0)
    ax2.set_xlabel("MB of Go source")
    ax2.set_ylabel("ms per MB")
    ax2.set_title("time per MB (flat = linear in bytes)")
    ax2.set_ylim(bottom=0)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    out = IMG / "bench-scaling.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def memory(rows: list[dict], tree: str) -> Path | None:
    picked = [r for r in rows if r["tree"] == tree and r.get("pss_peak_mb") and not r["case"].startswith("floor")]
    if not picked:
        return None
    labels = [f"{r['tool']}: {r['case']}" for r in picked]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(picked) + 1.4))
    ax.barh(labels, [r["pss_peak_mb"] for r in picked], color=[COLORS.get(r["tool"], "#999") for r in picked],
            label="peak PSS, whole process tree")
    ax.plot([r["max_rss_mb"] for r in picked], labels, "k|", markersize=14, label="peak RSS, largest process")
    ax.axvline(400, color="red", linestyle="--", linewidth=1, label="target 400 MB")
    ax.set_xlabel("MB")
    ax.set_title(f"memory on {tree}")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    out = IMG / f"bench-memory-{tree}.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((HERE / "results").glob("*.json"))
    rows = load(paths)
    IMG.mkdir(parents=True, exist_ok=True)
    made = [corpus_bars(rows, t) for t in sorted({r["tree"] for r in rows if r["tree"] != "-" and not r["tree"].startswith("mono")})]
    made += [scaling(rows)]
    made += [memory(rows, t) for t in ("gocode16k", "gocode-full")]
    for m in made:
        if m:
            print(m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
