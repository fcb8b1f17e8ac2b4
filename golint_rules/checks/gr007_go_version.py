"""The go directive is recent enough.

The ``go`` line of ``go.mod`` (and ``go.work``) sets the language version the
module is compiled with: loop variables per iteration (1.22), range over
functions (1.23) and the toolchain the go command insists on. V2.3 requires at
least the radar's Adopt version, ``1.23`` by default.

- a file without a ``go`` directive is flagged at line 1 (the go command then
  assumes go 1.16 for a go.mod);
- only the language version (major.minor) is compared: ``1.23``, ``1.23rc1``
  and ``1.23.4`` all pass a minimum of ``1.23``; ``1.22.9`` does not;
- a version that is not a Go version (``go 1``, ``go 1.23.x``, ``go abc``) is
  itself a finding: the go command refuses the file.

## Bad

```
module example.com/billing

go 1.21
```

## Good

```
module example.com/billing

go 1.23.2
```

## Options

- `minimum = "1.23"`: the lowest accepted language version (major.minor).

## Suppress

`// gorules:ignore GR007 -- <why>` on the go line or the line above.
"""

from __future__ import annotations

import re

from ..analysis import Analyzer, Pass

#: golang.org/x/mod/modfile.GoVersionRE
GO_VERSION_RE = re.compile(r"^([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?$")
_MINIMUM_RE = re.compile(r"^([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$")


def language_version(version: str) -> tuple[int, int] | None:
    m = GO_VERSION_RE.match(version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def minimum_of(options: dict) -> tuple[str, tuple[int, int]]:
    raw = str(options.get("minimum", "1.23")).strip()
    m = _MINIMUM_RE.match(raw)
    if not m:
        raise ValueError(
            f"GR007 option minimum = {raw!r} is not a Go language version: write e.g. minimum = \"1.23\" in .gorules.toml"
        )
    return raw, (int(m.group(1)), int(m.group(2)))


def run(pass_: Pass) -> None:
    mf = pass_.modfile
    assert mf is not None
    minimum, floor = minimum_of(pass_.options)
    d = mf.go_directive
    if d is None:
        pass_.report(1, "missing", file=mf.kind, minimum=minimum)
        return
    version = " ".join(d.args)
    lang = language_version(version)
    if lang is None:
        pass_.report((d.start, d.end), "malformed", version=version, minimum=minimum)
    elif lang < floor:
        pass_.report((d.start, d.end), "too-old", version=version, minimum=minimum)


analyzer = Analyzer(
    code="GR007",
    slug="go-version",
    doc=__doc__ or "",
    run=run,
    kind="gomod",
    messages=("missing", "too-old", "malformed"),
)
