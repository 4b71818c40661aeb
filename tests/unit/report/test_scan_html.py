"""The HTML scan report: inert against hostile text, and its summary says what the findings say.

The page is parsed with the standard library's HTML parser (the same tokenizer rules a browser
follows for these constructs): whatever the data held, the page has no script, no event-handler
attribute, no URL-bearing attribute except in-page anchors, and no id or class taken from data,
while the hostile text is still shown (as text)."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from hostile_report import BREAKOUT, CONTROL, JS_URL, SCRIPT, hostile_finding, hostile_report

from hostwarden.core.records import Evidence, EvidenceItem, Finding, Grade, ScanReport
from hostwarden.report import SCAN_DOCUMENTS
from hostwarden.report.html.cards import fix_html
from hostwarden.report.html.values import value_html

URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "xlink:href", "poster", "data", "background",
                  "ping", "manifest", "codebase", "cite", "longdesc", "usemap"}
FORBIDDEN_TAGS = {"script", "img", "iframe", "object", "embed", "link", "base", "form", "frame", "audio", "video",
                  "source", "foreignobject", "use", "image", "animate", "set", "noscript", "template"}
SAFE_NAME = re.compile(r"[A-Za-z0-9 _-]*")


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.style: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.style if self._in_style else self.text).append(data)


def parse(doc: str) -> Page:
    page = Page()
    page.feed(doc)
    page.close()
    return page


@pytest.fixture(scope="module")
def hostile() -> tuple[str, Page]:
    doc = SCAN_DOCUMENTS["html"](hostile_report())
    return doc, parse(doc)


def test_hostile_values_render_inert(hostile: tuple[str, Page]) -> None:
    doc, page = hostile
    assert page.tags, "nothing parsed"
    for tag, attrs in page.tags:
        assert tag not in FORBIDDEN_TAGS, (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert name != "style", (tag, value)  # the CSP admits only the hashed stylesheet
            if name in URL_ATTRIBUTES:
                assert name == "href" and re.fullmatch(r"#[a-z0-9-]+", value or ""), (tag, name, value)
            if name in ("id", "class", "for", "name", "data-grade"):
                assert SAFE_NAME.fullmatch(value or ""), (tag, name, value)  # never taken from data
    styles = [t for t, _ in page.tags if t == "style"]
    assert styles == ["style"]
    text = "".join(page.text)
    # shown, as text: the page hides nothing an attacker wrote, it only makes it harmless
    assert SCRIPT in text and BREAKOUT in text and JS_URL in text


def test_control_characters_are_written_out(hostile: tuple[str, Page]) -> None:
    doc, page = hostile
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202e\ud800-\udfff]", doc)
    text = "".join(page.text)
    assert "ok\\x1b[31mRED" in text and "\\u202eexe.txt" in text and "\\ud800" in text
    doc.encode("utf-8")  # a lone surrogate would have made the page unwritable
    assert CONTROL not in text


def test_content_security_policy_admits_only_the_page_stylesheet(hostile: tuple[str, Page]) -> None:
    _, page = hostile
    metas = [a for t, a in page.tags if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1
    policy = metas[0]["content"] or ""
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'none'"
    digest = base64.b64encode(hashlib.sha256("".join(page.style).encode()).digest()).decode()
    assert directives["style-src"] == f"'sha256-{digest}'"
    # the policy comes before anything it governs
    first = [t for t, _ in page.tags].index
    assert first("meta") < first("style")


def _report(findings: list[Finding], sections: dict | None = None) -> ScanReport:
    return ScanReport(host={"name": "web01", "root": "/srv/root"}, findings=findings,
                      summary={"sections": sections or {}})


def _finding(scanner: str, grade: Grade, rule: str, **kw) -> Finding:
    return Finding(scanner=scanner, rule_id=rule, title=rule, message=f"{rule} is wrong", grade=grade, **kw)


def test_summary_counts_and_sections_follow_the_findings() -> None:
    findings = [_finding("vuln", Grade.L3, "V3"), _finding("baseline", Grade.L2, "B2"),
                _finding("vuln", Grade.L1, "V1"), _finding("extra", Grade.L3, "E3")]
    doc = SCAN_DOCUMENTS["html"](_report(findings, {"baseline": {}, "vuln": {}, "runtime": {"live": False}}))
    for grade, n in (("L1", 1), ("L2", 1), ("L3", 2)):
        assert f'id="count-{grade}">{n}<' in doc
    for section, n in (("baseline", 1), ("vuln", 2), ("runtime", 0), ("extra", 1)):
        assert f'id="count-sec-{section}">{n}<' in doc
    # sections in the scanners' order, then scanners seen only in findings; L1 first inside one
    order = re.findall(r'<section class="scanner" id="sec-([a-z0-9-]+)"', doc)
    assert order == ["baseline", "vuln", "runtime", "extra"]
    vuln = doc[doc.index('id="sec-vuln"'):doc.index('id="sec-runtime"')]
    assert vuln.index("V1 is wrong") < vuln.index("V3 is wrong")
    ids = re.findall(r'<article class="card [^"]*" id="([^"]+)"', doc)
    assert len(ids) == len(set(ids)) == 4


def test_card_says_where_and_shows_evidence_as_fields() -> None:
    f = _finding("baseline", Grade.L1, "HW-ACC-001", evidence=Evidence(
        items=(EvidenceItem(file="/etc/passwd", line=27, value="toor:x:0:0::/root:/bin/bash"),),
        details={"reason": "1 line(s) match", "rules": [{"rule": "INPUT#1", "line": 6}, {"rule": "INPUT#2", "line": 7}]}),
        fix="userdel toor", fields={"package.name": "passwd", "package.version": "1:4.13"})
    doc = SCAN_DOCUMENTS["html"](_report([f]))
    summary = re.search(r"<summary>(.*?)</summary>", doc).group(1)
    assert "/etc/passwd:27" in summary and "passwd 1:4.13" in summary
    assert '<pre class="cmd"><span class="w">userdel</span> <span class="w">toor</span></pre>' in doc
    assert "<th>rule</th><th>line</th>" in doc and "<td>INPUT#2</td>" in doc  # a list of records is a table
    assert "Raw evidence (JSON)" in doc and "&quot;reason&quot;: &quot;1 line(s) match&quot;" in doc


def test_fix_kinds() -> None:
    assert "<code class=\"cmd\">" in fix_html("Set `PermitRootLogin no` in sshd_config.")
    assert "<pre class=\"cmd\">" in fix_html("apt-get install --only-upgrade libc6=2.36-9+deb12u3")
    prose = fix_html("Check who created this entry and why.")
    assert "<p>Check who" in prose and "cmd" not in prose
    assert fix_html(None) == "" and fix_html("") == ""


def test_values_by_shape() -> None:
    assert value_html(True) == "true" and value_html(7.80) == "7.8"
    assert value_html(["a", "b"]) == "a, b"
    assert 'class="pair"' in value_html({"name": "x", "version": "1"})
    deep = value_html({"a": {"b": {"c": {"d": [1, {"e": SCRIPT}]}}}})
    assert "<script" not in deep and "&lt;script&gt;" in deep


def test_comparison_and_notices_are_shown() -> None:
    report = hostile_report()
    doc = SCAN_DOCUMENTS["html"](report)
    assert 'id="only-new"' in doc and "Fixed since the previous scan" in doc
    assert doc.count("<li><code>") >= 2  # the notice at the top and in its section
    no_comparison = SCAN_DOCUMENTS["html"](_report([hostile_finding()]))
    assert 'id="only-new"' not in no_comparison and "Fixed since" not in no_comparison
