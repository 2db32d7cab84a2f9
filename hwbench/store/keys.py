"""Canonical JSON and the content keys of records."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def digest(obj: Any, length: int = 24) -> str:
    """Short sha256 of an object's canonical JSON."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()[:length]


def export_key(
    arch_id: str, profile: dict[str, Any], versions: dict[str, Any], block_version: int, artifact_version: int = 0
) -> str:
    """Key of an export: the arch, the full profile, the converter versions, the block implementation and the
    exporter's artifact version (left out while 0, so keys of exporters that never changed stay as they were)."""
    key = {"arch": arch_id, "profile": profile, "versions": versions, "block_version": block_version}
    return digest({**key, "artifact_version": artifact_version} if artifact_version else key)


def measure_key(artifact_hash: str, target_fp: str, settings: dict[str, Any]) -> str:
    """Key of a measurement: artifact bytes × target (runtime, machine) × measurement settings."""
    return digest({"artifact": artifact_hash, "target": target_fp, "settings": settings})


def accuracy_key(arch_id: str, block_version: int, dataset_id: str, schedule_hash: str, seed: int, trainer: int) -> str:
    """Key of a trained accuracy: network × dataset content × schedule × seed × trainer version."""
    return digest(
        {
            "arch": arch_id,
            "block_version": block_version,
            "dataset": dataset_id,
            "schedule": schedule_hash,
            "seed": seed,
            "trainer": trainer,
            "evaluated_on": "torch",
        }
    )


def artifact_accuracy_key(trained_key: str, export_key: str, runner: str, runtime: dict[str, Any]) -> str:
    """Key of an artifact's accuracy: the trained weights × the export profile × the runtime that ran it."""
    return digest({"trained": trained_key, "export": export_key, "runner": runner, "runtime": runtime})


def imported_accuracy_key(arch_id: str, dataset: str, schedule: str) -> str:
    """Key of an imported accuracy: re-importing the same (network, dataset, schedule) replaces it."""
    return digest({"arch": arch_id, "dataset": dataset, "schedule": schedule, "source": "imported"})
