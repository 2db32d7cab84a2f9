"""Detection timing on a board: the trained detector (and a ViT detector's backbone alone) and its images file go to
the target's agent (uploaded by hash when the board lacks them), which times the graph, NMS and end to end (then the
backbone image by image) there and sends its detections back.

A pool of boards is timed on its first reachable board: detection timing is one short job per network after
training, not worth dealing out. A board that goes away mid-run leaves an error record (a transport error, retried
by the next run) and a note; the target's remaining networks stay pending and the sweep goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hwbench.agent.client import AgentAuthError, AgentClient, AgentError, AgentUnreachable
from hwbench.config.target import Target
from hwbench.pipeline.remote import Board, handshake
from hwbench.progress import Progress

# Replies that say nothing about the detector timed: the board is busy, or the token changed.
_TRANSPORT_STATUSES = (401, 503)


def connect_board(target: Target, ui: Progress) -> Board | None:
    """The first board of the target (its main one, then its pool's) that answers and has the runner; None after
    a note when none does (the target's detectors then stay pending)."""
    assert target.agent is not None
    reasons = []
    for address in target.agent.boards():
        board = handshake(target, address)
        if isinstance(board, Board):
            return board
        reasons.append(board)
    ui.note(
        f"{target.name}: detection latency not timed ({'; '.join(reasons)}); "
        "its detectors stay pending (re-run the sweep when the board is back)"
    )
    return None


def agent_provenance(board: Board) -> dict[str, Any]:
    """What the board's handshake said about it, stored with every record it timed."""
    facts = board.facts
    return {
        "machine": facts.get("machine"),
        "agent": {
            "address": board.client.address,
            "device": facts.get("device"),
            "hwbench": facts.get("hwbench"),
            "numpy": facts.get("numpy"),
            "delegates": facts.get("delegates"),
        },
    }


def time_on_board(
    board: Board,
    target: Target,
    jobs: list[tuple[str, dict[str, Any]]],
    files: Callable[[str], tuple[Any, ...]],
    timeout: Callable[[dict[str, Any]], float],
    record: Callable[[str, dict[str, Any]], Any],
    ui: Progress,
) -> None:
    """Time each job on the board, recording each result; stop (after recording the failure) if the board goes.

    `files(key)` gives ((artifact path, sha256, extension), (images path, sha256)[, backbone artifact or None])
    for the upload on demand."""
    assert target.agent is not None
    with ui.task(f"timing detectors on {target.name} @ {board.client.address}", len(jobs)) as bar:
        for key, job in jobs:
            result, stop = _one(board.client, job, files(key), timeout(job), target.agent.queue_timeout_s)
            record(key, result)
            bar.advance(1)
            if stop:
                ui.note(
                    f"{target.name}: {stop}; that detector is recorded as a failure and the others stay pending; "
                    "re-run the sweep when the board is back to finish"
                )
                return
    if board.client.uploaded:
        size = sum(u[1] for u in board.client.uploaded) / 1e6
        ui.note(f"{target.name}: uploaded {len(board.client.uploaded)} files ({size:.1f} MB) to {board.client.address}")


def _one(
    client: AgentClient, job: dict[str, Any], files: tuple[Any, ...], timeout: float, queue_timeout_s: float
) -> tuple[dict[str, Any], str | None]:
    """One detection job on the board: (result, why the target must stop or None)."""
    from hwbench.runners.det_backbone import note_export_failure

    artifact, images, *backbone = files
    t0 = time.monotonic()
    try:
        # A ViT detector's backbone alone is timed there too, by the code local targets run (det_backbone).
        reply = client.measure_detection(job, artifact, images, timeout, queue_timeout_s, *backbone)
    except (AgentUnreachable, AgentAuthError) as exc:
        return _failure(str(exc), True), str(exc)
    except AgentError as exc:
        transport = exc.status in _TRANSPORT_STATUSES
        return _failure(f"{client.address}: {exc}", transport), (str(exc) if transport else None)
    except OSError as exc:  # a local file could not be read for the upload
        return _failure(f"cannot upload to {client.address}: {exc}", False), None
    result = note_export_failure(reply["result"], job)
    result["queue_seconds"] = reply.get("queue_seconds")
    result["agent_seconds"] = reply.get("agent_seconds")
    result["round_trip_seconds"] = time.monotonic() - t0
    return result, None


def _failure(message: str, transport: bool) -> dict[str, Any]:
    return {"status": "error", "error": message[:2000], **({"transport_error": True} if transport else {})}
