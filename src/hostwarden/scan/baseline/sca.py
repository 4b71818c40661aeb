"""Wazuh SCA policy files, so existing CIS content runs on hostwarden unchanged.

Supported: `variables`, `requirements`, per-check `condition: all|any|none`, rules of type
`f:` (file exists / file content), `d:` (directory exists / file names / their content), `c:`
(command output, live host only), `p:` (running process, live host only), the `not` prefix,
content expressions `r:`, `!r:`, `n:REGEX compare OP VALUE` joined by ` && ` on one line, and
both regex engines (`regex_type: osregex`, Wazuh's default, translated to Python; or `pcre2`).
A rule that cannot be evaluated (file unreadable, command absent, Windows registry) is *invalid*:
it does not decide the check, which is not-applicable if nothing else does.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from hostwarden.core.errors import SCAN_POLICY_INVALID, HostwardenError
from hostwarden.scan.baseline.compare import compare
from hostwarden.scan.baseline.host import Host
from hostwarden.scan.baseline.model import FAIL, NA, PASS, Check, Evidence, Outcome, Policy

INVALID = None  # a rule result that decides nothing

_OS_ESCAPES = {
    "w": r"[A-Za-z0-9@_\-]", "W": r"[^A-Za-z0-9@_\-]", "d": r"\d", "D": r"\D", "s": r"\s", "S": r"\S",
    "t": r"\t", ".": ".", "p": r"[()*+,\-.:;<=>?\[\]!\"'#$%&|{}]",
}


def osregex_to_python(expr: str) -> str:
    """Translate Wazuh OS_Regex: `\\.` is any char, a bare `.` is literal, `\\p` is punctuation."""
    out: list[str] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c == "\\" and i + 1 < len(expr):
            n = expr[i + 1]
            out.append(_OS_ESCAPES.get(n, re.escape(n)))
            i += 2
            continue
        out.append(c if c in "^$|()+*" else re.escape(c))
        i += 1
    return "".join(out)


def os_match_to_python(expr: str) -> str:
    """OS_Match: literal text, `|` between alternatives, `^`/`$` anchors, nothing else special."""
    alts = []
    for alt in expr.split("|"):
        head = "^" if alt.startswith("^") else ""
        tail = "$" if alt.endswith("$") and len(alt) > len(head) else ""
        core = alt[len(head): len(alt) - len(tail)]
        alts.append(head + re.escape(core) + tail)
    return "|".join(alts)


class Matcher:
    """One content expression: every `&&` part must hold on the same line."""

    def __init__(self, text: str, pcre: bool) -> None:
        self.parts: list[tuple[bool, re.Pattern[str], tuple[str, str] | None]] = []
        for part in text.split(" && "):
            part = part.strip()
            negate = part.startswith("!")
            part = part.lstrip("!")
            cmp = None
            if part.startswith("n:"):
                m = re.match(r"^n:(.*)\s+compare\s+(<=|>=|==|!=|<|>)\s*(\S+)$", part)
                if not m:
                    raise ValueError(f"bad numeric rule {part!r}")
                part, cmp = "r:" + m.group(1), (m.group(2), m.group(3))
            if part.startswith("r:"):
                body = part[2:]
                self.parts.append((negate, re.compile(body if pcre else osregex_to_python(body)), cmp))
            elif part and part[1:2] != ":":
                # A bare pattern is an OS_Match simple match (Wazuh's own CIS files contain some).
                self.parts.append((negate, re.compile(os_match_to_python(part)), cmp))
            else:
                raise ValueError(f"unknown content expression {part!r}")

    def line(self, line: str) -> bool:
        for negate, pattern, cmp in self.parts:
            m = pattern.search(line)
            hit = bool(m)
            if hit and cmp is not None:
                hit = compare(m.group(1) if m.groups() else m.group(0), cmp[0], cmp[1])
            if hit == negate:
                return False
        return True


def _lines_match(host: Host, file: str, matcher: Matcher) -> tuple[bool | None, list[Evidence]]:
    text = host.read(file)
    if text is None:
        return INVALID, [Evidence(file=file, note="could not open file")]
    for lineno, line in enumerate(text.splitlines(), 1):
        if matcher.line(line):
            return True, [Evidence(file=file, line=lineno, value=line.strip()[:200])]
    return False, [Evidence(file=file, note="no line matches")]


def eval_rule(host: Host, rule: str, pcre: bool) -> tuple[bool | None, list[Evidence]]:
    negate = rule.startswith("not ")
    body = rule[4:].strip() if negate else rule.strip()
    value, ev = _eval(host, body, pcre)
    if value is INVALID or not negate:
        return value, ev
    return (not value), ev


def _eval(host: Host, body: str, pcre: bool) -> tuple[bool | None, list[Evidence]]:
    kind, _, rest = body.partition(":")
    pieces = [p.strip() for p in rest.split(" -> ")]
    target = pieces[0]
    if kind == "f":
        if len(pieces) == 1:
            exists = host.is_file(target)
            return exists, [Evidence(file=target, note="present" if exists else "absent")]
        return _lines_match(host, target, Matcher(pieces[1], pcre))
    if kind == "d":
        if not host.is_dir(target):
            return (False, [Evidence(file=target, note="absent")]) if len(pieces) == 1 else (INVALID, [Evidence(file=target, note="absent")])
        if len(pieces) == 1:
            return True, [Evidence(file=target, note="present")]
        name_expr = pieces[1]
        name_re = re.compile(_regex_body(name_expr, pcre)) if name_expr.startswith("r:") else None
        files = sorted(host.fs.files(target), key=lambda e: e.path)
        chosen = {e.name for e in files if (name_re.search(e.name) if name_re else e.name == name_expr)}
        if len(pieces) == 2:
            return bool(chosen), [Evidence(file=f"{target.rstrip('/')}/{n}") for n in sorted(chosen)[:5]] or [Evidence(file=target, note="no matching file")]
        matcher = Matcher(pieces[2], pcre)
        for entry in files:
            if entry.name in chosen:
                hit, ev = _lines_match(host, entry.path, matcher)
                if hit:
                    return True, ev
        return False, [Evidence(file=target, note="no file content matches")]
    if kind == "c":
        if not host.live:
            return INVALID, [Evidence(value=target, note="command rules need the live host")]
        try:
            res = subprocess.run(shlex.split(target), capture_output=True, text=True, timeout=15)
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            return INVALID, [Evidence(value=target, note=str(exc))]
        if len(pieces) == 1:
            return True, [Evidence(value=target, note="ran")]
        matcher = Matcher(pieces[1], pcre)
        for line in (res.stdout + res.stderr).splitlines():
            if matcher.line(line):
                return True, [Evidence(value=line.strip()[:200], note=target)]
        return False, [Evidence(value=(res.stdout or res.stderr)[:200], note=target)]
    if kind == "p":
        if not host.live:
            return INVALID, [Evidence(value=target, note="process rules need the live host")]
        running = _process_names()
        return target in running, [Evidence(value=target, note="running" if target in running else "not running")]
    return INVALID, [Evidence(value=body, note=f"rule type {kind}: not supported on Linux")]


def _regex_body(expr: str, pcre: bool) -> str:
    body = expr[2:]
    return body if pcre else osregex_to_python(body)


def _process_names() -> set[str]:
    names: set[str] = set()
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            names.add(comm.read_text().strip())
        except OSError:
            continue
    return names


def decide(condition: str, results: list[tuple[bool | None, list[Evidence]]]) -> Outcome:
    values = [v for v, _ in results]
    evidence = [e for _, ev in results for e in ev]
    decided = [v for v in values if v is not INVALID]
    if condition == "all":
        if False in decided:
            return Outcome(FAIL, evidence, "a required rule did not hold")
        status = PASS if decided and len(decided) == len(values) else NA
    elif condition == "any":
        if True in decided:
            return Outcome(PASS, evidence)
        status = FAIL if decided else NA
    elif condition == "none":
        if True in decided:
            return Outcome(FAIL, evidence, "a forbidden rule held")
        status = PASS if decided else NA
    else:
        raise ValueError(f"unknown condition {condition!r}")
    return Outcome(status, evidence, "" if status == PASS else ("rule(s) could not be evaluated" if status == NA else "no rule held"))


def _subst(rule: str, variables: dict[str, str]) -> str:
    for name in sorted(variables, key=len, reverse=True):
        rule = rule.replace(name, variables[name])
    return rule


def policy_from_sca(doc: dict[str, Any], source: str) -> Policy:
    meta = doc.get("policy") or {}
    variables = {str(k): str(v) for k, v in (doc.get("variables") or {}).items()}
    pcre_default = str(meta.get("regex_type", doc.get("regex_type", "osregex"))).lower() == "pcre2"
    reqs = doc.get("requirements")
    checks: list[Check] = []
    for raw in doc["checks"]:
        if not isinstance(raw, dict) or "id" not in raw or not isinstance(raw.get("rules"), list):
            raise HostwardenError(SCAN_POLICY_INVALID, f"{source}: SCA check needs `id` and a `rules` list: {raw!r:.80}")
        condition = str(raw.get("condition", "all")).lower()
        if condition not in ("all", "any", "none"):
            raise HostwardenError(SCAN_POLICY_INVALID, f"{source}: check {raw['id']}: condition {condition!r}")
        pcre = str(raw.get("regex_type", "pcre2" if pcre_default else "osregex")).lower() == "pcre2"
        rules = [_subst(str(r), variables) for r in raw["rules"]]
        for rule in rules:  # compile content expressions now: a bad regex fails the load, not the scan
            body = rule[4:] if rule.startswith("not ") else rule
            if body[:2] not in ("f:", "d:", "c:", "p:", "r:"):
                raise HostwardenError(SCAN_POLICY_INVALID, f"{source}: check {raw['id']}: unknown rule type in {rule!r}")
            try:
                for piece in body.split(" -> ")[1:]:
                    if piece.strip().startswith(("r:", "!r:", "n:", "!n:")):
                        Matcher(piece.strip(), pcre)
            except (ValueError, re.error) as exc:
                raise HostwardenError(SCAN_POLICY_INVALID, f"{source}: check {raw['id']}: {exc}") from exc
        mapping = _compliance(raw.get("compliance") or [])
        checks.append(Check(
            id=str(raw["id"]), title=str(raw.get("title") or raw.get("name") or raw["id"]), severity=str(raw.get("severity", "medium")),
            evaluate=_evaluator(condition, rules, pcre, reqs, variables),
            rationale=str(raw.get("rationale", "")), remediation=str(raw.get("remediation", "")),
            cis=mapping.get("cis", []), mlps=mapping.get("mlps", []), kind="sca",
            spec={"condition": condition, "rules": rules},
        ))
    return Policy(id=str(meta.get("id", Path(source).stem)), name=str(meta.get("name", Path(source).stem)),
                  checks=checks, source=source)


def _compliance(items: list[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        if isinstance(item, dict):
            for k, v in item.items():
                out.setdefault(str(k).lower(), []).extend(str(x) for x in (v if isinstance(v, list) else [v]))
    return out


def _evaluator(condition: str, rules: list[str], pcre: bool, reqs: Any, variables: dict[str, str]):  # noqa: ANN202
    def run(host: Host) -> Outcome:
        if isinstance(reqs, dict) and reqs.get("rules"):
            req_rules = [_subst(str(r), variables) for r in reqs["rules"]]
            met = decide(str(reqs.get("condition", "all")).lower(), [eval_rule(host, r, pcre) for r in req_rules])
            if met.status != PASS:
                return Outcome(NA, met.evidence, "policy requirements not met on this host")
        return decide(condition, [eval_rule(host, r, pcre) for r in rules])

    return run
