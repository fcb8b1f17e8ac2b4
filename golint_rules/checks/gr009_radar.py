"""The tech radar decides which dependencies may be used.

The platform team publishes a quarterly tech radar: every listed module or
package is in one of four rings. GR009 reports each import (in ``.go`` files)
and each ``require`` (in ``go.mod``) of a listed path by ring:

- ``hold``: error, naming the replacement the radar gives;
- ``assess``: warning (ask the platform team before depending on it);
- ``trial``: note (fine for a contained trial);
- ``adopt``: nothing.

A radar entry matches its path and every path below it at a ``/`` boundary;
the longest entry wins. ``exclude`` and ``replace`` lines are not uses, nor are
``tool`` lines (the tool's module is required, and that require is reported).
Blank imports (``_ "..."``) are uses; imports of the file's own module are
not (the radar is about dependencies: zerolog's repository may import
``github.com/rs/zerolog/log``). Generated files are skipped like for
every ``.go`` rule (``--include-generated`` scans them); their module is still
reported through its ``require``.

The shipped radar is ``rules/radar-2024q3.toml``: hold
``github.com/rs/zerolog`` (use ``log/slog``), trial ``entgo.io/ent``, adopt
``log/slog`` and ``golang.org/x/tools/gopls``. A repository names its own
with ``radar = "path/to/radar.toml"`` in ``.gorules.toml`` (relative to that
file, inside the repository); the radar file is validated when the
configuration loads. ``gorules radar PATH...`` shows the radar's adoption
across repositories (docs/radar.md).

Severity: a finding's severity is its ring's, capped by GR009's configured
severity (with ``[rules.GR009] severity = "warning"`` holds become warnings).

## Bad

```go
import "github.com/rs/zerolog/log" // hold: use log/slog
```

## Good

```go
import "log/slog"
```

## Options

- `radar = ""`: the radar file (empty: the shipped radar). The top-level
  `radar = "..."` key of `.gorules.toml` sets the same thing.
- `indirect = true`: also report `require ... // indirect` lines (a dependency
  pulls the module in); set to false to report only what this module chose.

## Suppress

`// gorules:ignore GR009 -- <why>` on the import or require line, or the line above.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import radar as radar_mod
from ..analysis import Analyzer, Pass
from ..module import own_module, path_match


def run(pass_: Pass) -> None:
    src = pass_.file
    assert src is not None
    radar = radar_mod.for_options(pass_.options)
    if not any(tok in src.data for tok in radar.tokens):
        return
    own: str | None = None
    own_known = False
    for imp in src.imports.imports:
        entry = radar.match(imp.path)
        if entry is None or entry.ring == "adopt":
            continue
        if not own_known:
            own, own_known = own_module(src.path), True
        if own is not None and path_match(own, imp.path):
            continue  # the module's own packages (zerolog's repository importing zerolog/log)
        key, severity, args = radar_mod.finding(radar, entry, imp.path)
        pass_.report((imp.start_byte, imp.end_byte), key, severity=severity, **args)


@dataclass(frozen=True)
class RadarAnalyzer(Analyzer):
    """GR009's prefilter depends on the radar: a file must contain a listed path."""

    def can_fire(self, data: bytes) -> bool:
        return any(tok in data for tok in radar_mod.prefilter_tokens())


analyzer = RadarAnalyzer(
    code="GR009",
    slug="radar",
    doc=__doc__ or "",
    run=run,
    kind="go",
    messages=("hold", "assess", "trial"),
)
