"""nginx/Apache access and error logs; the access patterns agree between Python and DuckDB (RE2)."""

import re
from datetime import UTC, datetime

import duckdb
import pytest

from hostwarden.core.schema import FIELD_BY_NAME, to_arrow
from hostwarden.normalize.base import ParseContext, RawLine
from hostwarden.normalize.web import (
    ACCESS_PATTERNS,
    AccessLogParser,
    ErrorLogParser,
    decoded_url,
    match_access,
)

CTX = ParseContext(source="/var/log/nginx/access.log")


def access(line, ctx=CTX):
    return AccessLogParser().parse_line(line, ctx)


def test_combined():
    ev = access('203.0.113.45 - bob [27/Nov/2026:09:01:14 +0800] "GET /products.php?id=1%27 HTTP/1.1" 500 12 "https://r/" "sqlmap/1.7"')
    assert ev["@timestamp"] == datetime(2026, 11, 27, 1, 1, 14, tzinfo=UTC)
    assert (ev["source.ip"], ev["user.name"], ev["http.request.method"], ev["url.path"], ev["url.query"]) == (
        "203.0.113.45", "bob", "GET", "/products.php", "id=1%27")
    assert ev["url.original"] == "/products.php?id=1%27"
    assert (ev["http.response.status_code"], ev["http.response.body.bytes"], ev["http.version"]) == (500, 12, "1.1")
    assert ev["user_agent.original"] == "sqlmap/1.7" and ev["http.request.referrer"] == "https://r/"
    assert ev["event.dataset"] == "nginx.access" and ev["event.outcome"] == "failure"


def test_common_format_apache_time_zone_and_ipv6():
    ev = access('::1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
                ParseContext(source="/var/log/apache2/access.log"))
    assert ev["source.ip"] == "::1" and ev["user.name"] == "frank" and ev["event.dataset"] == "apache.access"
    assert ev["@timestamp"] == datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)
    assert "user_agent.original" not in ev and ev["event.outcome"] == "success"
    assert access('192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-"',
                  ParseContext(source="/srv/logs/site.log"))["event.dataset"] == "web.access"


def test_vhost_combined():
    ev = access('www.example.com:443 198.51.100.1 - - [10/Oct/2000:13:55:36 -0700] "POST /login HTTP/2.0" 302 - "-" "curl/8"')
    assert (ev["url.domain"], ev["destination.port"], ev["source.ip"], ev["http.version"]) == (
        "www.example.com", 443, "198.51.100.1", "2.0")
    assert "http.response.body.bytes" not in ev and "http.request.referrer" not in ev and "user.name" not in ev


def test_hostname_lookups_give_source_domain():
    ev = access('crawler.example.net - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "-"')
    assert ev["source.domain"] == "crawler.example.net" and "source.ip" not in ev


@pytest.mark.parametrize("request_text", [r"\x16\x03\x01\x00\xa5\x01", "-", "", "GET", "GARBAGE / / /",
                                          "GET /a HTTP/1.1 trailing", r"GET /\"quoted\" HTTP/1.1 x"])
def test_junk_requests_still_become_events(request_text):
    ev = access(f'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "{request_text}" 400 0 "-" "-"')
    assert ev is not None and ev["source.ip"] == "192.0.2.1" and ev["http.response.status_code"] == 400
    assert "http.request.method" not in ev and "url.original" not in ev and ev["tags"] == ["malformed_request"]


def test_escaped_quotes_are_undone():
    ev = access(r'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /q?s=\"x\" HTTP/1.1" 200 1 "-" "a \"quoted\" agent \\ x"')
    assert ev["user_agent.original"] == 'a "quoted" agent \\ x'
    assert ev["url.query"] == 's="x"' and ev["http.request.method"] == "GET"


def test_custom_formats_and_syslog_relay():
    ev = access('10.0.0.5 - - host1 [10/Oct/2000:13:55:36] "GET /x HTTP/1.1" 404 0 "-" "-" 0.002 "upstream"')
    assert ev["source.ip"] == "10.0.0.5" and ev["http.response.status_code"] == 404
    ev = access('Nov 28 10:00:00 web1 nginx: 192.0.2.7 - - [28/Nov/2026:10:00:00 +0000] "GET /wp-login.php HTTP/1.1" 404 0 "-" "-"')
    assert ev["source.ip"] == "192.0.2.7" and ev["host.name"] == "web1" and ev["url.path"] == "/wp-login.php"


@pytest.mark.parametrize("line", [
    "Nov 28 10:00:00 h sshd[1]: Invalid user x from 1.2.3.4",
    '192.0.2.1 - - [99/Foo/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',  # impossible date
    '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1"',  # truncated before the status
    "", "\x00" * 10, "x" * 100_000,
])
def test_not_an_access_line(line):
    assert access(line) is None


def test_batch_keeps_every_line_and_fits_the_schema():
    lines = [RawLine(0, '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-"'),
             RawLine(80, "garbage \ufffd", ("invalid_utf8",)),
             RawLine(95, '192.0.2.2 - - [10/Oct/2000:13:55:36 -0700] "' + "A" * 1_000_000 + '" 414 0 "-" "-"')]
    events = AccessLogParser().parse_batch(lines, CTX)
    assert [ev["log.offset"] for ev in events] == [0, 80, 95]
    assert "parse_failure" in events[1]["tags"] and "invalid_utf8" in events[1]["tags"]
    assert events[2]["tags"] == ["malformed_request"] and len(events[2]["message"]) == 1_000_000
    assert to_arrow(events).num_rows == 3


def test_decoded_url_undoes_double_encoding():
    assert decoded_url({"url.original": "/a?f=..%252f..%252fetc%252fpasswd"}) == "/a?f=../../etc/passwd"


# Lines covering every branch of the patterns, for the Python/RE2 agreement check.
AGREEMENT_SAMPLES = [
    '203.0.113.45 - bob [27/Nov/2026:09:01:14 +0800] "GET /p.php?id=1%27 HTTP/1.1" 500 12 "https://r/" "sqlmap/1.7"',
    '::1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326',
    'www.example.com:443 198.51.100.1 - - [10/Oct/2000:13:55:36 -0700] "POST /login HTTP/2.0" 302 - "-" "curl/8"',
    'example.org 198.51.100.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 3 "-" "-"',
    r'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01\x00\xa5" 400 157 "-" "-"',
    '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "-" 408 0 "-" "-"',
    r'192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /q?s=\"x\"&t=\\ HTTP/1.1" 200 1 "-" "a \"b\""',
    '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET ?only=query HTTP/1.1" 200 1 "-" "-"',
    '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "OPTIONS * HTTP/1.1" 200 - "-" "-" extra fields 0.003',
    '10.0.0.5 - - host1 [10/Oct/2000:13:55:36] "GET /x HTTP/1.1" 404 0 "-" "-"',
    '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /\u00e9t\u00e9\ufffd HTTP/1.1" 200 1 "-" "Mozilla/5.0 \u2028"',
    '192.0.2.1\u00a0- - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1',  # Unicode space: RE2 and re must agree
    '192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /\u0663 HTTP/\u0661.1" \u0662\u0660\u0660 1',  # non-ASCII digits
    "not an access line",
]


def test_access_patterns_are_ecs_named_and_agree_with_duckdb_re2():
    con = duckdb.connect()
    for name, regex in ACCESS_PATTERNS:
        compiled = re.compile(regex)
        groups = sorted(compiled.groupindex, key=compiled.groupindex.__getitem__)
        for group in groups:
            assert group == "timestamp" or group.replace("__", ".") in FIELD_BY_NAME, (name, group)
        names = "[" + ", ".join(f"'{g}'" for g in groups) + "]"
        for line in AGREEMENT_SAMPLES:
            matched, extracted = con.execute(
                f"SELECT regexp_matches($1, {_literal(regex)}), regexp_extract($1, {_literal(regex)}, {names})", [line]
            ).fetchone()
            m = compiled.match(line)
            assert matched == (m is not None), (name, line)
            if m is not None:
                assert extracted == {k: v or "" for k, v in m.groupdict().items()}, (name, line)
    assert match_access(AGREEMENT_SAMPLES[2])[0] == "vhost_combined"
    assert match_access(AGREEMENT_SAMPLES[0])[0] == "combined"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def test_nginx_error_takes_the_last_client():
    line = ('2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 127.0.0.1, server: test, '
            'request: "GET / HTTP/1.1", host: "x"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , '
            'request: "GET / HTTP/1.1", host: "localhost:8443"')
    ev = ErrorLogParser().parse_line(line, ParseContext())
    assert ev["source.ip"] == "192.0.2.2" and ev["log.level"] == "error" and ev["event.dataset"] == "nginx.error"


def test_nginx_error_fields():
    line = ('2024/01/02 03:04:05 [error] 123#0: *1 open() "/usr/share/nginx/html/.env" failed (2: No such file or directory), '
            'client: 198.51.100.9, server: shop.example.com, request: "GET /.env?x=1 HTTP/1.1", host: "shop.example.com"')
    ev = ErrorLogParser().parse_line(line, ParseContext())
    assert ev["@timestamp"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (ev["source.ip"], ev["url.domain"], ev["http.request.method"], ev["url.path"], ev["process.pid"]) == (
        "198.51.100.9", "shop.example.com", "GET", "/.env", 123)
    ev = ErrorLogParser().parse_line("2024/01/02 03:04:05 [notice] 1#1: signal process started", ParseContext())
    assert ev["log.level"] == "notice" and "source.ip" not in ev


def test_apache_error_formats():
    p = ErrorLogParser()
    ev = p.parse_line("[Sat Jul 20 22:11:44.147674 2013] [authz_owner:error] [pid 17540:tid 1] [client [2001:db8::1]:51548] AH01637: no", ParseContext())
    assert ev["source.ip"] == "2001:db8::1" and ev["source.port"] == 51548 and ev["error.code"] == "AH01637"
    ev = p.parse_line("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties", ParseContext())
    assert ev["log.level"] == "notice" and ev["@timestamp"] == datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC)
    assert ev["event.dataset"] == "apache.error"
    ev = p.parse_line("[Sun Dec 04 06:19:18 2005] [error] [client 203.0.113.3] Directory index forbidden by rule: /var/www/html/", ParseContext())
    assert ev["source.ip"] == "203.0.113.3" and "source.port" not in ev and ev["log.level"] == "error"
    ev = p.parse_line("Feb 15 16:23:00 srv httpd[22034]: [authz_core:error] [pid 22034] [client 192.0.2.1:58585] AH01630: denied", ParseContext())
    assert ev["source.ip"] == "192.0.2.1" and ev["host.name"] == "srv" and ev["@timestamp"] is not None


@pytest.mark.parametrize("line", ["", "[", "[Sun Dec 99 06:19:18 2005] [error] x", "2024/13/45 03:04:05 [error] 1#0: x",
                                  "random words"])
def test_error_parser_rejects_junk_without_raising(line):
    events = ErrorLogParser().parse_batch([RawLine(0, line)], ParseContext())
    assert len(events) == 1 and events[0]["event.original"] == line


@pytest.mark.parametrize("line, action, user, path_field, path", [
    ('2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", client: 192.0.43.10, '
     'server: www.myhost.com, request: "GET / HTTP/1.1", host: "www.myhost.com"', "web_auth_failed", "xyz", None, None),
    ('2012/04/09 11:53:36 [error] 2865#0: *66647 user "xyz": password mismatch, client: 192.0.43.10, server: x, '
     'request: "GET /admin HTTP/1.1", host: "x"', "web_auth_failed", "xyz", "url.path", "/admin"),
    ("[Wed Jul 17 22:18:52 2013] [error] [client 127.0.0.1] user alice: authentication failure for \"/basic/file\": Password Mismatch",
     "web_auth_failed", "alice", "url.path", "/basic/file"),
    ("[Sat Jul 20 21:40:33.803528 2013] [auth_basic:error] [pid 17540:tid 1] [client 127.0.0.1:51395] AH01618: user bob not found: /basic/file",
     "web_auth_failed", "bob", "url.path", "/basic/file"),
    ("[Sun Sep 14 21:44:43.008606 2014] [authz_core:error] [pid 10691] [client 192.3.9.178:44271] AH01630: client denied by server configuration: /var/www/html/x",
     "web_access_denied", None, "file.path", "/var/www/html/x"),
    ("[Mon Dec 23 07:49:01.981912 2013] [:error] [pid 3790] [client 204.232.202.107:46301] script '/var/www/timthumb.php' not found or unable to stat",
     "web_script_not_found", None, "file.path", "/var/www/timthumb.php"),
    ('2024/01/02 03:04:05 [error] 123#0: *1 open() "/usr/share/nginx/html/.env" failed (2: No such file or directory), client: 198.51.100.9, '
     'server: s, request: "GET /.env HTTP/1.1"', "web_file_not_found", None, "file.path", "/usr/share/nginx/html/.env"),
    ('2025/08/01 04:24:17 [warn] 4772#4772: *68 delaying request, excess: 0.841, by zone "req_limit", client: 206.189.215.97, server: s',
     "web_rate_limited", None, None, None),
    ("[Thu Sep 25 09:29:56.141832 2014] [cgi:error] [pid 16864] [client 162.247.73.206:41273] AH01215: /bin/bash: error importing function definition for `HTTP_TEST'",
     "web_shellshock_attempt", None, None, None),
    ("[Sat May 09 00:35:52.389262 2020] [:error] [pid 22406:tid 1] [client 192.0.2.2:47762] [client 192.0.2.2] ModSecurity: Access denied with code 401 (phase 2).",
     "web_waf_denied", None, None, None),
])
def test_security_relevant_error_messages_are_named(line, action, user, path_field, path):
    ev = ErrorLogParser().parse_line(line, ParseContext())
    assert (ev["event.action"], ev["event.outcome"], ev.get("user.name")) == (action, "failure", user)
    if path_field:
        assert ev[path_field] == path


def test_a_user_name_cannot_smuggle_an_auth_failure_or_client():
    # A request path carrying a fake "[client …] user root not found" stays a missing file of the real client.
    ev = ErrorLogParser().parse_line("[Sat Jun 01 02:17:42 2013] [error] [client 192.168.33.1] File does not exist: "
                                     "/srv/http/site/[client 192.168.0.1] user root not found", ParseContext())
    assert (ev["source.ip"], ev["event.action"], ev.get("user.name")) == ("192.168.33.1", "web_file_not_found", None)


def test_apache_24_status_prefix_and_referer():
    line = ("[Thu Jan 02 10:00:00.000000 2024] [proxy_fcgi:error] [pid 1234:tid 5678] (70007)The timeout specified has expired: "
            "[client 203.0.113.5:51234] AH01075: Error dispatching request to : , referer: http://example.com/page")
    ev = ErrorLogParser().parse_line(line, ParseContext())
    assert (ev["source.ip"], ev["source.port"], ev["error.code"], ev["http.request.referrer"]) == (
        "203.0.113.5", 51234, "AH01075", "http://example.com/page")
    assert ev["message"].startswith("(70007)The timeout specified has expired: AH01075")
    ev = ErrorLogParser().parse_line("[Thu Jan 02 10:00:00 2024] [error] [pid 9] mod_x.c(12): (2)No such file: AH0001: x", ParseContext())
    assert ev["process.pid"] == 9 and "source.ip" not in ev and ev["event.action"] == "http_error_log"
