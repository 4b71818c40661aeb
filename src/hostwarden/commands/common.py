"""What every command group of the CLI shares: how a user-caused error is shown, and what the
exit code means.

Exit codes (documented in the README): 0 everything done; 1 a finding at or above `--fail-on`;
2 a usage error or an error the user must fix (bad query, bad config, unknown scanner); 3 a
partial failure: some input was not ingested, a lock was not obtained, a scanner failed or
timed out. Partial failure wins over 1: a gate cannot pass on results that are incomplete.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from hostwarden.core.errors import (
    CSA_SINK_FAILED,
    LOG_INPUT_TRUNCATED,
    LOG_INPUT_UNREADABLE,
    LOG_STORE_BUSY,
    LOG_STORE_CORRUPT,
    LOG_STORE_SEGMENT,
    SCAN_SCANNER_FAILED,
    SCAN_TIMEOUT,
    HostwardenError,
)

err_console = Console(stderr=True)


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Print a HostwardenError as code, message, cause and fix, and exit 2 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HostwardenError as exc:
            # User text (queries, paths) must not be read as Rich markup: escape, don't re-wrap.
            err_console.print(f"[bold red]{exc.code.code}[/bold red] {escape(exc.message)}", soft_wrap=True,
                              highlight=False)
            err_console.print(f"  cause: {escape(exc.code.cause)}\n  fix:   {escape(exc.code.fix)}", soft_wrap=True,
                              highlight=False)
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


EXIT_GATE, EXIT_USAGE, EXIT_PARTIAL = 1, 2, 3
# Notices that mean some of the work was not done (as opposed to warnings about what was done).
PARTIAL_FAILURES = frozenset(c.code for c in (
    LOG_INPUT_UNREADABLE, LOG_INPUT_TRUNCATED, LOG_STORE_BUSY, LOG_STORE_CORRUPT, LOG_STORE_SEGMENT,
    SCAN_SCANNER_FAILED, SCAN_TIMEOUT, CSA_SINK_FAILED,
))


def exit_code(notices: list[dict[str, Any]], *, gate_hit: bool = False) -> int:
    if any(n.get("code") in PARTIAL_FAILURES for n in notices):
        return EXIT_PARTIAL
    return EXIT_GATE if gate_hit else 0
