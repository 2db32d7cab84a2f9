"""The calibrated decision rule of pruning selectors: on the calibration images each pruning block keeps its target
fraction of the patch tokens on average (with or without reactivation, kept or discarded tokens, either rate), each
image still keeps its own amount, and a keep ratio of 1 keeps the dense output."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from hwbench.blocks.tokens.prune import keep_fraction
from hwbench.models.calibrate import _bias_for, calibrate_prune
from hwbench.models.det_vit import ViTDetector
from tests.models.test_det_vit import images, pair

# 4 pruning blocks in 2 groups (targets r, r, r², r²): with no reactivation the second block of a group chooses
# among the tokens the first one left.
KNOBS = {"keep_ratio": 0.7, "groups": 2, "skip_first": 1}
VARIANTS = [
    {},
    {"reactivate": False},
    {"keep_pruned": False},
    {"rate": "fixed"},
    {"reactivate": False, "rate": "fixed"},
]
IDS = ["default", "no_reactivate", "discard", "fixed", "no_reactivate_fixed"]


def spread(model: ViTDetector, seed: int = 0) -> ViTDetector:
    """Selectors with random, widely spread scores (a trained selector's are not all near 0)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for b in model.token_blocks():
            b.selector.fc2.weight.normal_(0.0, 5.0)
    return model


def kept(model: ViTDetector, x: torch.Tensor) -> torch.Tensor:
    """Kept fraction of the patch tokens, (images, pruning blocks), hard decisions."""
    with torch.no_grad():
        log = model.forward_tokens(x, record=True).log
    return torch.stack([keep_fraction(m) for m in log], dim=1)


@pytest.mark.parametrize("knobs", VARIANTS, ids=IDS)
def test_each_block_keeps_its_target_on_the_calibration_images(knobs: dict[str, Any]) -> None:
    _, pruned = pair(pruning=knobs, depth=5, **KNOBS)
    spread(pruned)
    x = images(24, seed=2)
    facts = calibrate_prune(pruned.vit, x)
    targets = [b.target for b in pruned.token_blocks()]
    assert targets == pytest.approx([0.7, 0.7, 0.49, 0.49])
    fractions = kept(pruned, x)
    tokens = x.shape[0] * 16  # 4x4 patch tokens per image
    # One pooled quantile per block: the mean is the target to within half a token of the whole batch.
    assert fractions.mean(0).tolist() == pytest.approx(targets, abs=0.5 / tokens + 1e-6)
    assert facts["keep_ratio"] == pytest.approx(fractions.mean(0).tolist(), abs=1e-4)
    assert len(facts["bias"]) == 4
    if not pruned.token_blocks()[0].reactivate:  # a skipped token stays skipped
        assert (fractions[:, 1:] <= fractions[:, :-1] + 1e-6).all()
    # Still dynamic: the images keep different amounts in every block.
    assert all(len(set(col.tolist())) > 1 for col in fractions.T)


@pytest.mark.parametrize("form", ["fixed_count", "dynamic"])
@pytest.mark.parametrize("knobs", VARIANTS, ids=IDS)
def test_deploy_forms_follow_the_calibrated_rule(knobs: dict[str, Any], form: str) -> None:
    """The bias is in the selector: every deploy form keeps what the training form keeps."""
    from hwbench.models.vit_deploy import token_capacities

    _, pruned = pair(pruning=knobs, depth=5, **KNOBS)
    spread(pruned)
    x = images(8, seed=2)
    calibrate_prune(pruned.vit, x)
    with torch.no_grad():
        want = pruned(x)
    counts = (kept(pruned, x) * 16).round()
    pruned.set_token_form(form, token_capacities(pruned.vit, x) if form == "fixed_count" else None)
    with torch.no_grad():
        got = [pruned(x[i : i + 1]) for i in range(8)] if form == "dynamic" else [pruned(x)]
    torch.testing.assert_close(torch.cat([g[1] for g in got]), want[1], rtol=0, atol=1e-5)
    if form == "fixed_count":
        assert torch.equal((kept(pruned, x) * 16).round(), counts)


def test_keep_ratio_one_keeps_the_dense_output() -> None:
    dense, pruned = pair(keep_ratio=1.0, groups=1, skip_first=1)
    spread(pruned)
    calibrate_prune(pruned.vit, images(8, seed=2))
    x = images(3, seed=5)  # other images than the calibration ones
    assert (kept(pruned, x) == 1).all()
    with torch.no_grad():
        torch.testing.assert_close(pruned(x)[1], dense(x)[1], rtol=0, atol=1e-5)


def test_bias_counts_the_target_over_all_tokens_but_chooses_among_the_alive() -> None:
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0], [0.5, -1.0, -2.0, -3.0]])
    assert ((scores + _bias_for(scores, 0.5)) > 0).sum() == 4
    alive = torch.tensor([[False, True, True, True], [False, False, True, True]])
    keep = ((scores + _bias_for(scores, 0.25, alive)) > 0) & alive
    assert keep.tolist() == [[False, True, True, False], [False, False, False, False]]
    assert (((scores + _bias_for(scores, 0.9, alive)) > 0) | ~alive).all()  # fewer alive than asked: all of them


def test_bias_cuts_a_tied_group_on_the_side_nearer_the_target() -> None:
    """Identical tokens (a blank patch at one position in many images) share a score: all kept or all skipped."""
    scores = torch.tensor([3.0, 1.0, 1.0, 1.0, 1.0, 0.0, -1.0, -2.0])
    kept = lambda t: int(((scores + _bias_for(scores, t)) > 0).sum())  # noqa: E731
    assert kept(3 / 8) == 1  # 3 asked: 1 or 5 are as near; the fewer
    assert kept(2 / 8) == 1  # 2 asked: 1 is nearer than 5
    assert kept(4 / 8) == 5
    assert kept(6 / 8) == 6  # no tie at the cut: exact
