"""Check a measurement job from the network before anything runs: types, ranges, names (no pydantic here)."""

from __future__ import annotations

import typing
from typing import Any

from hwbench.agent.wire import EXTENSIONS, parse_model_name
from hwbench.measure.timing import Protocol

# Upper bounds that keep a job from tying up the board indefinitely or allocating absurd buffers.
MAX_RUNS = 1_000_000
MAX_SECONDS = 3600.0
MAX_QUEUE_SECONDS = 7 * 86400.0
MAX_OPTION_CHARS = 200
FRACTIONS = {"rel_ci": (0.0, 1.0), "confidence": (0.5, 0.9999)}


class JobError(ValueError):
    """A malformed or unacceptable job."""


def measure_job(data: dict[str, Any], max_threads: int) -> tuple[dict[str, Any], str, float]:
    """(job for measure_artifact without its path, artifact name, queue timeout) from a request body.

    `max_threads` is the most threads a job may ask for (the board's cores unless the agent was told otherwise).
    """
    check_fields(data, {"artifact", "runner", "threads", "options", "protocol", "seed", "queue_timeout_s"})
    name, runner = artifact_and_runner(data)
    threads = thread_count(data, max_threads)
    options = runner_options(data, runner)
    protocol = data.get("protocol")
    if not isinstance(protocol, dict):
        raise JobError("protocol: expected an object")
    fields = Protocol.__dataclass_fields__
    protocol = dict(protocol)
    for key, value in protocol.items():
        if key not in fields:
            raise JobError(f"protocol.{key[:50]}: unknown field")
        if key == "cooldown_zone":
            if value is not None and not (isinstance(value, str) and len(value) <= MAX_OPTION_CHARS):
                raise JobError(f"protocol.cooldown_zone: expected a string of at most {MAX_OPTION_CHARS} characters")
        elif key in FRACTIONS:
            protocol[key] = number(protocol, key, float, *FRACTIONS[key], "protocol.")
        elif not (value is None and key == "cooldown_below_c"):
            runs = key.endswith("_runs")
            kind, hi = (int, MAX_RUNS) if runs else (float, MAX_SECONDS)
            protocol[key] = number(protocol, key, kind, 0, hi, "protocol.")
    # Every field filled in (defaults for the missing): the agent's own time limit reads them.
    protocol = Protocol(**protocol).as_dict()
    seed, queue_timeout = seed_and_queue_timeout(data)
    job = {"runner": runner.name, "threads": threads, "options": options, "protocol": protocol, "seed": seed}
    return job, name, queue_timeout


def check_fields(data: dict[str, Any], known: set[str]) -> None:
    """Refuse a job with a field this agent does not know (a typo must not be silently ignored)."""
    unknown = sorted(set(data) - known)
    if unknown:
        raise JobError(f"unknown field {unknown[0][:50]!r}")


def artifact_and_runner(data: dict[str, Any]) -> tuple[str, Any]:
    """(artifact name, runner definition): a measurable artifact's name and an installed runner of its format."""
    from hwbench.errors import UnknownNameError
    from hwbench.runners import get_runner

    name = data.get("artifact")
    parsed = parse_model_name(name) if isinstance(name, str) else None
    if parsed is None:
        raise JobError("artifact: expected <sha256><ext> with ext one of " + ", ".join(EXTENSIONS))
    runner_name = data.get("runner")
    if not isinstance(runner_name, str) or len(runner_name) > MAX_OPTION_CHARS:
        raise JobError("runner: expected a runner's name")
    try:
        runner = get_runner(runner_name)
    except UnknownNameError as exc:
        raise JobError(f"runner: {exc}") from None
    if runner.format != EXTENSIONS[parsed[1]]:
        raise JobError(f"runner {runner.name!r} runs {runner.format} artifacts, not {parsed[1]}")
    return name, runner


def thread_count(data: dict[str, Any], max_threads: int) -> int:
    """The job's `threads`, at most what this agent allows."""
    threads = data.get("threads")
    if isinstance(threads, int) and not isinstance(threads, bool) and max_threads < threads <= 2**31:
        raise JobError(
            f"threads: {threads} is more than this agent allows ({max_threads}, the board's cores unless the agent "
            "was started with --max-threads)"
        )
    return number(data, "threads", int, 1, max_threads)


def runner_options(data: dict[str, Any], runner: Any) -> dict[str, Any]:
    """The job's runner `options`, checked against the runner's option names and values."""
    return _options(data.get("options", {}), runner)


def seed_and_queue_timeout(data: dict[str, Any]) -> tuple[int, float]:
    """The job's input seed (default 0) and how long it may wait for the board (default an hour)."""
    seed = number(data, "seed", int, 0, 2**63 - 1) if "seed" in data else 0
    queue_timeout = (
        number(data, "queue_timeout_s", float, 0, MAX_QUEUE_SECONDS) if "queue_timeout_s" in data else 3600.0
    )
    return seed, float(queue_timeout)


def _options(options: Any, runner: Any) -> dict[str, Any]:
    """The runner's options: known names, scalar values (anything else would reach the runtime unchecked)."""
    if not isinstance(options, dict):
        raise JobError("options: expected an object")
    known = getattr(runner.options, "__dataclass_fields__", None)
    for key, value in options.items():
        if known is not None and key not in known:
            raise JobError(f"options.{key[:50]}: unknown option; valid: {', '.join(known) or 'none'}")
        scalar = value is None or isinstance(value, (bool, int, float, str))
        if not scalar or (isinstance(value, str) and len(value) > MAX_OPTION_CHARS):
            raise JobError(f"options.{key}: expected a number, a boolean or a short string")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            raise JobError(f"options.{key}: number out of range")
        allowed = _choices(runner.options, key)
        # Same type as well as equal: 1 == True, but 1 is not a boolean.
        if allowed is not None and not any(type(value) is type(a) and value == a for a in allowed):
            raise JobError(f"options.{key}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")
    return options


def _choices(options_class: type, key: str) -> tuple | None:
    """The values a Literal (or bool) option takes, or None when its annotation says less."""
    try:
        hint = typing.get_type_hints(options_class)[key]
    except Exception:  # e.g. `str | None` cannot be evaluated on Python 3.9: no check beyond the scalar one
        return None
    if hint is bool:
        return (True, False)
    return typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None


def number(data: dict[str, Any], key: str, kind: type, lo: float, hi: float, prefix: str = "") -> Any:
    """`data[key]` as `kind` if it is a number of that kind in [lo, hi] (booleans are not numbers), else JobError."""
    value = data.get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and kind is int and isinstance(value, float):
        ok = value.is_integer()  # 2.0 is fine; inf and nan are not (and fail the range below anyway)
    # Compared as given: Python compares a 400-digit int with a float exactly, where float() would overflow.
    if not ok or not (lo <= value <= hi):
        shown = repr(value) if not isinstance(value, int) or abs(value) < 10**20 else "a number that large"
        raise JobError(f"{prefix}{key}: expected a {kind.__name__} in [{lo}, {hi}], got {shown[:60]}")
    return kind(value)
