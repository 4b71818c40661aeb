"""Load hostwarden's own YAML policies (and dispatch Wazuh SCA files to their loader).

A policy file is data: `policy: {id, name}` and `checks: [...]`, each check with id, title (the
passing state), `problem` (the failing state, for the finding's row), severity, rationale,
remediation, `cis`, `mlps` and a `check:` mapping whose `kind` picks the evaluator. Everything is
validated at load time so a typo fails with SCAN-9201 and the file and check it is in, not
half-way through a scan; an unknown key is such a typo (a comma in an unquoted flow-style value
silently makes one, e.g. `title: /tmp mounted nodev,nosuid` becomes a title and a key `nosuid`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from hostwarden.core.errors import SCAN_POLICY_INVALID, HostwardenError
from hostwarden.core.safeload import safe_yaml_load
from hostwarden.scan.baseline.compare import OPS
from hostwarden.scan.baseline.kinds import KINDS, evaluate
from hostwarden.scan.baseline.kinds_files import INPUT_MODES, MISSING_MODES
from hostwarden.scan.baseline.model import MLPS_CLAUSES, SEVERITY_GRADE, Check, Policy
from hostwarden.scan.baseline.rules_dir import rules_dir
from hostwarden.scan.safefiles import read_regular_file

MAX_POLICY_BYTES = 16 << 20

CHECK_KEYS = {"id", "title", "problem", "severity", "rationale", "remediation", "cis", "mlps", "check"}

REQUIRED = {
    "file_regex": ("pattern",), "config": ("file", "key", "op", "value"), "file_mode": ("file",),
    "file_exists": (), "dir_list": ("dir",), "logrotate": ("min_days",), "mount": ("mountpoint",),
    "sysctl": ("key", "op", "value"), "service": (), "package": (), "ports": ("ports",),
    "file_scan": ("condition",), "command": ("argv", "pattern"), "any": ("checks",), "all": ("checks",),
}


def builtin_policy_files() -> list[Path]:
    return sorted((rules_dir() / "baseline").glob("*.yml"))


def load_policy(path: Path) -> Policy:
    """Read one policy file, ours or Wazuh SCA (recognised by its `requirements`/`rules` shape)."""
    try:
        # a regular file of bounded size (a FIFO named by --policy must not hang `baseline run`),
        # parsed by libyaml with aliases and foreign tags refused
        doc = safe_yaml_load(read_regular_file(Path(path), MAX_POLICY_BYTES).decode("utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("checks"), list):
        raise HostwardenError(SCAN_POLICY_INVALID, f"{path}: expected a mapping with a `checks` list")
    if _is_sca(doc):
        from hostwarden.scan.baseline.sca import policy_from_sca

        return policy_from_sca(doc, str(path))
    meta = doc.get("policy") or {}
    checks = [_check(raw, path, i) for i, raw in enumerate(doc["checks"])]
    ids = [c.id for c in checks]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{path}: duplicate check ids {sorted(dupes)}")
    return Policy(id=str(meta.get("id", Path(path).stem)), name=str(meta.get("name", Path(path).stem)),
                  checks=checks, source=str(path))


def _is_sca(doc: dict[str, Any]) -> bool:
    first = doc["checks"][0] if doc["checks"] else {}
    return isinstance(first, dict) and "rules" in first and "check" not in first


def _check(raw: Any, path: Path, index: int) -> Check:
    where = f"{path}: check #{index + 1}"
    if not isinstance(raw, dict):
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: not a mapping")
    for key in ("id", "title", "severity", "check"):
        if key not in raw:
            raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: missing `{key}`")
    where = f"{path}: check {raw['id']}"
    unknown_keys = sorted(str(k) for k in raw if k not in CHECK_KEYS)
    if unknown_keys:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: unknown key(s) {unknown_keys}; known: {sorted(CHECK_KEYS)}"
                                                   " (quote a value that holds a comma)")
    problem = raw.get("problem", "")
    if not isinstance(problem, str) or "\n" in problem:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: problem must be one line of text")
    if raw["severity"] not in SEVERITY_GRADE:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: severity must be one of {sorted(SEVERITY_GRADE)}")
    unknown = [m for m in raw.get("mlps", []) if m not in MLPS_CLAUSES]
    if unknown:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: unknown MLPS clause {unknown}")
    spec = raw["check"]
    _validate_spec(spec, where)
    return Check(
        id=str(raw["id"]), title=str(raw["title"]), severity=raw["severity"],
        evaluate=lambda host, spec=spec: evaluate(host, spec), problem=problem.strip(),
        rationale=str(raw.get("rationale", "")), remediation=str(raw.get("remediation", "")),
        cis=[str(c) for c in raw.get("cis", [])], mlps=list(raw.get("mlps", [])),
        kind=spec["kind"], spec=spec,
    )


def _validate_spec(spec: Any, where: str) -> None:
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
        kind = spec.get("kind") if isinstance(spec, dict) else spec
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: unknown check kind {kind!r}; known: {sorted(KINDS)}")
    missing = [k for k in REQUIRED[spec["kind"]] if k not in spec]
    if missing:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: kind {spec['kind']} needs {missing}")
    if "missing" in spec and spec["missing"] not in MISSING_MODES:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: missing must be one of {list(MISSING_MODES)}")
    if "inputs" in spec and spec["inputs"] not in INPUT_MODES:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: inputs must be one of {list(INPUT_MODES)}")
    op = spec.get("op") or (spec.get("compare") or {}).get("op")
    if op is not None and op not in OPS:
        raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: unknown comparison {op!r}")
    if "pattern" in spec:
        try:
            re.compile(spec["pattern"])
        except (re.error, TypeError) as exc:
            raise HostwardenError(SCAN_POLICY_INVALID, f"{where}: bad pattern {spec['pattern']!r}: {exc}") from exc
    for sub in spec.get("checks", []):
        _validate_spec(sub, where)
