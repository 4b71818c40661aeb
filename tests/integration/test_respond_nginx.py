"""waf_deny against a real nginx: the deny include is written, `nginx -t` passes, the reload
makes nginx answer 403 to the address (seen through the real-IP module, on loopback), undo
brings back 200 and the previous file content exactly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hostwarden.respond.engine import Responder
from hostwarden.respond.playbook import parse_playbook
from hostwarden.respond.settings import respond_settings

pytestmark = pytest.mark.integration

CONF = """
daemon off;
user root;  # workers read the test's private temp folder
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp; proxy_temp_path {prefix}/tmp; fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp; scgi_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{port};
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        include {prefix}/hostwarden/*.conf;
        location / {{ root {prefix}/html; }}  # not `return`: it answers before the access phase
    }}
}}
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[Path, Path, int]]:
    binary = shutil.which("nginx")
    if binary is None or os.geteuid() != 0:
        pytest.skip("needs root and nginx (Debian package nginx-light)")
    prefix = tmp_path / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "hostwarden").mkdir()
    (prefix / "html").mkdir()
    (prefix / "html" / "index.html").write_text("ok\n")
    port = _port()
    conf = prefix / "nginx.conf"
    conf.write_text(CONF.format(prefix=prefix, port=port))
    proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield prefix, conf, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _status(port: int, client: str) -> int:
    return httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": client}, timeout=5).status_code


def _until(port: int, client: str, status: int) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _status(port, client) == status:
            return True
        time.sleep(0.1)
    return False


def test_waf_deny_with_real_nginx(nginx: tuple[Path, Path, int], tmp_path: Path) -> None:
    prefix, conf, port = nginx
    deny = prefix / "hostwarden" / "deny.conf"
    deny.write_text("# kept as it is\n")
    nginx_cmd = ["nginx", "-p", str(prefix), "-c", str(conf)]
    settings = respond_settings({
        "builtin_playbooks": False,
        "waf": {"deny_file": str(deny), "modsecurity_file": str(tmp_path / "modsec" / "rules.conf"),
                "test": [*nginx_cmd, "-t", "-q"], "reload": [*nginx_cmd, "-s", "reload"]},
    }, tmp_path / "data")
    book = parse_playbook({"id": "waf", "trigger": {"grades": ["L2"]},
                           "actions": [{"waf_deny": {"field": "source.ip", "ttl": "1h"}}]}, "<test>", settings)
    r = Responder(settings, [book], host_addresses=[])
    try:
        assert _status(port, "203.0.113.5") == 200
        (out,) = r.handle({"hostwarden.grade": "L2", "source.ip": "203.0.113.5"}, wait=True)
        assert out.status == "applied", out
        assert _until(port, "203.0.113.5", 403)
        assert _status(port, "198.51.100.1") == 200  # only that address
        assert r.undo(out.id).status == "undone"
        assert _until(port, "203.0.113.5", 200)
        assert deny.read_text() == "# kept as it is\n"
        # a broken include is caught by nginx -t and reverted; nginx keeps serving
        deny.write_text("this is not nginx syntax\n")
        (bad,) = r.handle({"hostwarden.grade": "L2", "source.ip": "203.0.113.6"}, wait=True)
        assert (bad.status, bad.code) == ("failed", "RESP-6013")
        assert deny.read_text() == "this is not nginx syntax\n"
        assert _status(port, "203.0.113.6") == 200
    finally:
        r.close()
