"""The tech radar: radar files, matching, the `gorules radar` report and its HTML page in a real browser."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from golint_rules import radar as radar_mod
from golint_rules.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_MODULES = ROOT / "fixtures" / "modules"
GO_SRC = Path("/usr/share/go-1.19/src")


def parse(text: str) -> radar_mod.Radar:
    return radar_mod.parse_radar(textwrap.dedent(text).lstrip("\n"), "team-radar.toml")


# ---------------------------------------------------------------------------
# radar files


def test_shipped_radar_is_the_2024q3_radar():
    r = radar_mod.load()
    assert {(e.path, e.ring) for e in r.entries} == {
        ("github.com/rs/zerolog", "hold"),
        ("entgo.io/ent", "trial"),
        ("log/slog", "adopt"),
        ("golang.org/x/tools/gopls", "adopt"),
    }
    zerolog = r.match("github.com/rs/zerolog")
    assert zerolog.replacement == "log/slog"
    assert "nested transactions" in r.match("entgo.io/ent").note


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ('[[entry]]\npath = "a.io/x"\nring = "Hold"\n', 3, "ring names are lowercase: 'hold'"),
        ('[[entry]]\npath = "a.io/x"\nring = "retire"\n', 3, "use one of adopt, trial, assess, hold"),
        ('[[entry]]\npath = "a.io/x"\nring = "hold"\n\n[[entry]]\npath = "a.io/x"\nring = "trial"\n', 6, "duplicate entry 'a.io/x': already listed at line 2"),
        ('[[entry]]\npath = "https://github.com/rs/zerolog/"\nring = "hold"\n', 2, "such as 'github.com/rs/zerolog'"),
        ('[[entry]]\npath = "a.io/x/..."\nring = "hold"\n', 2, "is not an import path"),
        ('[[entry]]\npath = "a.io/x"\nring = "hold"\nrplacement = "b.io/y"\n', 4, "did you mean 'replacement'"),
        ('[radar]\nquadrants = ["Libs"]\n\n[[entry]]\npath = "a.io/x"\nring = "hold"\nquadrant = "Tools"\n', 7, "quadrant 'Tools' of a.io/x is not declared"),
        ('[radar]\nname = "x"\ncolour = "red"\n', 3, "unknown key 'colour' in [radar]"),
        ('[[entry]]\nring = "hold"\n', 1, "needs path"),
        ('[[entry]]\npath = "a.io/x"\nring = "hold"\nnote = 3\n', 4, "note of a.io/x must be a string"),
        ('[[entry]\npath = "a.io/x"\n', 1, "invalid TOML"),
        ('[radar]\nquadrants = []\n', 2, "quadrants must be a list of 1 to 8 names"),
        ('entries = 1\n', 1, "unknown key 'entries'"),
    ],
)
def test_radar_validation_names_file_and_line(text, line, fragment):
    with pytest.raises(radar_mod.RadarError) as exc:
        radar_mod.parse_radar(text, "team-radar.toml")
    assert exc.value.line == line, str(exc.value)
    assert fragment in exc.value.message
    assert str(exc.value).startswith(f"team-radar.toml:{line}: ")


def test_matching_is_by_prefix_at_slash_boundaries_longest_wins():
    r = parse(
        """
        [[entry]]
        path = "github.com/acme/kit"
        ring = "hold"

        [[entry]]
        path = "github.com/acme/kit/log"
        ring = "adopt"

        [[entry]]
        path = "github.com/acme/kit/log/legacy"
        ring = "assess"
        """
    )
    m = lambda p: (r.match(p).path if r.match(p) else None)  # noqa: E731
    assert m("github.com/acme/kit") == "github.com/acme/kit"
    assert m("github.com/acme/kit/db") == "github.com/acme/kit"
    assert m("github.com/acme/kit/v2") == "github.com/acme/kit"  # /v2 is below the path: the radar says so
    assert m("github.com/acme/kitchen") is None
    assert m("github.com/acme/kit/log") == "github.com/acme/kit/log"
    assert m("github.com/acme/kit/logx") == "github.com/acme/kit"
    assert m("github.com/acme/kit/log/legacy/v1") == "github.com/acme/kit/log/legacy"
    assert m("github.com/acme") is None
    assert r.tokens == (b"github.com/acme/kit", b"github.com/acme/kit/log/legacy")


def test_entry_lines_inline_tables():
    r = radar_mod.parse_radar('entry = [\n  {path = "a.io/x", ring = "hold"},\n  {path = "b.io/y", ring = "trial"},\n]\n', "r.toml")
    assert [(e.path, e.line) for e in r.entries] == [("a.io/x", 2), ("b.io/y", 3)]
    with pytest.raises(radar_mod.RadarError) as exc:
        radar_mod.parse_radar('entry = [\n  {path = "a.io/x", ring = "hold"},\n  {path = "a.io/x", ring = "trial"},\n]\n', "r.toml")
    assert exc.value.line == 3


def test_load_caches_and_notices_edits(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('[[entry]]\npath = "a.io/x"\nring = "hold"\n')
    a = radar_mod.load(p)
    assert radar_mod.load(p) is a
    time.sleep(0.01)
    p.write_text('[[entry]]\npath = "a.io/x"\nring = "trial"\n\n')
    os.utime(p, ns=(time.time_ns(), time.time_ns()))
    assert radar_mod.load(p).entries[0].ring == "trial"
    with pytest.raises(radar_mod.RadarError, match="radar file not found"):
        radar_mod.load(tmp_path / "nope.toml")


# ---------------------------------------------------------------------------
# repositories and the report


def make_gopath(root: Path) -> Path:
    """A GOPATH-style tree of three repositories (no go.mod in one of them)."""
    files = {
        "github.com/acme/orders/go.mod": "module github.com/acme/orders\n\ngo 1.23\n\nrequire (\n\tgithub.com/rs/zerolog v1.33.0\n\tentgo.io/ent v0.14.1\n\tgithub.com/google/uuid v1.6.0\n)\n",
        "github.com/acme/orders/api/api.go": 'package api\n\nimport (\n\t"log/slog"\n\n\t"github.com/google/uuid"\n\t"github.com/rs/zerolog/log"\n\t"github.com/acme/orders/store"\n)\n',
        "github.com/acme/orders/store/store.go": 'package store\n\nimport (\n\t"entgo.io/ent"\n\t"github.com/rs/zerolog"\n)\n',
        "github.com/acme/orders/store/store_test.go": 'package store\n\nimport "github.com/google/uuid"\n',
        "github.com/acme/orders/tools/go.mod": "module github.com/acme/orders/tools\n\ngo 1.23\n\nrequire golang.org/x/tools/gopls v0.16.2 // indirect\n\ntool golang.org/x/tools/gopls\n",
        "github.com/acme/billing/billing.go": 'package billing\n\nimport (\n\t"github.com/google/uuid"\n\t"github.com/acme/billing/internal"\n)\n',
        "github.com/acme/billing/internal/x.go": "package internal\n",
        "github.com/acme/billing/cmd/bill/main.go": 'package main\n\nimport "github.com/rs/zerolog"\n',
        "github.com/rs/zerolog/log.go": 'package zerolog\n\nimport "github.com/rs/zerolog/internal/json"\n',
        "github.com/rs/zerolog/internal/json/json.go": "package json\n",
        "gopkg.in/yaml.v3/yaml.go": 'package yaml\n\nimport "github.com/google/uuid"\n',
        "github.com/acme/orders/vendor/github.com/rs/zerolog/z.go": 'package zerolog\n\nimport "entgo.io/ent"\n',
    }
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_find_repositories_in_a_gopath_tree(tmp_path):
    make_gopath(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in radar_mod.find_repositories(tmp_path)]
    assert names == ["github.com/acme/billing", "github.com/acme/orders", "github.com/rs/zerolog", "gopkg.in/yaml.v3"]
    assert radar_mod.find_repositories(tmp_path / "github.com/acme/orders") == [tmp_path / "github.com/acme/orders"]


def test_report_counts_packages_and_requires(tmp_path):
    make_gopath(tmp_path)
    rep = radar_mod.build_report([tmp_path], radar_mod.load())
    u = rep.usage
    assert u["github.com/rs/zerolog"]["github.com/acme/orders"].packages == ["api", "store"]
    assert [r["version"] for r in u["github.com/rs/zerolog"]["github.com/acme/orders"].requires] == ["v1.33.0"]
    assert u["github.com/rs/zerolog"]["github.com/acme/billing"].packages == ["cmd/bill"]
    assert "github.com/rs/zerolog" not in u["github.com/rs/zerolog"]  # its own packages are not adoption
    assert u["entgo.io/ent"]["github.com/acme/orders"].packages == ["store"]  # vendor/ is not counted
    assert u["log/slog"]["github.com/acme/orders"].packages == ["api"]
    gopls = u["golang.org/x/tools/gopls"]["github.com/acme/orders"]
    assert gopls.packages == [] and gopls.requires == [
        {"file": "tools/go.mod", "line": 5, "module": "golang.org/x/tools/gopls", "version": "v0.16.2", "indirect": True}
    ]
    zl = next(e for e in rep.radar.entries if e.path == "github.com/rs/zerolog")
    assert rep.entry_totals(zl) == (2, 3, 1)
    cands = {c["module"]: c for c in rep.candidates}
    assert cands["github.com/google/uuid"] == {"module": "github.com/google/uuid", "repositories": 3, "packages": 4, "required_by": 1}
    assert "github.com/acme/billing" not in cands and "gopkg.in/yaml.v3" not in cands


def test_cli_formats(tmp_path, capsys):
    make_gopath(tmp_path)
    assert cli_main(["radar", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == 1 and len(data["repositories"]) == 4
    zl = next(e for e in data["entries"] if e["path"] == "github.com/rs/zerolog")
    assert zl["repositories_using"] == 2 and zl["ring"] == "hold"
    assert cli_main(["radar", str(tmp_path), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| 4 | `github.com/rs/zerolog` | **hold** |" in md and "## Candidates for the next radar" in md
    out = tmp_path / "report.txt"
    assert cli_main(["radar", str(tmp_path), "-o", str(out), "--top", "2"]) == 0
    text = out.read_text()
    assert "github.com/acme/orders" in text and "github.com/rs/zerolog" in text
    assert "\x1b[" not in text
    assert cli_main(["radar", "--check"]) == 0
    assert "4 entries" in capsys.readouterr().out
    assert cli_main(["radar", str(tmp_path / "missing")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[entry]]\npath = "a.io/x"\nring = "adopted"\n')
    assert cli_main(["radar", "--radar", str(bad), "--check"]) == 2
    assert f"{bad}:3: ring 'adopted'" in capsys.readouterr().err


def test_html_is_self_contained_and_escaped(tmp_path):
    make_gopath(tmp_path)
    r = parse(
        """
        [radar]
        name = "Radar <script>alert(1)</script>"
        quadrants = ["A & B", "C"]

        [[entry]]
        path = "github.com/rs/zerolog"
        ring = "hold"
        quadrant = "A & B"
        note = "</script><b>x</b>"
        """
    )
    page = radar_mod.render_html(radar_mod.build_report([tmp_path], r))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "</script><b>" not in page
    assert len(re.findall(r'<g class="blip"', page)) == 1
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)  # nothing loaded from elsewhere
    assert "default-src 'none'" in page


# ---------------------------------------------------------------------------
# the page in a real browser (Debian's chromium, driven over the DevTools protocol)


class DevTools:
    """A minimal client of the Chrome DevTools protocol over a WebSocket (RFC 6455), stdlib only."""

    def __init__(self, ws_url: str) -> None:
        u = urllib.parse.urlparse(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        self.next_id = 0
        self.events: list[dict] = []

    def _send(self, payload: bytes, opcode: int = 1) -> None:
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126)
            header += n.to_bytes(2, "big")
        else:
            header.append(0x80 | 127)
            header += n.to_bytes(8, "big")
        mask = os.urandom(4)
        header += mask
        self.sock.sendall(bytes(header) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _message(self) -> dict:
        parts = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exact(8), "big")
            mask = self._exact(4) if b1 & 0x80 else None
            data = self._exact(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            op = b0 & 0x0F
            if op == 8:
                raise ConnectionError("DevTools closed the connection")
            if op == 9:
                self._send(data, opcode=10)
                continue
            if op in (0, 1, 2):
                parts.append(data)
                if b0 & 0x80:
                    return json.loads(b"".join(parts))

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        mid = self.next_id
        self._send(json.dumps({"id": mid, "method": method, "params": params}).encode())
        while True:
            msg = self._message()
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for e in self.events:
            if e.get("method") == method:
                return e
        while time.monotonic() < deadline:
            msg = self._message()
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Debian's chromium is not installed: apt-get install chromium (scripts/test installs it)")
    return exe


def open_in_browser(page: Path, tmp_path: Path):
    """Load ``page`` in headless Chromium; return (devtools, process) once loaded."""
    proc = subprocess.Popen(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--remote-debugging-port=0",
         "--window-size=1000,1400", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ws = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        m = re.search(r"DevTools listening on (ws://\S+)", line)
        if m:
            ws = m.group(1)
            break
    if ws is None:
        proc.kill()
        pytest.fail("chromium did not start its DevTools endpoint")
    port = urllib.parse.urlparse(ws).port
    targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
    target = next(t for t in targets if t.get("type") == "page")
    dt = DevTools(target["webSocketDebuggerUrl"])
    for domain in ("Runtime", "Log", "Network", "Page"):
        dt.call(f"{domain}.enable")
    dt.call("Page.navigate", url=page.resolve().as_uri())
    dt.wait_for("Page.loadEventFired")
    return dt, proc


def problems_of(dt: DevTools) -> list[str]:
    out = []
    for e in dt.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            out.append(f"exception: {p['exceptionDetails']}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            out.append(f"console.{p['type']}: {p.get('args')}")
        elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            out.append(f"log: {p['entry'].get('text')}")
        elif m == "Network.requestWillBeSent" and not p["request"]["url"].startswith(("file:", "data:", "about:")):
            out.append(f"network request: {p['request']['url']}")
    return out


def check_page(page: Path, tmp_path: Path, n_entries: int, hover_repo: str | None) -> None:
    dt, proc = open_in_browser(page, tmp_path)
    try:
        assert dt.evaluate("document.body.getAttribute('data-radar-ready')") == str(n_entries)  # the script ran to its end
        assert dt.evaluate("document.querySelectorAll('#radar .blip').length") == n_entries
        assert dt.evaluate("document.querySelectorAll('#radar circle.ring').length") == 4
        paths = dt.evaluate("Array.from(document.querySelectorAll('#radar .blip')).map(b => b.getAttribute('data-path'))")
        assert len(set(paths)) == n_entries  # one blip per entry, each entry once
        if hover_repo is not None:
            box = dt.evaluate(
                "(() => { const b = document.querySelector('#radar .blip[data-path=\"github.com/rs/zerolog\"]');"
                " const r = b.getBoundingClientRect(); b.scrollIntoView({block: 'center'});"
                " const s = b.getBoundingClientRect(); return [s.x + s.width / 2, s.y + s.height / 2]; })()"
            )
            dt.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
            assert dt.evaluate("getComputedStyle(document.getElementById('tip')).display") == "block"
            tip = dt.evaluate("document.getElementById('tip').textContent")
            assert "github.com/rs/zerolog" in tip and hover_repo in tip
        shot = dt.call("Page.captureScreenshot", format="png")
        png = base64.b64decode(shot["data"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        (tmp_path / "radar.png").write_bytes(png)
        time.sleep(0.2)
        try:
            while True:  # drain events that arrived after load
                dt.sock.settimeout(0.3)
                dt.events.append(dt._message())
        except (TimeoutError, socket.timeout):
            pass
        assert problems_of(dt) == []
    finally:
        try:
            dt.sock.settimeout(5)
            dt.call("Browser.close")
        except Exception:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_html_page_in_headless_chromium(tmp_path):
    make_gopath(tmp_path / "repos")
    page = tmp_path / "radar.html"
    assert cli_main(["radar", str(tmp_path / "repos"), "--html", str(page), "-o", str(tmp_path / "out.txt")]) == 0
    check_page(page, tmp_path, n_entries=4, hover_repo="github.com/acme/orders")


def test_html_page_with_a_bigger_radar_in_headless_chromium(tmp_path):
    """Every ring and quadrant, several blips per sector, an entry nobody uses."""
    lines = ['[radar]\nname = "Big radar"\nquadrants = ["Languages", "Libraries", "Frameworks", "Tools", "Platforms"]\n']
    rings = ["adopt", "trial", "assess", "hold"]
    quads = ["Languages", "Libraries", "Frameworks", "Tools", "Platforms"]
    for i in range(23):
        lines.append(f'[[entry]]\npath = "example.com/lib{i}"\nring = "{rings[i % 4]}"\nquadrant = "{quads[i % 5]}"\n')
    lines.append('[[entry]]\npath = "github.com/rs/zerolog"\nring = "hold"\nreplacement = "log/slog"\n')
    rfile = tmp_path / "big.toml"
    rfile.write_text("\n".join(lines))
    make_gopath(tmp_path / "repos")
    page = tmp_path / "radar.html"
    assert cli_main(["radar", str(tmp_path / "repos"), "--radar", str(rfile), "--html", str(page), "-o", str(tmp_path / "o.txt")]) == 0
    check_page(page, tmp_path, n_entries=24, hover_repo="github.com/acme/billing")


def test_html_page_of_the_go_standard_library_in_headless_chromium(tmp_path):
    """A real tree: the Go 1.19 sources (std and cmd modules, with vendored golang.org/x)."""
    if not GO_SRC.is_dir():
        pytest.fail("/usr/share/go-1.19/src is missing: apt-get install golang-1.19-src (scripts/test installs it)")
    page = tmp_path / "radar.html"
    out = tmp_path / "radar.json"
    assert cli_main(["radar", str(GO_SRC), "--html", str(page), "--format", "json", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["repositories"]] == ["src"]
    assert {"golang.org/x/net", "golang.org/x/sys"} <= {c["module"] for c in data["candidates"]}
    check_page(page, tmp_path, n_entries=4, hover_repo=None)
