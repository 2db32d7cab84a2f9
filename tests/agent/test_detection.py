"""A real agent process on loopback times a real (seeded) detector in parts and sends back the detections of every
image, the same ones this machine finds; missing files are asked for by name, bad images files are refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hwbench.agent.client import AgentError
from hwbench.postprocess.nms import NmsSettings
from hwbench.postprocess.packed import unpack_detections
from hwbench.runners.detection import measure_detection_job
from tests.agent.conftest import Agent
from tests.measure.test_det_images import Touch

pytestmark = [pytest.mark.remote, pytest.mark.export]
IMAGES = 10


def sha(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny SSD-lite detector with spread (seeded, trained-like) weights as ONNX, and 10 images of its size."""
    from tests.export.test_det_export import artifact, export, spread_weights, tiny_detector

    root = tmp_path_factory.mktemp("agent_det")
    spec = tiny_detector(root / "design_spaces", "ssdlite")
    onnx = artifact(root, export(root, spec, "onnx", weights=spread_weights(root, spec)))
    images = root / "images.npy"
    np.save(images, np.random.default_rng(0).integers(0, 256, (IMAGES, 32, 32, 3), dtype=np.uint8))
    return {"onnx": onnx, "images": str(images)}


def job(detector: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {
        "artifact": detector["onnx"],
        "runner": "onnxruntime",
        "runner_options": {},
        "threads": 1,
        "nms": NmsSettings().key(),
        "images": detector["images"],
        "count": 4,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
        "max_seconds": 0.3,
        **change,
    }


def on_board(agent: Agent, detector: dict[str, Any], client: Any = None, **change: Any) -> dict[str, Any]:
    client = client or agent.client()
    files = (detector["onnx"], sha(detector["onnx"]), ".onnx"), (detector["images"], sha(detector["images"]))
    return client.measure_detection(job(detector, **change), *files, timeout=60, queue_timeout_s=30)


def test_a_board_times_a_detector_in_parts_and_detects_what_this_machine_detects(
    agent: Agent, detector: dict[str, Any]
) -> None:
    client = agent.client()
    reply = on_board(agent, detector, client)
    result = reply["result"]
    assert result["status"] == "ok", result.get("error")
    # Both files went up once, by hash, because the board asked for each by name.
    assert [u[0] for u in client.uploaded] == [f"{sha(detector['onnx'])}.onnx", f"{sha(detector['images'])}.npy"]
    assert result["count"] == 4 and len(result["graph_ms"]) == len(result["nms_ms"]) == len(result["kept"]) == 4
    assert result["graph_median_ms"] > 0 and result["e2e_median_ms"] >= result["graph_median_ms"]
    assert all(a >= k for a, k in zip(result["above_threshold"], result["kept"]))
    assert result["detections_source"] == "graph + host NMS" and reply["agent_seconds"] > 0
    # The board watched its timed window: its canary (on the board's runtime) and foreign CPU come back to judge.
    assert result["canary"]["kind"].startswith("onnxruntime:") and result["canary"]["after_ms"] > 0
    assert "foreign_share" in result["interference"]
    here = measure_detection_job(job(detector))
    board = unpack_detections(result["detections"], IMAGES)
    local = unpack_detections(here["detections"], IMAGES)
    assert sum(len(s) for _, s, _ in board) > 0  # spread weights: something is detected
    for got, want in zip(board, local, strict=True):  # same runtime, same NMS module: the same detections
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    assert result["kept"] == here["kept"] and result["above_threshold"] == here["above_threshold"]
    # Cached now: a second job uploads nothing.
    again = on_board(agent, detector, client, detect=False)
    assert again["result"]["status"] == "ok" and "detections" not in again["result"] and len(client.uploaded) == 2
    assert agent.log().count("measuring ") == 2


def test_missing_files_are_asked_for_by_name(agent: Agent, detector: dict[str, Any]) -> None:
    client = agent.client()
    model, images = f"{sha(detector['onnx'])}.onnx", f"{sha(detector['images'])}.npy"
    body = {k: v for k, v in job(detector).items() if k not in ("runner_options",)}
    body = json.dumps({**body, "artifact": model, "images": images}).encode()
    status, reply = client.request("POST", "/v1/measure-detection", body, {"Content-Type": "application/json"})
    assert (status, reply["missing"]) == (404, model)
    client.upload(detector["onnx"], sha(detector["onnx"]), ".onnx")
    status, reply = client.request("POST", "/v1/measure-detection", body, {"Content-Type": "application/json"})
    assert (status, reply["missing"]) == (404, images)
    # An images file is never measured as a model.
    client.upload(detector["images"], sha(detector["images"]), ".npy")
    wrong = json.dumps({"artifact": images, "runner": "onnxruntime", "threads": 1, "protocol": {}}).encode()
    status, reply = client.request("POST", "/v1/measure", wrong, {"Content-Type": "application/json"})
    assert status == 400 and "artifact: expected" in reply["error"]


@pytest.mark.parametrize("kind", ["float32", "three dims", "pickled objects"])
def test_an_images_file_that_is_not_plain_uint8_images_is_refused(
    agent: Agent, detector: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    witness = tmp_path / "unpickled"
    bad = tmp_path / "bad.npy"
    arrays = {
        "float32": np.zeros((2, 32, 32, 3), np.float32),
        "three dims": np.zeros((32, 32, 3), np.uint8),
        "pickled objects": np.array([Touch(witness)], dtype=object),
    }
    np.save(bad, arrays[kind], allow_pickle=True)
    with pytest.raises(AgentError, match=r"HTTP 400\): images file [0-9a-f]{64}\.npy: (expected uint8|unreadable)"):
        on_board(agent, {**detector, "images": str(bad)})
    assert not witness.exists() and agent.alive()


def test_the_detection_path_on_a_board_never_imports_torch(detector: dict[str, Any], tmp_path: Path) -> None:
    """Server, validation, client and the detection job itself in one process: stdlib + numpy + ORT only."""
    import os
    import subprocess
    import sys

    from tests.agent.conftest import TOKEN
    from tests.conftest import ROOT

    code = f"""
import hashlib, json, sys, threading
from hwbench.agent.server import AgentConfig, serve
from hwbench.agent.client import AgentClient
from hwbench.runners.detection import measure_detection_job
server = serve("127.0.0.1", 0, AgentConfig(token={TOKEN!r}, cache_dir={str(tmp_path / "cache")!r}, quiet=True))
threading.Thread(target=server.serve_forever, daemon=True).start()
client = AgentClient("127.0.0.1", server.server_address[1], {TOKEN!r}, retries=0)
job = json.loads({json.dumps(job(detector))!r})
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
files = (job["artifact"], sha(job["artifact"]), ".onnx"), (job["images"], sha(job["images"]))
reply = client.measure_detection(job, *files, timeout=60, queue_timeout_s=30)
here = measure_detection_job(job)
server.shutdown(); server.server_close()
heavy = sorted(m for m in ("torch", "pydantic", "yaml", "pandas", "typer", "rich", "scipy", "onnx") if m in sys.modules)
print(json.dumps({{"status": [reply["result"]["status"], here["status"]], "heavy": heavy}}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"status": ["ok", "ok"], "heavy": []}
