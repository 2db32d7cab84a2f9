"""Surgery is exact: a pruned detector's outputs equal the trained one's on the kept anchors, for both heads,
with single anchors and whole levels removed; pruned architectures and anchor indices by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwbench.models import build_model
from hwbench.pruning.anchor_index import anchors_of, box_anchor_ids, pruned_arch
from hwbench.pruning.surgery import prune_model
from tests.models.test_detector import tiny

# tiny(): levels 8x8 (2 anchors), 4x4 (1 anchor), extra 2x2 (0 anchors) by default.
ANCHORS = [[[1, 1], [1, 2]], [[1, 1], [2, 0.5]], [[1, 1], [1, 2]]]


def spread(model: torch.nn.Module) -> torch.nn.Module:
    """Seeded weights moved off the initialisation (predictors start near zero), in eval mode."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2.0, generator=g)
    return model.eval()


def test_anchor_index_by_hand() -> None:
    arch = tiny(anchors=ANCHORS).arch
    refs = anchors_of(arch)
    assert [(r.index, r.level, r.position) for r in refs] == [
        (0, 0, 0),
        (1, 0, 1),
        (2, 1, 0),
        (3, 1, 1),
        (4, 2, 0),
        (5, 2, 1),
    ]
    ids = box_anchor_ids(arch)
    # 8x8 cells x 2 anchors, then 4x4 x 2, then 2x2 x 2, anchors innermost.
    assert len(ids) == 64 * 2 + 16 * 2 + 4 * 2
    assert ids[:4].tolist() == [0, 1, 0, 1] and ids[128:130].tolist() == [2, 3] and ids[-2:].tolist() == [4, 5]
    small = pruned_arch(arch, {1, 2, 3})
    assert small.anchors.per_level == [1, 0, 2]
    with pytest.raises(ValueError, match="anchor index 6 does not exist"):
        pruned_arch(arch, {6})
    with pytest.raises(ValueError, match="every anchor removed"):
        pruned_arch(arch, range(6))


@pytest.mark.parametrize("head", ["ssdlite", "retinanet_lite"])
@pytest.mark.parametrize("removed", [{1}, {2, 3}, {4, 5}, {0, 3, 5}], ids=["one", "level1", "extra", "mixed"])
def test_pruned_outputs_equal_kept_anchors(head: str, removed: set[int]) -> None:
    spec = tiny(head, anchors=ANCHORS, depth=1 if head == "retinanet_lite" else 0)
    model = spread(build_model(spec))
    pruned, small = prune_model(model, spec.arch, removed)
    keep = ~np.isin(box_anchor_ids(spec.arch), list(removed))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        boxes, scores = model(x)
        small_boxes, small_scores = pruned(x)
    assert small_boxes.shape[1] == int(keep.sum()) == len(box_anchor_ids(small))
    torch.testing.assert_close(small_boxes, boxes[:, torch.from_numpy(keep)], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(small_scores, scores[:, torch.from_numpy(keep)], rtol=1e-5, atol=1e-6)
    # Smaller where it should be: fewer predictor rows; an emptied extra level is not built at all.
    n_small = sum(p.numel() for p in pruned.parameters())
    assert n_small < sum(p.numel() for p in model.parameters()) or head == "retinanet_lite"
    if removed == {4, 5}:
        assert len(pruned.extras) == 0 and len(model.extras) == 1
