"""What every scanner shares: the context it runs in and the shape of what it returns.

A scanner reads files under a root folder (the live host is just `--root /`), so the same
code scans a host, a mounted disk or an unpacked image. It returns findings as ECS-shaped
dicts (`event.kind=finding`), each carrying the evidence that produced it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class ScanContext:
    root: Path
    data_dir: Path | None = None
    live: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    # Warnings and errors (with codes) a scanner wants the report to show, beside its findings.
    notices: list[dict[str, Any]] = field(default_factory=list)

    def path(self, relative: str) -> Path:
        """Resolve a host path such as `/etc/passwd` under the scan root."""
        return self.root / relative.lstrip("/")

    def notice(self, code: str, message: str, **context: Any) -> None:
        self.notices.append({"code": code, "message": message, **context})


class Scanner(Protocol):
    name: str

    def scan(self, ctx: ScanContext) -> Iterable[dict[str, Any]]: ...


def finding(
    *,
    scanner: str,
    kind: str,
    title: str,
    severity: str,
    evidence: dict[str, Any],
    fix: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Build one ECS-shaped finding. `severity` is the grade: L1, L2 or L3; `fix` what to do."""
    rank = {"L1": 1, "L2": 2, "L3": 3}[severity]
    doc: dict[str, Any] = {
        "event.kind": "finding",
        "event.module": scanner,
        "event.category": [kind],
        "event.severity": rank,
        "hostwarden.grade": severity,
        "message": title,
        "hostwarden.evidence": evidence,
    }
    if fix:
        doc["hostwarden.fix"] = fix
    doc.update(fields)
    return doc
