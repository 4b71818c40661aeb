"""The demo host's HTML report in real Chromium (Playwright driving Debian's chromium).

At desktop width (1280 px) and phone width (390 px): nothing is requested but the file itself,
the console stays silent, the summary shows the JSON report's counts, the page does not scroll
sideways, collapsed cards keep the page short, the grade and section filters hide what they
should, and a link in the summary opens its card. A report full of hostile text opens without a
dialog, a request or a console message. Screenshots go to the test's tmp folder (look at them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from demohost import ADVISORIES, demo_copy
from hostile_report import SCRIPT, hostile_report

from hostwarden.report import SCAN_DOCUMENTS

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
SECTIONS = ("logs", "detect", "vuln", "baseline", "persistence", "integrity", "malware", "runtime", "firewall")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("html")
    root = demo_copy(tmp)
    out = {fmt: tmp / f"report.{fmt}" for fmt in ("json", "html")}
    procs = [subprocess.Popen([sys.executable, "-m", "hostwarden.cli", "scan", "--root", str(root), "--advisories",
                               str(ADVISORIES), "--format", fmt, "--output", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for fmt, path in out.items()]  # the two scans side by side: same root, same findings
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    return out["html"], json.loads(out["json"].read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Watched:
    """A page with every request, console message, page error and dialog recorded."""

    def __init__(self, browser: Any, width: int, height: int) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.requests: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, path: Path) -> Any:
        self.page.goto(path.as_uri())
        return self.page

    def height(self) -> int:
        return int(self.page.evaluate("document.documentElement.scrollHeight"))


def visible(page: Any, selector: str) -> int:
    return int(page.evaluate("s => [...document.querySelectorAll(s)].filter(e => e.offsetParent !== null).length",
                             selector))


@pytest.mark.parametrize("device", list(WIDTHS))
def test_demo_report_in_chromium(device: str, reports: tuple[Path, dict[str, Any]], browser: Any,
                                 tmp_path: Path) -> None:
    html, doc = reports
    width, height = WIDTHS[device]
    watched = Watched(browser, width, height)
    page = watched.open(html)
    assert watched.requests == [html.as_uri()]  # nothing leaves the file: no font, image, style or script
    assert not watched.console and not watched.errors  # a CSP violation would be a console error
    counts = doc["summary"]["counts"]
    for grade in ("L1", "L2", "L3"):
        assert int(page.inner_text(f"#count-{grade}")) == counts[grade]
    assert int(page.inner_text("#count-total")) == len(doc["findings"])
    per_section = Counter(f["event.module"] for f in doc["findings"])
    for name in SECTIONS:
        assert int(page.inner_text(f"#count-sec-{name}")) == per_section[name], name
        assert visible(page, f"#sec-{name} article.card") == per_section[name]
    # the page fits the screen's width, and collapsed cards keep it short: the old one-table
    # report of this demo was ~28,000 px tall at 1280 px
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    cards = page.evaluate("[...document.querySelectorAll('article.card')].map(c => c.offsetHeight)")
    assert len(cards) == len(doc["findings"]) and max(cards) < (100 if device == "desktop" else 160)
    if device == "desktop":
        assert watched.height() < 3000 + 80 * len(doc["findings"])
    shots = [tmp_path / f"{device}-top.png", tmp_path / f"{device}-full.png"]
    page.screenshot(path=str(shots[0]))
    page.screenshot(path=str(shots[1]), full_page=True)
    first = page.locator("article.card.L1 > details > summary").first
    first.click()  # opening a card shows its fix and evidence
    assert page.locator("article.card.L1").first.locator(".body").is_visible()
    shots.append(tmp_path / f"{device}-card.png")
    page.locator("article.card.L1").first.screenshot(path=str(shots[-1]))
    for shot in shots:
        assert shot.stat().st_size > 10_000, shot
    assert watched.requests == [html.as_uri()] and not watched.console and not watched.errors
    page.close()


def test_filters_hide_and_show(reports: tuple[Path, dict[str, Any]], browser: Any, tmp_path: Path) -> None:
    html, doc = reports
    counts = doc["summary"]["counts"]
    per_section = Counter((f["event.module"], f["hostwarden.grade"]) for f in doc["findings"])
    assert counts["L3"] and per_section[("vuln", "L3")], "the demo must have L3 findings, some in vuln"
    watched = Watched(browser, *WIDTHS["desktop"])
    page = watched.open(html)
    page.click("label[for=g-L3]")  # grade filter: L3 off
    assert visible(page, "article.card.L3") == 0
    assert visible(page, "article.card") == counts["L1"] + counts["L2"]
    page.screenshot(path=str(tmp_path / "no-L3.png"), full_page=True)
    page.click("label[for=s-vuln]")  # section filter: vulnerabilities only
    assert visible(page, "section.scanner") == 1 and page.locator("#sec-vuln").is_visible()
    assert visible(page, "article.card") == per_section[("vuln", "L1")] + per_section[("vuln", "L2")]
    page.click("label[for=g-L3]")  # L3 back on
    assert visible(page, "article.card.L3") == per_section[("vuln", "L3")]
    page.click("label[for=s-all]")
    assert visible(page, "article.card") == len(doc["findings"])
    assert not watched.console and not watched.errors


def test_most_urgent_link_opens_its_card(reports: tuple[Path, dict[str, Any]], browser: Any) -> None:
    html, _ = reports
    watched = Watched(browser, *WIDTHS["desktop"])
    page = watched.open(html)
    link = page.locator("ul.urgent a").first
    target = (link.get_attribute("href") or "").removeprefix("#open-")
    assert not page.locator(f"#{target} > details").evaluate("d => d.open")
    link.click()
    assert page.locator(f"#{target} > details").evaluate("d => d.open")
    assert page.locator(f"#{target} .body").is_visible()


def test_hostile_report_stays_inert_in_chromium(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "hostile.html"
    path.write_text(SCAN_DOCUMENTS["html"](hostile_report()), encoding="utf-8")
    watched = Watched(browser, *WIDTHS["desktop"])
    page = watched.open(path)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.mouse.move(300, 300)
    page.mouse.wheel(0, 2000)
    assert not watched.dialogs and not watched.errors and not watched.console
    assert watched.requests == [path.as_uri()]
    assert page.evaluate("document.scripts.length") == 0 and page.evaluate("document.images.length") == 0
    assert SCRIPT in page.inner_text("body")  # shown as text
