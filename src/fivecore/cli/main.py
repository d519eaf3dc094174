"""The ``fivecore`` command.

Each sub-command lives in its own module under ``fivecore.cli`` and exposes
``register(app)``; this file only assembles them, so adding a command never
touches another command's code.
"""

from __future__ import annotations

import importlib
import sys

import typer

from fivecore import __version__
from fivecore.errors import FivecoreError

app = typer.Typer(
    name="fivecore",
    help="fivecore: a 5G Standalone core network and RAN simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Sub-command modules, each with register(app: typer.Typer) -> None.
COMMAND_MODULES: list[str] = [
    "fivecore.cli.selftest",
    "fivecore.cli.ran",
    "fivecore.cli.ran_handover",
    "fivecore.cli.nf",
    "fivecore.cli.subscriber",
    "fivecore.cli.trust",
    "fivecore.cli.decode",
    "fivecore.cli.network",
    "fivecore.cli.bench",
    "fivecore.cli.amf",
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"fivecore {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """fivecore: a 5G Standalone core network and RAN simulator."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console entry point: a user mistake prints one clear line, never a traceback."""
    try:
        app()
    except FivecoreError as exc:
        typer.echo(f"fivecore: error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
