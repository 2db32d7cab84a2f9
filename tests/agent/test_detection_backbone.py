"""A ViT detector's backbone alone on a board: a real agent on loopback times a tiny pruning ViT detector in parts and
then its backbone-only artifact image by image (hwbench.runners.det_backbone, the code local targets run), asking
for each missing file by name; an agent older than the `backbone` field still times the parts, and the record says
why it has no backbone."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hwbench.agent.client import OLD_AGENT_BACKBONE
from hwbench.postprocess.nms import NmsSettings
from tests.agent.conftest import TOKEN, Agent
from tests.agent.test_detection import sha

pytestmark = [pytest.mark.remote, pytest.mark.export]


@pytest.fixture(scope="module")
def vit_detector(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny pruning ViT detector (dynamic ONNX form) and its backbone alone, from the same weights; 6 images."""
    import torch

    from hwbench.export.artifacts import ArtifactStore
    from hwbench.export.job import run_export
    from hwbench.models import build_model
    from hwbench.models.det_vit_export import run_backbone_export
    from tests.models.test_det_vit import PRUNE, det_spec

    root = tmp_path_factory.mktemp("agent_det_vit")
    spec = det_spec("vit_mlp_prune", **PRUNE)
    torch.manual_seed(0)
    torch.save(build_model(spec).state_dict(), root / "w.pt")
    export = {"spec_json": spec.canonical_json, "format": "onnx", "precision": "fp32", "options": {}}
    export.update(artifact_dir=str(root), weights=str(root / "w.pt"))
    whole, backbone = run_export(export), run_backbone_export(export)
    assert whole["status"] == "ok" and backbone["status"] == "ok", (whole.get("error"), backbone.get("error"))
    images = root / "images.npy"
    np.save(images, np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    onnx = str(ArtifactStore(str(root)).path(whole["artifact_hash"], whole["extension"]))
    return {"onnx": onnx, "backbone": backbone["path"], "images": str(images)}


def job(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "artifact": d["onnx"],
        "backbone": d["backbone"],
        "runner": "onnxruntime",
        "runner_options": {},
        "threads": 1,
        "nms": NmsSettings().key(),
        "images": d["images"],
        "count": 4,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
        "max_seconds": 0.3,
        "detect": False,
    }


def files(d: dict[str, Any]) -> tuple[Any, ...]:
    return (
        (d["onnx"], sha(d["onnx"]), ".onnx"),
        (d["images"], sha(d["images"])),
        (d["backbone"], sha(d["backbone"]), ".onnx"),
    )


def test_a_board_times_a_vit_detector_and_its_backbone_alone(agent: Agent, vit_detector: dict[str, Any]) -> None:
    from hwbench.runners.det_backbone import measure_with_backbone

    client = agent.client()
    reply = client.measure_detection(job(vit_detector), *files(vit_detector)[:2], 60, 30, files(vit_detector)[2])
    result = reply["result"]
    assert result["status"] == "ok", result.get("error")
    # Every file went up once, by hash, because the board asked for each by name (the backbone last).
    assert [u[0] for u in client.uploaded] == [f"{sha(p)}{Path(p).suffix}" for p, *_ in files(vit_detector)]
    backbone = result["backbone"]
    assert "error" not in backbone, backbone
    assert backbone["count"] == 4 and len(backbone["image_median_ms"]) == 4 and backbone["rounds"] >= 1
    assert all(ms > 0 for ms in backbone["image_median_ms"]) and backbone["median_ms"] > 0
    # The backbone alone is cheaper than the graph it is part of (backbone + pyramid + head + decoding).
    assert backbone["median_ms"] < result["graph_median_ms"]
    here = measure_with_backbone(job(vit_detector))  # what a local target's record holds: the same fields
    assert set(backbone) == set(here["backbone"]) and set(result) - set(here) <= {"executor"}
    # Cached and pinned by name now: a second job uploads nothing; without the field, no backbone is timed.
    again = client.measure_detection(job(vit_detector), *files(vit_detector)[:2], 60, 30)
    assert again["result"]["status"] == "ok" and "backbone" not in again["result"] and len(client.uploaded) == 3


def test_a_missing_backbone_is_asked_for_by_name(agent: Agent, vit_detector: dict[str, Any]) -> None:
    client = agent.client()
    (onnx, images, backbone) = files(vit_detector)
    client.upload(*onnx)
    client.upload(images[0], images[1], ".npy")
    name = f"{backbone[1]}.onnx"
    body = {k: v for k, v in job(vit_detector).items() if k != "runner_options"}
    body.update(artifact=f"{onnx[1]}.onnx", images=f"{images[1]}.npy", backbone=name)
    headers = {"Content-Type": "application/json"}
    status, reply = client.request("POST", "/v1/measure-detection", json.dumps(body).encode(), headers)
    assert (status, reply["missing"]) == (404, name) and "measuring " not in agent.log()


def test_an_older_agent_still_times_the_parts_and_the_record_says_why_no_backbone(
    vit_detector: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent before the field refuses it (400 "unknown field 'backbone'", its check of every job's fields): the
    client asks again without it."""
    from hwbench.agent import validate_det
    from hwbench.agent.client import AgentClient
    from hwbench.agent.server import AgentConfig, serve

    monkeypatch.setattr(validate_det, "FIELDS", validate_det.FIELDS - {"backbone"})  # what older agents know
    server = serve("127.0.0.1", 0, AgentConfig(token=TOKEN, cache_dir=str(tmp_path / "cache"), quiet=True))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = AgentClient("127.0.0.1", server.server_address[1], TOKEN, retries=0)
        reply = client.measure_detection(job(vit_detector), *files(vit_detector)[:2], 60, 30, files(vit_detector)[2])
    finally:
        server.shutdown()
        server.server_close()
    result = reply["result"]
    assert result["status"] == "ok" and result["graph_median_ms"] > 0
    assert result["backbone"] == {"error": f"{client.address}: {OLD_AGENT_BACKBONE}"}
    assert len(client.uploaded) == 2  # the backbone was never sent
    # The record stands; --retry-errors times it again (once the board's hwbench is updated, with its backbone).
    from hwbench.pipeline.det_timing import _done

    row = {"status": "ok", "info_json": json.dumps({k: v for k, v in result.items() if k != "status"})}
    assert _done(row, retry_errors=False) and not _done(row, retry_errors=True)
    row["info_json"] = json.dumps({"backbone": {"image_median_ms": [1.0]}})
    assert _done(row, retry_errors=True)
