"""`hostwarden vulndb`: import OSV advisories and the CISA KEV catalog, show freshness, update.

Every command prints a Rich table by default and one JSON document with `--format json`;
errors carry a SCAN- code, their cause and fix, and exit with status 2.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hostwarden.commands.common import user_errors
from hostwarden.core.errors import SCAN_ADVISORY_DOWNLOAD, SCAN_ADVISORY_INVALID, HostwardenError
from hostwarden.core.safeload import safe_json_loads
from hostwarden.scan.safefiles import read_capped, read_regular_file
from hostwarden.scan.vuln.db import AdvisoryDB
from hostwarden.scan.vuln.freshness import assess
from hostwarden.scan.vuln.loader import LoadError, iter_records, iter_zip_bytes

app = typer.Typer(help="Local advisory database (OSV records, CISA KEV).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default from config).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML configuration file.")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]
MAX_KEV_BYTES = 64 << 20  # the KEV catalog is ~1.5 MB
MAX_DOWNLOAD_BYTES = 1 << 30  # the largest OSV export (all.zip of one ecosystem) is a few hundred MB


def _settings(config: Path | None, data_dir: Path | None) -> tuple[Path, float]:
    from hostwarden.core.config import load_config

    cfg = load_config(config, data_dir=data_dir)
    return Path(cfg.data_dir), cfg.scan.advisory_max_age_days


def _open(config: Path | None, data_dir: Path | None) -> tuple[AdvisoryDB, float]:
    folder, max_age = _settings(config, data_dir)
    return AdvisoryDB.in_data_dir(folder), max_age


def _report_import(stats: Any, errors: list[LoadError], seconds: float, fmt: str) -> None:
    doc = {"imported": stats.records, "affected_entries": stats.affected, "skipped_older": stats.skipped_older,
           "ecosystems": stats.ecosystems, "errors": [e.to_dict() for e in errors], "seconds": round(seconds, 2)}
    if fmt == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    console.print(f"imported {stats.records} advisories ({stats.affected} affected packages) in {seconds:.1f}s"
                  + (f", kept {stats.skipped_older} newer stored records" if stats.skipped_older else ""))
    for eco, count in sorted(stats.ecosystems.items()):
        console.print(f"  {eco}: {count}")
    for err in errors[:20]:
        err_console.print(f"[yellow]{SCAN_ADVISORY_INVALID.code}[/yellow] {escape(err.source)}: {escape(err.reason)}")
    if len(errors) > 20:
        err_console.print(f"… and {len(errors) - 20} more unreadable files")


@app.command("import")
@user_errors
def import_(
    paths: Annotated[list[Path], typer.Argument(help="OSV JSON/YAML files, folders of them, or all.zip exports.")],
    config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table",
) -> None:
    """Import OSV advisories; files that cannot be read are listed with SCAN-9011, the rest load."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise HostwardenError(SCAN_ADVISORY_INVALID, f"no such file or folder: {', '.join(map(str, missing))}")
    db, _ = _open(config, data_dir)
    errors: list[LoadError] = []
    started = time.monotonic()
    with db:
        stats = db.import_records(iter_records(list(paths), errors))
    _report_import(stats, errors, time.monotonic() - started, fmt)
    if stats.records == 0 and errors:
        raise typer.Exit(2)


@app.command("import-kev")
@user_errors
def import_kev(
    path: Annotated[Path, typer.Argument(help="CISA known_exploited_vulnerabilities.json")],
    config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table",
) -> None:
    """Import the CISA Known Exploited Vulnerabilities catalog (replaces the previous one)."""
    try:
        # a regular file of bounded size and nesting: a FIFO or /dev/zero named here must not hang the import
        catalog = safe_json_loads(read_regular_file(path, MAX_KEV_BYTES))
    except (OSError, ValueError) as exc:
        raise HostwardenError(SCAN_ADVISORY_INVALID, f"{path}: not a readable KEV JSON file ({exc})") from exc
    if not isinstance(catalog, dict) or not isinstance(catalog.get("vulnerabilities"), list):
        raise HostwardenError(SCAN_ADVISORY_INVALID, f"{path}: no `vulnerabilities` list; is this the KEV JSON feed?")
    db, _ = _open(config, data_dir)
    with db:
        count = db.import_kev(catalog)
    if fmt == "json":
        sys.stdout.write(json.dumps({"kev_entries": count, "catalog_version": catalog.get("catalogVersion")}) + "\n")
    else:
        console.print(f"imported {count} known-exploited CVEs (catalog {catalog.get('catalogVersion', '?')})")


@app.command()
@user_errors
def status(
    config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table",
    max_age_days: Annotated[float | None, typer.Option(help="Warn past this age (default from config: 2).")] = None,
) -> None:
    """Counts per ecosystem, newest `modified`, age; exits 1 with SCAN-9010 when stale."""
    db, cfg_age = _open(config, data_dir)
    with db:
        info = db.status()
    fresh = assess(info["newest_modified"], max_age_days or cfg_age)
    if fmt == "json":
        sys.stdout.write(json.dumps({**info, "freshness": fresh.to_dict()}, indent=2) + "\n")
    else:
        table = Table(title=f"advisory database {info['path']}")
        table.add_column("ecosystem")
        table.add_column("advisories", justify="right")
        for eco, count in sorted(info["ecosystems"].items()):
            table.add_row(eco, str(count))
        console.print(table)
        console.print(f"total {info['advisories']}; newest modified {info['newest_modified'] or '-'}"
                      + (f" ({fresh.age_days:.1f} days old)" if fresh.age_days is not None else "")
                      + f"; imported {info['imported_at'] or 'never'}; KEV entries {info['kev_entries']}")
        if fresh.stale:
            err_console.print(f"[bold yellow]{fresh.code}[/bold yellow] {escape(fresh.message)}")
    if fresh.stale:
        raise typer.Exit(1)


def download(url: str, timeout: float = 60.0, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
    """GET one URL, at most `limit` bytes; any failure becomes SCAN-9012 and leaves the database untouched.

    Capped because the body is held in memory until every URL is fetched: a server (or a
    file:///dev/zero) that never stops sending would otherwise exhaust it.
    """
    if not url.startswith(("http://", "https://", "file://")):
        raise HostwardenError(SCAN_ADVISORY_DOWNLOAD, f"{url}: only http(s) and file URLs are supported")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            data = read_capped(response, limit + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise HostwardenError(SCAN_ADVISORY_DOWNLOAD, f"{url}: {exc}") from exc
    if len(data) > limit:
        raise HostwardenError(SCAN_ADVISORY_DOWNLOAD, f"{url}: larger than the {limit}-byte download limit; "
                                                      "nothing was imported")
    return data


@app.command()
@user_errors
def update(
    source: Annotated[str, typer.Option(help="A zip URL, or a base URL holding ECOSYSTEM/all.zip.")] = OSV_BUCKET,
    ecosystem: Annotated[list[str] | None, typer.Option(help="Ecosystems to fetch from a base URL.")] = None,
    config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table",
) -> None:
    """Download OSV exports (on a machine with internet) and import them."""
    if source.endswith(".zip"):
        urls = [source]
    else:
        names = ecosystem or ["PyPI", "npm", "Go", "crates.io", "RubyGems", "Packagist", "Maven", "Debian", "Alpine"]
        urls = [f"{source.rstrip('/')}/{urllib.request.quote(name)}/all.zip" for name in names]
    blobs = [(url, download(url)) for url in urls]  # fetch everything first: a failure imports nothing
    db, _ = _open(config, data_dir)
    errors: list[LoadError] = []
    started = time.monotonic()
    with db:
        records = (r for url, data in blobs for r in iter_zip_bytes(data, url, errors))
        stats = db.import_records(records)
    _report_import(stats, errors, time.monotonic() - started, fmt)
