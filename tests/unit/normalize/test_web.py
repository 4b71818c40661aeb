from datetime import UTC, datetime

import pytest

from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.web import AccessLogParser, ErrorLogParser, decoded_url

CTX = ParseContext(source="/var/log/nginx/access.log")


def access(line):
    return AccessLogParser().parse_line(line, CTX)


def test_combined():
    ev = access('203.0.113.45 - bob [27/Nov/2026:09:01:14 +0800] "GET /products.php?id=1%27 HTTP/1.1" 500 12 "https://r/" "sqlmap/1.7"')
    assert ev["@timestamp"] == datetime(2026, 11, 27, 1, 1, 14, tzinfo=UTC)
    assert (ev["source.ip"], ev["user.name"], ev["http.request.method"], ev["url.path"], ev["url.query"]) == (
        "203.0.113.45", "bob", "GET", "/products.php", "id=1%27")
    assert (ev["http.response.status_code"], ev["http.response.body.bytes"], ev["http.version"]) == (500, 12, "1.1")
    assert ev["user_agent.original"] == "sqlmap/1.7" and ev["http.request.referrer"] == "https://r/"
    assert ev["event.dataset"] == "nginx.access" and ev["event.outcome"] == "failure"


def test_common_and_vhost_and_ipv6():
    assert access('::1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326')["source.ip"] == "::1"
    ev = access('www.example.com:443 198.51.100.1 - - [10/Oct/2000:13:55:36 -0700] "POST /login HTTP/2.0" 302 - "-" "curl/8"')
    assert ev["url.domain"] == "www.example.com" and ev["destination.port"] == 443
    assert "http.response.body.bytes" not in ev and "http.request.referrer" not in ev


@pytest.mark.parametrize("request_text", [r"\x16\x03\x01\x00\xa5\x01", "-", "GET", "GARBAGE / / /"])
def test_junk_requests_still_become_events(request_text):
    ev = access(f'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "{request_text}" 400 0 "-" "-"')
    assert ev is not None and ev["source.ip"] == "192.0.2.1"
    assert "http.request.method" not in ev and "malformed_request" in ev["tags"]


def test_escaped_quotes_in_user_agent():
    ev = access(r'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "a \"quoted\" agent"')
    assert ev["user_agent.original"] == 'a "quoted" agent'


def test_not_an_access_line():
    assert access("Nov 28 10:00:00 h sshd[1]: Invalid user x from 1.2.3.4") is None


def test_decoded_url_undoes_double_encoding():
    assert decoded_url({"url.original": "/a?f=..%252f..%252fetc%252fpasswd"}) == "/a?f=../../etc/passwd"


def test_nginx_error_takes_the_last_client():
    line = ('2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 127.0.0.1, server: test, '
            'request: "GET / HTTP/1.1", host: "x"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , '
            'request: "GET / HTTP/1.1", host: "localhost:8443"')
    ev = ErrorLogParser().parse_line(line, ParseContext())
    assert ev["source.ip"] == "192.0.2.2" and ev["log.level"] == "error" and ev["event.dataset"] == "nginx.error"


def test_apache_error_formats():
    p = ErrorLogParser()
    ev = p.parse_line("[Sat Jul 20 22:11:44.147674 2013] [authz_owner:error] [pid 17540:tid 1] [client [2001:db8::1]:51548] AH01637: no", ParseContext())
    assert ev["source.ip"] == "2001:db8::1" and ev["source.port"] == 51548 and ev["error.code"] == "AH01637"
    ev = p.parse_line("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties", ParseContext())
    assert ev["log.level"] == "notice" and ev["@timestamp"] == datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC)
    ev = p.parse_line("Feb 15 16:23:00 srv httpd[22034]: [authz_core:error] [pid 22034] [client 192.0.2.1:58585] AH01630: denied", ParseContext())
    assert ev["source.ip"] == "192.0.2.1" and ev["host.name"] == "srv" and ev["@timestamp"] is not None
