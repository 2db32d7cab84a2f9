"""The `hwbench` command line: one module per command group, each registering its commands on `common.app`.

Command modules import only `common` and helper modules, never each other. Importing them here registers their
commands; the import order below is the order `hwbench --help` lists them in.
"""

# isort: off
from hwbench.cli import sweep, catalog, report, build, agent, accuracy, compare, show, prune  # noqa: F401

# isort: on
from hwbench.cli.common import app, main

__all__ = ["app", "main"]
