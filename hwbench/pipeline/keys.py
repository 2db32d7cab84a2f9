"""The one place that derives the record keys of a sweep's (network, target) pairs.

The export key is derived here, by the export stage only: it names the converter versions installed where the
export runs. Later stages (measure, train's artifact accuracy) never re-derive it: they read the export the export
stage linked to (sweep, network, target) in the store, so a stage can run alone on a machine without converters.
"""

from __future__ import annotations

from typing import Any

from hwbench.blocks import get_block
from hwbench.config.target import Target
from hwbench.export import get_exporter
from hwbench.export.calibration import SYNTHETIC
from hwbench.measure.provenance import versions
from hwbench.pipeline.plan import Plan
from hwbench.pipeline.request import SweepArch
from hwbench.pipeline.token_inputs import inputs_key, uses_token_inputs
from hwbench.store.keys import export_key, measure_key


def calibration_for(plan: Plan) -> dict[str, Any]:
    """Where int8 calibration (and fidelity) inputs come from: the sweep's dataset, else labelled synthetic."""
    tp = plan.training
    if tp is None:
        return dict(SYNTHETIC)
    return {"source": "dataset", "dataset": tp.ref.name, "dataset_id": tp.dataset_id}


class SweepKeys:
    """Export profiles and keys of a sweep's networks under its targets (converter versions of this machine)."""

    def __init__(self, plan: Plan) -> None:
        self.calibration = calibration_for(plan)
        self.token_inputs = inputs_key(plan)

    def profile(self, target: Target) -> dict[str, Any]:
        """The target's export profile, plus the calibration source for exports that read one."""
        profile = target.profile()
        if get_exporter(target.export_format).calibrated(target.precision, target.export_options):
            profile["calibration"] = self.calibration
        return profile

    def keyed_profile(self, arch: SweepArch, profile: dict[str, Any]) -> dict[str, Any]:
        """The profile an export of `arch` is keyed and recorded under: data-dependent ViTs prepared on dataset
        images add which ones (hwbench.pipeline.token_inputs)."""
        if self.token_inputs is None or not uses_token_inputs(arch.spec):
            return profile
        return {**profile, "token_inputs": self.token_inputs}

    def export(self, arch: SweepArch, profile: dict[str, Any]) -> str:
        """The export key of `arch` under a profile: arch, profile, converter versions, block and artifact version."""
        exporter = get_exporter(profile["format"])
        return export_key(
            arch.spec.arch_id,
            self.keyed_profile(arch, profile),
            versions(exporter.distributions),
            get_block(arch.spec.block).version,
            exporter.artifact_version,
        )

    def for_target(self, arch: SweepArch, target: Target) -> str:
        """The export key of `arch` under a target's profile."""
        return self.export(arch, self.profile(target))


def measurement_key(artifact_hash: str, fp: str, settings: dict[str, Any], inputs_hash: str | None) -> str:
    """Key of a measurement: artifact × target fingerprint × settings (× the images, for per-image timing)."""
    return measure_key(artifact_hash, fp, {**settings, "inputs": inputs_hash} if inputs_hash else settings)
