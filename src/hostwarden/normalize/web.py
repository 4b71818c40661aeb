"""nginx and Apache: access logs (combined, common, vhost_combined) and error logs.

Real access logs are full of junk requests (TLS handshakes sent to port 80, bare "-"): those
still become events, with the request kept in `message` and no method or URL invented.

Bulk contract. The access-log patterns below are plain strings in RE2 syntax (no lookaround, no
backreferences, no possessive quantifiers, and no `\\d`/`\\s`/`\\w`, whose Unicode meaning in
Python differs from RE2's ASCII one), so the DuckDB path compiles the very same text into
`regexp_extract`. Tried in the order of `ACCESS_PATTERNS`; the first match wins. Each named group
is the ECS field with `.` written `__`, plus `timestamp` for `@timestamp`. `event_from_groups`
is the one post-processing both paths must apply:

- a group that did not take part, is empty, or is `-` is absent (`message`, `user__name`,
  referrer, agent, status, bytes);
- `message`, `url__*`, `http__request__referrer`, `user_agent__original`: Apache's escapes
  `\\"` and `\\\\` undone (`regexp_replace(x, '\\\\(["\\\\])', '\\1', 'g')`);
- `timestamp`: `%d/%b/%Y:%H:%M:%S %z` to UTC (zone-less: the context's zone);
- `source__ip` that is not an address literal (HostnameLookups on) is `source.domain` instead;
- status and bytes are integers; status >= 400 gives `event.outcome=failure`, else `success`;
- no `http__request__method` means a malformed request: tag `malformed_request`.
`tests/unit/normalize/test_web.py` runs every pattern in DuckDB and in Python and compares.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from hostwarden.normalize.base import LineParser, ParseContext
from hostwarden.normalize.localtime import to_utc
from hostwarden.normalize.syslog import SyslogParser, frame

# A double-quoted log field: anything but `"`, or a backslash escape.
_QUOTED = r'(?:[^"\\]|\\.)*'
# The request line inside its quotes: METHOD TARGET [HTTP/x.y], else anything (junk, "-").
_REQUEST = (
    r'"(?P<message>(?P<http__request__method>[A-Z][A-Z_-]{0,19}) '
    r'(?P<url__original>(?P<url__path>(?:[^ "?\\]|\\[^ ])*)(?:\?(?P<url__query>(?:[^ "\\]|\\[^ ])*))?)'
    r'(?: HTTP/(?P<http__version>[0-9](?:\.[0-9])?))?|' + _QUOTED + r')"'
)
_TAIL = (
    r" (?P<http__response__status_code>[0-9]{3}|-) (?P<http__response__body__bytes>[0-9]+|-)"
    r'(?: "(?P<http__request__referrer>' + _QUOTED + r')" "(?P<user_agent__original>' + _QUOTED + r')")?(?: .*)?$'
)
_CLIENT = r"(?P<source__ip>[^ ]+) [^ ]+ (?P<user__name>[^ ]+) \[(?P<timestamp>[^\]]+)\] "
# %h %l %u %t "%r" %>s %b ["%{Referer}i" "%{User-Agent}i"]: Apache common/combined, nginx combined.
ACCESS_COMBINED = "^" + _CLIENT + _REQUEST + _TAIL
# %v:%p %h %l %u %t …: Apache vhost_combined (the port is optional: `%v %h …` is common too).
# The client (%h) is never `-`, which keeps `IP - - extra [time]` custom formats out of here.
ACCESS_VHOST = (
    r"^(?P<url__domain>[^ :\[\]]+)(?::(?P<destination__port>[0-9]{1,5}))? "
    r"(?P<source__ip>[^ -][^ ]*) [^ ]+ (?P<user__name>[^ ]+) \[(?P<timestamp>[^\]]+)\] " + _REQUEST + _TAIL
)
# Custom LogFormats seen in the wild: one to three fields between client and time, a zone-less
# time, a vhost after the time. Tried last.
ACCESS_LOOSE = (
    r"^(?P<source__ip>[0-9A-Fa-f:.]+) (?:[^ ]+ ){1,3}\[(?P<timestamp>[^\]]+)\] "
    r'(?:(?P<url__domain>[^ "]+) )?' + _REQUEST + _TAIL
)
ACCESS_PATTERNS: tuple[tuple[str, str], ...] = (
    ("combined", ACCESS_COMBINED),
    ("vhost_combined", ACCESS_VHOST),
    ("loose", ACCESS_LOOSE),
)
_ACCESS_COMPILED = tuple((name, re.compile(regex)) for name, regex in ACCESS_PATTERNS)
_ESCAPE = re.compile(r'\\(["\\])')
REQUEST = re.compile(r"^(?P<method>[A-Z][A-Z_-]{0,19}) (?P<target>\S+)(?: HTTP/(?P<version>\d(?:\.\d)?))?$")


def _access_time(text: str, ctx: ParseContext) -> datetime | None:
    text = text.strip()
    try:
        if " " in text:
            return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
        return to_utc(datetime.strptime(text, "%d/%b/%Y:%H:%M:%S"), ctx.tz)
    except ValueError:
        return None


def _unescape(text: str | None) -> str | None:
    if text is None or text == "-" or text == "":
        return None
    return _ESCAPE.sub(r"\1", text)


def dataset_hint(path: str) -> str:
    low = path.lower()
    kind = "error" if "error" in low else "access"
    for server in ("nginx", "apache", "httpd", "squid"):
        if server in low:
            return f"{'apache' if server == 'httpd' else server}.{kind}"
    return f"web.{kind}"


def match_access(text: str) -> tuple[str, dict[str, str | None]] | None:
    """(pattern name, groups) of the first access pattern that matches the line."""
    for name, regex in _ACCESS_COMPILED:
        m = regex.match(text)
        if m is not None:
            return name, m.groupdict()
    return None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def event_from_groups(g: dict[str, str | None], ctx: ParseContext) -> dict[str, Any] | None:
    """The event for one access-log match; the post-processing the bulk path mirrors."""
    ts = _access_time(g.get("timestamp") or "", ctx)
    if ts is None:
        return None
    dataset = dataset_hint(ctx.source)
    ev: dict[str, Any] = {
        "event.kind": "event",
        "event.dataset": dataset if dataset.endswith("access") else "web.access",
        "event.category": ["web"],
        "event.type": ["access"],
        "event.action": "http_request",
        "@timestamp": ts,
    }
    if request := _unescape(g.get("message")):
        ev["message"] = request
    client = g.get("source__ip") or ""
    if _is_address(client):
        ev["source.ip"] = client
    elif client and client != "-":
        ev["source.domain"] = client
    if _unescape(g.get("url__domain")):
        ev["url.domain"] = g["url__domain"]
    if g.get("destination__port"):
        ev["destination.port"] = int(g["destination__port"])  # type: ignore[arg-type]
    if g.get("user__name") not in (None, "", "-"):
        ev["user.name"] = g["user__name"]
    status = g.get("http__response__status_code")
    if status and status != "-":
        ev["http.response.status_code"] = int(status)
        ev["event.outcome"] = "failure" if int(status) >= 400 else "success"
    size = g.get("http__response__body__bytes")
    if size and size != "-" and int(size) < 1 << 63:  # a forged size past BIGINT is dropped, not fatal
        ev["http.response.body.bytes"] = int(size)
    for group, field in (("http__request__referrer", "http.request.referrer"),
                         ("user_agent__original", "user_agent.original")):
        if value := _unescape(g.get(group)):
            ev[field] = value
    if g.get("http__request__method"):
        ev["http.request.method"] = g["http__request__method"]
        for group, field in (("url__original", "url.original"), ("url__path", "url.path"), ("url__query", "url.query")):
            if value := _unescape(g.get(group)):
                ev[field] = value
        if g.get("http__version"):
            ev["http.version"] = g["http__version"]
    else:
        ev["tags"] = ["malformed_request"]
    return ev


class AccessLogParser(LineParser):
    """nginx/Apache access logs. Datasets: `nginx.access` / `apache.access` when the file name says
    so (`ParseContext.source`), else `web.access`: the default formats of both are identical."""

    dataset = "web.access"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        found = match_access(text)
        if found is None:
            return self._relayed(text, ctx)
        return event_from_groups(found[1], ctx)

    def _relayed(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        """Access lines sent through syslog (`Nov 28 10:00:00 web1 nginx: 1.2.3.4 - - […] …`)."""
        framed = frame(text)
        if framed is None or framed[0].name == "rfc3164_notag":
            return None
        found = match_access(text[framed[1].end():])
        if found is None:
            return None
        ev = event_from_groups(found[1], ctx)
        host = framed[1].groupdict().get("host")
        if ev is not None and host:
            ev["host.name"] = host
        return ev


def decoded_url(ev: dict[str, Any]) -> str:
    """URL with percent-encoding undone (twice, as attackers double-encode) for detection rules."""
    raw = ev.get("url.original") or ""
    return unquote_plus(unquote_plus(raw))


_NGINX_HEAD = r"^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>\w+)\] (?P<pid>\d+)#(?P<tid>\d+): (?:\*\d+ )?"
# The client is the *last* `, client: X` (a user name can carry a fake one, as fail2ban's tests show).
NGINX_ERROR_CLIENT = re.compile(
    _NGINX_HEAD + r"(?P<msg>.*), client: (?P<ip>[^,\s]+)(?:, server: (?P<server>[^,]*))?"
    r"(?:, request: \"(?P<request>[^\"]*)\")?(?:, .*)?$"
)
NGINX_ERROR = re.compile(_NGINX_HEAD + r"(?P<msg>.*)$")
_NGINX_START = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: ")
# Apache 2.2/2.4: `[time] [module:level] [pid P:tid T] file.c(12): (70007)status: [client A:P] message`.
APACHE_ERROR = re.compile(
    r"^(?:\[(?P<time>\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] )?\[(?:(?P<module>[^:\]]*):)?(?P<level>\w+)\]"
    r"(?: \[pid (?P<pid>\d+)(?::tid \d+)?\])?"
    r"(?: (?P<srcfile>[^ \[\]()]+\(\d+\)):)?"
    r"(?: (?P<status>\(-?\d+\)[^\[\]]*?):(?= \[(?:client|remote) ))?"
    r"(?: \[(?:client|remote) (?:\[(?P<ip6>[^\]]+)\]|(?P<ip>[^\]\s]+?))(?::(?P<port>\d+))?\])? ?(?P<msg>.*)$"
)
_REFERER = re.compile(r", referer: (?P<referrer>\S+)$")


@dataclass(frozen=True)
class ErrorKind:
    """A security-relevant error-log message: what happened, to which user and path."""

    regex: re.Pattern[str]
    action: str
    auth: bool = False


# Searched in the message (after the client tag), first match wins. Named groups: user, path.
ERROR_KINDS: tuple[ErrorKind, ...] = tuple(ErrorKind(re.compile(r), a, auth) for r, a, auth in (
    (r'^user "(?P<user>[^"]*)" was not found in "', "web_auth_failed", True),  # nginx
    (r'^user "(?P<user>[^"]*)": password mismatch', "web_auth_failed", True),
    (r"^PAM: user '(?P<user>[^']*)' - not authenticated", "web_auth_failed", True),
    (r"^no user/password was provided for basic authentication", "web_auth_missing", True),
    (r"(?:^|: )user (?P<user>[^ :]*): authentication failure for \"(?P<path>[^\"]*)\"", "web_auth_failed", True),  # Apache
    (r"(?:^|: )(?:Digest: )?user (?P<user>[^ :]*): password mismatch: (?P<path>\S+)", "web_auth_failed", True),
    (r"(?:^|: )user `(?P<user>[^']*)' in realm `[^']*' not found(?:: (?P<path>\S+))?", "web_auth_failed", True),
    (r"(?:^|: )user (?P<user>[^ ]*) not found(?:: (?P<path>\S+))?", "web_auth_failed", True),
    (r"(?:^|: )(?:invalid qop|invalid nonce|realm mismatch|unknown algorithm)\b", "web_auth_failed", True),
    (r"(?:^|: )client used wrong authentication scheme: (?P<path>\S+)", "web_auth_failed", True),
    (r"(?:^|: )Authorization of user (?P<user>\S*) to access (?P<path>\S+) failed", "web_authz_failed", True),
    (r"(?:^|: )user (?P<user>[^ :]*): authorization failure for \"(?P<path>[^\"]*)\"", "web_authz_failed", True),
    (r"(?:^|: )client denied by server configuration: (?P<path>\S+)", "web_access_denied", False),
    (r"^access forbidden by rule", "web_access_denied", False),
    (r'^directory index of "(?P<path>[^"]+)" is forbidden', "web_access_denied", False),
    (r"^(?:limiting (?:requests|connections)|delaying request, excess)", "web_rate_limited", False),
    (r'^open\(\) "(?P<path>[^"]+)" failed \(2: ', "web_file_not_found", False),
    (r'^"(?P<path>[^"]+)" is not found \(2: ', "web_file_not_found", False),
    (r"(?:^|: )File does not exist: (?P<path>[^,]+)", "web_file_not_found", False),
    (r"(?:^|: )script '(?P<path>[^']+)' not found or unable to stat", "web_script_not_found", False),
    (r"(?:^|: )script not found or unable to stat: (?P<path>\S+)", "web_script_not_found", False),
    (r"(?:^|: )stderr from (?P<path>\S+): script not found or unable to stat", "web_script_not_found", False),
    (r"Primary script unknown", "web_script_not_found", False),
    (r"(?:^|: )(?:Invalid URI in request|Invalid method in request|request failed: |invalid URI path)", "web_bad_request", False),
    (r"^(?:\[client [^\]]*\] )?ModSecurity: +Access denied", "web_waf_denied", False),
    (r"^(?:\[client [^\]]*\] )?ModSecurity: ", "web_waf_alert", False),
    (r"(?:^|: )(?:ignoring function definition attempt|error importing function definition for)", "web_shellshock_attempt", False),
    (r"(?:^|: )Hostname \S+ provided via SNI|No hostname was provided via SNI", "web_bad_request", False),
    (r"^SSL_(?:do_handshake|read)\(\) failed", "tls_error", False),
))


class ErrorLogParser(LineParser):
    dataset = "web.error"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        ev = self._parse(text, ctx)
        if ev is None:
            # Error logs sent through syslog: `host nginx[1]: 2015/01/21 …`, `srv httpd[2]: [error] …`
            framed = frame(text)
            if framed is not None and framed[0].name not in ("rfc3164_notag",):
                header = framed[1].groupdict()
                ev = self._parse(text[framed[1].end():], ctx)
                if ev is not None:
                    if header.get("host"):
                        ev["host.name"] = header["host"]
                    if ev.get("@timestamp") is None:
                        rest = SyslogParser().parse_line(text, ctx) or {}
                        if rest.get("@timestamp"):
                            ev["@timestamp"] = rest["@timestamp"]
        return ev

    def _parse(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        embedded = _NGINX_START.search(text)
        if embedded is not None and embedded.start() > 0:  # relayed with extra prefixes
            text = text[embedded.start():]
        m = NGINX_ERROR_CLIENT.match(text) or NGINX_ERROR.match(text)
        if m is not None:
            g = m.groupdict()
            try:
                ts = to_utc(datetime.strptime(g["time"], "%Y/%m/%d %H:%M:%S"), ctx.tz)
            except ValueError:
                return None
            ev = self._common("nginx.error", ts, g["level"], g["msg"], g.get("ip"))
            _classify(ev, g["msg"] or "")
            ev["process.pid"] = int(g["pid"])
            if g.get("request"):
                req = REQUEST.match(g["request"])
                if req:
                    ev["http.request.method"] = req["method"]
                    ev["url.original"] = req["target"]
                    ev["url.path"] = req["target"].partition("?")[0]
            if g.get("server"):
                ev["url.domain"] = g["server"]
            return ev
        m = APACHE_ERROR.match(text)
        if m is None:
            return None
        g = m.groupdict()
        ts = None
        if g["time"]:
            stamp = re.sub(r"\.\d+", "", g["time"])
            try:
                ts = to_utc(datetime.strptime(re.sub(r" +", " ", stamp), "%a %b %d %H:%M:%S %Y"), ctx.tz)
            except ValueError:
                return None
        message = f"{g['status']}: {g['msg']}" if g.get("status") else g["msg"]
        ev = self._common("apache.error", ts, g["level"], message, g.get("ip6") or g.get("ip"))
        _classify(ev, g["msg"] or "")
        referer = _REFERER.search(g["msg"] or "")
        if referer:
            ev["http.request.referrer"] = referer["referrer"]
        if g.get("pid"):
            ev["process.pid"] = int(g["pid"])
        if g.get("port"):
            ev["source.port"] = int(g["port"])
        if g.get("module"):
            ev["apache.module"] = g["module"]
        code = re.match(r"^(AH\d{5}):", g["msg"] or "")
        if code:
            ev["error.code"] = code.group(1)
        return ev

    @staticmethod
    def _common(dataset: str, ts: datetime | None, level: str, msg: str, ip: str | None) -> dict[str, Any]:
        ev: dict[str, Any] = {
            "event.kind": "event",
            "event.dataset": dataset,
            "event.category": ["web"],
            "event.type": ["error"],
            "event.action": "http_error_log",
            "log.level": level.lower(),
            "message": msg,
            "error.message": msg,
        }
        if ts is not None:
            ev["@timestamp"] = ts
        if ip:
            ev["source.ip"] = ip.strip()
        return ev


def _classify(ev: dict[str, Any], msg: str) -> None:
    """Name security-relevant messages (failed basic auth, denied paths, missing scripts)."""
    for kind in ERROR_KINDS:
        m = kind.regex.search(msg)
        if m is None:
            continue
        groups = m.groupdict()
        ev["event.action"] = kind.action
        ev["event.outcome"] = "failure"
        if kind.auth:
            ev["event.category"] = ["authentication", "web"]
            ev["event.type"] = ["info"]
        else:
            ev["event.type"] = ["denied"] if "denied" in kind.action else ["error"]
        if groups.get("user"):
            ev["user.name"] = groups["user"]
        if groups.get("path"):
            # Auth messages name the URL path; the others a file on the server.
            if kind.auth:
                ev.setdefault("url.path", groups["path"])
            else:
                ev["file.path"] = groups["path"]
        return
