"""A training job that really kills its worker process for one network (as the kernel's OOM killer would)."""

from __future__ import annotations

import os
import signal
from typing import Any

from hwbench.accuracy.trainer import train_job


def kill_first_network(job: dict[str, Any]) -> dict[str, Any]:
    """SIGKILL this worker when training the network whose spec sorts first; train the others normally."""
    if job["weights_path"] == os.environ.get("HWBENCH_TEST_VICTIM"):
        os.kill(os.getpid(), signal.SIGKILL)
    return train_job(job)
