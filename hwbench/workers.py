"""Worker processes for exports and measurements: crashes and hangs become results, Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from pebble import ProcessExpired, ProcessPool


def _init_worker(threads: int | None) -> None:
    """Runs in each worker: leave Ctrl-C to the parent, die with the parent, pin thread counts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        # PR_SET_PDEATHSIG: a `kill -9` of the sweep must not leave workers converting in the background.
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)


def run_jobs(
    fn: Callable[[dict[str, Any]], dict[str, Any]],
    jobs: Iterable[tuple[Any, dict[str, Any]]],
    *,
    workers: int,
    timeout: float | Callable[[dict[str, Any]], float],
    threads: int | None = None,
    max_in_flight: int | None = None,
    followups: Callable[[Any, dict[str, Any]], Iterable[tuple[Any, dict[str, Any]]]] | None = None,
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Run `fn(job)` in spawned worker processes; yield (tag, result) as each finishes.

    A job that raises, crashes its worker or exceeds its timeout yields an error result
    (`{"status": "error", ...}`) and the others go on. `followups(tag, result)`, called after the
    caller has handled a result, returns jobs that depended on it; they run in the same workers
    (which keep their imports). Closing the generator (or Ctrl-C in the parent) stops the pool and
    kills the workers.
    """
    pending = list(jobs)
    pending.reverse()  # pop() from the end keeps the caller's order
    limit = max_in_flight or workers
    context = multiprocessing.get_context("spawn")
    pool = ProcessPool(max_workers=workers, context=context, initializer=_init_worker, initargs=(threads,))
    running: dict[Future, tuple[Any, float]] = {}
    try:
        while pending or running:
            while pending and len(running) < limit:
                tag, job = pending.pop()
                seconds = timeout(job) if callable(timeout) else timeout
                running[pool.schedule(fn, args=(job,), timeout=seconds)] = (tag, seconds)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                tag, seconds = running.pop(future)
                result = _result(future, seconds)
                yield tag, result
                if followups is not None:
                    pending.extend(reversed(list(followups(tag, result))))  # run next
    finally:
        pool.stop()
        pool.join(timeout=10)


def _result(future: Future, seconds: float) -> dict[str, Any]:
    """The job's result, or an error record describing how the worker failed."""
    try:
        return future.result()
    except TimeoutError:
        return {"status": "error", "error": f"timed out after {seconds:.0f} s (worker killed)"}
    except ProcessExpired as exc:
        return {"status": "error", "error": f"worker crashed (exit code {exc.exitcode})"}
    except Exception as exc:
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:2000]}
