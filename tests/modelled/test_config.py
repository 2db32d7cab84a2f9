"""Modelled target files: every fault is one line naming the file and the key (ZigZag judges accelerator files)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hwbench.config.target import load_target
from hwbench.errors import ConfigError
from tests.modelled.conftest import TARGETS, needs_zigzag

pytestmark = needs_zigzag()
GOOD = {
    "name": "m",
    "description": "test",
    "runner": "zigzag",
    "export": {"format": "onnx", "precision": "fp32", "opset": 18},
    "runner_options": {"accelerator": "edge_tpu_like", "clock_mhz": 500, "effort": "lowest"},
}


def write(folder: Path, data: dict, name: str = "m.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return path


def fault(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_target(path)
    text = str(info.value)
    assert "\n" not in text, text  # one line
    return text


@pytest.mark.parametrize("path", TARGETS, ids=lambda p: p.stem)
def test_shipped_modelled_targets_load(path: Path) -> None:
    target = load_target(path)
    assert target.runner == "zigzag" and target.export_format == "onnx" and target.precision == "fp32"
    assert "modelled" in target.description.lower()


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    target = load_target(write(tmp_path, GOOD))
    assert target.threads == 1 and target.runner_options["optimise"] == "latency"
    assert target.runner_options["mapping"] is None and target.runner_options["workers"] == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"accelerator": "edge_tpu_lik"}, "runner_options.accelerator: unknown accelerator preset 'edge_tpu_lik'"),
        ({"accelerator": "nope.yaml"}, "runner_options.accelerator: "),
        ({"clock_mhz": 0}, "runner_options.clock_mhz: must be above 0"),
        ({"optimise": "speed"}, "runner_options.optimise: "),
        ({"effort": "max"}, "runner_options.effort: "),
        ({"pe": 4}, "runner_options.pe: unknown key"),
        ({"workers": 0}, "runner_options.workers: must be at least 1"),
    ],
)
def test_bad_runner_options(tmp_path: Path, change: dict, expected: str) -> None:
    data = {**GOOD, "runner_options": {**GOOD["runner_options"], **change}}
    text = fault(write(tmp_path, data))
    assert text.startswith(f"{tmp_path / 'm.yaml'}: {expected}"), text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"measurement": {"min_runs": 20}}, "measurement: a modelled target is not timed"),
        ({"threads": 4}, "threads: a modelled target takes threads: 1"),
        ({"export": {"format": "tflite", "precision": "fp32"}}, "export.format: "),
        ({"export": {"format": "onnx", "precision": "int8"}}, "export.precision: "),
    ],
)
def test_what_a_modelled_target_cannot_have(tmp_path: Path, change: dict, expected: str) -> None:
    text = fault(write(tmp_path, {**GOOD, **change}))
    assert f"m.yaml: {expected}" in text, text


def test_own_accelerator_needs_its_mapping(tmp_path: Path) -> None:
    acc = preset_file(tmp_path, "hardware", "edge_tpu_like.yaml")
    text = fault(write(tmp_path, {**GOOD, "runner_options": {"accelerator": str(acc)}}))
    assert "runner_options.mapping: an accelerator file needs its mapping file" in text
    mapping = preset_file(tmp_path, "mapping", "edge_tpu_like.yaml", "map.yaml")
    target = load_target(
        write(tmp_path, {**GOOD, "runner_options": {"accelerator": acc.name, "mapping": mapping.name}})
    )
    assert target.runner_options["accelerator"] == acc.name  # relative to the target file


def test_bad_accelerator_file_names_the_file_and_key(tmp_path: Path) -> None:
    acc = preset_file(tmp_path, "hardware", "edge_tpu_like.yaml")
    data = yaml.safe_load(acc.read_text())
    data["operational_array"]["sizes"] = "eight"
    acc.write_text(yaml.safe_dump(data))
    mapping = preset_file(tmp_path, "mapping", "edge_tpu_like.yaml", "map.yaml")
    text = fault(write(tmp_path, {**GOOD, "runner_options": {"accelerator": acc.name, "mapping": mapping.name}}))
    assert text.startswith(f"{acc}: operational_array.sizes"), text


def test_bad_mapping_file_names_the_file_and_key(tmp_path: Path) -> None:
    mapping = preset_file(tmp_path, "mapping", "edge_tpu_like.yaml", "map.yaml")
    data = yaml.safe_load(mapping.read_text())
    data[0]["memory_operand_links"] = "O"
    mapping.write_text(yaml.safe_dump(data))
    text = fault(write(tmp_path, {**GOOD, "runner_options": {**GOOD["runner_options"], "mapping": mapping.name}}))
    assert text.startswith(f"{mapping}: ") and "memory_operand_links" in text, text


def test_malformed_accelerator_yaml(tmp_path: Path) -> None:
    acc = tmp_path / "acc.yaml"
    acc.write_text("name: x\nmemories: [\n")
    mapping = preset_file(tmp_path, "mapping", "edge_tpu_like.yaml", "map.yaml")
    text = fault(write(tmp_path, {**GOOD, "runner_options": {"accelerator": acc.name, "mapping": mapping.name}}))
    assert text.startswith(f"{acc}: line ") and "malformed YAML" in text, text


def preset_file(folder: Path, kind: str, name: str, as_name: str | None = None) -> Path:
    """A copy of a shipped ZigZag input file, to edit."""
    from hwbench.modelled.accelerators import inputs_dir

    path = folder / (as_name or name)
    path.write_text((inputs_dir() / kind / name).read_text())
    return path
