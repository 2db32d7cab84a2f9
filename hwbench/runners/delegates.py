"""TFLite delegates (the Coral Edge TPU), loaded through the interpreter's `load_delegate`.

A TFLite runner passes `load_delegates(names)` as the Interpreter's `experimental_delegates`. The Edge TPU
runs only fully-integer (int8) models compiled by `edgetpu_compiler`; operators it cannot take stay on the CPU.
"""

from __future__ import annotations

import ctypes.util
import platform
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

# The library that provides the Edge TPU delegate (package libedgetpu1-std or -max on Linux).
EDGETPU_LIBRARY = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
DELEGATES = ("edgetpu",)
EDGETPU_OP = b"edgetpu-custom-op"  # the operator edgetpu_compiler puts the Edge TPU's part of a graph in


def is_compiled(path: str) -> bool:
    """Whether a .tflite holds an Edge TPU operator (custom-op names are plain strings in the flatbuffer)."""
    with open(path, "rb") as f:
        return EDGETPU_OP in f.read()


class DelegateError(RuntimeError):
    """A delegate that was asked for could not be loaded."""


def tflite_load_delegate() -> Callable[..., Any]:
    """`load_delegate` of the installed TFLite interpreter (ai-edge-litert, else tflite-runtime)."""
    for module in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        try:
            return import_module(module).load_delegate
        except ImportError:
            continue
    raise DelegateError("no TFLite interpreter installed (pip install ai-edge-litert, or tflite-runtime)")


def load_delegates(
    names: Sequence[str],
    options: dict[str, Any] | None = None,
    load_delegate: Callable[..., Any] | None = None,
) -> list[Any]:
    """Load each named delegate; raise DelegateError with what to install when one is missing."""
    loaded = []
    for name in names:
        if name not in DELEGATES:
            raise DelegateError(f"unknown delegate {name!r}; valid: {', '.join(DELEGATES)}")
        library = EDGETPU_LIBRARY.get(platform.system(), "libedgetpu.so.1")
        loader = load_delegate or tflite_load_delegate()
        # `device` picks one Edge TPU when several are attached ("usb", "usb:0", "pci:0").
        delegate_options = {k: str(v) for k, v in (options or {}).items()}
        try:
            loaded.append(loader(library, delegate_options))
        except (ValueError, OSError, RuntimeError) as exc:
            raise DelegateError(
                f"Edge TPU delegate: cannot load {library} ({str(exc).strip() or type(exc).__name__}); "
                "install libedgetpu1-std from Coral's package repository and attach the Edge TPU, "
                "or measure without `delegate: edgetpu`"
            ) from None
    return loaded


def available_delegates() -> dict[str, str | None]:
    """Each known delegate's library as found on this machine (None when absent); nothing is loaded."""
    return {"edgetpu": ctypes.util.find_library("edgetpu")}
