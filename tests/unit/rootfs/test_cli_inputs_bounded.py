"""Files named on the command line (`vulndb import-kev`, `fw suggest --events`) and downloads are bounded.

A FIFO nobody writes to, /dev/zero, or a document nested 100,000 deep must end in a clear
error with a code; `ends` fails the test instead of hanging the run.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rootfs_hostile import ends
from typer.testing import CliRunner

from hostwarden.commands import fw, vulndb
from hostwarden.core.errors import HostwardenError

DEEP_JSON = "[" * 100_000 + "]" * 100_000


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP_JSON)
    return {"fifo": fifo, "zero": Path("/dev/zero"), "deep": deep}


@pytest.mark.parametrize("kind", ["fifo", "zero", "deep"])
def test_import_kev_refuses_what_is_not_a_bounded_regular_json_file(tmp_path: Path, kind: str) -> None:
    path = _bad_inputs(tmp_path)[kind]
    res = ends(lambda: CliRunner().invoke(vulndb.app, ["import-kev", str(path), "--data-dir", str(tmp_path / "d")]))
    assert res.exit_code == 2 and "SCAN-9011" in res.output, res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("kind", ["fifo", "zero", "deep"])
def test_fw_suggest_events_refuses_what_is_not_a_bounded_regular_json_file(tmp_path: Path, kind: str) -> None:
    path = _bad_inputs(tmp_path)[kind]
    res = ends(lambda: CliRunner().invoke(fw.app, ["suggest", "--events", str(path)]))
    assert res.exit_code == 2 and "FW-3002" in res.output, res.output


def test_fw_suggest_still_reads_json_lines_and_lists(tmp_path: Path) -> None:
    flow = '{"source.ip": "198.51.100.7", "destination.ip": "10.0.0.5", "destination.port": 22, "network.transport": "tcp"}'
    (tmp_path / "a.jsonl").write_text(flow + "\n\n" + flow + "\n")
    (tmp_path / "b.json").write_text(f"[{flow}]")
    for name in ("a.jsonl", "b.json"):
        res = CliRunner().invoke(fw.app, ["suggest", "--events", str(tmp_path / name), "--output", "json"])
        assert res.exit_code == 0 and "22" in res.output, res.output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "big.zip").write_bytes(b"z" * 10_000)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_reads_at_most_its_limit(served: str) -> None:
    assert len(vulndb.download(f"{served}/big.zip", limit=10_000)) == 10_000
    with pytest.raises(HostwardenError, match="download limit") as exc:
        vulndb.download(f"{served}/big.zip", limit=9_999)
    assert exc.value.code.code == "SCAN-9012"
    with pytest.raises(HostwardenError, match="download limit"):
        ends(lambda: vulndb.download("file:///dev/zero", limit=1 << 20))  # an endless body stops at the cap


def test_fw_suggest_root_reads_its_socket_tables_inside_the_root(tmp_path: Path) -> None:
    from hostwarden.scan.firewall.suggest import listening_sockets

    root = tmp_path / "root"
    (root / "proc/net").mkdir(parents=True)
    os.mkfifo(root / "proc/net/tcp")  # would block a plain open
    (root / "proc/net/udp").symlink_to("/proc/net/udp")  # this machine's table, were the link followed out
    (root / "proc/net/tcp6").write_text("  sl  local_address remote_address st\n"
                                        "   0: 00000000000000000000000000000000:1F90 "
                                        "00000000000000000000000000000000:0000 0A 00000000:00000000\n")
    socks = ends(lambda: listening_sockets(root))
    assert [(s.transport, s.port) for s in socks] == [("tcp", 8080)]
    from hostwarden.scan.rootfs import RootFS

    live = RootFS(Path("/"), live=True).read_text("/proc/net/tcp")  # /proc/net -> self/net, resolved live
    assert live is not None and live.startswith("  sl")
