"""The command line's application object: one-line operational errors (exit status 2),
--debug, --version, the choices of --parallelism and --engine, and help texts that follow what
this project can run. cli.py (one level up) defines the commands on it."""

import enum
import os
from importlib import metadata

import typer

from . import runner
from .errors import OperationalError
from .tracking import ENGINE

PACKAGE = __package__.rpartition(".")[0]  # the project's package (this is its harness)
# click's own errors (typer bundles its own click: reached through an exported subclass)
CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
DEBUG_ENV = "BENCH_DEBUG"  # BENCH_DEBUG=1: tracebacks of operational errors, like --debug


class App(typer.Typer):
    """typer.Typer whose operational errors (harness/errors.py) are one line on stderr and exit
    status 2, however it is called (``python -m``, the scripts, ``app([...])``); with --debug
    or BENCH_DEBUG=1 the traceback is shown instead (never local variables)."""

    def __call__(self, *args, **kwargs):
        # standalone_mode=False: a usage error (a mistyped choice, an unknown option) comes
        # here too, and is one line like the rest, instead of click's usage block.
        try:
            code = super().__call__(*args, **{**kwargs, "standalone_mode": False})
        except CLICK_ERROR as error:
            if type(error).__name__ == "NoArgsIsHelpError":
                error.show()  # no command: the help
            else:
                typer.echo(f"error: {error.format_message()} (see --help)", err=True)
            raise SystemExit(error.exit_code) from None
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            raise SystemExit(1) from None
        except OperationalError as error:
            if os.environ.get(DEBUG_ENV, "0") not in ("", "0"):
                raise
            typer.echo(f"error: {error}", err=True)
            raise SystemExit(2) from None
        raise SystemExit(code if isinstance(code, int) else 0)


# rich_markup_mode=None: help texts print as written ("[default: ...]" is not Rich markup);
# tracebacks never print local variables (they may hold API keys).
app = App(
    no_args_is_help=True,
    add_completion=False,
    help=f"Command line: python -m {PACKAGE} COMMAND (the Makefile calls these).",
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
)


class Parallelism(enum.Enum):  # dask in every project: without it, run says how to get it
    none = "none"
    threads = "threads"
    processes = "processes"
    dask = "dask"


class Engine(enum.Enum):
    sqlite = "sqlite"
    duckdb = "duckdb"


class Journal(enum.Enum):  # run --journal (tracking.set_journal)
    delete = "delete"
    wal = "wal"


DEFAULT_PARALLELISM, DEFAULT_ENGINE = Parallelism(runner.PARALLELISM), Engine(ENGINE)


def show_version(value: bool) -> None:
    if value:
        versions = f"{metadata.version(PACKAGE)} (xetrack {metadata.version('xetrack')})"
        typer.echo(f"{PACKAGE} {versions}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=show_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", envvar=DEBUG_ENV, help="Show the traceback of an operational error."
    ),
):
    # These options go before the command: python -m <module> --debug run
    if debug:
        os.environ[DEBUG_ENV] = "1"


# Help texts from what this project can run (dask: parallelism=dask bakes only).
if runner.DASK:
    WORKERS_HELP = "Worker count for threads/processes, or the dask LocalCluster's."
    SCHEDULER_HELP = (
        "dask: a running scheduler, e.g. tcp://10.0.0.5:8786 (default: Dask's "
        "scheduler-address setting, e.g. DASK_SCHEDULER_ADDRESS, else a LocalCluster)."
    )
else:
    WORKERS_HELP = "Worker count for threads/processes."
    SCHEDULER_HELP = "dask only; this project was baked without dask [default: none]."
