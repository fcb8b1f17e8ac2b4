"""Requires say truthfully whether they are indirect.

``// indirect`` on a ``require`` tells readers (and ``go mod tidy``) that no
package of this module imports the required module: it is there only for a
dependency. A require that lies either way misleads whoever reviews a
dependency bump, and shows that ``go mod tidy`` was not run. GR006 recomputes
what ``go mod tidy`` would write:

- a required module is *direct* when a ``.go`` file of this module imports a
  package whose path is the module path or starts with ``module/``; when
  several required modules match, the longest wins (``cloud.google.com/go/storage``
  before ``cloud.google.com/go``), and major-version suffixes are part of the
  path (``example.com/lib/v2`` is not ``example.com/lib``);
- counted: test files, generated files, every build tag and GOOS/GOARCH suffix
  (only ``//go:build ignore`` leaves a file out);
- not counted: ``vendor/``, ``testdata/``, directories starting with ``.`` or
  ``_``, directories with their own ``go.mod`` (nested modules), directories
  under an ``ignore`` directive;
- a module used only through a ``tool`` directive is indirect.

The module's ``.go`` files are read even when only ``go.mod`` is scanned (as
the pre-commit hook does), and only their import blocks are read.

## Bad

```
module example.com/billing

go 1.23

require (
	github.com/google/uuid v1.6.0 // indirect   <- imported by invoice/id.go
	golang.org/x/sync v0.8.0                    <- imported by nothing here
)
```

## Good

```
module example.com/billing

go 1.23

require github.com/google/uuid v1.6.0

require golang.org/x/sync v0.8.0 // indirect
```

## Options

None.

## Suppress

`// gorules:ignore GR006 -- <why>` on the line above the require. (A
suppression on the require line itself turns ``// indirect`` into a different
comment for the go command: ``// indirect // gorules:ignore ...`` is not
indirect any more. Write ``// indirect; // gorules:ignore GR006 -- why`` instead:
a comment that starts with ``indirect;`` keeps the require indirect.)
"""

from __future__ import annotations

from ..analysis import Analyzer, Pass
from ..fixes import gomod_indirect_fix
from ..module import module_for


def run(pass_: Pass) -> None:
    mf = pass_.modfile
    assert mf is not None
    if mf.kind != "go.mod":
        return
    requires = mf.of("require")
    if not requires:
        return
    path = pass_.results.get("path")
    if path is None:
        return
    mod = module_for(path, mf, pass_.results.get("discovered"))
    direct = mod.direct()
    for d in requires:
        module = d.args[0]
        site = direct.get(module)
        if site is None and not d.indirect:
            pass_.report((d.start, d.end), "missing-indirect", module=module, detail=_why_not_direct(mod, module),
                         fix=gomod_indirect_fix(mf, d, True))
        elif site is not None and d.indirect:
            example = f"by {site}" if site.path == module else f"{site.path} by {site}"
            pass_.report((d.start, d.end), "extra-indirect", module=module, example=example, package=site.path,
                         fix=gomod_indirect_fix(mf, d, False))


def _why_not_direct(mod, module: str) -> str:
    excluded = mod.excluded_use(module)
    if excluded is not None:
        site, reason = excluded
        if reason == "ignore directive":
            return f" ({site} imports it, but the go.mod ignore directive leaves that directory out)"
        return f" ({site} imports it, but its build constraint leaves it out of every build)"
    tool = mod.tool_use(module)
    if tool is not None:
        return f" (only the tool directive for {tool} uses it)"
    return ""


analyzer = Analyzer(
    code="GR006",
    slug="gomod-indirect",
    doc=__doc__ or "",
    run=run,
    kind="gomod",
    needs=(b"require",),
    messages=("missing-indirect", "extra-indirect"),
)
