"""Read a rule file of any supported kind, recognised by content rather than by name."""

from __future__ import annotations

import json
from pathlib import Path

from hostwarden.core.errors import FW_PARSE_FAILED, HostwardenError
from hostwarden.scan.firewall.cloud import detect_cloud, parse_alibaba, parse_aws
from hostwarden.scan.firewall.iptables import parse_iptables_save
from hostwarden.scan.firewall.model import Ruleset, parse_error
from hostwarden.scan.firewall.nftables import parse_nft_json

FORMATS = ("auto", "iptables", "ip6tables", "nft", "alibaba", "aws")


def load_text(text: str, source: str = "<rules>", fmt: str = "auto") -> Ruleset:
    """Parse rules of any supported kind; a malformed document always ends in FW-3001, never a crash."""
    try:
        return _load_text(text, source, fmt)
    except (RecursionError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise HostwardenError(FW_PARSE_FAILED, f"{source}: malformed rule document ({type(exc).__name__}: {exc})") \
            from None


def _load_text(text: str, source: str, fmt: str) -> Ruleset:
    if fmt not in FORMATS:
        raise parse_error(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt in ("iptables", "ip6tables"):
        return parse_iptables_save(text, source, "ipv6" if fmt == "ip6tables" else "ipv4")
    stripped = text.lstrip()
    if fmt == "auto" and not stripped.startswith(("{", "[")):
        return parse_iptables_save(text, source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise parse_error(f"{source}: not JSON (line {exc.lineno} column {exc.colno}): {exc.msg}",
                          line=exc.lineno) from None
    kind = fmt if fmt != "auto" else ("nft" if isinstance(doc, dict) and "nftables" in doc else detect_cloud(doc))
    if kind == "nft":
        return parse_nft_json(text, source)
    if kind == "alibaba":
        return parse_alibaba(doc, source)
    if kind == "aws":
        return parse_aws(doc, source)
    raise parse_error(f"{source}: JSON is neither `nft -j list ruleset`, Alibaba DescribeSecurityGroupAttribute "
                      "nor AWS describe-security-groups output")


def load_file(path: Path, fmt: str = "auto") -> Ruleset:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise HostwardenError(FW_PARSE_FAILED, f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return load_text(text, str(path), fmt)
    except HostwardenError as exc:
        if str(path) in exc.message:
            raise
        raise HostwardenError(exc.code, f"{path}: {exc.message}", **exc.context) from None
