"""Agent targets: the `agent:` section, token sources (never a token in the file), the settings key and the
board-based fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.config.target import MeasurementSettings, load_target
from hwbench.errors import ConfigError
from hwbench.pipeline.measurements import target_fingerprint

BASE = "runner: onnxruntime\nthreads: 1\nexport: {format: onnx}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "board.yaml"
    path.write_text(BASE + text)
    return path


def test_agent_target_loads_with_defaults(tmp_path: Path) -> None:
    target = load_target(write(tmp_path, "transport: agent\nagent: {host: rpi4.local}\n"))
    assert target.transport == "agent" and target.agent is not None
    assert (target.agent.host, target.agent.port, target.agent.token_env, target.agent.token_file) == (
        "rpi4.local",
        8765,
        None,
        None,
    )
    assert target.config()["agent"]["host"] == "rpi4.local"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "transport: agent\nagent: {host: h, token: abcdefabcdefabcdef}\n",
            r"board.yaml: agent.token: never put the token in a target file",
        ),
        ("token: abcdefabcdefabcdef\ntransport: agent\nagent: {host: h}\n", r"board.yaml: token: never put the token"),
        ("transport: agent\nagent: {host: h, password: x}\n", r"agent.password: never put the token"),
        ("transport: agent\n", r"board.yaml: agent: transport: agent needs an `agent:` section"),
        ("agent: {host: h}\n", r"board.yaml: transport: an `agent:` section needs `transport: agent`"),
        (
            "transport: agent\nagent: {host: h, token_env: A, token_file: /f}\n",
            r"board.yaml: agent: give token_env or token_file, not both",
        ),
        ("transport: agent\nagent: {host: h, port: 70000}\n", r"board.yaml: agent.port: .*65535"),
        (
            "transport: agent\nagent: {host: h, prot: 1}\n",
            r"board.yaml: agent.prot: unknown key \(did you mean 'port'\?\)",
        ),
        ("transport: ssh\n", r"board.yaml: transport: .*'local', 'agent' or 'ray-node'"),
        ("transport: ray-node\n", r"board.yaml: ray_resource: transport: ray-node needs the Ray resource"),
        ("ray_resource: arm-1\n", r"board.yaml: ray_resource: only a `transport: ray-node` target"),
        ("transport: ray-node\nray_resource: ''\n", r"board.yaml: ray_resource: .*at least 1 character"),
        ("transport: ray-node\nray_resource: n\nagent: {host: h}\n", r"transport: an `agent:` section needs"),
    ],
)
def test_bad_agent_sections(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_target(write(tmp_path, text))


def test_settings_key_is_unchanged_for_measurements_stored_before_cooling_existed() -> None:
    # These are the settings (and defaults) measurements were keyed by before cooldown_* were added; `rounds` was
    # added to them by the measure stage before it became a setting, with the same default.
    assert MeasurementSettings().settings() == {
        "warmup_runs": 10,
        "warmup_seconds": 0.2,
        "min_runs": 20,
        "min_seconds": 0.1,
        "max_runs": 10_000,
        "max_seconds": 20.0,
        "rel_ci": 0.01,
        "confidence": 0.95,
        "cooldown_seconds": 0.0,
        "input_seed": 0,
        "rounds": 2,
    }
    cooled = MeasurementSettings(cooldown_below_c=60)
    assert cooled.settings()["cooldown_below_c"] == 60 and cooled.protocol().cooldown_timeout_s == 300.0


BOARD = {
    "machine": {"hostname": "rpi4", "cpu_model": "Raspberry Pi 4 Model B Rev 1.4"},
    "device": {"device_id": "abc123"},
    "runtimes": {"onnxruntime": {"versions": {"onnxruntime": "1.19.2"}, "available": True}},
}


def test_fingerprint_is_the_boards_identity_not_its_address(tmp_path: Path) -> None:
    a = load_target(write(tmp_path, "transport: agent\nagent: {host: rpi4.local, port: 8765}\n"))
    (tmp_path / "b").mkdir()
    b_path = tmp_path / "b" / "board.yaml"
    b_path.write_text(BASE + "transport: agent\nagent: {host: 10.0.0.7, port: 9000, retries: 1}\n")
    b = load_target(b_path)
    fp_a, identity = target_fingerprint(a, BOARD)
    assert fp_a == target_fingerprint(b, BOARD)[0]  # same board at another address: same results
    assert identity["machine"] == "rpi4|Raspberry Pi 4 Model B Rev 1.4" and identity["device_id"] == "abc123"
    assert identity["versions"] == {"onnxruntime": "1.19.2"}
    other = {**BOARD, "device": {"device_id": "def456"}}
    assert target_fingerprint(a, other)[0] != fp_a
    upgraded = {**BOARD, "runtimes": {"onnxruntime": {"versions": {"onnxruntime": "1.20.0"}}}}
    assert target_fingerprint(a, upgraded)[0] != fp_a
    local = load_target(write(tmp_path, ""))
    assert target_fingerprint(local)[0] != fp_a
