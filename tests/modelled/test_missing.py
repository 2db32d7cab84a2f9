"""Without ZigZag (an older Python, or no accel extra) a modelled target is refused in one line, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwbench.config.target import load_target
from hwbench.errors import ConfigError
from tests.modelled.conftest import TARGETS


def test_an_older_python_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hwbench.modelled.sys.version_info", (3, 10, 14, "final", 0))
    with pytest.raises(ConfigError) as info:
        load_target(TARGETS[0])
    text = str(info.value)
    assert text == f"{TARGETS[0]}: runner: modelled targets (runner zigzag) need Python >= 3.11 (zigzag-dse 3.9.1); " \
        "this is Python 3.10"  # fmt: skip


def test_a_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "zigzag", None)  # as if not installed: `import zigzag` raises ImportError
    with pytest.raises(ConfigError, match=r"runner: modelled targets need ZigZag .*install it with pip install "):
        load_target(TARGETS[0])
