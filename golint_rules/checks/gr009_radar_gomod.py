"""GR009 on go.mod: a ``require`` of a radar entry (see ``gr009_radar``).

``exclude``, ``replace`` and ``tool`` lines are not uses. ``require ... //
indirect`` lines are reported (with a hint to find who pulls the module in)
unless the option ``indirect = false``.
"""

from __future__ import annotations

from .. import radar as radar_mod
from ..analysis import Analyzer, Pass


def run(pass_: Pass) -> None:
    mf = pass_.modfile
    assert mf is not None
    if mf.kind != "go.mod":
        return
    radar = radar_mod.for_options(pass_.options)
    with_indirect = bool(pass_.options.get("indirect", True))
    for d in mf.of("require"):
        module = d.args[0]
        entry = radar.match(module)
        if entry is None or entry.ring == "adopt":
            continue
        if d.indirect and not with_indirect:
            continue
        key, severity, args = radar_mod.finding(radar, entry, module, indirect=d.indirect)
        pass_.report((d.start, d.end), key, severity=severity, **args)


analyzer = Analyzer(
    code="GR009",
    slug="radar",
    doc=__doc__ or "",
    run=run,
    kind="gomod",
    needs=(b"require",),
    messages=("hold", "assess", "trial", "indirect"),
)
