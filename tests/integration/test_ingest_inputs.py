"""`hostwarden ingest FOLDER` reads the text logs in it and skips binaries with a notice, at once."""

from __future__ import annotations

import json
import lzma
import os
import subprocess
import sys
from pathlib import Path

TEXT = "".join(f"Nov 28 10:00:{i % 60:02d} web01 sshd[{100 + i}]: Connection closed by 192.0.2.{i % 250} port 22\n"
               for i in range(300))


def test_a_folder_with_binaries_ingests_only_the_text(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "auth.log").write_text(TEXT)
    (logs / "sub" / "also.log").write_text(TEXT.replace("web01", "web02"))
    big = logs / "core.dump"  # 64 MB of binary: parsing it as lines once took minutes
    with big.open("wb") as fh:
        for _ in range(64):
            fh.write(os.urandom(1 << 20))
    (logs / "wtmp").write_bytes(b"\x07\x00\x00\x00" * 1000)
    (logs / "old.log.xz").write_bytes(lzma.compress(TEXT.encode()))
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", "ingest", "--no-detect", "--format", "json",
                           "--data-dir", str(tmp_path / "data"), str(logs)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["lines"] == report["stored"] == 600
    said = "".join(proc.stderr.split())  # the terminal may wrap long paths
    assert said.count("LOG-4107") == 3
    for name in ("core.dump", "wtmp", "old.log.xz"):
        assert f"skipped{logs / name}:".replace(" ", "") in said, name
    assert sorted(s["path"] for s in report["skipped"]) == sorted(str(logs / n) for n in ("core.dump", "old.log.xz", "wtmp"))
