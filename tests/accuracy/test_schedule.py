"""Schedules: every built-in file validates; bad files fail with file and key; the hash tracks the math only."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.accuracy.schedule import SCHEDULE_DIR, load_schedule, schedule_names
from hwbench.errors import ConfigError

BASE = "epochs: 3\nbatch_size: 16\nresolution: 16\n"


@pytest.mark.parametrize("path", sorted(SCHEDULE_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_builtin_schedules_load_by_name_and_path(path: Path) -> None:
    by_name = load_schedule(path.stem)
    assert by_name.hash == load_schedule(path).hash and by_name.name == path.stem
    assert path.stem in schedule_names()


def test_hash_ignores_name_description_and_seed(tmp_path: Path) -> None:
    def hashed(text: str) -> str:
        path = tmp_path / "s.yaml"
        path.write_text(BASE + text)
        return load_schedule(path).hash

    base = hashed("")
    assert hashed("name: other\ndescription: words\nseed: 3\n") == base
    assert hashed("optimizer: {lr: 0.05}\n") != base
    assert hashed("augment: {crop_padding: 4}\n") != base


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + "resolutoin: 16\n", r"resolutoin: unknown key \(did you mean 'resolution'\?\)"),
        (BASE + "optimizer: {name: adam}\n", r"optimizer.name: .*got 'adam'"),
        (BASE + "lr_schedule: {warmup_epochs: 5}\n", r"lr_schedule.warmup_epochs: 5 exceeds epochs 3"),
        ("epochs: 3\nresolution: 16\n", r"batch_size: required key is missing"),
        (BASE + "label_smoothing: 1.5\n", r"label_smoothing: .*less than 1"),
    ],
)
def test_bad_schedule_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"bad.yaml: {message}"):
        load_schedule(path)


def test_unknown_schedule_name() -> None:
    with pytest.raises(
        ConfigError, match=r"shrot: --schedule: no such file; unknown schedule 'shrot' \(did you mean 'short'\?\)"
    ):
        load_schedule("shrot")
