"""Silence native converter output (C++ logs, progress bars) and keep its tail for error messages."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def captured_output(keep_lines: int = 20) -> Iterator[list[str]]:
    """Redirect this process's stdout and stderr file descriptors to a temp file while inside.

    Converters log from C++ straight to fd 1/2, which would scribble over the sweep's progress bars;
    the yielded list receives the last `keep_lines` lines when the block ends.
    """
    tail: list[str] = []
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield tail
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            lines = sink.read().decode("utf-8", "replace").splitlines()
            tail.extend(line for line in lines[-keep_lines:] if line.strip())
