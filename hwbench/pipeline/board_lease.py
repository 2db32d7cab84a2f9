"""One measurement per board across a Ray cluster: hold the board's custom resource while measuring on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hwbench.errors import HwbenchError


class BoardHolder:
    """A zero-CPU Ray actor whose only job is to hold one unit of a board's resource while it lives."""

    def where(self) -> str:
        """The node holding the lease (answering also says the lease is held)."""
        import socket

        return socket.gethostname()


def board_resource(target_name: str) -> str:
    """The custom resource a node declares for a board (`ray start --resources '{"board:NAME": 1}'`)."""
    return f"board:{target_name}"


@contextmanager
def board_lease(target_name: str, executor: Any, wait_s: float | None = None) -> Iterator[str | None]:
    """Hold `board:<target_name>` while inside (waiting while another driver holds it); yield a note.

    Yields None at once when the executor is not Ray or no node declares the board: the board's agent queue is
    then the only guard. Wrap measurements made from the driver; a Ray batch asking for the same resource would
    wait for this lease forever.
    """
    if getattr(executor, "name", None) != "ray":
        yield None
        return
    import ray

    resource = board_resource(target_name)
    if resource not in ray.cluster_resources():
        yield None
        return
    holder = ray.remote(BoardHolder).options(num_cpus=0, resources={resource: 1}, max_restarts=0).remote()
    try:
        try:
            host = ray.get(holder.where.remote(), timeout=wait_s)  # placed only when no one else holds the unit
        except ray.exceptions.GetTimeoutError as exc:
            raise HwbenchError(f"board {target_name!r}: Ray resource {resource} still held after {wait_s:g} s") from exc
        yield f"holding Ray resource {resource} (on {host}): no other driver measures on this board meanwhile"
    finally:
        ray.kill(holder, no_restart=True)
