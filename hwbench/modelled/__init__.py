"""Modelled targets: an analytical accelerator model (ZigZag) costs the exported ONNX graph; nothing is timed.

Records of these targets are of kind *modelled* (DESIGN.md §5): they live in their own store table, and every view
that shows them says so. ZigZag is an optional extra (`pip install hwbench[accel]`, Python >= 3.11), imported
only inside the functions that run it, so the rest of hwbench loads without it.
"""

from __future__ import annotations

import sys
from types import ModuleType

# Runner names of modelled targets (a target file's `runner:`); they are not in hwbench.runners (nothing to time).
MODELLED_RUNNERS = ("zigzag",)
# The same test in SQL, on a stored target configuration (alias `st` of sweep_targets): one place knows the names.
MODELLED_TARGET_SQL = "json_extract(st.config_json, '$.runner') IN ({})".format(
    ", ".join(f"'{name}'" for name in MODELLED_RUNNERS)
)
KIND = "modelled"
ZIGZAG_DIST = "zigzag-dse"
INSTALL = "pip install 'hwbench[accel]'"


class ModelMissingError(RuntimeError):
    """ZigZag cannot be imported here (missing, or a Python older than 3.11)."""


def is_modelled(runner: str) -> bool:
    """Whether a target's runner is an analytical model rather than a runtime."""
    return runner in MODELLED_RUNNERS


def missing_reason() -> str | None:
    """Why ZigZag cannot be used here, in one line, or None when it can."""
    if sys.version_info < (3, 11):
        found = ".".join(map(str, sys.version_info[:2]))
        return f"modelled targets (runner zigzag) need Python >= 3.11 (zigzag-dse 3.9.1); this is Python {found}"
    try:
        import zigzag  # noqa: F401
    except ImportError as exc:
        return f"modelled targets need ZigZag ({exc}); install it with {INSTALL}"
    return None


def import_zigzag() -> ModuleType:
    """The zigzag package, or ModelMissingError with a one-line reason."""
    reason = missing_reason()
    if reason is not None:
        raise ModelMissingError(reason)
    import zigzag

    return zigzag


def zigzag_version() -> str | None:
    """The installed zigzag-dse version (None when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(ZIGZAG_DIST)
    except PackageNotFoundError:
        return None
