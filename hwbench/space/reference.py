"""Reference networks in a sweep: a fixed spec re-written at the sweep's input shape, and the mark that keeps it
out of every block's population.

A reference is stored like a sampled network (its record in sweep_archs is what every stage reads), under the
space name `reference:<name>`; analyses read that mark back with `reference_of`.
"""

from __future__ import annotations

from pathlib import Path

from hwbench.errors import ConfigError
from hwbench.space.archspec import ArchSpec

PREFIX = "reference:"


def reference_space(name: str) -> str:
    """The space name a reference is stored under."""
    return PREFIX + name


def reference_of(space: object) -> str:
    """The reference's name for a stored space name, or "" for a member of a block's population."""
    return space[len(PREFIX) :] if isinstance(space, str) and space.startswith(PREFIX) else ""


def at_shape(spec: ArchSpec, resolution: int, num_classes: int, source: str | Path | None = None) -> ArchSpec:
    """The same network at another input resolution and class count, validated again (a ViT's resolution must
    be a multiple of its patch, a CNN's must cover its total stride); a misfit is one clear ConfigError."""
    data = {**spec.to_dict(), "resolution": int(resolution), "num_classes": int(num_classes)}
    try:
        return ArchSpec.from_dict(data, source)
    except ConfigError as exc:
        # pydantic's text repeats the whole mapping after "(got": the first clause says what is wrong
        why = exc.message.split(" (got ")[0].removeprefix("Value error, ")
        raise ConfigError(
            source, "--reference", f"cannot be measured at the sweep's {resolution} px and {num_classes} classes: {why}"
        ) from None
