"""Read a rule file of any supported kind, recognised by content rather than by name.

A file named by the user is read only if it is a regular file, at most MAX_RULES_BYTES, and
opened without blocking: `fw analyze /dev/zero` or a FIFO ends at once with FW-3001 instead of
reading forever. Files under a scan root come through the root's resolver (`load_from_root`).
"""

from __future__ import annotations

from pathlib import Path

from hostwarden.core.errors import FW_PARSE_FAILED, HostwardenError
from hostwarden.core.safeload import DocumentRefused, safe_json_loads
from hostwarden.scan.firewall.cloud import detect_cloud, parse_alibaba, parse_aws
from hostwarden.scan.firewall.iptables import parse_iptables_save
from hostwarden.scan.firewall.model import Ruleset, parse_error
from hostwarden.scan.firewall.nftables import parse_nft_json
from hostwarden.scan.rootfs import LIMITS, RootFS
from hostwarden.scan.safefiles import read_regular_file

FORMATS = ("auto", "iptables", "ip6tables", "nft", "alibaba", "aws")
MAX_RULES_BYTES = LIMITS["ruleset"]


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
        doc = safe_json_loads(text)
    except DocumentRefused as exc:
        raise parse_error(f"{source}: {exc}") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line} column {getattr(exc, 'colno', '?')})" if line else ""
        raise parse_error(f"{source}: not JSON{where}: {getattr(exc, 'msg', exc)}", line=line) from None
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
        text = read_regular_file(path, MAX_RULES_BYTES).decode("utf-8", errors="replace")
    except OSError as exc:
        raise HostwardenError(FW_PARSE_FAILED, f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise HostwardenError(FW_PARSE_FAILED, f"cannot read {path}: {exc}") from None
    return _parse_named(text, path, fmt)


def load_from_root(fs: RootFS, host_path: str, fmt: str = "auto") -> Ruleset | None:
    """A rule file under a scan root, through its resolver; None when it is absent or was refused (noticed)."""
    text = fs.read_text(host_path, kind="ruleset", truncate=False)
    if text is None:
        return None
    return _parse_named(text, Path(host_path), fmt)


def _parse_named(text: str, path: Path, fmt: str) -> Ruleset:
    try:
        return load_text(text, str(path), fmt)
    except HostwardenError as exc:
        if str(path) in exc.message:
            raise
        raise HostwardenError(exc.code, f"{path}: {exc.message}", **exc.context) from None
