"""A Wazuh SCA policy written here, covering each rule type and condition, evaluates as Wazuh would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostwarden.core.errors import HostwardenError
from hostwarden.scan.base import ScanContext
from hostwarden.scan.baseline.engine import run_policy
from hostwarden.scan.baseline.loader import load_policy
from hostwarden.scan.baseline.model import FAIL, NA, PASS
from hostwarden.scan.baseline.sca import osregex_to_python

SCA = r"""
policy:
  id: test_sca
  name: SCA coverage policy
  file: test_sca.yml
requirements:
  title: Linux with sshd
  condition: all
  rules:
    - 'f:/etc/passwd'
variables:
  $sshd_file: /etc/ssh/sshd_config
  $cron: /etc/cron.d
checks:
  - id: 1
    title: root login disabled (f -> r, OS_Regex \s)
    compliance: [{cis: ["5.2.7"]}, {mlps: ["身份鉴别"]}]
    condition: all
    rules: ['f:$sshd_file -> r:^\s*PermitRootLogin\s+no']
  - id: 2
    title: "max auth tries (n: compare <=)"
    condition: all
    rules: ['f:$sshd_file -> n:^\s*MaxAuthTries\s+(\d+) compare <= 4']
  - id: 3
    title: telnet banner file absent (not f)
    condition: all
    rules: ['not f:/etc/telnet.banner']
  - id: 4
    title: any of two files (any)
    condition: any
    rules: ['f:/etc/does-not-exist', 'f:/etc/passwd']
  - id: 5
    title: no empty shadow password (none)
    condition: none
    rules: ['f:/etc/shadow -> r:^\w+::']
  - id: 6
    title: cron folder exists (d)
    condition: all
    rules: ['d:$cron']
  - id: 7
    title: a backup job file (d -> r:name)
    condition: all
    rules: ['d:$cron -> r:^backup']
  - id: 8
    title: backup job runs as root (d -> name -> content)
    condition: all
    rules: ['d:$cron -> backup-db -> r:\sroot\s']
  - id: 9
    title: "same line both holds (&&, !r:)"
    condition: all
    rules: ['f:$sshd_file -> r:^Ciphers && !r:cbc']
  - id: 10
    title: "command output (c, live host only)"
    condition: all
    rules: ['c:echo hostwarden-sca -> r:^hostwarden-sca$']
  - id: 11
    title: process running (p, live host only)
    condition: any
    rules: ['p:pytest-no-such-process']
  - id: 12
    title: literal dot and any-char escape (OS_Regex)
    condition: all
    rules: ['f:/etc/hosts -> r:^127.0.0.1\s+local\.ost']
  - id: 13
    title: pcre2 lookahead
    regex_type: pcre2
    condition: all
    rules: ['f:/etc/passwd -> r:^(?!root:)\w+:x:0:']
  - id: 14
    title: content rule on a missing file is not applicable
    condition: all
    rules: ['f:/etc/missing.conf -> r:anything']
"""


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    files = {
        "etc/passwd": "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
        "etc/shadow": "root:$y$hash:19000::::::\nalice::19000::::::\n",
        "etc/ssh/sshd_config": "PermitRootLogin no\nMaxAuthTries 6\nCiphers aes128-ctr,aes128-cbc\n",
        "etc/cron.d/backup-db": "0 3 * * * root /usr/local/bin/backup\n",
        "etc/hosts": "127.0.0.1 localhost\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def _run(root: Path, tmp_path: Path, text: str = SCA, live: bool = False) -> dict[str, str]:
    policy_file = tmp_path / "policy_sca.yml"
    policy_file.write_text(text, encoding="utf-8")
    policy = load_policy(policy_file)
    return {r.check.id: r.status for r in run_policy(policy, ScanContext(root=root, live=live))}


def test_each_rule_type_and_condition(root: Path, tmp_path: Path) -> None:
    got = _run(root, tmp_path)
    assert got == {
        "1": PASS, "2": FAIL, "3": PASS, "4": PASS, "5": FAIL, "6": PASS, "7": PASS, "8": PASS,
        "9": FAIL, "10": NA, "11": NA, "12": PASS, "13": FAIL, "14": NA,
    }


def test_changes_flip_results(root: Path, tmp_path: Path) -> None:
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin yes\nMaxAuthTries 3\nCiphers aes128-ctr\n")
    (root / "etc/shadow").write_text("root:$y$hash:19000::::::\n")
    (root / "etc/telnet.banner").write_text("hi\n")
    (root / "etc/hosts").write_text("127x0x0x1 localhost\n")
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n")
    got = _run(root, tmp_path)
    assert got["1"] == FAIL and got["2"] == PASS and got["3"] == FAIL and got["5"] == PASS
    assert got["9"] == PASS and got["12"] == FAIL and got["13"] == PASS


def test_requirements_unmet_makes_every_check_not_applicable(root: Path, tmp_path: Path) -> None:
    (root / "etc/passwd").unlink()
    assert set(_run(root, tmp_path).values()) == {NA}


def test_live_rules_on_this_machine(root: Path, tmp_path: Path) -> None:
    got = _run(root, tmp_path, live=True)
    assert got["10"] == PASS  # echo really ran
    assert got["11"] == FAIL  # and /proc really has no such process
    me = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    text = SCA.replace("p:pytest-no-such-process", f"p:{me}")
    assert _run(root, tmp_path, text, live=True)["11"] == PASS


def test_compliance_mapping_is_read(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(SCA, encoding="utf-8")
    check = load_policy(tmp_path / "p.yml").checks[0]
    assert check.cis == ["5.2.7"] and check.mlps == ["身份鉴别"]


def test_osregex_translation() -> None:
    import re

    assert re.search(osregex_to_python(r"^a.b\.c$"), "a.bxc")
    assert not re.search(osregex_to_python(r"^a.b$"), "axb")
    assert re.search(osregex_to_python(r"\p+"), "!!")


@pytest.mark.parametrize("bad", [
    "checks:\n  - id: 1\n    rules: ['x:/etc/passwd']\n",
    "checks:\n  - id: 1\n    condition: most\n    rules: ['f:/etc/passwd']\n",
    "checks:\n  - id: 1\n    rules: ['f:/etc/passwd -> n:^(\\d+ compare <= 3']\n",
    "checks:\n  - id: 1\n    rules: ['f:/etc/passwd -> n:(\\d+) compare ~ 3']\n",
])
def test_malformed_sca_fails_with_code(tmp_path: Path, bad: str) -> None:
    (tmp_path / "bad.yml").write_text(bad)
    with pytest.raises(HostwardenError) as err:
        load_policy(tmp_path / "bad.yml")
    assert err.value.code.code == "SCAN-9201"


def test_bare_os_match_pattern_and_name_as_title(root: Path, tmp_path: Path) -> None:
    """Wazuh's own CIS Debian 12 file has `&& -F auid!=unset` (no `r:`) and checks titled by `name`."""
    text = (
        "checks:\n"
        "  - id: 7\n    name: bare literal\n    condition: all\n"
        "    rules: ['f:/etc/ssh/sshd_config -> r:^Ciphers && aes128-cbc|3des']\n"
        "  - id: 8\n    name: bare literal absent\n    condition: all\n"
        "    rules: ['f:/etc/ssh/sshd_config -> r:^Ciphers && chacha20']\n"
    )
    got = _run(root, tmp_path, text)
    assert got == {"7": PASS, "8": FAIL}
    (tmp_path / "t.yml").write_text(text)
    assert load_policy(tmp_path / "t.yml").checks[0].title == "bare literal"


def test_proc_sys_files_are_readable_under_live_root(tmp_path: Path) -> None:
    """/proc/sys refuses large reads (ENOMEM); the policy must still see the value."""
    text = "checks:\n  - id: 1\n    title: ostype\n    condition: all\n    rules: ['f:/proc/sys/kernel/ostype -> r:^Linux$']\n"
    assert _run(Path("/"), tmp_path, text, live=True) == {"1": PASS}
