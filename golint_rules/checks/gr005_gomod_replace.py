"""No replace directives in go.mod or go.work.

A ``replace`` silently swaps a dependency for another version, a fork or a
directory on one developer's disk. It applies only in the main module, so what
builds here is not what builds for anyone depending on this module, and a local
path (``=> ../lib``) builds on one machine only. V2.3 forbids replaces: publish
a tagged version of the fork and require it instead. Modules the platform team
has approved can be allowed by configuration.

Flagged forms:

```
replace example.com/lib => ../lib                  // single-line, at its line
replace (
    example.com/a v1.2.0 => example.com/a v1.2.1    // block: at each entry's line
)
```

## Bad

```
module example.com/billing

go 1.23

require example.com/lib v1.4.0

replace example.com/lib => ../lib
```

## Good

```
module example.com/billing

go 1.23

require example.com/lib v1.4.1 // the fork, published as a tagged version
```

## Options

- `allow = ["module/path", ...]`: replaced modules that are allowed (exact module path,
  or a prefix ending in `/...`).
- `allow-local = false`: set to true to allow replaces that point at a local directory
  (for instance in a `go.work` used only for local development).

## Suppress

`// gorules:ignore GR005 -- <why>` on the replace line or the line above.
"""

from __future__ import annotations

from ..analysis import Analyzer, Pass
from ..gomod import replaces


def _allowed(module: str, allow: list[str]) -> bool:
    for entry in allow:
        if entry.endswith("/...") and (module == entry[:-4] or module.startswith(entry[:-3])):
            return True
        if module == entry:
            return True
    return False


def run(pass_: Pass) -> None:
    mf = pass_.modfile
    assert mf is not None
    allow = list(pass_.options.get("allow", []))
    allow_local = bool(pass_.options.get("allow-local", False))
    for rep in replaces(mf):
        if _allowed(rep.old_path, allow):
            continue
        target = rep.new_path + (f" {rep.new_version}" if rep.new_version else "")
        if rep.is_local:
            if allow_local:
                continue
            pass_.report((rep.directive.start, rep.directive.end), "local", module=rep.old_path, target=target)
        else:
            pass_.report((rep.directive.start, rep.directive.end), "replace", module=rep.old_path, target=target)


analyzer = Analyzer(
    code="GR005",
    slug="gomod-replace",
    doc=__doc__ or "",
    run=run,
    kind="gomod",
    needs=(b"replace",),
    messages=("replace", "local"),
)
