"""waf_deny against a real nginx: the deny include is written, `nginx -t` passes, the reload
makes nginx answer 403 to the address (seen through the real-IP module, on loopback), undo
brings back 200 and the previous file content exactly. The ModSecurity rule file the same
action writes is loaded by the real libmodsecurity (Debian's nginx connector) and denies alone."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from hostwarden.respond.engine import Responder
from hostwarden.respond.playbook import parse_playbook
from hostwarden.respond.settings import respond_settings

pytestmark = pytest.mark.integration

MODSEC_MODULE = Path("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so")

CONF = """
{load}
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
        {server}
        location / {{ root {prefix}/html; }}  # not `return`: it answers before the access phase
    }}
}}
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _running(tmp_path: Path, *, load: str = "", server: str = "", before: Callable[[Path], None] | None = None,
             ) -> Iterator[tuple[Path, Path, int]]:
    binary = shutil.which("nginx")
    if binary is None or os.geteuid() != 0:
        pytest.skip("needs root and nginx (Debian package nginx-light)")
    prefix = tmp_path / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "hostwarden").mkdir()
    (prefix / "html").mkdir()
    (prefix / "html" / "index.html").write_text("ok\n")
    if before is not None:
        before(prefix)
    port = _port()
    conf = prefix / "nginx.conf"
    conf.write_text(CONF.format(prefix=prefix, port=port, load=load,
                                server=server.format(prefix=prefix) or f"include {prefix}/hostwarden/*.conf;"))
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


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[Path, Path, int]]:
    with _running(tmp_path) as running:
        yield running


def _modsec_main(prefix: Path) -> None:
    (prefix / "modsec").mkdir()
    (prefix / "modsec" / "hostwarden.conf").write_text("# hostwarden writes here\n")
    (prefix / "modsec" / "main.conf").write_text(f"SecRuleEngine On\nInclude {prefix}/modsec/hostwarden.conf\n")


@pytest.fixture
def modsec_nginx(tmp_path: Path) -> Iterator[tuple[Path, Path, int]]:
    """nginx with libmodsecurity and no deny include: a 403 can only come from ModSecurity."""
    if not MODSEC_MODULE.exists():
        pytest.skip("needs Debian's libnginx-mod-http-modsecurity")
    with _running(tmp_path, load=f"load_module {MODSEC_MODULE};", before=_modsec_main,
                  server="modsecurity on; modsecurity_rules_file {prefix}/modsec/main.conf;") as running:
        yield running


def _status(port: int, client: str) -> int:
    return httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": client}, timeout=5).status_code


def _until(port: int, client: str, status: int) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _status(port, client) == status:
            return True
        time.sleep(0.1)
    return False


def _responder(conf: Path, tmp_path: Path, deny: Path, modsec: Path) -> Responder:
    """A responder whose one playbook denies an L2 alert's source at the nginx under test."""
    nginx_cmd = ["nginx", "-p", str(conf.parent), "-c", str(conf)]
    settings = respond_settings({
        "builtin_playbooks": False,
        "waf": {"deny_file": str(deny), "modsecurity_file": str(modsec),
                "test": [*nginx_cmd, "-t", "-q"], "reload": [*nginx_cmd, "-s", "reload"]},
    }, tmp_path / "data")
    book = parse_playbook({"id": "waf", "trigger": {"grades": ["L2"]},
                           "actions": [{"waf_deny": {"field": "source.ip", "ttl": "1h"}}]}, "<test>", settings)
    return Responder(settings, [book], host_addresses=[])


def test_waf_deny_with_real_nginx(nginx: tuple[Path, Path, int], tmp_path: Path) -> None:
    prefix, conf, port = nginx
    deny = prefix / "hostwarden" / "deny.conf"
    deny.write_text("# kept as it is\n")
    r = _responder(conf, tmp_path, deny, tmp_path / "modsec" / "rules.conf")
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


def test_the_modsecurity_rule_file_denies_in_real_libmodsecurity(modsec_nginx: tuple[Path, Path, int],
                                                                 tmp_path: Path) -> None:
    prefix, conf, port = modsec_nginx
    rules = prefix / "modsec" / "hostwarden.conf"
    r = _responder(conf, tmp_path, tmp_path / "not-included" / "deny.conf", rules)
    try:
        assert _status(port, "203.0.113.5") == 200
        first, second = (r.handle({"hostwarden.grade": "L2", "source.ip": ip}, wait=True)[0]
                         for ip in ("203.0.113.5", "2001:db8::5"))
        assert (first.status, second.status) == ("applied", "applied")
        assert "@ipMatch 2001:db8::5,203.0.113.5" in rules.read_text()
        # libmodsecurity parsed the rule and denies both (a reload is a signal: wait for it)
        assert _until(port, "203.0.113.5", 403) and _until(port, "2001:db8::5", 403)
        assert _status(port, "198.51.100.1") == 200
        assert "hostwarden response: address denied" in (prefix / "error.log").read_text()
        assert r.undo(first.id).status == "undone" and r.undo(second.id).status == "undone"
        assert _until(port, "203.0.113.5", 200)
        assert rules.read_text() == "# hostwarden writes here\n"
    finally:
        r.close()
