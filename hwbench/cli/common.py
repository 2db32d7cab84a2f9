"""The typer app every command registers on, the options several commands share, and `main()` (errors exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hwbench.errors import HwbenchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Compare neural-network blocks on real hardware.",
)

StoreOpt = Annotated[Path, typer.Option("--store", help="SQLite results store.")]
DEFAULT_STORE = Path("results/hwbench.sqlite")


def _version(value: bool) -> None:
    if value:
        from hwbench import __version__

        typer.echo(f"hwbench {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Compare neural-network blocks on real hardware."""


class Interrupted(Exception):
    """Ctrl-C, raised as an ordinary exception so the CLI framework does not swallow it."""


def _on_sigint(signum: int, frame: object) -> None:
    raise Interrupted


def main() -> None:
    """Entry point: user errors print one line each and exit 2; Ctrl-C stops cleanly with 130.

    The commands are registered by importing `hwbench.cli` (the package imports every command module), which any
    caller of `hwbench.cli.main` has done.
    """
    import signal

    try:  # typer ≥ 0.20 vendors click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - older typer on plain click
        from click.exceptions import UsageError

    # Only replace Python's own handler: a shell that started us with SIGINT ignored keeps it ignored.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        # standalone_mode=False: usage errors reach us as exceptions, printed as one line instead of a box.
        code = typer.main.get_command(app).main(standalone_mode=False)
    except HwbenchError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    except UsageError as exc:
        # typer words a refused choice as pydantic does ("Value error, 'x' is not one of ..."): drop the prefix.
        message = exc.format_message().replace(": Value error, ", ": ", 1)
        if message:  # empty: no arguments at all, and the help was printed
            print(f"error: {message} (see `hwbench {_command_name(exc)}--help`)", file=sys.stderr)
        sys.exit(2)
    except (Interrupted, KeyboardInterrupt, typer.Abort):
        print("\ninterrupted: everything finished so far is stored; re-run the same command to resume", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _command_name(exc: object) -> str:
    """'sweep ' for an error in `hwbench sweep`, '' at the top level."""
    ctx = getattr(exc, "ctx", None)
    return f"{ctx.info_name} " if ctx is not None and ctx.parent is not None else ""
