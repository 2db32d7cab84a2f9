"""Stage 1: sample every space with the sweep's seed, then record the architectures and targets.

A later stage run alone (`--stage measure|train` without --space) reads the sweep's networks from the store.
"""

from __future__ import annotations

from hwbench.errors import HwbenchError
from hwbench.pipeline.plan import Plan
from hwbench.pipeline.request import SweepArch
from hwbench.progress import NullProgress, Progress
from hwbench.space.archspec import ArchSpec
from hwbench.store import Store


def draw_samples(plan: Plan, ui: Progress | None = None) -> list[SweepArch]:
    """Draw n networks per space (same seed → same arch_ids) without touching the store."""
    from hwbench.pipeline.references import shape_note
    from hwbench.space.reference import reference_space
    from hwbench.space.sampling import sample_space

    req, ui = plan.request, ui or NullProgress()
    archs: list[SweepArch] = []
    with ui.task("sampling", len(plan.spaces) + len(plan.references)) as bar:
        for space in plan.spaces:
            for sample in sample_space(space, req.n, req.seed):
                cx = {**sample.complexity, **detector_facts(sample.spec)}
                archs.append(SweepArch(space.name, sample.index, sample.spec, cx, str(space.source)))
            bar.advance()
        for ref in plan.references:  # after the spaces: their samples keep their order and streams
            (sample,) = sample_space(ref, 1, req.seed)
            cx = {**sample.complexity, **detector_facts(sample.spec)}  # a reference detector: its boxes too
            archs.append(SweepArch(reference_space(ref.name), 0, sample.spec, cx, str(ref.source)))
            bar.advance()
    if plan.references:
        ui.note(shape_note(plan.references))
    return archs


def detector_facts(spec: ArchSpec) -> dict[str, int]:
    """A detector's candidate boxes per image and head MACs (stored with its complexity); {} for other families."""
    from hwbench.space.det_vit import DETECTOR_FAMILIES, boxes_per_image

    if spec.family not in DETECTOR_FAMILIES:
        return {}
    from hwbench.models.detector import head_macs

    return {"boxes": boxes_per_image(spec.arch), "head_macs": head_macs(spec)}


def record_samples(plan: Plan, archs: list[SweepArch], store: Store) -> None:
    """Store the sweep, its architectures and its targets in one transaction, refusing a changed space."""
    req = plan.request
    config = {"spaces": [str(p) for p in req.spaces], "targets": [str(p) for p in req.targets], "n": req.n}
    if req.references:
        config["references"] = [str(p) for p in req.references]
    rows = [
        (
            a.space,
            a.index,
            a.spec.arch_id,
            a.spec.family,
            a.spec.block,
            a.spec.canonical_json,
            a.complexity,
            a.space_file,
        )
        for a in archs
    ]
    targets = [(t.name, str(t.source), t.config()) for t in plan.targets]
    store.record_sweep(req.name, req.seed, config, rows, targets)
    plan.counts["archs"] = len(archs)


def sample_stage(plan: Plan, store: Store, ui: Progress) -> list[SweepArch]:
    """Draw the sweep's networks, then record them (sampling errors leave the store untouched)."""
    archs = draw_samples(plan, ui)
    record_samples(plan, archs, store)
    return archs


def stored_samples(plan: Plan, store: Store) -> list[SweepArch]:
    """The sweep's networks as its export stage recorded them (for a later stage run alone)."""
    name = plan.request.name
    if name not in store.sweep_names():
        raise HwbenchError(
            f"{store.path}: no sweep {name!r} here; run `hwbench sweep --name {name} --stage export` first "
            "(or give --space to sample it now)"
        )
    return [
        SweepArch(r["space"], r["sample_index"], ArchSpec.from_json(r["spec_json"]), r["complexity"], r["space_file"])
        for r in store.sweep_samples(name)
    ]


def targets_of(plan: Plan, store: Store) -> None:
    """Record the plan's targets with the sweep (a stage run alone may bring a target the sweep has not seen)."""
    for t in plan.targets:
        store.link_target(plan.request.name, t.name, str(t.source), t.config())
