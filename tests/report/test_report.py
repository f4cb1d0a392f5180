"""pvscan report (HTML) and colour in the terminal, looked at as a person would."""

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FIXTURES, fixture_tree, pvscan

GEN3 = str(fixture_tree("gen3-unified"))
ARTIFACTS = Path(os.environ.get("PVSCAN_ARTIFACTS") or FIXTURES.parent / "out" / "artifacts")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _Dom(HTMLParser):
    """What the tests read off the rendered DOM."""

    def __init__(self):
        super().__init__()
        self.ops = []
        self.group_counts = {}
        self.backend_rows = 0
        self.abi_cells = []
        self.scripts = 0
        self.verdict = {}             # severity -> count, as the page's first answer says
        self.order = []               # the elements' ids in document order
        self.finding_rows = []        # severities of the finding list, in order
        self.doc_headings = 0         # rule documentation rendered (h5), not shown raw
        self._table = None
        self._group_cell = None
        self._in_verdict = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.order.append(a["id"])
        if tag == "p" and a.get("id") == "verdict":
            self._in_verdict = True
        if self._in_verdict and tag == "span" and "data-count" in a:
            self.verdict[a["class"].removeprefix("sev-")] = int(a["data-count"])
        if tag == "tr" and "finding" in (a.get("class") or ""):
            self.finding_rows.append(a.get("data-severity"))
        if tag == "h5":
            self.doc_headings += 1
        if tag == "script":
            self.scripts += 1
        if tag == "article" and "op" in (a.get("class") or ""):
            self.ops.append(a.get("data-op"))
        if tag == "table":
            self._table = a.get("id")
        if tag == "tr" and self._table == "backend-matrix" and "data-op" in a:
            self.backend_rows += 1
        if tag == "td" and "data-group" in a:
            self._group_cell = a["data-group"]
        if tag == "td" and self._table == "abi-matrix" and "data-kind" in a:
            self.abi_cells.append(a["data-kind"])

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_verdict = False

    def handle_data(self, data):
        if self._group_cell is not None:
            # One row per architecture and group: a group of several architectures sums them.
            self.group_counts[self._group_cell] = self.group_counts.get(self._group_cell, 0) + int(data)
            self._group_cell = None


def chromium():
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("PVSCAN_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def render(html_file: Path, tmp_path: Path, screenshot: str | None = None) -> _Dom:
    browser = chromium()
    profile = tmp_path / "profile"
    args = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run(args + ["--dump-dom", html_file.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    if screenshot:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / screenshot
        subprocess.run(args + ["--window-size=1400,1000", f"--screenshot={shot}", html_file.as_uri()],
                       capture_output=True, timeout=120)
        assert shot.exists() and shot.stat().st_size > 10_000
    parser = _Dom()
    parser.feed(dom.stdout)
    return parser


def expected(tree, *abis):
    doc = json.loads(pvscan("scan", tree, "--format", "json", "--no-callers").stdout)
    groups = {}
    for o in doc["ops"]:
        groups[o["group"]] = groups.get(o["group"], 0) + 1
    return doc, groups


def test_fixture_report_in_chromium_matches_the_inventory(tmp_path):
    out = tmp_path / "report.html"
    toy = str(FIXTURES / "abi" / "toy-gen3.toml")
    assert pvscan("report", GEN3, "--abi", toy, "-o", str(out)).returncode == 0
    dom = render(out, tmp_path, screenshot="report-gen3.png")
    doc, groups = expected(GEN3)
    assert dom.ops == [o["name"] for o in doc["ops"]]
    assert dom.group_counts == groups
    assert dom.backend_rows == len(doc["ops"])
    assert dom.scripts == 0
    assert "constrained" in dom.abi_cells and "unmapped" in dom.abi_cells
    # The verdict first, as check counts it; then the findings, errors first; rule docs as HTML.
    check = json.loads(pvscan("check", GEN3, "--abi", toy, "--format", "json").stdout)["summary"]
    assert dom.order.index("verdict") < dom.order.index("findings") < dom.order.index("overview")
    assert dom.verdict == {k: check[k] for k in ("error", "warning", "note")} and dom.verdict["error"] > 0
    assert dom.finding_rows == sorted(dom.finding_rows, key=("error", "warning", "note").index)
    assert len(dom.finding_rows) == sum(dom.verdict.values()) and dom.doc_headings > 0


def test_a_report_without_an_abi_says_so_first_and_rule_docs_are_html():
    from pvscan.report.html import markdown

    page = pvscan("report", GEN3).stdout
    assert page.index('id="verdict"') < page.index('id="overview"') and "No ABI checked" in page
    html = markdown("Intro `a<b`.\n\n## What it does\n- one\n  more\n- two\n\n```\nx < y\n```\n")
    assert html == ("<p>Intro <code>a&lt;b</code>.</p><h5>What it does</h5><ul><li>one more</li><li>two</li></ul>"
                    "<pre>x &lt; y</pre>")


@pytest.mark.kernel
def test_6_12_report_with_every_bundled_abi(tmp_path, linux_6_12):
    from conftest import kernel_path

    tree = str(kernel_path("6.12"))
    out = tmp_path / "report.html"
    abis = ["--abi", "xen-pv", "--abi", "kvm", "--abi", "hyperv", "--abi", "vmi", "--abi", "lguest"]
    assert pvscan("report", tree, *abis, "-o", str(out)).returncode == 0
    dom = render(out, tmp_path, screenshot="report-6.12.png")
    # The 83 ops of pv_ops and the 6 static calls: pv_steal_clock of x86, arm, arm64, riscv
    # and loongarch, pv_sched_clock of x86 (each arch/*/kernel/paravirt.c).
    assert dom.group_counts == {"cpu": 30, "irq": 5, "lock": 5, "mmu": 43, "static_call": 6}
    assert len(dom.ops) == len(linux_6_12.inventory.ops) == sum(dom.group_counts.values())
    # Every bundled ABI is x86's: its matrix has x86's ops (pv_ops and its two static calls),
    # no other architecture's, one row of cells per ABI given.
    x86 = [o for o in linux_6_12.inventory.ops if o.arch == "x86"]
    assert sorted(o.name for o in x86 if o.group == "static_call") == ["pv_sched_clock", "pv_steal_clock"]
    assert len([o for o in x86 if o.group != "static_call"]) == 83
    assert len(dom.abi_cells) == len(x86) * abis.count("--abi")


def test_hostile_code_and_file_names_cannot_make_markup(tmp_path):
    tree = tmp_path / "linux"
    shutil.copytree(GEN3, tree)
    evil_dir = tree / "arch" / "x86" / 'kvm"<b>x'
    evil_dir.mkdir()
    (evil_dir / "evil&.c").write_text(
        '/* </pre></div><script>alert("pv")</script> & <img src=x onerror=alert(1)> */\n'
        "void f(void) { pv_ops.cpu.io_delay = evil_delay; }\n")
    out = tmp_path / "r.html"
    proc = pvscan("report", str(tree), "--source-url", 'https://x.invalid/{path}?a="b"&l={line}', "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert "<script" not in html and "<img" not in html and "<b>x" not in html
    assert "&lt;script&gt;" in html or "&lt;/span&gt;" in html or "script" in html
    assert 'kvm&quot;&lt;b&gt;x/evil&amp;.c' in html
    assert 'href="https://x.invalid/arch/x86/kvm%22%3Cb%3Ex/evil%26.c?a=&quot;b&quot;&amp;l=2"' in html
    dom = _Dom()
    dom.feed(html)
    assert dom.scripts == 0


def test_report_refuses_to_write_into_the_tree(tmp_path):
    tree = tmp_path / "linux"
    shutil.copytree(GEN3, tree)
    proc = pvscan("report", str(tree), "-o", str(tree / "r.html"))
    assert proc.returncode == 2 and not (tree / "r.html").exists()


ESC = "\x1b["


def test_colour_only_on_a_terminal_and_never_with_no_color():
    plain = pvscan("scan", GEN3, "--op", "mmu.write_cr3").stdout
    assert ESC not in plain
    assert "| \tPVOP_ALT_VCALL1(mmu.write_cr3, x" in plain          # the source line, plain
    assert ESC in pvscan("scan", GEN3, "--op", "mmu.write_cr3", "--color", "always").stdout
    # A real terminal: script(1) gives the command a pty.
    cmd = f"{sys.executable} -m pvscan scan {GEN3} --op mmu.write_cr3"
    tty = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                         env=dict(os.environ, TERM="xterm"))
    assert ESC in tty.stdout
    no_color = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                              env=dict(os.environ, TERM="xterm", NO_COLOR="1"))
    assert ESC not in no_color.stdout


def test_check_shows_highlighted_source_lines_with_colour():
    toy = str(FIXTURES / "abi" / "toy-gen3.toml")
    coloured = pvscan("check", GEN3, "--abi", toy, "--color", "always").stdout
    assert ESC in coloured and "\n    | " in coloured
    plain = pvscan("check", GEN3, "--abi", toy).stdout
    assert ESC not in plain and "\n    | " not in plain


def test_history_timeline(tmp_path):
    history = tmp_path / "history.json"
    trees = [str(fixture_tree(n)) for n in ("gen1-single", "gen2-split", "gen3-unified")]
    assert pvscan("history", *trees, "--abi", "xen-pv", "--format", "json", "-o", str(history)).returncode == 0
    out = tmp_path / "r.html"
    assert pvscan("report", GEN3, "--history", str(history), "-o", str(out)).returncode == 0
    html = out.read_text()
    doc = json.loads(history.read_text())
    import re
    assert [int(n) for n in re.findall(r'class="rev" data-ops="(\d+)"', html)] == [r["ops"] for r in doc["revisions"]]
    assert '<svg id="timeline"' in html and "<script" not in html
    # The history table leads with the verdicts per ABI and step, as history's JSON counts them.
    for pair in doc["abis"]:
        for verdict, count in pair["verdict_counts"].items():
            assert f'<td class="num {verdict}">{count}</td>' in html
    needs = [v for p in doc["abis"] for v in p["verdicts"] if v["verdict"] == "needs-abi"]
    assert ('<table id="history-needs">' in html) == bool(needs)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something-else"}')
    proc = pvscan("report", GEN3, "--history", str(bad))
    assert proc.returncode == 2 and "schema pvscan-history/1" in proc.stderr
    doc["abis"][0]["verdict_counts"] = {"absorbed": "<script>"}
    bad.write_text(json.dumps(doc))
    proc = pvscan("report", GEN3, "--history", str(bad))
    assert proc.returncode == 2 and "verdict_counts" in proc.stderr
