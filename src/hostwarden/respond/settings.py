"""The `[respond]` section of the TOML configuration, validated here (its owner).

Every external tool is an argument list, so a test (or an unusual host) can point an action at
another binary, a wrapper or a network namespace (`prefix = ["ip", "netns", "exec", "ns1"]`)
without a shell string. The programs named here are the only ones responses may run.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hostwarden.core.errors import CSA_CONFIG_INVALID, HostwardenError

BUILTIN_PLAYBOOKS = Path(__file__).resolve().parents[3] / "rules" / "playbooks"

# Files whose loss locks everyone out or stops the system: never quarantined.
DEFAULT_PROTECTED_PATHS = [
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/ssh/sshd_config",
    "/etc/fstab", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/pam.d",
    "/bin/sh", "/bin/bash", "/usr/bin/sudo", "/usr/sbin/sshd", "/lib", "/lib64", "/usr/lib", "/boot",
]


def _networks(values: list[str]) -> list[str]:
    for v in values:
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError as exc:
            raise ValueError(f"{v!r} is not an address or CIDR") from exc
    return values


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AllowlistSettings(_Section):
    cidrs: list[str] = Field(default_factory=list, description="addresses/CIDRs never acted against")
    management: list[str] = Field(default_factory=list,
                                  description="admin addresses: allowlisted, and kept reachable by isolate_host")
    include_private: bool = Field(False, description="also protect RFC 1918, CGNAT and ULA ranges")
    include_host: bool = Field(True, description="also protect this host's own addresses and gateways")
    users: list[str] = Field(default_factory=lambda: ["root"], description="accounts never disabled")
    paths: list[str] = Field(default_factory=lambda: list(DEFAULT_PROTECTED_PATHS),
                             description="files (or folders) never quarantined")

    _check = field_validator("cidrs", "management")(_networks)


class RateSettings(_Section):
    blocks_per_minute: int = Field(30, ge=0, description="new block_ip/waf_deny actions per minute; more wait")
    actions_per_minute: int = Field(60, ge=0, description="new host-changing actions of any kind per minute")


class BreakerSettings(_Section):
    failures: int = Field(5, ge=1, description="failures of one action kind within the window that open it")
    window_seconds: float = Field(300.0, gt=0)
    cooldown_seconds: float = Field(900.0, gt=0, description="then one automatic try is let through")


class FirewallSettings(_Section):
    backend: Literal["auto", "nft", "ipset"] = "auto"
    prefix: list[str] = Field(default_factory=list, description="run firewall tools under this (e.g. ip netns exec)")
    nft: list[str] = Field(default_factory=lambda: ["nft"])
    iptables: list[str] = Field(default_factory=lambda: ["iptables", "-w", "5"])
    ip6tables: list[str] = Field(default_factory=lambda: ["ip6tables", "-w", "5"])
    ipset: list[str] = Field(default_factory=lambda: ["ipset"])
    table: str = Field("hostwarden", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
    isolate_table: str = Field("hostwarden_isolate", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
    ipset_v4: str = Field("hostwarden4", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
    ipset_v6: str = Field("hostwarden6", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,30}$")


class WafSettings(_Section):
    deny_file: Path = Path("/etc/nginx/hostwarden/deny.conf")
    modsecurity_file: Path | None = Path("/etc/nginx/hostwarden/modsecurity.conf")
    test: list[str] = Field(default_factory=lambda: ["nginx", "-t", "-q"], description="empty: no test")
    reload: list[str] = Field(default_factory=lambda: ["nginx", "-s", "reload"], description="empty: no reload")
    rule_id: int = Field(1990001, ge=1, description="ModSecurity rule id of the generated SecRule")

    @field_validator("modsecurity_file", mode="before")
    @classmethod
    def _none_when_empty(cls, v: Any) -> Any:
        return None if v in ("", None) else v  # TOML has no null: "" turns the ModSecurity file off


class UserSettings(_Section):
    root: Path = Field(Path("/"), description="system root whose /etc/shadow is changed (tests: a copy)")
    usermod: list[str] = Field(default_factory=lambda: ["usermod"])
    chage: list[str] = Field(default_factory=lambda: ["chage"])
    chpasswd: list[str] = Field(default_factory=lambda: ["chpasswd"])


class WebhookSettings(_Section):
    url: str = Field(pattern=r"^https?://")
    kind: Literal["generic", "slack", "dingtalk", "feishu"] = "generic"
    secret_env: str | None = Field(None, description="environment variable holding the signing secret")
    timeout: float = Field(5.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)


class EmailSettings(_Section):
    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    user: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the SMTP password")
    sender: str
    to: list[str] = Field(min_length=1)
    timeout: float = Field(10.0, gt=0)
    ca_file: Path | None = Field(None, description="CA bundle to verify the server (default: system store)")


class NotifySettings(_Section):
    webhooks: dict[str, WebhookSettings] = Field(default_factory=dict)
    email: dict[str, EmailSettings] = Field(default_factory=dict)


class RespondSettings(_Section):
    enabled: bool = Field(False, description="act on alerts in every run (watch --respond turns it on for one run)")
    playbooks: list[Path] = Field(default_factory=list, description="folders/files besides the built-in set")
    builtin_playbooks: bool = True
    dry_run: bool = Field(False, description="plan and audit every action, change nothing")
    state_file: Path | None = None
    audit_file: Path | None = None
    quarantine_dir: Path | None = None
    command_timeout: float = Field(10.0, gt=0, description="seconds any external command may run")
    workers: int = Field(4, ge=1, le=64, description="actions run in parallel (a hung one never blocks the rest)")
    history_keep: int = Field(1000, ge=0, description="finished actions kept in the state file (the audit log keeps all)")
    audit_fsync: bool = True
    allowlist: AllowlistSettings = Field(default_factory=AllowlistSettings)
    rate: RateSettings = Field(default_factory=RateSettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    firewall: FirewallSettings = Field(default_factory=FirewallSettings)
    waf: WafSettings = Field(default_factory=WafSettings)
    users: UserSettings = Field(default_factory=UserSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)

    def resolved(self, data_dir: Path) -> RespondSettings:
        """A copy with the data-dir defaults filled in (state, audit log, quarantine folder)."""
        base = Path(data_dir) / "respond"
        return self.model_copy(update={
            "state_file": self.state_file or base / "state.sqlite",
            "audit_file": self.audit_file or base / "audit.jsonl",
            "quarantine_dir": self.quarantine_dir or base / "quarantine",
        })

    def playbook_paths(self) -> list[Path]:
        return ([BUILTIN_PLAYBOOKS] if self.builtin_playbooks else []) + list(self.playbooks)

    def programs(self) -> set[str]:
        """Every program a response may run: the first word of each configured command."""
        fw, waf, users = self.firewall, self.waf, self.users
        commands = [fw.prefix, fw.nft, fw.iptables, fw.ip6tables, fw.ipset, waf.test, waf.reload,
                    users.usermod, users.chage, users.chpasswd]
        return {c[0] for c in commands if c}


def respond_settings(section: dict[str, Any] | None, data_dir: Path, *, source: str = "config") -> RespondSettings:
    """Validate a `[respond]` table (as found in `Config.extra["respond"]`)."""
    try:
        settings = RespondSettings(**(section or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HostwardenError(CSA_CONFIG_INVALID, f"{source}: respond.{where}: {first['msg']}") from exc
    return settings.resolved(data_dir)
