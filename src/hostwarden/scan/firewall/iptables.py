"""`iptables-save` / `ip6tables-save` text into the rule model (the filter table).

Every option is read as a group `[!] --opt [args...]`, so matches we do not model still
parse: they become opaque conditions (a boolean dimension named after their text), which
keeps the analysis sound — it never assumes such a rule matches everything or nothing.
"""

from __future__ import annotations

import shlex

from hostwarden.core.errors import HostwardenError
from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.model import (
    ACCEPT,
    DENY,
    STATES,
    Cond,
    Rule,
    Ruleset,
    cidr_set,
    family_space,
    parse_error,
    port_set,
    proto_number,
)

BUILTIN = {"INPUT": "input", "FORWARD": "forward", "OUTPUT": "output"}
VERDICTS = {"ACCEPT": ACCEPT, "DROP": DENY, "REJECT": DENY, "TARPIT": DENY}
ICMP_TYPES = {
    "echo-reply": 0, "pong": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5,
    "echo-request": 8, "ping": 8, "router-advertisement": 9, "router-solicitation": 10,
    "time-exceeded": 11, "ttl-exceeded": 11, "parameter-problem": 12, "timestamp-request": 13,
    "timestamp-reply": 14, "address-mask-request": 17, "address-mask-reply": 18,
    "port-unreachable": (3, 3), "host-unreachable": (3, 1), "network-unreachable": (3, 0),
}
ICMP6_TYPES = {
    "destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "ttl-exceeded": 3,
    "parameter-problem": 4, "echo-request": 128, "ping": 128, "echo-reply": 129, "pong": 129,
    "router-solicitation": 133, "router-advertisement": 134, "neighbour-solicitation": 135,
    "neighbor-solicitation": 135, "neighbour-advertisement": 136, "neighbor-advertisement": 136,
    "redirect": 137,
}
# Options that never change which packets match (comments, counters, target arguments).
IGNORED = {"--comment", "-c", "--set-counters"}
PORT_OPTS = {"--sport": "sport", "--source-port": "sport", "--sports": "sport", "--source-ports": "sport",
             "--dport": "dport", "--destination-port": "dport", "--dports": "dport",
             "--destination-ports": "dport"}


def icmp_set(text: str, v6: bool) -> iv.IntervalSet:
    names = ICMP6_TYPES if v6 else ICMP_TYPES
    t = text.lower()
    if t == "any":
        return ((0, 65535),)
    val = names.get(t)
    if val is None:
        try:
            parts = [int(x) for x in t.split("/")]
        except ValueError:
            raise parse_error(f"unknown ICMP type {text!r}") from None
        val = tuple(parts) if len(parts) == 2 else parts[0]
    if isinstance(val, tuple):
        return iv.span(val[0] * 256 + val[1], val[0] * 256 + val[1])
    return iv.span(val * 256, val * 256 + 255)


def state_set(text: str) -> tuple[iv.IntervalSet, list[str]]:
    vals, other = [], []
    for s in text.upper().split(","):
        if s in STATES:
            vals.append((STATES.index(s), STATES.index(s)))
        else:
            other.append(s)  # SNAT/DNAT are conntrack status, not state: kept opaque
    return iv.normalize(vals), other


def _groups(tokens: list[str], line_no: int) -> list[tuple[bool, str, list[str]]]:
    groups: list[tuple[bool, str, list[str]]] = []
    i, neg = 0, False
    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            neg = True
            i += 1
            continue
        if not tok.startswith("-") or tok == "-":
            raise parse_error(f"line {line_no}: unexpected word {tok!r}", line=line_no)
        args: list[str] = []
        i += 1
        while i < len(tokens) and not (tokens[i].startswith("-") and len(tokens[i]) > 1
                                       and not tokens[i][1].isdigit()) and tokens[i] != "!":
            args.append(tokens[i])
            i += 1
        # old style `-s ! 1.2.3.4`: the ! comes after the option
        if not args and i + 1 < len(tokens) and tokens[i] == "!" and not tokens[i + 1].startswith("-"):
            neg, args, i = True, [tokens[i + 1]], i + 2
        groups.append((neg, tok, args))
        neg = False
    return groups


class _RuleParser:
    def __init__(self, family: str, line_no: int) -> None:
        self.family = family
        self.v6 = family == "ipv6"
        self.line = line_no
        self.conds: list[Cond] = []
        self.module = ""
        self.kind, self.target = "continue", ""

    def fail(self, msg: str) -> Exception:
        return parse_error(f"line {self.line}: {msg}", line=self.line)

    def one(self, opt: str, args: list[str]) -> str:
        if len(args) != 1:
            raise self.fail(f"{opt} needs one value, got {args}")
        return args[0]

    def add(self, dim: str, values: iv.IntervalSet, neg: bool) -> None:
        self.conds.append(Cond(dim, values=values, negate=neg))

    def opaque(self, neg: bool, opt: str, args: list[str]) -> None:
        self.conds.append(Cond("opaque", key=" ".join([f"-m {self.module}" if self.module else "", opt, *args]).strip(),
                               negate=neg))

    def group(self, neg: bool, opt: str, args: list[str]) -> None:
        if opt in ("-A", "--append"):
            return
        if opt in ("-p", "--protocol"):
            p = self.one(opt, args).lower()
            if p != "all":
                self.add("proto", iv.span(proto_number(p), proto_number(p)), neg)
        elif opt in ("-s", "--source", "--src", "-d", "--destination", "--dst"):
            space = family_space(self.family)
            vals = iv.normalize(i for a in self.one(opt, args).split(",") for i in cidr_set(a))
            vals = iv.intersect(vals, space)
            if neg:
                vals, neg = iv.complement(vals, space), False
            self.add("src" if opt in ("-s", "--source", "--src") else "dst", vals, neg)
        elif opt in ("--src-range", "--dst-range"):
            vals = cidr_set(self.one(opt, args))
            if neg:
                vals, neg = iv.complement(vals, family_space(self.family)), False
            self.add("src" if opt == "--src-range" else "dst", vals, neg)
        elif opt in ("-i", "--in-interface", "-o", "--out-interface"):
            self.conds.append(Cond("iif" if opt in ("-i", "--in-interface") else "oif",
                                   patterns=(self.one(opt, args),), negate=neg))
        elif opt in ("-m", "--match"):
            self.module = self.one(opt, args)
        elif opt in PORT_OPTS:
            self.add(PORT_OPTS[opt], port_set(self.one(opt, args)), neg)
        elif opt == "--ports":
            self.opaque(neg, opt, args) if neg else self._either_port(args)
        elif opt in ("--state", "--ctstate"):
            vals, other = state_set(self.one(opt, args))
            if other:
                self.opaque(neg, opt, args)
            else:
                self.add("state", vals, neg)
        elif opt in ("--icmp-type", "--icmpv6-type"):
            self.add("icmp", icmp_set(self.one(opt, args), opt == "--icmpv6-type"), neg)
        elif opt in ("-j", "--jump", "-g", "--goto"):
            self.target = self.one(opt, args) if args else ""
            if self.target in VERDICTS:
                self.kind = VERDICTS[self.target]
            elif self.target == "RETURN":
                self.kind = "return"
            elif opt in ("-g", "--goto"):
                self.kind = "goto"
            else:
                self.kind = "jump"  # resolved against user chains later; else non-terminating
        elif self.target:
            return  # target options such as --reject-with, --log-prefix
        elif opt in IGNORED or opt.startswith("--log") or self.module == "comment":
            return
        elif opt in ("-f", "--fragment"):
            self.opaque(neg, opt, args)
        else:
            self.opaque(neg, opt, args)

    def _either_port(self, args: list[str]) -> None:
        # `--ports` matches source OR destination port: not a product, so kept opaque.
        self.opaque(False, "--ports", args)


def parse_rule(chain: str, index: int, tokens: list[str], family: str, line_no: int, text: str) -> Rule:
    p = _RuleParser(family, line_no)
    for neg, opt, args in _groups(tokens, line_no):
        p.group(neg, opt, args)
    # A rule in ip6tables without -s/-d still only sees IPv6 packets (and vice versa).
    space = family_space(family)
    p.conds.insert(0, Cond("src", values=space))
    p.conds.insert(1, Cond("dst", values=space))
    return Rule(chain, index, p.conds, p.kind, p.target, text, line_no)


def parse_iptables_save(text: str, source: str = "<rules>", family: str | None = None) -> Ruleset:
    """Parse the *filter table of an iptables-save dump. family: ipv4/ipv6 (guessed from addresses if None)."""
    if family is None:
        family = "ipv6" if _looks_v6(text) else "ipv4"
    rs = Ruleset(source)
    table: str | None = None
    seen_filter = False
    counts: dict[str, int] = {}
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = line[1:].strip()
            seen_filter |= table == "filter"
            continue
        if line == "COMMIT":
            table = None
            continue
        if table is None:
            raise parse_error(f"line {line_no}: rule outside a table (missing '*filter'?): {line[:80]!r}",
                              line=line_no)
        if table != "filter":
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            if len(parts) < 2:
                raise parse_error(f"line {line_no}: bad chain declaration {line!r}", line=line_no)
            name, pol = parts[0], parts[1]
            policy = {"ACCEPT": ACCEPT, "DROP": DENY}.get(pol) if pol != "-" else None
            if pol not in ("-", "ACCEPT", "DROP"):
                raise parse_error(f"line {line_no}: bad policy {pol!r}", line=line_no)
            rs.chain(name, policy)
            if name in BUILTIN:
                rs.hooks.setdefault(BUILTIN[name], [name])
            continue
        if not line.startswith("-A "):
            if line.startswith(("-N ", "-P ", "-I ")):
                raise parse_error(f"line {line_no}: iptables command, not iptables-save output", line=line_no)
            raise parse_error(f"line {line_no}: cannot read {line[:80]!r}", line=line_no)
        try:
            tokens = shlex.split(line) if '"' in line or "'" in line or "\\" in line else line.split()
        except ValueError as exc:
            raise parse_error(f"line {line_no}: {exc}", line=line_no) from None
        if len(tokens) < 2:
            raise parse_error(f"line {line_no}: -A without a chain", line=line_no)
        chain = tokens[1]
        counts[chain] = counts.get(chain, 0) + 1
        try:
            rule = parse_rule(chain, counts[chain], tokens[2:], family, line_no, line)
        except HostwardenError as exc:
            if exc.message.startswith("line "):
                raise
            raise parse_error(f"line {line_no}: {exc.message}", line=line_no) from None
        rs.chain(chain).rules.append(rule)
    if not seen_filter:
        raise parse_error("no '*filter' table found: is this iptables-save output?")
    if table is not None:
        raise parse_error(f"table {table!r} is missing its COMMIT line")
    _resolve_targets(rs)
    return rs.compile()


def _resolve_targets(rs: Ruleset) -> None:
    for ch in rs.chains.values():
        for rule in ch.rules:
            if rule.kind in ("jump", "goto") and rule.target not in rs.chains:
                if rule.kind == "goto":
                    raise parse_error(f"line {rule.line}: goto to unknown chain {rule.target!r}", line=rule.line)
                rule.kind = "continue"  # LOG, MARK, NFLOG …: non-terminating targets
            elif rule.kind in ("jump", "goto") and rs.chains[rule.target].policy is not None:
                raise parse_error(f"line {rule.line}: jump to built-in chain {rule.target!r}", line=rule.line)


def _looks_v6(text: str) -> bool:
    for line in text.splitlines():
        for tok in line.split():
            if tok.count(":") >= 2 and "/" in tok and not tok.startswith("["):
                return True
        if "icmpv6" in line or "ipv6-icmp" in line:
            return True
    return False
