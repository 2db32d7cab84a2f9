"""The canary on the target's own runtime: the reference network opened through the measured network's runner.

Opened with the runner, thread count and options of the measured network (hwbench.measure.canary describes the
network and its files), so what changes the runtime's speed — its thread pool, a delegate, the clock — changes
the canary too. Where a runtime has no canary model, or it cannot be opened with the target's options (an Edge TPU
delegate wants a compiled file), the numpy canary runs instead and the record says why. Sessions are kept per
process: a measurement worker or the agent's child opens each canary once, not once per network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from hwbench.measure.canary import MODEL_FILES, NUMPY_KIND, canary_input, model_file, run_canary, time_calls
from hwbench.runners import RunnerDef, Session, get_runner

# Runners whose canary is built in code rather than loaded from a committed file: format -> "module:function"
# taking (threads, options) and returning a Session.
BUILT_CANARIES = {"torch": "hwbench.runners.torch_eager:open_canary"}
# The network's identity in a canary kind: the ONNX file's hash (the TFLite file and the torch module carry the
# same weights), so a new reference network is a new kind with its own baseline.
NETWORK_ID = MODEL_FILES["onnx"][1][:12]
WARMUP_CALLS = 10  # on opening: the runtime's lazy initialisation and first-call allocations stay out of figures
_KEEP = 4  # sessions kept per process (one per runner, thread count and options; a sweep uses few)


@dataclass
class Canary:
    """One opened canary: `kind` names what runs ("<runner>:<network id>" or "numpy"); `fallback` says why numpy."""

    kind: str
    call: Callable[[], Any] | None = None
    session: Session | None = None
    fallback: str | None = None

    def run(self) -> dict[str, Any]:
        """Time the canary once: per-call median and minimum in milliseconds, its kind, repetitions and calls."""
        found = run_canary() if self.call is None else time_calls(self.call)
        return {**found, "kind": self.kind}

    def close(self) -> None:
        """Release the runtime session, if any."""
        if self.session is not None:
            self.session.close()


def window_record(canary: Any, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The record of a timed window's canary (any object with the Canary's `kind` and `fallback`): its runs before
    and after the window, what ran, and why numpy if it did."""
    return {
        "before_ms": before["median_ms"],
        "after_ms": after["median_ms"],
        "kind": canary.kind,
        "calls": after.get("calls"),
        **({"fallback": canary.fallback} if canary.fallback else {}),
    }


_OPEN: dict[tuple[str, int, Any], Canary] = {}


def open_canary(runner: str, threads: int, options: Any) -> Canary:
    """The canary for `runner` with these threads and options (kept per process), numpy when it has none."""
    key = (runner, threads, options)
    if key in _OPEN:
        return _OPEN[key]
    if len(_OPEN) >= _KEEP:
        _OPEN.pop(next(iter(_OPEN))).close()
    try:
        found = _open_model(get_runner(runner), threads, options)
    except Exception as exc:  # a canary that cannot run must not fail the measurement: numpy stands in
        found = Canary(NUMPY_KIND, fallback=f"{runner} canary unavailable: {type(exc).__name__}: {exc}"[:300])
    _OPEN[key] = found
    return found


def _open_model(runner: RunnerDef, threads: int, options: Any) -> Canary:
    """Open the runner's canary model and warm it up (raises when it has none or it does not open)."""
    if runner.format in BUILT_CANARIES:
        module, name = BUILT_CANARIES[runner.format].split(":")
        session = getattr(import_module(module), name)(threads, options)
    else:
        path = model_file(runner.format)
        if path is None:
            raise LookupError(f"no canary model for {runner.format} artifacts")
        session = runner.open(str(path), threads, options)
    try:
        call = session.prepare([canary_input()])
        for _ in range(WARMUP_CALLS):
            call()
    except Exception:
        session.close()
        raise
    return Canary(f"{runner.name}:{NETWORK_ID}", call, session)


def close_all() -> None:
    """Close every kept canary session (tests; a worker process simply exits)."""
    while _OPEN:
        _OPEN.popitem()[1].close()
