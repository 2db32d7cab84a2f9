"""`hwbench build`: one architecture's MACs, parameters and activations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hwbench.cli.common import app


@app.command()
def build(
    spec: Annotated[
        str, typer.Argument(help="Architecture or design space: a file or a name (a space's first sample).")
    ],
    seed: Annotated[int, typer.Option(help="Seed when SPEC is a design space.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the canonical spec and counts as JSON.")] = False,
) -> None:
    """Build one architecture and print its MACs, parameters and activations."""
    import json

    from hwbench.models.complexity import complexity
    from hwbench.space.design_space import load_space
    from hwbench.space.locate import space_paths
    from hwbench.space.sampling import sample_space

    by_path = Path(spec).is_file() or spec.endswith((".yaml", ".yml"))  # a missing file: "file not found"
    space = load_space(spec if by_path else space_paths(spec, "SPEC")[0])
    arch = space.fixed or sample_space(space, 1, seed)[0].spec
    cx = complexity(arch)
    if as_json:
        typer.echo(json.dumps({"arch_id": arch.arch_id, **cx.as_dict(), "arch": arch.to_dict()}, indent=2))
        return
    typer.echo(f"{space.name}  arch_id {arch.arch_id}  block {arch.block}  family {arch.family}")
    typer.echo(f"MACs {cx.macs / 1e6:,.1f} M   params {cx.params / 1e6:,.3f} M   activations {cx.acts / 1e6:,.2f} M")
