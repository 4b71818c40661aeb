"""Login traffic for the generated nginx access.log: attackers on the site's logins, and the
benign logins that look like them (bench/generate.py's AccessGen calls these).

The generated shop has a WordPress blog under /blog/ (wp-login.php re-renders its form with 200
on a wrong password and redirects with 302 on a right one; xmlrpc.php answers 200 either way,
one ~400-byte fault per wrong password), a login form at /account/login (200 with an error, or
302 into /account), a JSON login API for its app (401, or 200 with a token), and a report area
/stats/ behind basic auth (401 with the user name tried, or 200). Attacker classes:

- wordpress_bruteforce: POSTs to wp-login.php from one address, one of them finally let in;
- xmlrpc_bruteforce: POSTs to xmlrpc.php, one wp.getUsersBlogs guess each;
- xmlrpc_multicall: few POSTs to xmlrpc.php whose answers are 16-160 kB (system.multicall);
- credential_stuffing: POSTs of leaked pairs to /account/login or the API, rare hits;
- distributed_basic_auth: one account at /stats/ tried from many addresses, 1-3 tries each.

Benign look-alikes: editors who mistype their WordPress password once or twice, pingbacks and
Jetpack's signed XML-RPC calls, staff opening /stats/ (the browser's first request is a 401
without a user), customers logging in on the web and in the app with the odd typo.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

BLOG = "/blog"
STATS_USER, TARGET_USER = "ops", "admin"
APP_UA = "ShopApp/3.2.1 (iPhone; iOS 18.1; Scale/3.00)"
BOT_UAS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
           "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
           "python-requests/2.31.0", "Go-http-client/1.1")
EDITOR_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
JETPACK_UA = "Jetpack by WordPress.com"
# Shares of the login-attack quota by class, and of the benign-login quota by kind.
ATTACK_SHARES = {"wordpress_bruteforce": 0.30, "xmlrpc_bruteforce": 0.20, "xmlrpc_multicall": 0.10,
                 "credential_stuffing": 0.30, "distributed_basic_auth": 0.10}
BENIGN_SHARES = {"editors": 0.35, "customers": 0.35, "staff": 0.15, "jetpack": 0.10, "pingbacks": 0.05}
FAULT_BYTES = 330  # one wp.getUsersBlogs fault inside a multicall answer
# The rules (titles) that must find each per-address class, and nothing else: the accuracy
# table per attack class (tests/unit/detect/test_generated_accuracy.py, bench/bench_detect.py).
CLASS_RULES: dict[str, tuple[str, ...]] = {
    "wordpress_bruteforce": ("WordPress login brute force", "WordPress login success after brute force"),
    "xmlrpc_bruteforce": ("WordPress XML-RPC brute force",),
    "xmlrpc_multicall": ("WordPress XML-RPC system.multicall brute force",),
    "credential_stuffing": ("HTTP login brute force or credential stuffing", "Web login success after brute force"),
}
ACCOUNT_RULE = "One web account tried from many addresses"  # distributed_basic_auth: found by account


def attackers(gen: Any, quota: int) -> dict[str, Any]:
    """The login attackers, by class, as ground truth."""
    shares = {k: int(quota * v) for k, v in ATTACK_SHARES.items()}
    out: dict[str, Any] = {}
    out["wordpress_bruteforce"] = _repeat(gen, shares["wordpress_bruteforce"], 150, _wordpress)
    last = out["wordpress_bruteforce"][-1]
    last.update(_wp_success(gen, last["ip"], last["end"]))
    out["xmlrpc_bruteforce"] = _repeat(gen, shares["xmlrpc_bruteforce"], 120, _xmlrpc)
    out["xmlrpc_multicall"] = _repeat(gen, shares["xmlrpc_multicall"], 60, _multicall)
    out["credential_stuffing"] = _repeat(gen, shares["credential_stuffing"], 200, _stuffing)
    out["distributed_basic_auth"] = [_distributed(gen, max(shares["distributed_basic_auth"], 20))]
    for entries in out.values():
        for e in entries:
            e.pop("end", None)
    return out


def _repeat(gen: Any, quota: int, per_ip: int, one: Any) -> list[dict[str, Any]]:
    """Attacker addresses of one class until its share of lines is used (at least two)."""
    stop, found = len(gen.out) + quota, []
    while len(gen.out) < stop or len(found) < 2:
        found.append(one(gen, gen.ips.public(), gen.when(6 * 3600), max(12, int(per_ip * gen.rng.uniform(0.4, 1.6)))))
    return found


def _wordpress(gen: Any, ip: str, t: int, n: int) -> dict[str, Any]:
    rng, ua = gen.rng, gen.rng.choice(BOT_UAS)
    gen.line(t, ip, "GET", f"{BLOG}/wp-login.php", 200, rng.randint(4300, 4400), ua)
    first = t
    for _ in range(n):
        t += rng.randint(1, 9)
        gen.line(t, ip, "POST", f"{BLOG}/wp-login.php", 200, rng.randint(4480, 4620), ua, f"https://shop.example.com{BLOG}/wp-login.php")
    return {"ip": ip, "attempts": n, "first": gen.iso(first), "end": t}


def _wp_success(gen: Any, ip: str, t: int) -> dict[str, Any]:
    """The password is found: redirect into wp-admin, then a plugin upload (the usual next step)."""
    t += 3
    ua = BOT_UAS[0]
    gen.line(t, ip, "POST", f"{BLOG}/wp-login.php", 302, 0, ua, f"https://shop.example.com{BLOG}/wp-login.php")
    gen.line(t + 1, ip, "GET", f"{BLOG}/wp-admin/", 200, 61240, ua)
    gen.line(t + 9, ip, "POST", f"{BLOG}/wp-admin/update.php?action=upload-plugin", 200, 8812, ua)
    return {"success_time": gen.iso(t)}


def _xmlrpc(gen: Any, ip: str, t: int, n: int) -> dict[str, Any]:
    rng, ua, first = gen.rng, gen.rng.choice(BOT_UAS), t
    gen.line(t, ip, "POST", f"{BLOG}/xmlrpc.php", 200, 4822, ua)  # system.listMethods
    for _ in range(n):
        t += rng.randint(1, 6)
        gen.line(t, ip, "POST", f"{BLOG}/xmlrpc.php", 200, rng.randint(403, 431), ua)
    return {"ip": ip, "attempts": n, "first": gen.iso(first), "end": t}


def _multicall(gen: Any, ip: str, t: int, n: int) -> dict[str, Any]:
    rng, ua, first, tries = gen.rng, gen.rng.choice(BOT_UAS), t, 0
    for _ in range(max(4, n // 4)):
        batch = rng.randint(50, 500)
        tries += batch
        gen.line(t, ip, "POST", f"{BLOG}/xmlrpc.php", 200, 140 + batch * FAULT_BYTES + rng.randint(0, 60), ua)
        t += rng.randint(10, 60)
    return {"ip": ip, "requests": max(4, n // 4), "passwords_tried": tries, "first": gen.iso(first), "end": t}


def _stuffing(gen: Any, ip: str, t: int, n: int) -> dict[str, Any]:
    """Leaked e-mail/password pairs: the web form (200 = wrong) or the app API (401 = wrong)."""
    rng, first, hits = gen.rng, t, 0
    api = rng.random() < 0.3
    for i in range(n):
        t += rng.randint(1, 4)
        ua = APP_UA if api else rng.choice(BOT_UAS[:2])
        hit = i >= 15 and rng.random() < 0.01
        hits += hit
        if api:
            gen.line(t, ip, "POST", "/api/v1/auth/login", 200 if hit else 401, 431 if hit else 52, ua)
        elif hit:
            gen.line(t, ip, "POST", "/account/login", 302, 0, ua, "https://shop.example.com/account/login")
            gen.line(t + 1, ip, "GET", "/account", 200, rng.randint(9000, 9400), ua)
        else:
            gen.line(t, ip, "POST", "/account/login", 200, rng.randint(5100, 5200), ua, "https://shop.example.com/account/login")
    return {"ip": ip, "attempts": n, "hits": hits, "via": "api" if api else "form", "first": gen.iso(first), "end": t}


def _distributed(gen: Any, quota: int) -> dict[str, Any]:
    """A botnet tries one account: a new address every 40-110 s, each with 1-3 tries."""
    rng, t = gen.rng, gen.when(gen.span // 2)
    first, stop, ips = t, len(gen.out) + quota, []
    while len(gen.out) < stop or len(ips) < 10:
        ip, ua = gen.ips.public(), rng.choice(BOT_UAS)
        ips.append(ip)
        u = t
        for _ in range(rng.randint(1, 3)):
            gen.line(u, ip, "GET", "/stats/", 401, 188, ua, user=TARGET_USER)
            u += rng.randint(5, 60)
        t += rng.randint(40, 110)
    return {"user": TARGET_USER, "ips": ips, "first": gen.iso(first), "last": gen.iso(t)}


def benign(gen: Any, quota: int) -> dict[str, Any]:
    """Benign logins and XML-RPC calls that look like the attacks; every address they use."""
    shares = {k: int(quota * v) for k, v in BENIGN_SHARES.items()}
    ips: list[str] = []
    typos = _editors(gen, shares["editors"], ips)
    typos += _customers(gen, shares["customers"], ips)
    typos += _staff(gen, shares["staff"], ips)
    _jetpack(gen, shares["jetpack"], ips)
    _pingbacks(gen, shares["pingbacks"], ips)
    return {"ips": ips, "login_typos": typos}


def _sessions(gen: Any, quota: int, ips: list[str], people: int, gap: int) -> Iterator[tuple[str, int]]:
    """(address, start) of sessions of a few regular people until `quota` lines are written; a
    person's sessions start at least `gap` seconds apart (an editor logs in a few times a day,
    not twice in ten minutes; the spacing is tried a bounded number of times)."""
    who = [gen.ips.public() for _ in range(people)]
    ips += who
    busy: dict[str, list[int]] = {}
    stop = len(gen.out) + quota
    while len(gen.out) < stop:
        ip, t = gen.rng.choice(who), gen.when()
        for _ in range(50):
            if all(abs(t - u) >= gap for u in busy.setdefault(ip, [])):
                break
            ip, t = gen.rng.choice(who), gen.when()
        busy.setdefault(ip, []).append(t)
        yield ip, t


def _editors(gen: Any, quota: int, ips: list[str]) -> int:
    rng, typos = gen.rng, 0
    for ip, t in _sessions(gen, quota, ips, max(4, quota // 300), 3600):
        gen.line(t, ip, "GET", f"{BLOG}/wp-login.php", 200, rng.randint(4300, 4400), EDITOR_UA)
        for _ in range(rng.choice((0, 0, 0, 0, 0, 1, 1, 2))):  # a mistyped password, at most twice
            t += rng.randint(4, 15)
            typos += 1
            gen.line(t, ip, "POST", f"{BLOG}/wp-login.php", 200, rng.randint(4480, 4620), EDITOR_UA)
        t += rng.randint(4, 15)
        gen.line(t, ip, "POST", f"{BLOG}/wp-login.php", 302, 0, EDITOR_UA)
        gen.line(t + 1, ip, "GET", f"{BLOG}/wp-admin/", 200, rng.randint(58000, 64000), EDITOR_UA)
        for _ in range(rng.randint(2, 12)):  # the editor's heartbeat while writing
            t += 60
            gen.line(t, ip, "POST", f"{BLOG}/wp-admin/admin-ajax.php", 200, rng.randint(80, 120), EDITOR_UA)
        gen.line(t + 5, ip, "POST", f"{BLOG}/wp-admin/post.php", 302, 0, EDITOR_UA)
    return typos


def _customers(gen: Any, quota: int, ips: list[str]) -> int:
    rng, stop, typos = gen.rng, len(gen.out) + quota, 0
    pool = [gen.ips.public() for _ in range(max(40, quota // 15))]
    ips += pool
    while len(gen.out) < stop:
        ip, t = rng.choice(pool), gen.when()
        if rng.random() < 0.4:  # the shop's app
            if rng.random() < 0.05:
                typos += 1
                gen.line(t, ip, "POST", "/api/v1/auth/login", 401, 52, APP_UA)
                t += rng.randint(5, 20)
            gen.line(t, ip, "POST", "/api/v1/auth/login", 200, 431, APP_UA)
            gen.line(t + 1, ip, "GET", "/api/cart", 200, rng.randint(300, 2000), APP_UA)
            continue
        ua = rng.choice(BOT_UAS[:2])
        gen.line(t, ip, "GET", "/account/login", 200, rng.randint(4900, 5000), ua)
        for _ in range(1 if rng.random() < 0.06 else 0):
            t += rng.randint(5, 20)
            typos += 1
            gen.line(t, ip, "POST", "/account/login", 200, rng.randint(5100, 5200), ua)
        t += rng.randint(5, 20)
        gen.line(t, ip, "POST", "/account/login", 302, 0, ua, "https://shop.example.com/account/login")
        gen.line(t + 1, ip, "GET", "/account", 200, rng.randint(9000, 9400), ua)
    return typos


def _staff(gen: Any, quota: int, ips: list[str]) -> int:
    rng, typos = gen.rng, 0
    for ip, t in _sessions(gen, quota, ips, max(2, quota // 300), 1800):
        gen.line(t, ip, "GET", "/stats/", 401, 188, EDITOR_UA)  # the browser asks before it sends a user
        if rng.random() < 0.1:
            typos += 1
            gen.line(t + 6, ip, "GET", "/stats/", 401, 188, EDITOR_UA, user=STATS_USER)
            t += 6
        gen.line(t + 5, ip, "GET", "/stats/", 200, rng.randint(240000, 260000), EDITOR_UA, user=STATS_USER)
        for _ in range(rng.randint(0, 4)):
            t += rng.randint(20, 300)
            gen.line(t, ip, "GET", "/stats/report.json", 200, rng.randint(30000, 40000), EDITOR_UA, user=STATS_USER)
    return typos


def _jetpack(gen: Any, quota: int, ips: list[str]) -> None:
    """WordPress.com's signed calls: every few minutes, from one address, always for=jetpack."""
    rng, ip = gen.rng, gen.ips.public()
    ips.append(ip)
    calls = max(quota, 10)
    step = max(30, (gen.span - 3600) // calls)
    for i in range(calls):
        t = i * step + rng.randint(0, step // 2)
        query = (f"for=jetpack&token=Xk2{i:05d}%3A1%3A0&timestamp={1793000000 + t}&nonce=n{rng.getrandbits(40):x}"
                 f"&body-hash=&signature=s{rng.getrandbits(64):x}")
        gen.line(t, ip, "POST", f"{BLOG}/xmlrpc.php?{query}", 200, rng.randint(300, 3000), JETPACK_UA)


def _pingbacks(gen: Any, quota: int, ips: list[str]) -> None:
    """Other blogs telling ours they linked to it: one XML-RPC call each."""
    for _ in range(max(quota, 5)):
        ip = gen.ips.public()
        ips.append(ip)
        gen.line(gen.when(), ip, "POST", f"{BLOG}/xmlrpc.php", 200, gen.rng.randint(370, 390),
                 "WordPress/6.6.2; https://blog.example.org")
