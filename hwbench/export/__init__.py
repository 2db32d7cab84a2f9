"""Exporters: one per artifact format, registered by name; artifacts are stored by content hash."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from pydantic import BaseModel

from hwbench.registry import Registry

EXPORTER_MODULES = ("hwbench.export.onnx", "hwbench.export.torch_pt2", "hwbench.export.tflite")


class ProfileError(ValueError):
    """An export profile whose keys do not fit together (e.g. an int8 recipe on an fp32 profile)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _no_calibration(precision: str, options: dict[str, Any]) -> bool:
    return False


def _no_base(precision: str, options: dict[str, Any]) -> dict[str, Any] | None:
    return None


@dataclass(frozen=True)
class ExporterDef:
    """How to turn a built model into an artifact of one format, and how to check it.

    `export(model, x, path, options, context) -> dict` writes the file and returns export facts;
    `inspect(path) -> dict` lists its operators; `parity(path, model, x, options, context) -> dict` compares outputs.
    The functions run in export worker processes (torch is imported there, never in the runners).
    `context` holds the precision, the calibration source and, for a derived export, `base_path`.
    `export` must write canonical bytes: the same for the same network, options and converter versions on any
    checkout, user, host or day (no paths, stack traces or times; see hwbench.export.canonical, docs/export.md).
    """

    format: str
    extension: str
    options: type[BaseModel]
    export: Callable[..., dict[str, Any]]
    inspect: Callable[[str], dict[str, Any]]
    parity: Callable[..., dict[str, Any]]
    # Distributions whose versions change the artifact; they enter the export cache key.
    distributions: tuple[str, ...] = field(default_factory=tuple)
    # Bumped when this exporter starts writing other bytes for the same network and converter versions (1: ONNX
    # and .pt2 without path-dependent debugging metadata); enters the export key when > 0, so artifacts written
    # before are exported again once instead of being reused under their old hashes.
    artifact_version: int = 0
    precisions: tuple[str, ...] = ("fp32",)
    # The canonical exporter options of a profile (defaults filled, keys that do not apply dropped);
    # raises ProfileError. None: the options model's dump.
    profile_options: Callable[[str, BaseModel], dict[str, Any]] | None = None
    # Whether an export reads calibration inputs (then their source is part of its key).
    calibrated: Callable[[str, dict[str, Any]], bool] = _no_calibration
    # The profile of the artifact this export starts from (e.g. int8 from the fp32 .tflite), or None.
    base_profile: Callable[[str, dict[str, Any]], dict[str, Any] | None] = _no_base

    def canonical_options(self, precision: str, options: BaseModel) -> dict[str, Any]:
        """The options as stored in the profile (and hence the export key)."""
        if self.profile_options is None:
            return options.model_dump(mode="json")
        return self.profile_options(precision, options)


EXPORTERS: Registry[ExporterDef] = Registry("export format")


def get_exporter(name: str) -> ExporterDef:
    """Look up an exporter by format name."""
    for module in EXPORTER_MODULES:
        import_module(module)
    return EXPORTERS.get(name)


def exporter_names() -> list[str]:
    """Every registered export format."""
    for module in EXPORTER_MODULES:
        import_module(module)
    return EXPORTERS.names()
