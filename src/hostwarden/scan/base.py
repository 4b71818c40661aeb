"""What every scanner shares: the context it runs in and the shape of what it returns.

A scanner reads files under a root folder (the live host is just `--root /`), so the same
code scans a host, a mounted disk or an unpacked image. It returns typed findings
(`core.records.Finding`), each carrying the evidence that produced it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hostwarden.core.records import Evidence, Finding, Grade
from hostwarden.scan.rootfs import DEFAULT_MAX_DEPTH, DEFAULT_MAX_ENTRIES, RootFS


@dataclass
class ScanContext:
    root: Path
    data_dir: Path | None = None
    live: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    # Warnings and errors (with codes) a scanner wants the report to show, beside its findings.
    notices: list[dict[str, Any]] = field(default_factory=list)
    _fs: RootFS | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def fs(self) -> RootFS:
        """The resolver every read under `root` goes through (confined, typed, bounded: scan/rootfs.py).

        One per context, so a file several scanners refuse is noticed once.
        """
        if self._fs is None:
            self._fs = RootFS(Path(self.root), live=self.live, notify=self.notice,
                              max_depth=int(self.options.get("walk_max_depth", DEFAULT_MAX_DEPTH)),
                              max_entries=int(self.options.get("walk_max_entries", DEFAULT_MAX_ENTRIES)))
        return self._fs

    def path(self, relative: str) -> Path:
        """The path under the root as text, for display only: never open it (it follows links out); use `fs`."""
        return self.root / relative.lstrip("/")

    def notice(self, code: str, message: str, **context: Any) -> None:
        self.notices.append({"code": code, "message": message, **context})


class Scanner(Protocol):
    name: str

    def scan(self, ctx: ScanContext) -> Iterable[Finding]: ...


def finding(
    *,
    scanner: str,
    kind: str,
    title: str,
    severity: str,
    evidence: dict[str, Any],
    fix: str | None = None,
    **fields: Any,
) -> Finding:
    """Build one finding. `severity` is the grade (L1, L2 or L3); `title` the row's text, `fix` what
    to do; `rule.id`/`rule.name` name the rule (the rule name doubles as its id when a scanner
    has no separate one); every other keyword is an ECS field of the schema."""
    rule_name = fields.pop("rule.name", None)
    rule_id = fields.pop("rule.id", None) or rule_name or f"{scanner}.{kind}"
    fix = fix or fields.pop("hostwarden.fix", None)
    return Finding(
        scanner=scanner,
        rule_id=str(rule_id),
        title=str(rule_name or title),
        message=title,
        grade=Grade.parse(severity),
        kind=kind,
        evidence=Evidence.from_dict(evidence),
        fix=fix or None,
        fields={k: v for k, v in fields.items() if v is not None},
    )
