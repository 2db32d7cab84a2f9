"""Published complexity of a reference network, and whether a count agrees with it."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from hwbench.config import Strict, quantity


class Published(Strict):
    """MACs and parameters as a paper or model card gives them (300M, 1.81G, 11689512) and the source."""

    macs: str | int
    params: str | int
    source: str

    @field_validator("macs", "params")
    @classmethod
    def _number(cls, value: Any) -> Any:
        quantity(value)  # raises a ValueError naming the value
        return value


def tolerance(published: str | int, rel: float = 0.01) -> float:
    """Allowed distance from a published figure: `rel` of it, or half a unit of its last printed digit if wider.

    A figure printed as 1.3G only says 1.25G-1.35G; a 1 % check against its rounded value would fail a network
    that matches it exactly.
    """
    value = quantity(published)
    text = str(published).strip()
    mantissa = text.rstrip("kKMGT").strip()
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    unit = value / float(mantissa) if float(mantissa) else 1.0  # the suffix's multiplier
    return max(rel * value, 0.5 * 10.0**-decimals * unit)


def agrees(published: str | int, counted: int, rel: float = 0.01) -> bool:
    """Whether a counted figure is within `tolerance` of the published one."""
    return abs(counted - quantity(published)) <= tolerance(published, rel)
