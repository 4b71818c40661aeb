"""The per-line pattern matcher skips patterns by first character and required literal; on real
syslog lines it must pick exactly the pattern (and fields) a plain first-match loop picks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hostwarden.normalize.patterns import PatternSet
from hostwarden.normalize.syslog import GENERIC_PATTERNS, PROGRAM_PATTERNS, frame, program_key

LOGS = ("loghub/OpenSSH/OpenSSH_2k.log", "loghub/Linux/Linux_2k.log",
        *(f"realworld-logs/fail2ban/fail2ban/tests/files/logs/{name}"
          for name in ("sshd", "pam-generic", "dropbear", "selinux-ssh", "vsftpd", "xinetd-fail")))


def _plain_first_match(family: PatternSet, text: str) -> dict[str, Any] | None:
    for p in family.patterns:
        if p.prefix and not text.startswith(p.prefix):
            continue
        m = p.compiled().match(text)
        if m is not None:
            return family.fields_for(p, m.groupdict())
    return None


def _messages(corpora: Path) -> list[tuple[str, str]]:
    out = []
    for rel in LOGS:
        path = corpora / rel
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            framed = frame(line)
            prog = framed[1].groupdict().get("prog") if framed is not None else None
            if framed is not None and prog:
                out.append((prog, line[framed[1].end():]))
    return out


def test_indexed_match_equals_plain_first_match_on_real_lines(corpora: Path) -> None:
    messages = _messages(corpora)
    if len(messages) < 1000:
        pytest.skip("syslog corpora not present")
    compared = matched = 0
    for prog, message in messages:
        families = [f for f in (PROGRAM_PATTERNS.get(program_key(prog)),) if f is not None] + list(GENERIC_PATTERNS)
        for family in families:
            got = family.match(message)
            assert got == _plain_first_match(family, message), (prog, message)
            compared += 1
            matched += got is not None
    assert compared > 3000 and matched > 1500  # the lines really exercise the patterns
