"""Sigma rules and correlation rules → the rule IR, through pySigma.

pySigma parses the YAML, applies the value modifiers (contains, all, windash, base64offset, re,
cidr, exists, gt…, fieldref, cased) and builds the condition tree; our processing pipeline maps
each logsource's field names to where our parsers put them; this module turns the resulting
tree into `detect.ir` nodes and adds a logsource guard (a process_creation rule only looks at
process-start events, a webserver rule only at web events), so one rule can never fire on
another source's lines by accident.

Logsource mapping (docs/detection.md has the table):

* linux auth/sshd/syslog/cron/sudo and other `service:` sources: the rules use keywords, which
  search the raw line `event.original`;
* auditd: native field names (`type`, `a0`, `exe`, `key`, `SYSCALL`, `name`) stay as they are,
  our auditd parser keeps them in `labels`;
* process_creation: auditd EXECVE (and sudo) process-start events, `Image` → `process.executable`,
  `CommandLine` → `process.command_line`, …;
* webserver / proxy: W3C names → ECS `url.*`, `http.*`, `user_agent.original`, `source.ip`.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import yaml
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from hostwarden.core.linear import RegexError, compile_regex
from hostwarden.core.safeload import safe_yaml_load_all
from hostwarden.detect.ir import And, Correlation, Node, Not, Or, Pred, Rule, inline_flags, simplify

PROCESS_FIELDS = {
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",  # label; set by sources that know it
    "ParentCommandLine": "process.parent.command_line",
    "User": "user.name",
    "CurrentDirectory": "process.working_directory",
    "ProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
}
WEB_FIELDS = {
    "cs-method": "http.request.method",
    "cs-uri-stem": "url.path",
    "cs-uri-query": "url.query",
    "c-uri-query": "url.query",
    "c-uri": "url.original",
    "cs-uri": "url.original",
    "c-uri-stem": "url.path",
    "sc-status": "http.response.status_code",
    "c-useragent": "user_agent.original",
    "cs-user-agent": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs-referrer": "http.request.referrer",
    "c-ip": "source.ip",
    "cs-host": "url.domain",
    "dst_ip": "destination.ip",
    "cs-bytes": "http.response.body.bytes",
}
FILE_FIELDS = {"TargetFilename": "file.path", "Image": "process.executable", "User": "user.name"}
NETWORK_FIELDS = {
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "SourceIp": "source.ip",
    "SourcePort": "source.port",
    "Image": "process.executable",
    "User": "user.name",
}

# (logsource condition, field map); first match per rule wins inside pySigma's pipeline.
MAPPINGS: tuple[tuple[dict[str, str], dict[str, str]], ...] = (
    ({"category": "process_creation", "product": "linux"}, PROCESS_FIELDS),
    ({"category": "file_event", "product": "linux"}, FILE_FIELDS),
    ({"category": "network_connection", "product": "linux"}, NETWORK_FIELDS),
    ({"category": "webserver"}, WEB_FIELDS),
    ({"category": "proxy"}, WEB_FIELDS),
)


def pipeline() -> ProcessingPipeline:
    items = [
        ProcessingItem(
            identifier=f"hostwarden_{'_'.join(cond.values())}",
            transformation=FieldMappingTransformation(dict(fields)),
            rule_conditions=[LogsourceCondition(**cond)],
        )
        for cond, fields in MAPPINGS
    ]
    return ProcessingPipeline(name="hostwarden ECS", priority=20, items=items)


PROXY_DATASETS = ("squid.access",)  # normalize.web.dataset_hint names them


def _is(field: str, value: str) -> Pred:
    return Pred(field, "eq", value)


def guard(logsource: dict[str, str]) -> Node | None:
    """The events a logsource can describe at all (None: any event)."""
    category, service = logsource.get("category"), logsource.get("service")
    if category == "process_creation":
        return And((_is("event.category", "process"), _is("event.type", "start")))
    if category == "webserver":
        return _is("event.category", "web")
    if category == "proxy":
        # A forward proxy logs what clients fetch; the same user agent arriving at a web server
        # is a visitor (SigmaHQ's proxy rules say "only use in proxy logs": on nginx they flag
        # Googlebot). So proxy rules read proxy access logs only.
        return And((_is("event.category", "web"), Or(tuple(_is("event.dataset", d) for d in PROXY_DATASETS))))
    if category == "file_event":
        return Or((_is("event.category", "file"), Pred("file.path", "exists", True)))
    if category == "network_connection":
        return _is("event.category", "network")
    if service == "auditd":
        return _is("event.dataset", "auditd")
    if service == "sshd":
        return Or((_is("event.dataset", "sshd"), _is("process.name", "sshd")))
    if service in ("cron", "vsftpd", "clamav", "guacamole"):
        return Pred("process.name", "contains", {"clamav": "clam"}.get(service, service))
    if category in ("dns", "firewall", "antivirus"):
        return None
    return None


class UnsupportedRule(ValueError):
    """A rule construct the IR cannot express; the message is the reason shown to users."""


_CHECK = duckdb.connect()


def check_regex(pattern: str) -> None:
    """Both executors must accept a pattern: the RE2 binding the per-line matcher runs (linear
    time, no lookaround or backreferences) and DuckDB's RE2."""
    try:
        compile_regex(pattern)
    except RegexError as exc:
        raise UnsupportedRule(f"regular expression {pattern!r} is not RE2: {exc}") from exc
    try:
        _CHECK.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as exc:
        raise UnsupportedRule(f"regular expression {pattern!r} is not RE2 (DuckDB): {exc}") from exc


def _string(field: str | None, value: SigmaString) -> Node:
    cased = isinstance(value, SigmaCasedString)
    parts = list(value.s)
    if any(not isinstance(p, (str, SpecialChars)) for p in parts):
        raise UnsupportedRule(f"unresolved placeholder in {value}")
    specials = [i for i, p in enumerate(parts) if isinstance(p, SpecialChars)]
    star = SpecialChars.WILDCARD_MULTI
    plain = "".join(p for p in parts if isinstance(p, str))
    if field is None:  # a keyword: searched anywhere in the raw line
        if not specials:
            return Pred(None, "contains", plain, cased=cased)
        if parts[0] != star:
            parts.insert(0, star)
        if parts[-1] != star:
            parts.append(star)
        specials = [i for i, p in enumerate(parts) if isinstance(p, SpecialChars)]
    if not specials:
        return Pred(field, "eq", plain, cased=cased)
    last = len(parts) - 1
    if all(parts[i] == star for i in specials):
        if specials == [0, last] and last > 0:
            return Pred(field, "contains", plain, cased=cased)
        if specials == [0] and last > 0:
            return Pred(field, "endswith", plain, cased=cased)
        if specials == [last] and last > 0:
            return Pred(field, "startswith", plain, cased=cased)
    glob = "".join(("*" if p == star else "?") if isinstance(p, SpecialChars)
                   else re.sub(r"([*?\\])", r"\\\1", p) for p in parts)
    return Pred(field, "glob", glob, cased=cased)


_FLAGS = {SigmaRegularExpressionFlag.IGNORECASE: "i", SigmaRegularExpressionFlag.MULTILINE: "m",
          SigmaRegularExpressionFlag.DOTALL: "s"}


def value_node(field: str | None, value: Any) -> Node:
    """One Sigma value (after modifiers) as an IR node."""
    if isinstance(value, SigmaString):
        return _string(field, value)
    if isinstance(value, SigmaExpansion):
        return Or(tuple(value_node(field, v) for v in value.values))
    if isinstance(value, SigmaRegularExpression):
        flags = "".join(sorted(_FLAGS[f] for f in value.flags))
        pattern = value.regexp.original if isinstance(value.regexp, SigmaString) else str(value.regexp)
        check_regex(inline_flags(pattern, flags))
        return Pred(field, "regex", pattern, flags=flags)
    if isinstance(value, SigmaCIDRExpression):
        return Pred(field, "cidr", str(value.network))
    if isinstance(value, SigmaCompareExpression):
        op = value.op.name.lower()
        if op == "neq":
            return Not(Pred(field, "eq", str(value.number.number)))
        return Pred(field, op, value.number.number)
    if isinstance(value, SigmaExists):
        return Pred(field, "exists", value.exists)
    if isinstance(value, SigmaFieldReference):
        if field is None:
            raise UnsupportedRule("fieldref needs a field")
        return Pred(field, "fieldref", value.field)
    if isinstance(value, SigmaNull):
        return Pred(field, "null")
    if isinstance(value, SigmaBool):
        return Pred(field, "eq", "true" if value.boolean else "false")
    if isinstance(value, SigmaNumber):
        return Pred(field, "eq", str(value.number))
    raise UnsupportedRule(f"value type {type(value).__name__} is not supported")


def condition_node(tree: Any) -> Node:
    if isinstance(tree, ConditionAND):
        return And(tuple(condition_node(a) for a in tree.args))
    if isinstance(tree, ConditionOR):
        return Or(tuple(condition_node(a) for a in tree.args))
    if isinstance(tree, ConditionNOT):
        return Not(condition_node(tree.args[0]))
    if isinstance(tree, ConditionFieldEqualsValueExpression):
        return value_node(tree.field, tree.value)
    if isinstance(tree, ConditionValueExpression):
        return value_node(None, tree.value)
    raise UnsupportedRule(f"condition element {type(tree).__name__} is not supported")


def _record_types(node: Node) -> Node:
    """auditd `type: EXECVE` also matches a merged event whose `record_types` lists EXECVE.

    Our auditd parser merges the records of one serial (SYSCALL + EXECVE + PATH …) into one event
    whose `type` is the first record's; Sigma rules name the record they care about.
    """
    if isinstance(node, Pred) and node.field == "type" and node.op == "eq":
        listed = Pred("record_types", "regex", f"(^|,){re.escape(str(node.value))}(,|$)", flags="i")
        return Or((node, listed))
    if isinstance(node, (And, Or)):
        return type(node)(tuple(_record_types(c) for c in node.children))
    if isinstance(node, Not):
        return Not(_record_types(node.child))
    return node


def _samples(tests: Any) -> dict[str, list[dict[str, Any]]]:
    """`tests: {match: [event, …], nomatch: [event, …]}`, checked so a typo is a clear load error."""
    if tests is None:
        return {}
    if not isinstance(tests, dict) or set(tests) - {"match", "nomatch"}:
        raise UnsupportedRule("tests: must be a mapping with `match` and/or `nomatch` lists of events")
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, events in tests.items():
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise UnsupportedRule(f"tests.{kind}: must be a list of events (mappings of field: value)")
        out[kind] = events
    return out


def _meta(rule: SigmaRule | SigmaCorrelationRule, raw: dict[str, Any], source: str) -> dict[str, Any]:
    tags = tuple(f"{t.namespace}.{t.name}".lower() for t in rule.tags)
    return {
        "id": str(rule.id) if rule.id else (rule.name or rule.title),
        "title": rule.title,
        "name": rule.name,
        "level": rule.level.name.lower() if rule.level else "medium",
        "author": rule.author or "",
        "description": rule.description or "",
        "tags": tags,
        "falsepositives": tuple(str(f) for f in rule.falsepositives or ()),
        "source": source,
        "samples": _samples(raw.get("tests")),
        "fix": str(raw.get("fix") or ""),
    }


def convert_rule(rule: SigmaRule, raw: dict[str, Any], source: str = "") -> Rule:
    """A parsed Sigma detection rule → IR (raises UnsupportedRule / SigmaError)."""
    if rule.errors:
        raise rule.errors[0]
    pipeline().apply(rule)
    conditions = [condition_node(c.parsed) for c in rule.detection.parsed_condition]
    node: Node = conditions[0] if len(conditions) == 1 else Or(tuple(conditions))
    logsource = {k: v for k, v in (("category", rule.logsource.category), ("product", rule.logsource.product),
                                   ("service", rule.logsource.service)) if v}
    if logsource.get("service") == "auditd":
        node = _record_types(node)
    fence = guard(logsource)
    if fence is not None:
        node = And((fence, node))
    return Rule(detection=simplify(node), logsource=logsource, **_meta(rule, raw, source))


def convert_correlation(rule: SigmaCorrelationRule, raw: dict[str, Any], source: str = "") -> Rule:
    spec = raw.get("correlation") or {}
    cond = spec.get("condition") or {}
    field = cond.get("field") if isinstance(cond, dict) else None
    bounds = tuple((k, float(v)) for k, v in cond.items() if k != "field") if isinstance(cond, dict) else ()
    ctype = rule.type.name.lower() if hasattr(rule.type, "name") else str(rule.type)
    if ctype in ("temporal", "temporal_ordered") and not bounds:
        bounds = (("gte", float(len(rule.rules))),)
    aliases = {alias: {ref.reference: f for ref, f in a.mapping.items()}
               for alias, a in (rule.aliases.aliases if rule.aliases else {}).items()}
    try:
        corr = Correlation(
            type=ctype,
            rules=tuple(r.reference for r in rule.rules),
            timespan=float(rule.timespan.seconds),
            group_by=tuple(rule.group_by or ()),
            condition=bounds or (("gte", 1.0),),
            field=field,
            aliases=aliases,
        )
    except ValueError as exc:
        raise UnsupportedRule(str(exc)) from exc
    meta = _meta(rule, raw, source)
    return Rule(correlation=corr, generate=bool(spec.get("generate", False)), **meta)


def load_sigma_text(text: str, source: str = "") -> tuple[list[Rule], list[tuple[str, str]]]:
    """Every rule in a (multi-document) Sigma YAML text, and (title or id, reason) per failure."""
    rules: list[Rule] = []
    errors: list[tuple[str, str]] = []
    try:
        docs = [d for d in safe_yaml_load_all(text) if d is not None]  # aliases, foreign tags, size refused
    except yaml.YAMLError as exc:
        return [], [(source, f"YAML: {exc}")]
    for raw in docs:
        label = str(raw.get("title") or raw.get("id") or source) if isinstance(raw, dict) else source
        if not isinstance(raw, dict):
            errors.append((label, "a rule document must be a mapping"))
            continue
        try:
            if "correlation" in raw:
                sigma_corr = SigmaCorrelationRule.from_dict(_without_tests(raw))
                rules.append(convert_correlation(sigma_corr, raw, source))
            else:
                sigma_rule = SigmaRule.from_dict(_without_tests(raw), collect_errors=True)
                rules.append(convert_rule(sigma_rule, raw, source))
        except (SigmaError, UnsupportedRule, ValueError, TypeError, KeyError, AttributeError) as exc:
            errors.append((label, f"{type(exc).__name__}: {exc}"))
    return rules, errors


HOSTWARDEN_KEYS = ("tests", "fix")  # our extensions to the Sigma format, kept from pySigma


def _without_tests(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in HOSTWARDEN_KEYS}


__all__ = ["SigmaCollection", "UnsupportedRule", "convert_correlation", "convert_rule", "load_sigma_text", "pipeline"]
