"""The detector: shapes and K per head type, box decoding, output order, head MACs by hand, zero-anchor levels,
meta-device counting and ONNX export parity."""

import math

import numpy as np
import pytest
import torch

from hwbench.models import build_model, example_input
from hwbench.models.complexity import complexity
from hwbench.models.det_heads import flatten_level
from hwbench.models.detector import decode_boxes, head_macs, num_boxes
from hwbench.space.anchors import generate
from hwbench.space.archspec import ArchSpec

TWO_ONE_NONE = [[[1, 1], [1, 2]], [[1, 1]], []]


def tiny(head: str = "ssdlite", anchors: list | None = None, width: int = 12, depth: int = 0) -> ArchSpec:
    """Resolution 32; stem stride 2, stages (8 ch, stride 2) and (16 ch, stride 2): levels 8x8, 4x4, extra 2x2."""
    backbone = {
        "family": "cnn",
        "block": "mbconv",
        "resolution": 32,
        "num_classes": 10,
        "stem": {"width": 8, "kernel": 3, "stride": 2},
        "stages": [{"depth": 1, "width": 8, "stride": 2}, {"depth": 1, "width": 16, "stride": 2}],
        "head": {"width": 0},
    }
    return ArchSpec.from_dict(
        {
            "family": "det",
            "block": "mbconv",
            "backbone": backbone,
            "resolution": 32,
            "num_classes": 2,
            "head": {"type": head, "width": width, "depth": depth, "levels": [0, 1], "extra_levels": 1},
            "anchors": {"levels": TWO_ONE_NONE if anchors is None else anchors},
        }
    )


def np_encode(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """The shared box coding, written out independently of the model."""
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    acx, acy = anchors[:, 0] + aw / 2, anchors[:, 1] + ah / 2
    gw, gh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    gcx, gcy = boxes[:, 0] + gw / 2, boxes[:, 1] + gh / 2
    return np.stack(
        [(gcx - acx) / (0.1 * aw), (gcy - acy) / (0.1 * ah), np.log(gw / aw) / 0.2, np.log(gh / ah) / 0.2], 1
    )


def np_decode(deltas: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Reference decoding (log sizes clamped at log(1000/16))."""
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    cx = anchors[:, 0] + aw / 2 + deltas[..., 0] * 0.1 * aw
    cy = anchors[:, 1] + ah / 2 + deltas[..., 1] * 0.1 * ah
    w = aw * np.exp(np.minimum(deltas[..., 2] * 0.2, math.log(1000 / 16)))
    h = ah * np.exp(np.minimum(deltas[..., 3] * 0.2, math.log(1000 / 16)))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


@pytest.mark.parametrize(("head", "k"), [("ssdlite", 3), ("retinanet_lite", 2)])
def test_forward_shapes_and_scores(head: str, k: int) -> None:
    spec = tiny(head, depth=1 if head == "retinanet_lite" else 0)
    model = build_model(spec)
    x = example_input(spec, batch=2)
    with torch.no_grad():
        logits, deltas = model.forward_raw(x)
        boxes, scores = model(x)
    n = 8 * 8 * 2 + 4 * 4 * 1  # the extra level has no anchors
    assert (model.num_classes, model.head_type, num_boxes(spec)) == (2, head, n)
    assert model.anchors.shape == (n, 4) and model.anchors.dtype == torch.float32
    assert logits.shape == (2, n, k) and deltas.shape == (2, n, 4)
    assert boxes.shape == (2, n, 4) and scores.shape == (2, n, 2)
    if head == "ssdlite":  # softmax over background + classes, background dropped
        expected = torch.softmax(logits, -1)[..., 1:]
        assert (scores.sum(-1) < 1).all()
    else:  # sigmoid per class, starting near the 0.01 prior
        expected = torch.sigmoid(logits)
        assert abs(scores.mean().item() - 0.01) < 0.005
    torch.testing.assert_close(scores, expected)
    np.testing.assert_allclose(boxes.numpy(), np_decode(deltas.numpy(), model.anchors.numpy()), rtol=1e-5, atol=1e-3)
    assert "anchors" not in model.state_dict()  # derived from the arch, not a weight


def test_decode_inverts_encode() -> None:
    rng = np.random.default_rng(0)
    anchors = generate(tiny().arch.anchors, [4, 8, 16], [8, 4, 2])
    centres, sizes = rng.uniform(0, 32, (len(anchors), 2)), rng.uniform(2, 40, (len(anchors), 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1).astype(np.float32)
    deltas = torch.as_tensor(np_encode(boxes, anchors), dtype=torch.float32)
    decoded = decode_boxes(deltas, torch.as_tensor(anchors))
    np.testing.assert_allclose(decoded.numpy(), boxes, rtol=1e-5, atol=1e-3)
    # Huge log-size deltas are clamped: the box grows at most 1000/16 times.
    huge = decode_boxes(torch.tensor([[0.0, 0.0, 100.0, 0.0]]), torch.tensor([[0.0, 0.0, 2.0, 2.0]]))
    assert huge[0, 2] - huge[0, 0] == pytest.approx(2 * 1000 / 16, rel=1e-5)


def test_decoding_equals_the_measuring_side() -> None:
    """The graph's decoding and the torch-free one on the measuring side are the same box coding."""
    from hwbench.postprocess import boxes as host

    spec = tiny("retinanet_lite", depth=1)
    model = build_model(spec)
    deltas = torch.as_tensor(np.random.default_rng(1).normal(0, 3, (2, num_boxes(spec), 4)), dtype=torch.float32)
    deltas[0, :5, 2:] = 60.0  # past the log-size clamp
    graph = decode_boxes(deltas, model.anchors).numpy()
    np.testing.assert_allclose(graph, host.decode(deltas.numpy(), model.anchors.numpy()), rtol=1e-5, atol=1e-3)


def test_output_order_is_y_x_anchor() -> None:
    b, a, k, h, w = 1, 2, 3, 2, 4
    y, x, ai, ki = np.meshgrid(range(h), range(w), range(a), range(k), indexing="ij")
    code = torch.as_tensor(1000 * y + 100 * x + 10 * ai + ki, dtype=torch.float32)  # [h, w, a, k]
    out = code.reshape(h, w, a * k).permute(2, 0, 1)[None]  # head layout: channel = anchor * k + class
    flat = flatten_level(out, k)
    assert flat.shape == (b, h * w * a, k)
    rows = [1000 * yy + 100 * xx + 10 * aa for yy in range(h) for xx in range(w) for aa in range(a)]
    assert flat[0, :, 0].tolist() == rows and flat[0, 0].tolist() == [0, 1, 2]


def test_head_macs_by_hand() -> None:
    # SSD-lite, K = 3: per level and predictor, a depthwise 3x3 on C channels + a 1x1 to A·K (or A·4) outputs.
    l0, l1 = 8 * 8, 4 * 4  # cells; level 0: 8 channels, 2 anchors; level 1: 16 channels, 1 anchor
    ssd = l0 * (2 * 8 * 9 + 8 * 2 * 3 + 8 * 2 * 4) + l1 * (2 * 16 * 9 + 16 * 1 * 3 + 16 * 1 * 4)
    assert head_macs(tiny("ssdlite")) == ssd == 22784
    # RetinaNet-lite, width 4, depth 1, K = 2, union of 2 shapes: lateral 1x1, tower dw+pw, two dw+pw predictors.
    per_cell = {cin: cin * 4 + (4 * 9 + 4 * 4) + (4 * 9 + 4 * 2 * 2) + (4 * 9 + 4 * 2 * 4) for cin in (8, 16)}
    retina = l0 * per_cell[8] + l1 * per_cell[16]
    assert head_macs(tiny("retinanet_lite", width=4, depth=1)) == retina == 16832


def test_zero_anchor_levels_build_nothing() -> None:
    model = build_model(tiny())
    assert len(model.extras) == 0 and len(model.head.cls) == 2  # the empty extra level is not built
    anchors = [[], [[1, 1]], [[0.5, 1], [1, 1]]]
    for head in ("ssdlite", "retinanet_lite"):
        spec = tiny(head, anchors, depth=1 if head == "retinanet_lite" else 0)
        model = build_model(spec)
        assert len(model.extras) == 1 and model.head.used == [1, 2]
        with torch.no_grad():
            logits, _ = model.forward_raw(example_input(spec))
        assert logits.shape[1] == 4 * 4 * 1 + 2 * 2 * 2 == num_boxes(spec)
        np.testing.assert_array_equal(model.anchors.numpy(), generate(spec.arch.anchors, [4, 8, 16], [8, 4, 2]))


def test_shared_head_takes_each_levels_own_shapes() -> None:
    # Union of shapes: (1, 1), (1, 2), (0.5, 1); level 1 lists (0.5, 1) then (1, 1): shapes 2 and 0.
    spec = tiny("retinanet_lite", [[[1, 1], [1, 2]], [[0.5, 1], [1, 1]], []], width=4, depth=1)
    model = build_model(spec)
    x = example_input(spec)
    with torch.no_grad():
        logits, _ = model.forward_raw(x)
        feat = model.head.laterals[1](model.features(x)[1])
        feat = model.head.tower[0](feat, 1)
        all_shapes = model.head.cls(feat).permute(0, 2, 3, 1).reshape(1, 16, 3, 2)
    assert model.head.num_shapes == 3
    torch.testing.assert_close(logits[:, 128:], all_shapes[:, :, [2, 0]].reshape(1, 32, 2))


def test_counts_on_meta_match_the_built_model() -> None:
    spec = tiny("retinanet_lite", depth=2)
    model = build_model(spec)
    cx = complexity(spec)
    assert cx.params == sum(p.numel() for p in model.parameters())
    assert cx.macs > head_macs(spec) > 0


@pytest.mark.export
@pytest.mark.parametrize("head", ["ssdlite", "retinanet_lite"])
def test_onnx_export_matches_torch(tmp_path: object, head: str) -> None:
    import warnings

    import onnxruntime as ort

    anchors = [[[1, 1], [1, 2]], [[1, 2]], [[1, 1]]]  # retinanet_lite: level 1 takes a subset (a Gather)
    spec = tiny(head, anchors, depth=1 if head == "retinanet_lite" else 0)
    model = build_model(spec)
    x = example_input(spec, seed=3)
    with torch.no_grad():
        boxes, scores = model(x)
    path = f"{tmp_path}/det.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), dynamo=True, verbose=False).save(path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert len(got) == 2
    np.testing.assert_allclose(got[0], boxes.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got[1], scores.numpy(), rtol=1e-4, atol=1e-5)
