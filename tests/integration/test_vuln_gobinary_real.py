"""A real Go binary from Debian (fzf, in the Makefile's APT_PACKAGES): the stdlib version read from
its build info must be the Go toolchain dpkg says it was built with (Built-Using: golang-1.N (= V-R))."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hostwarden.scan.vuln.inventory import files, gobinary

FZF = Path("/usr/bin/fzf")
pytestmark = pytest.mark.skipif(not FZF.is_file() or not shutil.which("dpkg-query"), reason="fzf not installed")


def built_with_go() -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Built-Using}", "fzf"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    m = re.search(r"golang-1\.\d+ \(= ([0-9.]+)-", out)
    if not m:
        pytest.skip(f"no golang entry in Built-Using: {out!r}")
    return m.group(1)


def test_real_go_binary_stdlib_version_matches_dpkg(tmp_path):
    pkgs = gobinary.read_binary(FZF, "/usr/bin/fzf")
    stdlib = [p for p in pkgs if p.name == "stdlib"]
    assert [p.version for p in stdlib] == [built_with_go()]
    assert stdlib[0].extra["binary_path"] == "github.com/junegunn/fzf"


def test_walk_finds_the_real_binary_in_a_root(tmp_path):
    (tmp_path / "usr/bin").mkdir(parents=True)
    shutil.copy2(FZF, tmp_path / "usr/bin/fzf")
    shutil.copy2("/bin/true", tmp_path / "usr/bin/true")  # an ELF that is not Go: nothing, no notice
    inv = files.collect(tmp_path)
    assert [(p.name, p.location) for p in inv.packages] == [("stdlib", "/usr/bin/fzf")]
    assert inv.errors == []
