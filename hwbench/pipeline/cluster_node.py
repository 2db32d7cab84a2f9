"""A `transport: ray-node` target: measured on the Ray node that declares its resource, with the node to itself."""

from __future__ import annotations

from typing import Any

from hwbench.config.target import Target
from hwbench.errors import HwbenchError
from hwbench.pipeline.executor import Batch, Executor, Resources

FACTS_TIMEOUT_S = 120.0


def exclusive_resources(executor: Executor, target: Target) -> Resources:
    """One unit of the target's node resource and every CPU of that node, so Ray places nothing else there."""
    if executor.name != "ray":
        raise HwbenchError(
            f"target {target.name!r} is measured on a Ray node (transport: ray-node): run with --executor ray"
        )
    import ray

    assert target.ray_resource is not None
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(target.ray_resource)]
    if not nodes:
        raise HwbenchError(
            f"target {target.name!r}: no node of the Ray cluster declares resource {target.ray_resource!r} "
            f"(start it with ray start --resources '{{\"{target.ray_resource}\": 1}}', docs/cluster.md)"
        )
    if len(nodes) > 1:
        raise HwbenchError(
            f"target {target.name!r}: {len(nodes)} Ray nodes declare resource {target.ray_resource!r}; a measured "
            "node must be one machine (give each node its own resource and each its own target)"
        )
    return Resources(cpus=float(nodes[0]["Resources"].get("CPU", 0.0)), custom={target.ray_resource: 1.0})


def node_facts(executor: Executor, target: Target, resources: Resources) -> dict[str, Any]:
    """The node's machine identity and runtime versions, asked on the node itself (they key its measurements)."""
    from hwbench.runners.local import machine_facts

    batch = Batch(f"measure:{target.name}", machine_facts, 1, FACTS_TIMEOUT_S, resources=resources)
    [(_, facts)] = list(executor.run(batch, [(0, {"runner": target.runner})]))
    if facts.get("status") != "ok":
        raise HwbenchError(f"target {target.name!r}: its Ray node could not describe itself: {facts.get('error')}")
    return facts
