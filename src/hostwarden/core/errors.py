"""The stable error-code catalog.

Codes are part of the public interface: users search for them, runbooks cite them, and the
console links them. A code is never reused for a different meaning; retire it instead.
Families follow the seed: CSA- (engine and rules), LOG- (ingest, parse, search), SCAN-
(scanners), AGENT-, RESP- (responses), INTEL-, FW- (firewall analysis), API-.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    title: str
    cause: str
    fix: str


_CATALOG: dict[str, ErrorCode] = {}


def _register(code: str, title: str, cause: str, fix: str) -> ErrorCode:
    if code in _CATALOG:
        raise ValueError(f"duplicate error code {code}")
    entry = ErrorCode(code, title, cause, fix)
    _CATALOG[code] = entry
    return entry


# --- CSA: engine, rules, policies, configuration -------------------------------------------
CSA_RELOAD_FAILED = _register(
    "CSA-5001",
    "rule/policy hot reload failed",
    "A rule or policy file changed on disk but could not be loaded or compiled.",
    "Fix the file named in the message (run `hostwarden rules check PATH`); the previous rule set stays active.",
)
CSA_CONFIG_INVALID = _register(
    "CSA-5002",
    "configuration invalid",
    "The TOML configuration file could not be read or a value has the wrong type.",
    "Correct the key named in the message; `hostwarden status --config FILE` validates a file.",
)
CSA_RULE_INVALID = _register(
    "CSA-5003",
    "rule invalid",
    "A detection rule or policy could not be parsed or uses an unsupported construct.",
    "See the reason in the message; `hostwarden rules check PATH` lints a rule folder.",
)
CSA_COMPONENT_UNHEALTHY = _register(
    "CSA-5004",
    "component unhealthy",
    "A component reported by `status` is stuck, full or unreachable.",
    "Read the component's line in `hostwarden status`; it names the failing check.",
)

CSA_SINK_FAILED = _register(
    "CSA-5005",
    "alert sink failed",
    "A sink on the alert path (printer, incidents, response, forwarder) raised an error on a batch.",
    "The other sinks still received the batch; read the message for the sink's own error and fix its configuration.",
)

CSA_LOCK_TIMEOUT = _register(
    "CSA-5006",
    "component stuck",
    "A lock was not free, or a worker did not stop, within its timeout: the component holding it is stuck.",
    "Check `hostwarden status` and the system (disk full, I/O hang); nothing was lost: unstored input is re-read on restart.",
)

# --- LOG: ingest, parsing, store, search --------------------------------------------------
LOG_SEARCH_FORBIDDEN = _register(
    "LOG-4032",
    "search not permitted for this tenant",
    "The caller's tenant or role does not grant access to the requested events.",
    "Ask an administrator to grant the role, or search within your own organization.",
)
LOG_SEARCH_SYNTAX = _register(
    "LOG-4001",
    "search syntax error",
    "The query could not be parsed at the position shown.",
    "Check quoting and operators near the caret; see `docs/search.md` for the grammar.",
)
LOG_SEARCH_FIELD = _register(
    "LOG-4002",
    "unknown or unusable search field",
    "The query names a field the store does not have, or compares it with an unsuitable value.",
    "Use a field listed in `docs/schema.md`; source-native names (auditd `key`, `a0`) are looked up in labels.",
)
LOG_SEARCH_TIME = _register(
    "LOG-4003",
    "invalid time range",
    "`--since`, `--from` or `--to` could not be read as a duration or timestamp.",
    "Use a duration such as 15m, 24h, 7d or an ISO-8601 timestamp.",
)
LOG_PARSE_FAILURE = _register(
    "LOG-4101",
    "line not understood",
    "No parser recognised the line; it is stored with tags=[parse_failure] and its raw text.",
    "Search `tags=parse_failure` to see such lines; add a parser or pattern if they matter.",
)
LOG_INPUT_UNREADABLE = _register(
    "LOG-4102",
    "input unreadable",
    "A file could not be opened or read (permissions, missing, not a regular file).",
    "Check the path and permissions; the rest of the inputs were still ingested.",
)
LOG_INPUT_TRUNCATED = _register(
    "LOG-4103",
    "compressed input truncated or corrupt",
    "A .gz file ended early or is corrupt; every line before the damage was ingested.",
    "Recover the file if possible; re-ingesting it later never duplicates lines already stored.",
)
LOG_FILE_TRUNCATED = _register(
    "LOG-4104",
    "followed file was truncated",
    "A followed file shrank below the saved offset (copytruncate or manual truncation).",
    "Nothing to do: reading restarted at the beginning of the file.",
)
LOG_UNKNOWN_FORMAT = _register(
    "LOG-4106",
    "file of no known format skipped",
    "A file found by walking a folder or a scan root is not a log format hostwarden reads: fewer "
    "than half of its first lines were understood by any parser, so it was not stored line by line.",
    "Nothing to do if the file is not a log; to keep its lines anyway, name it on `hostwarden ingest` "
    "(they are stored raw, tagged parse_failure).",
)
LOG_INPUT_NOT_FOLLOWED = _register(
    "LOG-4109",
    "input passed over on purpose",
    "A folder walk met a symlink, a FIFO, socket or device, or a folder past the depth bound; it was not read "
    "(a link could loop or lead outside what was named; opening a FIFO waits for a writer).",
    "Name the file itself on the command line to read it; nothing else was skipped.",
)
LOG_STORE_BUSY = _register(
    "LOG-5030",
    "store busy",
    "Another process holds the store's write lock and did not release it within the lock timeout.",
    "Retry, stop the other writer, or query the running server's API instead of the file.",
)
LOG_STORE_CORRUPT = _register(
    "LOG-5031",
    "store unreadable",
    "The store file could not be opened (corrupt, wrong format, or newer schema than this version).",
    "Check the data directory; upgrade hostwarden if the store was written by a newer version.",
)
LOG_STORE_SEGMENT = _register(
    "LOG-5032",
    "store segment unreadable",
    "A registered Parquet segment of the store is missing, truncated or damaged (disk fault, manual edit).",
    "Restore the file from backup, or remove its row from the store's segments table to drop those events.",
)
LOG_STORE_DIR = _register(
    "LOG-5033",
    "data dir unusable",
    "The --data-dir path is a file, cannot be created, or is not writable.",
    "Point --data-dir (or HOSTWARDEN_DATA_DIR) at a folder hostwarden may create and write.",
)
LOG_STORE_MISSING = _register(
    "LOG-5034",
    "no store in this data dir",
    "The data dir holds no hostwarden store yet, so there is nothing to search.",
    "Run `hostwarden ingest` (or scan with --data-dir) first, or pass the --data-dir where your store is.",
)
LOG_INPUT_TOO_LARGE = _register(
    "LOG-4131",
    "input too large",
    "A request or line exceeded the configured size limit; the excess was cut and the line flagged.",
    "Raise the limit in the configuration if such lines are legitimate.",
)
LOG_INPUT_EXPANDS = _register(
    "LOG-4105",
    "compressed input expands too much",
    "A compressed file decoded to more than the expansion limit allows (a decompression bomb, or an "
    "extremely repetitive log); every line before the limit was ingested, the rest was not read.",
    "Decompress the file yourself and ingest the plain file if its content is legitimate.",
)
LOG_EMPTY_LINES_DROPPED = _register(
    "LOG-4108",
    "empty lines counted, not stored",
    "A run of more consecutive empty lines than the limit was found; the lines past the limit were "
    "counted (in the ingest notices) instead of being stored one by one.",
    "Nothing to do: no line with content was dropped.",
)
LOG_INPUT_BINARY = _register(
    "LOG-4107",
    "input skipped: binary or undecoded",
    "The file holds binary data (NUL bytes or mostly control characters in its first block) or is "
    "compressed in a format hostwarden does not decode (xz, bzip2, zstd, zip, ...); it was skipped, "
    "the way `grep -I` skips binary files.",
    "Decompress it first (e.g. `xz -dc FILE | hostwarden ingest -`), or leave binary files out of the inputs.",
)

# --- SCAN ---------------------------------------------------------------------------------
SCAN_TIMEOUT = _register(
    "SCAN-9008",
    "scan task timed out",
    "A scanner did not finish within its time budget; its partial results are reported.",
    "Raise the scanner's timeout or narrow the scanned paths; check the task queue priority.",
)
SCAN_ROOT_INVALID = _register(
    "SCAN-9001",
    "scan root invalid",
    "The folder or image given to scan does not exist or cannot be read.",
    "Pass an existing folder with --root, or a `docker save`/OCI tarball with --image.",
)
SCAN_SCANNER_FAILED = _register(
    "SCAN-9002",
    "scanner failed",
    "One scanner raised an error; the other scanners' findings are still reported.",
    "Read the message; report a bug with the file named if the input looks valid.",
)
SCAN_UNKNOWN_SCANNER = _register(
    "SCAN-9003",
    "unknown scanner",
    "`--only` or the configuration names a scanner that does not exist or cannot be loaded.",
    "Use the names `hostwarden scan --help` lists (logs, detect, vuln, baseline, persistence, integrity, malware, runtime, firewall).",
)
SCAN_ADVISORIES_STALE = _register(
    "SCAN-9010",
    "advisory database stale",
    "The local advisory database is older than the configured maximum age.",
    "Run `hostwarden vulndb update` on a machine with internet, or import fresh OSV exports.",
)
SCAN_ADVISORY_INVALID = _register(
    "SCAN-9011",
    "advisory record invalid",
    "An OSV file could not be parsed or lacks `id`/`affected`; the other records were still imported.",
    "Check the file named in the message is an OSV JSON/YAML record, a folder of them or an OSV `all.zip`.",
)
SCAN_ADVISORY_DOWNLOAD = _register(
    "SCAN-9012",
    "advisory download failed",
    "`vulndb update` could not fetch or read the export from the source URL; the database is unchanged.",
    "Check the URL and network access, or download the OSV `all.zip` elsewhere and `vulndb import` it.",
)
SCAN_INVENTORY_INVALID = _register(
    "SCAN-9013",
    "package inventory unreadable",
    "A package database or lockfile could not be parsed; packages from the other files are still scanned.",
    "Read the reason and file in the message; regenerate the lockfile if it is damaged.",
)
SCAN_NO_ADVISORIES = _register(
    "SCAN-9014",
    "no advisory database",
    "The vulnerability scanner has no advisories to match against, so it reported nothing.",
    "Run `hostwarden vulndb import PATH` (OSV files or all.zip) or pass `scan --advisories PATH`.",
)
SCAN_IMAGE_INVALID = _register(
    "SCAN-9015",
    "container image unreadable",
    "The image tarball is not a `docker save` archive or OCI layout, or a layer is damaged.",
    "Re-create it with `docker save IMAGE -o image.tar` (or `skopeo copy ... oci-archive:`).",
)
SCAN_ADVISORY_DB_VERSION = _register(
    "SCAN-9016",
    "advisory database from another version",
    "The advisory database was written by a newer hostwarden (its schema version is unknown to this one).",
    "Upgrade hostwarden, or move the file aside and re-import: `hostwarden vulndb import PATH` / `vulndb update`.",
)

SCAN_POLICY_INVALID = _register(
    "SCAN-9201",
    "baseline policy invalid",
    "A baseline policy file (built-in YAML or Wazuh SCA) could not be parsed or has an unknown check kind.",
    "Fix the file and check named in the message; `hostwarden baseline list --policy FILE` validates it.",
)
SCAN_YARA_RULES_INVALID = _register(
    "SCAN-9202",
    "YARA rules invalid",
    "A YARA rule file failed to compile; the webshell scan ran without it.",
    "Fix the rule file named in the message (`yara FILE /dev/null` shows the error line).",
)
SCAN_STATE_UNREADABLE = _register(
    "SCAN-9203",
    "scan state unreadable",
    "The stored fingerprints of a previous scan (persistence, file integrity) are damaged; a new baseline was taken.",
    "Nothing to do unless this repeats; drift is reported again from the next scan.",
)
SCAN_NOT_ASSESSED = _register(
    "SCAN-9204",
    "not assessed: input missing under the scan root",
    "A check or scanner needs an input this root does not have (a file a partial root or an image lacks, "
    "the /proc of a root that is not the running system), so it reported not-applicable instead of guessing.",
    "Nothing is wrong if the input is absent on purpose; otherwise scan the live host (`--root /`) or a "
    "complete root. The message names the missing inputs and the checks that needed them.",
)
SCAN_PATH_REFUSED = _register(
    "SCAN-9030",
    "path under the scan root refused",
    "A path under the scan root is a FIFO, socket or device, a kernel pseudo file (/proc, /sys) reached "
    "through a link, or a symlink loop; it was not opened, so nothing outside the scanned system was read.",
    "Nothing to do if the root is untrusted; otherwise replace the special file by a regular one.",
)
SCAN_INPUT_TOO_LARGE = _register(
    "SCAN-9031",
    "file under the scan root over its size limit",
    "A file is larger than the limit for its kind (config, package database, lockfile …); only its first "
    "bytes were read, or it was skipped when a cut document would be meaningless.",
    "Check why the file is so large (a sparse or planted file is suspicious); raise the limit only for a real one.",
)
SCAN_WALK_BOUND = _register(
    "SCAN-9032",
    "folder walk bound reached",
    "A folder tree under the scan root is deeper or larger than the walk bounds; entries beyond them were "
    "not scanned, the rest was.",
    "Look at the folder named in the message (thousands of nested folders are an attack or a mistake).",
)
SCAN_ARCHIVE_LIMIT = _register(
    "SCAN-9033",
    "archive over its expansion limits",
    "A compressed or archived input (image layer, zip, jar, OSV export) would expand beyond the size, "
    "ratio or member-count limits (a decompression bomb); it was not expanded further.",
    "Check the archive's origin; a real archive this large can be scanned with higher limits in the config.",
)

# --- other families, reserved with their first codes ---------------------------------------
AGENT_UNREACHABLE = _register(
    "AGENT-7001",
    "agent unreachable",
    "The agent did not report within its heartbeat interval.",
    "Check the agent host and its network path to the server.",
)
RESP_NOT_ALLOWED = _register(
    "RESP-6001",
    "response refused by allowlist",
    "The target of an automatic action is on an allowlist.",
    "Review the allowlist; act manually if the target is really hostile.",
)
RESP_PLAYBOOK_INVALID = _register(
    "RESP-6002",
    "playbook invalid",
    "A response playbook could not be loaded: a key is missing or unknown, a value has the wrong type, or a sample does not behave as declared.",
    "Fix the playbook at the path and key named in the message (`hostwarden respond check PATH` lints a folder); the other playbooks stay loaded.",
)
RESP_PLAYBOOK_UNSAFE_YAML = _register(
    "RESP-6003",
    "playbook uses a forbidden YAML construct",
    "Playbooks are plain data: YAML anchors, aliases and explicit tags are refused (they can expand without bound or build objects).",
    "Write the values out in full and remove any `&anchor`, `*alias` or `!tag` from the file named in the message.",
)
RESP_RATE_CAPPED = _register(
    "RESP-6004",
    "response rate cap reached",
    "More automatic actions of this kind were due in the last minute than the rate cap allows; the excess waits for approval instead of running.",
    "Review the pending actions (`hostwarden respond list`) and approve them, or raise `[respond.rate]` if the volume is expected.",
)
RESP_COMMAND_TIMEOUT = _register(
    "RESP-6005",
    "response command timed out",
    "An external command run by an action did not finish within its timeout; it was killed and the action counted as failed.",
    "Check the command named in the message by hand (a hung firewall, web server or account tool); raise `command_timeout` only if it is just slow.",
)
RESP_COMMAND_FAILED = _register(
    "RESP-6006",
    "response command failed",
    "An external command run by an action exited with an error; the action did not take effect.",
    "Read the command's error output in the message and the audit log; fix the tool or its configuration, then retry or approve again.",
)
RESP_BREAKER_OPEN = _register(
    "RESP-6007",
    "automatic response suspended (circuit breaker)",
    "Actions of this kind failed repeatedly within the breaker window, so new ones wait for manual approval until the cool-down ends.",
    "Find why the actions fail (audit log, `hostwarden respond list`), fix it, then approve the pending actions.",
)
RESP_PROCESS_MISMATCH = _register(
    "RESP-6008",
    "process identity mismatch",
    "The process id now belongs to a process other than the one in the alert (its start time differs, or it is gone), so it was not signalled.",
    "Nothing was killed. Look the process up again by its command line; a pid alone never identifies a process.",
)
RESP_TARGET_INVALID = _register(
    "RESP-6009",
    "response target missing or invalid",
    "The alert lacks the field the action reads its target from, or the value is not a valid address, path, user or pid.",
    "Check the playbook's `field` for the action and the alert's fields (`hostwarden respond dry-run`).",
)
RESP_AUDIT_TAMPERED = _register(
    "RESP-6010",
    "audit log verification failed",
    "A record of the response audit log was edited, removed or reordered: its hash chain no longer links.",
    "Treat the host as tampered with; keep the file as evidence and compare it with a copy shipped off the host.",
)
RESP_STATE_UNREADABLE = _register(
    "RESP-6011",
    "response state unreadable",
    "The response state file (active blocks, quarantined files, pending approvals) could not be read; it was kept aside and a new one started.",
    "Inspect the kept copy named in the message; active firewall elements still expire by themselves in the kernel.",
)
RESP_NO_SUCH_ACTION = _register(
    "RESP-6012",
    "no such response action",
    "The action id is unknown, or the action is not in a state that allows this operation (e.g. undoing an action that is not active).",
    "List the actions and their states with `hostwarden respond list`.",
)
RESP_WEB_CONFIG_INVALID = _register(
    "RESP-6013",
    "web server rejected the deny file",
    "`nginx -t` failed after the deny file was written, so the previous content was restored and nothing was reloaded.",
    "Run the test command shown in the message; check that the deny file path is included in a valid context.",
)
RESP_NO_BACKEND = _register(
    "RESP-6014",
    "response backend unavailable",
    "The tool an action needs (nft, or iptables with ipset; nginx; usermod) is not installed or not configured.",
    "Install the tool or set its path in the `[respond]` configuration section.",
)
RESP_NOTIFY_FAILED = _register(
    "RESP-6015",
    "notification failed",
    "A webhook or mail server did not accept the notification (unreachable, timed out, refused or answered an error).",
    "Check the channel's URL or SMTP settings and the secret's environment variable; the alert itself is stored.",
)
RESP_RESTORE_CONFLICT = _register(
    "RESP-6016",
    "undo refused: target changed since the action",
    "Undoing would overwrite something changed after the action (a file now at the original path, an account edited meanwhile).",
    "Resolve the conflict named in the message by hand; nothing was overwritten.",
)
RESP_IRREVERSIBLE = _register(
    "RESP-6017",
    "action cannot be undone",
    "The action has no undo (a killed process, a sent notification); it stays recorded in the audit log.",
    "Nothing to undo; act manually if needed.",
)
RESP_COMMAND_NOT_PERMITTED = _register(
    "RESP-6018",
    "response command not permitted",
    "An action tried to run a program that is not one of the configured response tools; responses run only those.",
    "Configure the tool's path in the `[respond]` section if it is legitimate.",
)
RESP_ISOLATION_UNSAFE = _register(
    "RESP-6019",
    "isolation refused: no management address",
    "Isolating the host would cut off every administrator because no management address is configured.",
    "Set `[respond.allowlist] management` to the addresses you manage the host from.",
)
RESP_STATE_LOCKED = _register(
    "RESP-6020",
    "response state locked",
    "Another hostwarden process held the response state or audit lock longer than the lock timeout.",
    "Check for a stuck `hostwarden watch` or `respond` process (`hostwarden status`); the operation can be retried.",
)
INTEL_FEED_INVALID = _register(
    "INTEL-8001",
    "intel feed invalid",
    "An indicator feed could not be parsed.",
    "Check the feed format (STIX 2.1 bundle, CSV or plain list).",
)
FW_PARSE_FAILED = _register(
    "FW-3001",
    "firewall rules unreadable",
    "A rule set could not be parsed; the message names the line or key.",
    "Check the file is `iptables-save`, `nft -j list ruleset` or security-group JSON output.",
)
FW_FLOW_INVALID = _register(
    "FW-3002",
    "flow description invalid",
    "A --flow value or observed connection could not be read as protocol, addresses and ports.",
    "Write flows as 'tcp 203.0.113.5:40000 -> 10.0.0.5:22 [new] [in eth0]' (IPv6 in brackets).",
)
FW_ANALYSIS_LIMIT = _register(
    "FW-3003",
    "firewall analysis incomplete",
    "A rule's match set fragmented beyond the analysis limit; findings for that rule are skipped.",
    "Split very large rule sets by chain, or report the rule set so the limit can be raised.",
)
API_AUTH_REQUIRED = _register(
    "API-4010",
    "authentication required",
    "The request had no valid credentials.",
    "Send a valid API token in the Authorization header.",
)


def lookup(code: str) -> ErrorCode:
    return _CATALOG[code]


def catalog() -> list[ErrorCode]:
    return sorted(_CATALOG.values(), key=lambda e: e.code)


class HostwardenError(Exception):
    """An error a user sees: it always carries a catalog code, a message and the fix."""

    def __init__(self, code: ErrorCode, message: str, **context: Any) -> None:
        super().__init__(f"{code.code}: {message}")
        self.code = code
        self.message = message
        self.context = context

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code.code,
            "title": self.code.title,
            "message": self.message,
            "cause": self.code.cause,
            "fix": self.code.fix,
            **({"context": self.context} if self.context else {}),
        }
