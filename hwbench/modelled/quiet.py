"""Silence ZigZag: it logs every layer at INFO (and configures the root logger) and draws tqdm bars."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """ZigZag's loggers at ERROR+1 and stdout/stderr swallowed for the duration (restored afterwards)."""
    logger = logging.getLogger("zigzag")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate
