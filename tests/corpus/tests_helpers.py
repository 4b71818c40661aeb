"""Helpers shared by corpus tests (kept out of conftest so they can be imported explicitly)."""

import json
from pathlib import Path


def fail_json_cases(path: Path) -> list[tuple[dict | None, str]]:
    """(expectation, line) pairs from a fail2ban sample: the `# failJSON:` comment above a line."""
    cases, expect = [], None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("# failJSON:"):
            expect = json.loads(line.split(":", 1)[1])
            continue
        if line.startswith("#") or not line.strip():
            continue
        cases.append((expect, line))
        expect = None
    return cases
