"""The layer cache changes nothing but the time: cached figures equal uncached ones; the model is deterministic."""

from __future__ import annotations

import pytest

from hwbench.modelled.job import model_job
from tests.modelled.conftest import TARGETS, needs_zigzag
from tests.modelled.helpers import job_for, modelled_target

pytestmark = [needs_zigzag(), pytest.mark.export]
FIGURES = ("cycles", "latency_ms", "energy_uj", "utilisation", "spatial_utilisation", "costed_macs", "mac_coverage")


def figures(result: dict) -> dict:
    layers = [{k: v for k, v in r.items() if k != "source"} for r in result["layers"]]
    return {**{k: result[k] for k in FIGURES}, "layers": layers}


def test_cached_layers_give_the_uncached_figures(tiny_onnx: dict) -> None:
    mt = modelled_target(TARGETS[0])
    first = model_job(job_for(mt, tiny_onnx["mbconv"][0]))
    assert first["status"] == "ok" and first["layers_cached"] == 0 and first["new_layers"]
    again = model_job(job_for(mt, tiny_onnx["mbconv"][0]))
    assert figures(again) == figures(first)  # deterministic: the same network and settings, the same figures

    cached = model_job(job_for(mt, tiny_onnx["mbconv"][0], first["new_layers"]))
    assert figures(cached) == figures(first)
    assert cached["layers_costed"] == 0 and not cached["new_layers"]
    assert cached["layers_cached"] == cached["n_layers"]

    # Across networks: layers another block costed are reused, and the figures are those of an uncached run.
    other = tiny_onnx["mbconv_se"][0]
    uncached = model_job(job_for(mt, other))
    warm = model_job(job_for(mt, other, first["new_layers"]))
    assert warm["layers_cached"] > 0 and figures(warm) == figures(uncached)


def test_settings_and_accelerator_key_the_cache(tiny_onnx: dict) -> None:
    low, lowest = modelled_target(TARGETS[0], "low"), modelled_target(TARGETS[0], "lowest")
    assert low.scope() != lowest.scope() and low.fingerprint == lowest.fingerprint
    assert low.key("a" * 64) != lowest.key("a" * 64)
    others = {modelled_target(p).fingerprint for p in TARGETS}
    assert len(others) == len(TARGETS)  # another accelerator: other results, other cached layers


def test_figures_do_not_depend_on_the_process(tiny_onnx: dict) -> None:
    """A sweep's networks are modelled in worker processes, each with its own hash seed: same figures."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    onnx = tiny_onnx["resnet_bottleneck"][0]
    here = figures(model_job(job_for(modelled_target(TARGETS[0]), onnx)))
    code = (
        "import json; from tests.modelled.cache_figures import run;"
        f"print(json.dumps(run({str(TARGETS[0])!r}, {str(onnx)!r})))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(here))
