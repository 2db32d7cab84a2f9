"""Seeded sampling of distinct architectures under complexity constraints (rejection, bounded attempts)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from hwbench.errors import ConfigError
from hwbench.space.archspec import ArchSpec
from hwbench.space.design_space import DesignSpace
from hwbench.space.families import get_family


@dataclass(frozen=True)
class Sample:
    """One accepted architecture with its complexity and its position in the space's stream."""

    index: int
    spec: ArchSpec
    complexity: dict[str, int]


def space_rng(space_name: str, seed: int) -> np.random.Generator:
    """Generator for one space: independent streams per space, identical on every machine for a seed."""
    name_key = int.from_bytes(hashlib.sha256(space_name.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([int(seed), name_key]))


def window_spec(space: DesignSpace, spec: ArchSpec) -> ArchSpec:
    """The network a draw's complexity windows and duplicate check apply to (the family's backbone)."""
    backbone = get_family(space.family).backbone
    return spec if backbone is None else backbone(spec)


def sample_space(space: DesignSpace, n: int, seed: int) -> list[Sample]:
    """The first n accepted draws of the space's stream; a larger n extends a smaller one."""
    from hwbench.models.complexity import complexity

    if n < 1:
        raise ConfigError(None, "--n", f"must be at least 1, got {n}")
    if not 0 <= int(seed) < 2**63:  # numpy seeds are non-negative
        raise ConfigError(None, "--seed", f"must be an integer from 0 to 2^63-1, got {seed}")
    if space.fixed is not None:
        return [Sample(0, space.fixed, complexity(space.fixed).as_dict())]
    stream = get_family(space.family).stream
    rng = space_rng(space.name if stream is None else stream(space), seed)
    limits = space.constraints
    accepted: list[Sample] = []
    seen: set[str] = set()
    rejected: Counter[str] = Counter()
    observed: dict[str, list[int]] = {"macs": [], "params": [], "acts": []}
    since_last = 0
    while len(accepted) < n:
        if since_last >= limits.max_attempts:
            raise ConfigError(
                space.source,
                "constraints",
                _infeasible(len(accepted), n, since_last, rejected, observed, limits),
            )
        since_last += 1
        spec = space.draw(rng)
        judged = window_spec(space, spec)
        if judged.arch_id in seen:
            rejected["duplicate"] += 1
            continue
        seen.add(judged.arch_id)
        window = complexity(judged).as_dict()
        for key in observed:
            observed[key].append(window[key])
        violated = limits.violated(window)
        if violated:
            rejected[violated] += 1
            continue
        cx = window if judged is spec else complexity(spec).as_dict()
        accepted.append(Sample(len(accepted), spec, cx))
        since_last = 0
    return accepted


def _infeasible(
    found: int, n: int, attempts: int, rejected: Counter[str], observed: dict[str, list[int]], limits: object
) -> str:
    """Explain why sampling gave up: what was rejected and the complexity range actually reachable."""
    reasons = ", ".join(f"{k} {v}" for k, v in rejected.most_common()) or "none"
    ranges = []
    for key, values in observed.items():
        window = getattr(limits, key, None)
        if window is not None and values:
            ranges.append(f"{key} window {window.describe()} vs drawn {min(values):.4g}-{max(values):.4g}")
    hint = "; ".join(ranges)
    return (
        f"found {found} of {n} networks, then {attempts} draws in a row were rejected "
        f"(rejections: {reasons}){'; ' + hint if hint else ''}; widen the window, raise "
        "constraints.max_attempts, or ask for fewer networks"
    )
