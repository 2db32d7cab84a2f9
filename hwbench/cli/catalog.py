"""`hwbench spaces` and `hwbench targets`: what design_spaces/ and targets/ hold, one line each."""

from __future__ import annotations

from pathlib import Path

from hwbench.cli.common import app
from hwbench.cli.text import print_table
from hwbench.errors import HwbenchError


@app.command()
def spaces() -> None:
    """List the design spaces (and fixed architectures) in design_spaces/."""
    from hwbench.paths import data_dir, listing

    rows = []
    for path in listing("design_spaces"):
        rows.append((str(path.relative_to(data_dir("design_spaces")).with_suffix("")), *_describe(path, "block")))
    print_table(["name", "block", "description"], rows)


@app.command()
def targets() -> None:
    """List the targets in targets/."""
    from hwbench.paths import data_dir, listing

    rows = [
        (str(p.relative_to(data_dir("targets")).with_suffix("")), *_describe(p, "runner")) for p in listing("targets")
    ]
    print_table(["name", "runner", "description"], rows)


def _describe(path: Path, key: str) -> tuple[str, str]:
    """(key value, description) of a YAML file, without validating it (listing must never fail)."""
    from hwbench.config import load_yaml

    try:
        data = load_yaml(path)
    except HwbenchError as exc:
        return ("?", f"unreadable: {exc}")
    value = data.get(key) or (data.get("arch") or {}).get(key, "")
    if not value and key == "block" and isinstance(data.get("backbone"), str):  # a detector space
        value = f"detector on {Path(data['backbone']).stem}"
    description = data.get("description", "")
    return (str(value), f"{description}{' (fixed architecture)' if 'arch' in data else ''}")
