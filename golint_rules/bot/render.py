"""Markdown the bot posts: inline thread bodies, the summary note, status text.

Text that comes from the reviewed repository (paths, identifiers or literals a
rule quotes in its message) is escaped: no Markdown/HTML injection, no
``@mentions`` that would notify people, no autolinked URLs.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..model import Finding

FINDING_MARKER = "<!-- gorules:finding {fp} -->"
SUMMARY_MARKER = "<!-- gorules:summary -->"
FINDING_RE = re.compile(r"<!-- gorules:finding ([0-9a-f]{8,64}) -->")

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~<>$])")


def md_text(text: str, limit: int = 600) -> str:
    """Plain text made inert in GitLab Markdown."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # break @mentions (they would notify people) and bare URLs' autolinking
    text = text.replace("@", "@\u200b").replace("://", ":\u200b//")
    return text


def md_code(text: str, limit: int = 300) -> str:
    """Inline code span that cannot be broken out of."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def doc_url(docs_base: str, code: str) -> str:
    """The rule's doc page: the pack's ``docs`` base + code (or ``{code}`` filled in)."""
    if not docs_base:
        return ""
    if "{code}" in docs_base:
        return docs_base.replace("{code}", code)
    return docs_base.rstrip("/") + "/" + code


def rule_link(code: str, slug: str, docs_base: str) -> str:
    url = doc_url(docs_base, code)
    label = f"{code} {slug}"
    return f"[{label}]({url})" if url.startswith(("https://", "http://")) else label


def inline_body(f: Finding, docs_base: str) -> str:
    return (
        f"**{rule_link(f.code, f.slug, docs_base)}** ({f.severity}): {md_text(f.message)}\n\n"
        f"<sub>gorules · to silence a justified case: "
        f"`// gorules:ignore {f.code} -- <why this is safe>`</sub>\n\n"
        + FINDING_MARKER.format(fp=f.fingerprint)
    )


@dataclass
class Review:
    """What a job found and did; rendered into the summary note and status."""

    sha: str
    fail_on: str
    findings: list[Finding] = field(default_factory=list)  # in the changed files (and touched go.mod)
    inline: list[Finding] = field(default_factory=list)  # on added lines (posted now or before)
    posted: int = 0  # new threads this run
    already: int = 0  # threads kept from earlier runs
    outside: list[Finding] = field(default_factory=list)  # not on added lines
    refused: list[tuple[Finding, str]] = field(default_factory=list)  # GitLab refused the position
    over_cap: list[Finding] = field(default_factory=list)  # beyond GORULES_MAX_INLINE_COMMENTS
    resolved: int = 0
    failing: list[Finding] = field(default_factory=list)
    config_error: str | None = None
    files_scanned: int = 0
    go_files_changed: int = 0
    notes: list[str] = field(default_factory=list)
    docs_base: str = ""

    @property
    def passed(self) -> bool:
        return self.config_error is None and not self.failing


MAX_LISTED = 60


def summary_body(r: Review) -> str:
    head = f"{SUMMARY_MARKER}\n### gorules review of {r.sha[:8]}\n\n"
    if r.config_error is not None:
        return head + (
            ":x: **The repository's `.gorules.toml` could not be used**, so nothing was scanned:\n\n"
            f"{md_code(r.config_error, 500)}\n\nFix the file (or remove it to use the default policy) and push again."
        )
    lines: list[str] = []
    n_in = len(r.inline)
    if not r.findings:
        lines.append(
            f":white_check_mark: No findings in the {r.go_files_changed} changed Go file"
            f"{'s' if r.go_files_changed != 1 else ''} and their modules."
        )
    else:
        verdict = ":x:" if r.failing else ":white_check_mark:"
        lines.append(
            f"{verdict} **{len(r.findings)} finding{'s' if len(r.findings) != 1 else ''}** in the changed files: "
            f"{n_in} on added lines, {len(r.findings) - n_in} elsewhere in those files."
        )
        if r.failing:
            lines.append(
                f"The status fails: {len(r.failing)} finding{'s' if len(r.failing) != 1 else ''} on added lines "
                f"at or above `{r.fail_on}`."
            )
        lines.append("")
        lines.append("| Rule | Severity | On added lines | Elsewhere |")
        lines.append("|---|---|---:|---:|")
        on_added = Counter(f.code for f in r.inline)
        total = Counter(f.code for f in r.findings)
        meta = {f.code: f for f in r.findings}
        for code in sorted(total):
            f = meta[code]
            lines.append(
                f"| {rule_link(code, f.slug, r.docs_base)} | {f.severity} | {on_added[code]} | {total[code] - on_added[code]} |"
            )
    if r.refused or r.over_cap:
        lines.append("")
        if r.refused:
            lines.append(
                f"GitLab did not accept an inline thread for {len(r.refused)} finding"
                f"{'s' if len(r.refused) != 1 else ''} on added lines; they are listed below."
            )
        if r.over_cap:
            lines.append(
                f"{len(r.over_cap)} more finding{'s' if len(r.over_cap) != 1 else ''} on added lines are listed below "
                "instead of inline (GORULES_MAX_INLINE_COMMENTS)."
            )
    listed = [(f, "not inline: GitLab refused the position") for f, _ in r.refused]
    listed += [(f, "not inline: comment cap") for f in r.over_cap]
    listed += [(f, "") for f in r.outside]
    if listed:
        lines.append("")
        lines.append(f"<details><summary>Findings not shown inline ({len(listed)})</summary>\n")
        for f, why in listed[:MAX_LISTED]:
            suffix = f" _({why})_" if why else ""
            lines.append(
                f"- {md_code(f'{f.path}:{f.line}')} **{f.code}** {md_text(f.message, 300)}{suffix}"
            )
        if len(listed) > MAX_LISTED:
            lines.append(f"- … and {len(listed) - MAX_LISTED} more")
        lines.append("\n</details>")
    extra: list[str] = []
    if r.posted or r.already:
        extra.append(f"{r.posted} new inline thread{'s' if r.posted != 1 else ''}" + (f", {r.already} kept from earlier pushes" if r.already else ""))
    if r.resolved:
        extra.append(f"{r.resolved} thread{'s' if r.resolved != 1 else ''} resolved (finding gone)")
    if extra:
        lines.append("")
        lines.append("This run: " + "; ".join(extra) + ".")
    for note in r.notes:
        lines.append("")
        lines.append(md_text(note))
    lines.append("")
    lines.append(
        f"<sub>Policy: fail on `{r.fail_on}` and above, on added lines. "
        "Suppress a justified case with `// gorules:ignore GR00N -- <reason>`. "
        "This note is edited in place on every push.</sub>"
    )
    return head + "\n".join(lines)


def status_description(r: Review) -> str:
    if r.config_error is not None:
        return ("gorules: .gorules.toml is invalid: " + " ".join(r.config_error.split()))[:255]
    if not r.findings:
        return "gorules: no findings"
    by_sev = Counter(f.severity for f in r.inline)
    parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in sorted(by_sev.items())]
    added = f"{len(r.inline)} on added lines" + (f" ({', '.join(parts)})" if parts else "")
    text = f"gorules: {added}, {len(r.findings) - len(r.inline)} elsewhere"
    if r.failing:
        text += f"; fails on {r.fail_on}"
    return text[:255]


def bot_failed_description(reason: str) -> str:
    return ("gorules bot failed, the code was not reviewed: " + " ".join(reason.split()))[:255]


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    return dict(sorted(Counter(f.code for f in findings).items()))


def fingerprints_in(text: str) -> list[str]:
    return FINDING_RE.findall(text or "")


def sort_findings(fs: Sequence[Finding]) -> list[Finding]:
    return sorted(fs, key=lambda f: (f.path, f.line, f.column, f.code))
