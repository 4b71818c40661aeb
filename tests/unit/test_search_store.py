"""The search language end to end on a real DuckDB store file, checked against a Python oracle.

Every case pairs a query with a plain-Python predicate over the same event dicts, so the expected
result is computed independently of the SQL compiler instead of recorded from it.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hostwarden.core.errors import HostwardenError
from hostwarden.core.schema import to_arrow
from hostwarden.store.eventstore import EventStore
from hostwarden.store.search import build_select, compile_query

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
Event = dict[str, Any]


def _events() -> list[Event]:
    """~50 varied events; `log.offset` is each one's id in the assertions."""
    out: list[Event] = []

    def add(hours: float, **fields: Any) -> None:
        fields = {k.replace("__", "."): v for k, v in fields.items()}
        i = len(out)
        event: Event = {"event.kind": "event", "@timestamp": NOW - timedelta(hours=hours), "log.offset": i}
        event.update(fields)
        if "event.original" not in event:
            event["event.original"] = f"line {i}: " + " ".join(f"{k}={v}" for k, v in fields.items())
        out.append(event)

    add(0.5, process__name="mysqld", error__code="1213", message="Deadlock found when trying to get lock")
    add(1, process__name="mysqld", error__code="1205", message="Lock wait timeout exceeded")
    add(1.5, process__name="mysql", error__code="999")
    add(2, process__name="mysql*", error__code="0")
    for n, ip in enumerate(["203.0.113.9", "203.0.113.200", "203.0.113.127", "198.51.100.7",
                            "2001:db8::1", "2001:db8:0:1::42", "2001:db9::5", "::ffff:203.0.113.77",
                            "fe80::1%eth0", "not-an-ip", "203.0.113.300"]):
        add(3 + n, event__dataset="sshd", event__action="ssh_login_failed", event__outcome="failure",
            event__category=["authentication"], source__ip=ip, source__port=1000 + 7919 * n % 64000,
            user__name=["root", "admin", "oracle", "deploy"][n % 4], related__ip=[ip, "10.0.0.5"],
            event__original=f"Failed password for root from {ip} port {1000 + n} ssh2")
    add(15, event__dataset="sshd", event__action="ssh_login", event__outcome="success",
        source__ip="198.51.100.8", user__name="deploy", destination__ip="10.1.2.3",
        event__category=["authentication", "session"], event__original="Accepted publickey for deploy")
    add(16, event__dataset="sshd", source__ip="2001:DB8::AB", event__original="Connection closed by 2001:DB8::AB")
    for n, status in enumerate([200, 200, 301, 404, 404, 403, 500, 502, 503, 418]):
        add(20 + n, event__dataset="nginx.access", http__response__status_code=status,
            http__request__method="POST" if status >= 500 else "GET", url__path=f"/p{n}",
            url__query="q=select+chair" if n == 3 else None, source__ip=f"192.0.2.{n * 20}",
            http__response__body__bytes=status * 10, tags=["web", "probe"] if status in (403, 404) else None)
    for n, auid in enumerate([0, 500, 1000, 1001, 4294967295]):
        add(40 + n, event__dataset="auditd", key="exec_watch" if n % 2 == 0 else "passwd_changes",
            a0="bash" if n < 3 else "vim", auid=auid, hostname="evil.example" if n == 4 else None,
            process__executable="/usr/bin/bash" if n < 3 else "/usr/bin/vim")
    add(50, event__dataset="sshd", **{"ssh.invalid_user": "admin"}, event__action="ssh_invalid_user")
    add(60, event__dataset="syslog", tags=["parse_failure"], message="Bye Bye weird line")
    add(61, event__dataset="syslog", tags=["parse_failure", "invalid_utf8"], event__original="\u00dcml\u00e4ut l\u00efne")
    add(62, event__dataset="syslog", tags=[], event__original="tags list present but empty")
    add(70, event__kind="alert", rule__name="SSH brute force", event__severity=1,
        threat__technique__id=["T1110", "T1110.001"], source__ip="203.0.113.9")
    add(71, event__kind="alert", rule__name="Sudo abuse", event__severity=2, threat__technique__id=["T1548.003"])
    add(80, event__kind="finding", event__original=None, message="CVE-2024-3094 in xz-utils 5.6.0")
    for n, name in enumerate(["a*b", "axxb", "100%_sure", "100xysure", "O'Brien", "back\\slash",
                              "x' OR 1=1 --", "Root"]):
        add(90 + n, event__dataset="sudo", user__name=name, event__original=f"sudo: {name} : COMMAND=/bin/ls")
    add(24 * 30, event__dataset="cron", message="an old event, a month back")
    return out


EVENTS = _events()
TENANT, OTHER = "acme", "globex"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    s = EventStore(tmp_path_factory.mktemp("search-store"))
    s.append(to_arrow(EVENTS), source="fixture", tenant=TENANT)
    # The other tenant holds copies of everything: any leak would show up in every case.
    s.append(to_arrow(EVENTS), source="fixture", tenant=OTHER)
    yield s
    s.close()


def offsets(store: EventStore, query: str, tenant: str = TENANT, **time: Any) -> set[int]:
    compiled = compile_query(query, tenant=tenant, now=NOW, **time)
    sql, params = build_select(compiled, fields=["log.offset"], limit=10_000)
    return {row[0] for row in store.query(sql, params)}


def expect(pred: Callable[[Event], bool]) -> set[int]:
    return {e["log.offset"] for e in EVENTS if pred(e)}


# -- oracle helpers ------------------------------------------------------------------------
def has(f: str) -> Callable[[Event], bool]:
    return lambda e: e.get(f) is not None


def eq(f: str, v: Any) -> Callable[[Event], bool]:
    return lambda e: e.get(f) == v


def lst(e: Event, f: str) -> list[str]:
    return e.get(f) or []


def label(e: Event, key: str) -> str | None:
    v = e.get(key)
    return None if v is None else str(v)


def text(e: Event) -> str:
    raw = e.get("event.original")
    return (raw if raw is not None else e.get("message") or "").lower()


def in_net(value: str | None, cidr: str) -> bool:
    """The documented CIDR semantics: zone ids dropped, ::ffff:a.b.c.d counts as IPv4 only."""
    if value is None:
        return False
    net = ipaddress.ip_network(cidr, strict=False)
    text_ = value.split("%")[0]
    if text_.lower().startswith("::ffff:") and "." in text_:
        text_ = text_[7:]
    try:
        addr = ipaddress.ip_address(text_)
    except ValueError:
        return False
    return addr.version == net.version and addr in net


def day(d: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(d).replace(tzinfo=UTC)
    return start, start + timedelta(days=1)


D = (NOW - timedelta(days=1)).date().isoformat()  # yesterday, a bare date

CASES: list[tuple[str, Callable[[Event], bool]]] = [
    # the seed's example: error.code is VARCHAR, so 1213 compares as a string
    ("process.name=mysqld AND error.code=1213", lambda e: e.get("process.name") == "mysqld" and e.get("error.code") == "1213"),
    ("error.code>1000", lambda e: has("error.code")(e) and e["error.code"] > "1000"),
    ("error.code<=1205", lambda e: has("error.code")(e) and e["error.code"] <= "1205"),
    # equality, inequality, negation
    ("user.name=root", eq("user.name", "root")),
    ("user.name!=root", lambda e: has("user.name")(e) and e["user.name"] != "root"),
    ("NOT user.name=root", lambda e: e.get("user.name") != "root"),
    ("NOT NOT user.name=root", eq("user.name", "root")),
    ("user.name>=deploy AND user.name<oracle", lambda e: has("user.name")(e) and "deploy" <= e["user.name"] < "oracle"),
    # wildcards, escapes and LIKE metacharacters
    ("user.name=r*", lambda e: (e.get("user.name") or "").startswith("r")),
    ("user.name=r??t", lambda e: len(e.get("user.name") or "") == 4 and e["user.name"].startswith("r") and e["user.name"].endswith("t")),
    ("user.name=a*b", lambda e: (u := e.get("user.name") or "").startswith("a") and u.endswith("b")),
    (r"user.name=a\*b", eq("user.name", "a*b")),
    ('user.name="a*b"', eq("user.name", "a*b")),
    ("user.name=100%_*", lambda e: (e.get("user.name") or "").startswith("100%_")),
    ("user.name=O'Brien", eq("user.name", "O'Brien")),
    (r'user.name="back\\slash"', eq("user.name", "back\\slash")),
    ("user.name!=*r*", lambda e: has("user.name")(e) and "r" not in e["user.name"]),
    ("process.name=mysql*", lambda e: (e.get("process.name") or "").startswith("mysql")),
    ('process.name="mysql*"', eq("process.name", "mysql*")),
    # exists / missing
    ("user.name=*", has("user.name")),
    ("event.dataset=sshd user.name!=*", lambda e: e.get("event.dataset") == "sshd" and not has("user.name")(e)),
    # free text over the raw line (message when there is none), case-insensitive
    ("deadlock", lambda e: "deadlock" in text(e)),
    ('"failed password" root', lambda e: "failed password" in text(e) and "root" in text(e)),
    ("fail*root", lambda e: "fail" in text(e) and "root" in text(e).split("fail", 1)[1]),
    ("CVE-2024-3094", lambda e: "cve-2024-3094" in text(e)),
    ("\u00fcml\u00e4ut", lambda e: "\u00fcml\u00e4ut" in text(e)),
    ("*", lambda e: True),
    # CIDR, IPv4 and IPv6, on scalar and list fields
    ("source.ip=203.0.113.0/24", lambda e: in_net(e.get("source.ip"), "203.0.113.0/24")),
    ("source.ip=203.0.113.0/25", lambda e: in_net(e.get("source.ip"), "203.0.113.0/25")),
    ("source.ip=203.0.113.128/25", lambda e: in_net(e.get("source.ip"), "203.0.113.128/25")),
    ("source.ip!=203.0.113.0/24", lambda e: has("source.ip")(e) and not in_net(e["source.ip"], "203.0.113.0/24")),
    ("NOT source.ip=203.0.113.0/24", lambda e: not in_net(e.get("source.ip"), "203.0.113.0/24")),
    ("source.ip=0.0.0.0/0", lambda e: in_net(e.get("source.ip"), "0.0.0.0/0")),
    ("source.ip=2001:db8::/32", lambda e: in_net(e.get("source.ip"), "2001:db8::/32")),
    ("source.ip=2001:db8:0:1::/64", lambda e: in_net(e.get("source.ip"), "2001:db8:0:1::/64")),
    ("source.ip=2001:db8::/33", lambda e: in_net(e.get("source.ip"), "2001:db8::/33")),
    ("source.ip=fe80::/10", lambda e: in_net(e.get("source.ip"), "fe80::/10")),
    ("source.ip!=2001:db8::/32", lambda e: has("source.ip")(e) and not in_net(e["source.ip"], "2001:db8::/32")),
    ("source.ip=::/0", lambda e: in_net(e.get("source.ip"), "::/0")),
    ("source.ip=2001:db8::ab", lambda e: in_net(e.get("source.ip"), "2001:db8::ab/128")),
    ("source.ip=2001:0DB8:0:0::00AB", lambda e: in_net(e.get("source.ip"), "2001:db8::ab/128")),
    ("source.ip!=2001:db8::1", lambda e: has("source.ip")(e) and not in_net(e["source.ip"], "2001:db8::1/128")),
    ("source.ip=203.0.113.9", eq("source.ip", "203.0.113.9")),
    ("destination.ip=10.0.0.0/8", lambda e: in_net(e.get("destination.ip"), "10.0.0.0/8")),
    ("related.ip=2001:db8::/32", lambda e: any(in_net(x, "2001:db8::/32") for x in lst(e, "related.ip"))),
    ("related.ip!=203.0.113.0/24", lambda e: bool(lst(e, "related.ip")) and not any(in_net(x, "203.0.113.0/24") for x in lst(e, "related.ip"))),
    ("related.ip=10.0.0.5", lambda e: "10.0.0.5" in lst(e, "related.ip")),
    ('"source.ip"=198.51.100.0/24', lambda e: in_net(e.get("source.ip"), "198.51.100.0/24")),
    # numbers
    ("http.response.status_code>=500", lambda e: (e.get("http.response.status_code") or 0) >= 500),
    ("http.response.status_code<400", lambda e: has("http.response.status_code")(e) and e["http.response.status_code"] < 400),
    ("http.response.status_code=404", eq("http.response.status_code", 404)),
    ("http.response.status_code!=200", lambda e: has("http.response.status_code")(e) and e["http.response.status_code"] != 200),
    ("http.response.status_code=4*", lambda e: str(e.get("http.response.status_code") or "").startswith("4")),
    ("http.response.body.bytes>4000.5", lambda e: (e.get("http.response.body.bytes") or 0) > 4000.5),
    ("source.port>1024 AND source.port<=60000", lambda e: 1024 < (e.get("source.port") or 0) <= 60000),
    ("event.severity=1", eq("event.severity", 1)),
    # list fields
    ("tags=parse_failure", lambda e: "parse_failure" in lst(e, "tags")),
    ("tags!=parse_failure", lambda e: bool(lst(e, "tags")) and "parse_failure" not in lst(e, "tags")),
    ("NOT tags=parse_failure", lambda e: "parse_failure" not in lst(e, "tags")),
    ("tags=*", lambda e: bool(lst(e, "tags"))),
    ("tags!=*", lambda e: not lst(e, "tags")),
    ("tags=pro?e", lambda e: "probe" in lst(e, "tags")),
    ("tags>p", lambda e: any(t > "p" for t in lst(e, "tags"))),
    ("event.category=session", lambda e: "session" in lst(e, "event.category")),
    ("threat.technique.id=T1110*", lambda e: any(t.startswith("T1110") for t in lst(e, "threat.technique.id"))),
    # labels: source-native names, dotted or not, string and numeric comparison
    ("key=exec_watch", lambda e: label(e, "key") == "exec_watch"),
    ("key!=exec_watch", lambda e: label(e, "key") not in (None, "exec_watch")),
    ("key=*", lambda e: label(e, "key") is not None),
    ("key!=* event.dataset=auditd", lambda e: False),
    ("a0=bash AND process.executable=/usr/bin/bash", lambda e: label(e, "a0") == "bash" and e.get("process.executable") == "/usr/bin/bash"),
    ("auid>=1000", lambda e: label(e, "auid") is not None and float(label(e, "auid")) >= 1000),
    ("auid<1000", lambda e: label(e, "auid") is not None and float(label(e, "auid")) < 1000),
    ("auid=10*", lambda e: (label(e, "auid") or "").startswith("10")),
    ("hostname=evil.example", lambda e: label(e, "hostname") == "evil.example"),
    ("ssh.invalid_user=admin", lambda e: label(e, "ssh.invalid_user") == "admin"),
    ("labels.ssh.invalid_user=adm*", lambda e: (label(e, "ssh.invalid_user") or "").startswith("adm")),
    ("labels=*", lambda e: any(label(e, k) is not None for k in ("key", "a0", "auid", "hostname", "ssh.invalid_user"))),
    # timestamps: instants, and a bare date meaning the whole UTC day
    ("@timestamp>=2026-11-28T08:00:00Z", lambda e: e["@timestamp"] >= datetime(2026, 11, 28, 8, tzinfo=UTC)),
    ("@timestamp<2026-11-28T03:00:00+01:00", lambda e: e["@timestamp"] < datetime(2026, 11, 28, 2, tzinfo=UTC)),
    (f"@timestamp={D}", lambda e: day(D)[0] <= e["@timestamp"] < day(D)[1]),
    (f"@timestamp>{D}", lambda e: e["@timestamp"] >= day(D)[1]),
    (f"@timestamp<={D}", lambda e: e["@timestamp"] < day(D)[1]),
    (f"@timestamp!={D}", lambda e: not day(D)[0] <= e["@timestamp"] < day(D)[1]),
    # precedence NOT > AND > OR, parentheses, lower-case keywords
    ("event.dataset=syslog OR event.dataset=sshd event.outcome=success",
     lambda e: e.get("event.dataset") == "syslog" or (e.get("event.dataset") == "sshd" and e.get("event.outcome") == "success")),
    ("(event.dataset=syslog OR event.dataset=sshd) event.outcome=success",
     lambda e: e.get("event.dataset") in ("syslog", "sshd") and e.get("event.outcome") == "success"),
    ("NOT event.dataset=sshd AND event.kind=event OR event.kind=alert",
     lambda e: (e.get("event.dataset") != "sshd" and e.get("event.kind") == "event") or e.get("event.kind") == "alert"),
    ("not event.dataset=sshd and not event.dataset=auditd or event.severity=1",
     lambda e: (e.get("event.dataset") not in ("sshd", "auditd")) or e.get("event.severity") == 1),
    ("NOT (event.dataset=sshd OR event.dataset=nginx.access)", lambda e: e.get("event.dataset") not in ("sshd", "nginx.access")),
    ("", lambda e: True),
]
EMPTY_OK = {"key!=* event.dataset=auditd"}


@pytest.mark.parametrize(("query", "pred"), CASES, ids=[q or "<empty>" for q, _ in CASES])
def test_query_matches_the_oracle(store: EventStore, query: str, pred: Callable[[Event], bool]) -> None:
    wanted = expect(pred)
    assert wanted or query in EMPTY_OK, "a case that expects nothing proves little"
    assert offsets(store, query) == wanted


def test_cases_cover_every_operator_and_field_kind() -> None:
    queries = " ".join(q for q, _ in CASES)
    for token in ("!=", ">=", "<=", ">", "<", "*", "?", "/", "NOT", "OR", "AND", "(", "labels.", "@timestamp"):
        assert token in queries


def test_time_options_bound_the_timestamp(store: EventStore) -> None:
    assert offsets(store, "", since="4h") == expect(lambda e: e["@timestamp"] >= NOW - timedelta(hours=4))
    assert offsets(store, "", since="1d") == expect(lambda e: e["@timestamp"] >= NOW - timedelta(days=1))
    start, end = "2026-11-27T00:00:00Z", "2026-11-27T12:00:00"
    assert offsets(store, "", from_=start, to=end) == expect(
        lambda e: datetime(2026, 11, 27, tzinfo=UTC) <= e["@timestamp"] <= datetime(2026, 11, 27, 12, tzinfo=UTC)
    )
    # A bare --to date includes that whole day.
    assert offsets(store, "event.dataset=cron OR event.kind=finding", from_="2026-10-01", to="2026-10-29") == expect(
        lambda e: e.get("event.dataset") == "cron"
    )


def test_count_agrees_with_rows(store: EventStore) -> None:
    for query in ("event.dataset=sshd", "tags=*", "source.ip=203.0.113.0/24"):
        sql, params = build_select(compile_query(query, tenant=TENANT, now=NOW), mode="count")
        assert store.query(sql, params) == [(len(offsets(store, query)),)]


def test_top_counts_values_lists_and_labels(store: EventStore) -> None:
    compiled = compile_query("", tenant=TENANT)
    sql, params = build_select(compiled, mode="top", top_field="user.name", limit=3)
    counts = Counter(e["user.name"] for e in EVENTS if e.get("user.name"))
    rows = store.query(sql, params)
    assert [r[1] for r in rows] == sorted(counts.values(), reverse=True)[:3]
    assert all(counts[value] == n for value, n in rows)
    sql, params = build_select(compiled, mode="top", top_field="tags", limit=100)
    assert dict(store.query(sql, params)) == Counter(t for e in EVENTS for t in lst(e, "tags"))
    sql, params = build_select(compiled, mode="top", top_field="key")
    assert dict(store.query(sql, params)) == Counter(label(e, "key") for e in EVENTS if label(e, "key"))
    sql, params = build_select(compiled, mode="top", top_field="http.response.status_code", order="asc", limit=1)
    rare = Counter(e["http.response.status_code"] for e in EVENTS if e.get("http.response.status_code"))
    assert store.query(sql, params)[0][1] == min(rare.values())


def test_rows_are_ordered_by_time_and_limited(store: EventStore) -> None:
    compiled = compile_query("event.dataset=nginx.access", tenant=TENANT)
    sql, params = build_select(compiled, fields=["@timestamp", "log.offset"], limit=4)
    rows = store.query(sql, params)
    assert len(rows) == 4 and [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)
    newest = sorted((e["@timestamp"] for e in EVENTS if e.get("event.dataset") == "nginx.access"), reverse=True)[:4]
    assert [r[0] for r in rows] == newest
    sql, params = build_select(compiled, fields=["@timestamp"], order="asc", limit=1)
    assert store.query(sql, params)[0][0] == min(e["@timestamp"] for e in EVENTS if e.get("event.dataset") == "nginx.access")
    sql, params = build_select(compiled)  # every schema column by default
    assert len(store.query(sql, params)[0]) == len(to_arrow([]).schema)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"fields": ["source.ipp"]}, "source.ip"),
        ({"fields": ["key"]}, "not a schema field"),
        ({"mode": "top"}, "top needs a field"),
        ({"mode": "top", "top_field": "labels"}, "one key"),
        ({"mode": "top", "top_field": "Source.IP"}, "source.ip"),
        ({"mode": "bogus"}, "unknown result mode"),
        ({"order": "sideways"}, "unknown order"),
        ({"limit": -1}, "limit"),
    ],
)
def test_bad_select_options_are_user_errors(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(HostwardenError) as info:
        build_select(compile_query("", tenant=TENANT), **kwargs)
    assert needle in info.value.message


AUDIT = b"""type=SYSCALL msg=audit(1732790000.123:4242): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=1000 pid=1001 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="bash" exe="/usr/bin/bash" key="exec_watch"
type=EXECVE msg=audit(1732790000.123:4242): argc=2 a0="bash" a1="-i"
type=EOE msg=audit(1732790000.123:4242):
type=SYSCALL msg=audit(1732790001.000:4243): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="cron" exe="/usr/sbin/cron" key=(null)
type=EOE msg=audit(1732790001.000:4243):
"""


def test_native_auditd_names_find_events_the_real_parser_stored(tmp_path) -> None:
    from hostwarden.core.chunks import Chunk
    from hostwarden.pipelines.ingest import ingest_chunks

    with EventStore(tmp_path) as s:
        ingest_chunks(s, [Chunk("/var/log/audit/audit.log", 0, AUDIT)])

        def count(query: str) -> int:
            sql, params = build_select(compile_query(query, tenant="default"), mode="count")
            return s.query(sql, params)[0][0]

        assert count("") == 2
        assert count("key=exec_watch") == 1
        assert count("key=exec_watch auid>=1000 a1=-i") == 1
        assert count("exe=/usr/*") == 2
        assert count("NOT key=exec_watch") == 1
