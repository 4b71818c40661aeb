"""nginx and Apache: access logs (combined, common, vhost_combined) and error logs.

Real access logs are full of junk requests (TLS handshakes sent to port 80, bare "-"): those
still become events, with the request kept and no method or URL invented.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from hostwarden.normalize.base import LineParser, ParseContext
from hostwarden.normalize.syslog import SyslogParser, frame

_QUOTED = r'"(?P<{name}>(?:[^"\\]|\\.)*)"'
_TAIL = (
    r" (?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r"(?: " + _QUOTED.format(name="referrer") + " " + _QUOTED.format(name="agent") + r")?(?: .*)?$"
)
_CORE = (
    r"(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    + _QUOTED.format(name="request")
    + _TAIL
)
ACCESS = re.compile(r"^" + _CORE)
ACCESS_VHOST = re.compile(r"^(?P<vhost>[^\s:]+)(?::(?P<port>\d+))? " + _CORE)
# Custom LogFormats seen in the wild: extra fields around the time, a zone-less time, a vhost
# after the time. Tried last.
ACCESS_LOOSE = re.compile(
    r"^(?P<ip>[0-9A-Fa-f:.]+) (?:\S+ ){1,3}\[(?P<time>[^\]]+)\] (?:(?P<vhost>[^\s\"]+) )?"
    + _QUOTED.format(name="request") + _TAIL
)
ACCESS_FORMATS = (ACCESS, ACCESS_VHOST, ACCESS_LOOSE)
REQUEST = re.compile(r"^(?P<method>[A-Z][A-Z_-]{0,19}) (?P<target>\S+)(?: HTTP/(?P<version>\d(?:\.\d)?))?$")

_NGINX_HEAD = r"^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>\w+)\] (?P<pid>\d+)#(?P<tid>\d+): (?:\*\d+ )?"
# The client is the *last* `, client: X` (a user name can carry a fake one, as fail2ban's tests show).
NGINX_ERROR_CLIENT = re.compile(
    _NGINX_HEAD + r"(?P<msg>.*), client: (?P<ip>[^,\s]+)(?:, server: (?P<server>[^,]*))?"
    r"(?:, request: \"(?P<request>[^\"]*)\")?(?:, .*)?$"
)
NGINX_ERROR = re.compile(_NGINX_HEAD + r"(?P<msg>.*)$")
_NGINX_START = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: ")
APACHE_ERROR = re.compile(
    r"^(?:\[(?P<time>\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] )?\[(?:(?P<module>[^:\]]*):)?(?P<level>\w+)\]"
    r"(?: \[pid (?P<pid>\d+)(?::tid \d+)?\])?"
    r"(?: \[(?:client|remote) (?:\[(?P<ip6>[^\]]+)\]|(?P<ip>[^\]\s]+?))(?::(?P<port>\d+))?\])? ?(?P<msg>.*)$"
)


def _access_time(text: str, ctx: ParseContext) -> datetime | None:
    text = text.strip()
    try:
        if " " in text:
            return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
        return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S").replace(tzinfo=ctx.tz).astimezone(UTC)
    except ValueError:
        return None


def _unescape(text: str | None) -> str | None:
    if text is None or text == "-" or text == "":
        return None
    return text.replace('\\"', '"').replace("\\\\", "\\")


def dataset_hint(path: str) -> str:
    low = path.lower()
    kind = "error" if "error" in low else "access"
    for server in ("nginx", "apache", "httpd"):
        if server in low:
            return f"{'apache' if server == 'httpd' else server}.{kind}"
    return f"web.{kind}"


class AccessLogParser(LineParser):
    dataset = "web.access"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        for fmt in ACCESS_FORMATS:
            m = fmt.match(text)
            if m is not None:
                break
        else:
            return None
        g = m.groupdict()
        ts = _access_time(g["time"], ctx)
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
            "source.ip": g["ip"],
            "message": _unescape(g["request"]) or "",
        }
        if g.get("vhost"):
            ev["url.domain"] = g["vhost"]
        if g.get("port"):
            ev["destination.port"] = int(g["port"])
        if g.get("user") not in (None, "-"):
            ev["user.name"] = g["user"]
        if g["status"] != "-":
            status = int(g["status"])
            ev["http.response.status_code"] = status
            ev["event.outcome"] = "failure" if status >= 400 else "success"
        if g["bytes"] != "-":
            ev["http.response.body.bytes"] = int(g["bytes"])
        if referrer := _unescape(g.get("referrer")):
            ev["http.request.referrer"] = referrer
        if agent := _unescape(g.get("agent")):
            ev["user_agent.original"] = agent
        request = REQUEST.match(_unescape(g["request"]) or "")
        if request:
            target = request["target"]
            ev["http.request.method"] = request["method"]
            ev["url.original"] = target
            path, _, query = target.partition("?")
            ev["url.path"] = path
            if query:
                ev["url.query"] = query
            if request["version"]:
                ev["http.version"] = request["version"]
        else:
            ev.setdefault("tags", []).append("malformed_request")
        return ev


def decoded_url(ev: dict[str, Any]) -> str:
    """URL with percent-encoding undone (twice, as attackers double-encode) for detection rules."""
    raw = ev.get("url.original") or ""
    return unquote_plus(unquote_plus(raw))


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
                ts = datetime.strptime(g["time"], "%Y/%m/%d %H:%M:%S").replace(tzinfo=ctx.tz).astimezone(UTC)
            except ValueError:
                return None
            ev = self._common("nginx.error", ts, g["level"], g["msg"], g.get("ip"))
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
                ts = datetime.strptime(re.sub(r" +", " ", stamp), "%a %b %d %H:%M:%S %Y").replace(tzinfo=ctx.tz).astimezone(UTC)
            except ValueError:
                return None
        ev = self._common("apache.error", ts, g["level"], g["msg"], g.get("ip6") or g.get("ip"))
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
