"""Notifications reach real local servers: webhooks an HTTP server (payload shape and signature
checked per kind), email an aiosmtpd SMTP server over STARTTLS with login (content checked)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from respond_helpers import playbook

ALERT = {"event.id": "e1", "hostwarden.grade": "L1", "rule.id": "r1", "rule.name": "SSH login success after brute force",
         "host.name": "web1", "source.ip": "203.0.113.9", "user.name": "deploy",
         "@timestamp": dt.datetime(2025, 3, 1, tzinfo=dt.UTC), "message": "evil\x1b[31m text"}


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
            status = 500 if "fail" in self.path else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode":0}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()
    server.server_close()


def _notify(make_settings, make_responder, channel: dict[str, Any], kind: str = "webhooks"):  # type: ignore[no-untyped-def]
    s = make_settings(notify={kind: {"default": channel}})
    return make_responder(s, [playbook("""
    id: n
    trigger: {grades: [L1]}
    actions: [{notify: {channel: default}}]
    """, s)])


@pytest.mark.parametrize("kind", ["generic", "slack", "dingtalk", "feishu"])
def test_webhook_payload_and_signature(make_settings, make_responder, http_server, monkeypatch, kind) -> None:  # type: ignore[no-untyped-def]
    url, got = http_server
    monkeypatch.setenv("HW_TEST_SECRET", "SECabc123")
    r = _notify(make_settings, make_responder, {"url": url + "/hook?access_token=t0k", "kind": kind,
                                                "secret_env": "HW_TEST_SECRET"})
    before = time.time()
    (out,) = r.handle(ALERT, wait=True)
    assert out.status == "applied", out
    (req,) = got
    body, query = req["body"], parse_qs(urlsplit(req["path"]).query)
    assert query["access_token"] == ["t0k"]
    if kind == "generic":
        assert body["alert"]["source.ip"] == "203.0.113.9" and body["alert"]["@timestamp"].startswith("2025-03-01")
        text = body["text"]
    elif kind == "slack":
        assert set(body) == {"text"}
        text = body["text"]
    elif kind == "dingtalk":
        assert body["msgtype"] == "text"
        text = body["text"]["content"]
        ts = query["timestamp"][0]
        assert before * 1000 - 1 <= int(ts) <= time.time() * 1000 + 1
        mac = hmac.new(b"SECabc123", f"{ts}\nSECabc123".encode(), hashlib.sha256).digest()
        assert query["sign"] == [base64.b64encode(mac).decode()]
    else:
        assert body["msg_type"] == "text"
        text = body["content"]["text"]
        ts = body["timestamp"]
        assert int(before) - 1 <= int(ts) <= time.time() + 1
        mac = hmac.new(f"{ts}\nSECabc123".encode(), b"", hashlib.sha256).digest()
        assert body["sign"] == base64.b64encode(mac).decode()
    assert text.startswith("[hostwarden L1] SSH login success after brute force")
    assert "source.ip: 203.0.113.9" in text and "\x1b" not in text
    assert "SECabc123" not in json.dumps(r.audit.records())  # the secret is never recorded


def test_webhook_failure_is_resp_6015_and_not_counted_by_the_breaker(make_settings, make_responder,
                                                                     http_server) -> None:  # type: ignore[no-untyped-def]
    url, _ = http_server
    s = make_settings(notify={"webhooks": {"default": {"url": url + "/fail"}}}, breaker={"failures": 1})
    r = make_responder(s, [playbook("""
    id: n
    trigger: {grades: [L1]}
    actions: [{notify: {channel: default}}]
    """, s)])
    for _ in range(3):
        (out,) = r.handle(ALERT, wait=True)
        assert (out.status, out.code) == ("failed", "RESP-6015")
    assert r.breaker.status() == {}


def test_a_notification_is_sent_once_per_alert(make_settings, make_responder, http_server) -> None:  # type: ignore[no-untyped-def]
    url, got = http_server
    r = _notify(make_settings, make_responder, {"url": url + "/hook"})
    assert r.handle(ALERT, wait=True)[0].status == "applied"
    again = r.handle({**ALERT, "message": "count grew"}, wait=True)[0]  # the same alert, updated
    assert again.status == "done" and len(got) == 1
    assert r.handle({**ALERT, "event.id": "e2"}, wait=True)[0].status == "applied"
    assert len(got) == 2


def test_unreachable_webhook_times_out_cleanly(make_settings, make_responder) -> None:  # type: ignore[no-untyped-def]
    r = _notify(make_settings, make_responder, {"url": "http://127.0.0.1:9/", "timeout": 1})
    (out,) = r.handle(ALERT, wait=True)
    assert (out.status, out.code) == ("failed", "RESP-6015")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_email_over_starttls_with_login(make_settings, make_responder, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.smtp import AuthResult

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[Any] = []
    logins: list[tuple[bytes, bytes]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
            received.append((session.ssl is not None, envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    controller = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=_free_port(), tls_context=context,
                                     require_starttls=True, authenticator=authenticator, auth_required=True)
    controller.start()
    try:
        port = controller.port
        monkeypatch.setenv("HW_SMTP_PASSWORD", "s3cret")
        r = _notify(make_settings, make_responder, {
            "host": "127.0.0.1", "port": port, "user": "hostwarden", "password_env": "HW_SMTP_PASSWORD",
            "sender": "hostwarden@example.test", "to": ["oncall@example.test"], "ca_file": str(cert)}, kind="email")
        (out,) = r.handle(ALERT, wait=True)
        assert out.status == "applied", out
    finally:
        controller.stop()
    assert logins == [(b"hostwarden", b"s3cret")]
    ((tls, sender, rcpts, content),) = received
    assert tls and sender == "hostwarden@example.test" and rcpts == ["oncall@example.test"]
    msg = message_from_bytes(content)
    assert msg["Subject"] == "[hostwarden L1] SSH login success after brute force"
    body = msg.get_payload(decode=True).decode()
    assert "source.ip: 203.0.113.9" in body and "host.name: web1" in body


def test_email_refuses_an_untrusted_certificate(make_settings, make_responder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            raise AssertionError("no mail may be accepted over an unverified connection")

    controller = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=_free_port(), tls_context=context, require_starttls=True)
    controller.start()
    try:
        port = controller.port
        r = _notify(make_settings, make_responder, {"host": "127.0.0.1", "port": port, "sender": "a@example.test",
                                                    "to": ["b@example.test"], "timeout": 5}, kind="email")
        (out,) = r.handle(ALERT, wait=True)
    finally:
        controller.stop()
    assert (out.status, out.code) == ("failed", "RESP-6015")
