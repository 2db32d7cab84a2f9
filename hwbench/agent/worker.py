"""The agent's measurement process: runs one job at a time, by kind — a classification measurement
(hwbench.runners.local.measure_artifact) or a detector timed in parts, and its backbone alone when the job names
one (hwbench.runners.det_backbone, the code local targets run).

The agent talks to it with JSON lines over pipes (no pickle). A runtime that crashes or hangs takes down
this process, never the agent: the agent reports an error result and starts a fresh worker for the next job.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from hwbench.agent.wire import decode_result, encode_result


class MeasureWorker:
    """A child process kept across jobs (restarted when it dies or the thread count changes)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.threads: int | None = None

    def run(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one measurement job; a crash or a timeout becomes an error result."""
        threads = int(job["threads"])
        if self.proc is None or self.proc.poll() is not None or self.threads != threads:
            self._start(threads)
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        t0 = time.monotonic()
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except OSError:
            return self._failed("measurement process died before the job started")
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return _error(f"timed out after {timeout:.0f} s (measurement process killed)", time.monotonic() - t0)
        line = self.proc.stdout.readline()
        if not line:
            return self._failed("measurement process crashed")
        return decode_result(json.loads(line))

    def _failed(self, what: str) -> dict[str, Any]:
        code = self.proc.wait(timeout=10) if self.proc else None
        self.proc = None
        return _error(f"{what} (exit code {code})", 0.0)

    def _start(self, threads: int) -> None:
        self.close()
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hwbench.agent.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.threads = threads

    def close(self) -> None:
        """Stop the child process."""
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(OSError):
                    stream.close()  # type: ignore[union-attr]
            self.proc = None


def _error(message: str, seconds: float) -> dict[str, Any]:
    return {"status": "error", "error": message, "device_seconds": seconds}


def _exit_with_parent(parent: int) -> None:
    """Exit when the agent is gone, so a killed agent leaves no measurement running on the board."""
    # Not PR_SET_PDEATHSIG: it fires when the agent's *thread* that started this process ends (any request's).

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run a job by its kind; a job without one is a classification measurement (what older agents ran)."""
    kind = job.pop("kind", "measure")
    if kind not in ("measure", "detection"):
        return _error(f"unknown job kind {str(kind)[:50]!r}", 0.0)
    if kind == "detection":
        from hwbench.runners.det_backbone import measure_with_backbone

        return measure_with_backbone(job)  # the parts, then the backbone alone when the job names one
    from hwbench.runners.local import measure_artifact

    return measure_artifact(job)


def main() -> None:
    """Child side: read jobs from stdin, write results to the original stdout."""
    channel = os.fdopen(os.dup(1), "w")
    # Whatever the runtime prints goes to stderr, so it can never corrupt the result channel.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(os.getppid())
    for line in sys.stdin:
        result = run_job(json.loads(line))
        channel.write(json.dumps(encode_result(result)) + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
