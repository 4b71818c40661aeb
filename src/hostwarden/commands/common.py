"""What every command group of the CLI shares: how a user-caused error is shown."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from hostwarden.core.errors import HostwardenError

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
            raise typer.Exit(2) from None

    return wrapper
