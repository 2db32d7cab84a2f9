"""Cost a network's layers with ZigZag, one distinct layer at a time, reusing layers costed before.

A network's latency and energy are the sums over its costed layers (ZigZag's own SumStage adds layers the same
way when inter-layer data locality is off, as here), so a layer costed once stands for every identical layer of
any network under the same accelerator, mapping, settings and ZigZag version.
"""

from __future__ import annotations

import time
from typing import Any

from hwbench.modelled import import_zigzag
from hwbench.modelled.options import EFFORTS
from hwbench.modelled.quiet import quiet
from hwbench.modelled.workload import Node, Workload

# What a costed layer's record holds (per layer of a network, and in the layer cache).
LAYER_FIELDS = ("cycles", "ideal_cycles", "energy_pj", "mac_energy_pj", "mem_energy_pj", "spatial_utilisation", "macs")


class ModelParseError(ValueError):
    """ZigZag cannot turn a node into a layer; the message names the operator."""


def parse_layer(work: Workload, node: Node, mapping_data: list[dict[str, Any]]) -> Any:
    """ZigZag's LayerNode of one costed node, built by ZigZag's own ONNX operator parser."""
    from zigzag.parser.onnx.onnx_model_parser import ONNXModelParser

    graph_nodes = work.model.graph.node
    onnx_node = graph_nodes[node.index]
    parser_class = ONNXModelParser.PARSER_MAPPING[node.op_type]
    outputs = {i: n.output for i, n in enumerate(graph_nodes) if i <= node.index}
    try:
        with quiet():
            return parser_class(
                node_id=node.index,
                node=onnx_node,
                nodes_outputs=outputs,
                onnx_model=work.model,
                mapping_data=mapping_data,
            ).run()
    except Exception as exc:  # ZigZag asserts on shapes it does not handle
        raise ModelParseError(f"ZigZag cannot parse {node.op_type} node {node.name!r}: {_text(exc)}") from None


def cost_layer(layer: Any, accelerator: Any, optimise: str, effort: str) -> dict[str, Any]:
    """The best mapping's figures for one layer: search spatial then temporal mappings, keep the best by `optimise`."""
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.results.reduce_stages import MinimalEnergyStage, MinimalLatencyStage

    best = MinimalLatencyStage if optimise == "latency" else MinimalEnergyStage
    knobs = EFFORTS[effort]
    stages = [best, SpatialMappingGeneratorStage, best, TemporalMappingGeneratorStage, CostModelStage]
    main = MainStage(
        stages,
        accelerator=accelerator,
        layer=layer,
        loma_lpf_limit=knobs.lpf_limit,
        loma_show_progress_bar=False,
        nb_mappings_generated=knobs.spatial_mappings,
        enable_mix_spatial_mapping_generation=False,
        # As ZigZag's API runs it: data that stays at a memory's output pins is read once.
        access_same_data_considered_as_no_access=True,
        temporal_mapping_type=TemporalMappingType("uneven"),
    )
    with quiet():
        (cme, _), *_ = main.run()
    return {
        "cycles": float(cme.latency_total2),
        "ideal_cycles": float(cme.ideal_cycle),
        "energy_pj": float(cme.energy_total),
        "mac_energy_pj": float(cme.mac_energy),
        "mem_energy_pj": float(cme.mem_energy),
        "spatial_utilisation": float(cme.mac_spatial_utilization),
        "macs": int(layer.total_mac_count),
    }


def load_accelerator(path: str) -> Any:
    """ZigZag's Accelerator from a YAML file (validated by ZigZag)."""
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage

    with quiet():
        return AcceleratorParserStage.parse_accelerator(path)


def load_mapping(path: str) -> list[dict[str, Any]]:
    """ZigZag's validated mapping entries from a YAML file."""
    from zigzag.stages.parser.workload_parser import WorkloadParserStage

    with quiet():
        return WorkloadParserStage.parse_mapping_data(path)


def cost_network(
    work: Workload,
    keys: dict[int, str],
    cached: dict[str, dict[str, Any]],
    accelerator_path: str,
    mapping_path: str,
    optimise: str,
    effort: str,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(per-layer rows in graph order, the layers costed now by key): cached layers are taken as they are."""
    import_zigzag()
    fresh: dict[str, dict[str, Any]] = {}
    accelerator = mapping = None
    rows = []
    for node in work.costed():
        key = keys[node.index]
        cost = cached.get(key) or fresh.get(key)
        source = "cache" if key in cached else "network" if key in fresh else "costed"
        if cost is None:
            if accelerator is None:
                accelerator, mapping = load_accelerator(accelerator_path), load_mapping(mapping_path)
            start = time.perf_counter()
            layer = parse_layer(work, node, mapping)
            try:
                cost = cost_layer(layer, accelerator, optimise, effort)
            except Exception as exc:
                raise ModelParseError(f"ZigZag cannot cost {node.op_type} node {node.name!r}: {_text(exc)}") from None
            cost["seconds"] = round(time.perf_counter() - start, 3)
            fresh[key] = cost
        rows.append({"node": node.name, "op": node.op_type, "key": key, "source": source, **cost})
    return rows, fresh


def _text(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__
