"""Every ViT block and token form: reduction switched off equals the plain ViT, merged sizes add up, the class
token survives, skipped tokens pass unchanged, the forms of one block compute the same function."""

from __future__ import annotations

import pytest
import torch

from hwbench.blocks import block_names, get_block
from hwbench.blocks.tokens import STATIC_FORMS
from hwbench.models.calibrate import calibrate
from tests.vit_helpers import REDUCING, TOKEN_BLOCKS, N, images, set_ltmp, tiny_model

ATOL = 1e-5


def forms(block: str) -> list[str]:
    return list(get_block(block).token_forms)


def run(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits image by image (the dynamic forms take batch 1)."""
    with torch.no_grad():
        return torch.cat([model(x[i : i + 1]) for i in range(x.shape[0])])


def in_form(model, form: str):
    """Put the model in `form`; fixed_count gets one slot per token (nothing can overflow)."""
    caps = [N] * len(model.token_blocks()) if form == "fixed_count" else None
    model.set_token_form(form, caps)
    return model


def test_the_four_vit_blocks_are_registered() -> None:
    assert set(block_names("vit")) == {"vit", *TOKEN_BLOCKS}
    for name in TOKEN_BLOCKS:
        assert any(f in STATIC_FORMS for f in forms(name))


@pytest.mark.parametrize("block", block_names("vit"))
def test_dense_weights_load_into_every_variant(block: str) -> None:
    """Only thresholds and selectors are new (tiny_model asserts it), so a trained ViT carries over."""
    model = tiny_model(block, **REDUCING[block])
    with torch.no_grad():
        assert model(images()).shape == (2, 10)


DISABLED = {
    "vit_tome": lambda: tiny_model("vit_tome", r=0),
    "vit_ltmp": lambda: set_ltmp(tiny_model("vit_ltmp"), merge=2.0, prune=-1.0),
    "vit_mlp_prune": lambda: keep_all(tiny_model("vit_mlp_prune", skip_first=1, keep_ratio=1.0)),
}


def keep_all(model):
    """keep_ratio 1: calibrating the selectors to their target keeps every token."""
    calibrate(model, images(4, seed=9))
    return model


@pytest.mark.parametrize(("block", "form"), [(b, f) for b in TOKEN_BLOCKS for f in forms(b)])
def test_disabled_reduction_equals_plain_vit(block: str, form: str) -> None:
    """r = 0, thresholds that never fire, keep ratio 1: the output is the plain ViT's."""
    x = images(3)
    dense = tiny_model("vit")
    model = in_form(DISABLED[block](), form)
    if block == "vit_tome":  # log(size = 1) adds exact zeros: bitwise equal
        assert torch.equal(run(model, x), run(dense, x))
    else:
        torch.testing.assert_close(run(model, x), run(dense, x), rtol=0, atol=ATOL)


@pytest.mark.parametrize("block", TOKEN_BLOCKS)
def test_forms_compute_the_same_function(block: str) -> None:
    x = images(3)
    model = tiny_model(block, **REDUCING[block])
    calibrate(model, images(8, seed=9))
    model.set_token_form(model.token_blocks()[0].TRAIN_FORM)
    with torch.no_grad():
        log = model.forward_tokens(x, record=True).log
    counts = torch.stack([m.sum(-1) for m in log])  # (token blocks, images)
    if block != "vit_tome":
        assert (counts[-1] < N - 2).all()  # the setting really reduces
    ref = run(model, x)
    for form in forms(block):
        caps = counts.amax(dim=1).int().tolist() if form == "fixed_count" else None
        model.set_token_form(form, caps)
        torch.testing.assert_close(run(model, x), ref, rtol=0, atol=ATOL)


@pytest.mark.parametrize("form", ["topk", "sort_free"])
def test_tome_sizes_sum_to_the_input_count(form: str) -> None:
    model = tiny_model("vit_tome", r=3)
    model.set_token_form(form)
    with torch.no_grad():
        t = model.forward_tokens(images(), record=True)
    assert t.x.shape[1] == N - 3 * 4 == t.size.shape[1]
    assert torch.equal(t.size.sum(-1), torch.full((2,), float(N)))
    assert torch.equal(t.size[:, 0], torch.ones(2))  # the class token holds only itself


@pytest.mark.parametrize("form", ["mask", "fixed_count", "dynamic"])
def test_ltmp_merged_sizes_sum_to_the_input_count(form: str) -> None:
    model = in_form(set_ltmp(tiny_model("vit_ltmp"), merge=0.0, prune=-1.0), form)  # merge only
    with torch.no_grad():
        for i in range(2):
            t = model.forward_tokens(images()[i : i + 1], record=True)
            alive = t.mask if t.mask is not None else torch.ones_like(t.size)
            assert alive.sum() < N / 2  # many merges happened
            assert (t.size * alive).sum().item() == pytest.approx(N, abs=1e-4)


@pytest.mark.parametrize(("block", "form"), [(b, f) for b in TOKEN_BLOCKS for f in forms(b)])
def test_class_token_is_never_merged_or_pruned(block: str, form: str) -> None:
    """With the most aggressive settings, every block keeps the class token in place, size 1, unchanged role."""
    if block == "vit_tome":
        model = tiny_model("vit_tome", r=100)  # clamped to the most merges a block allows
    elif block == "vit_ltmp":
        model = set_ltmp(tiny_model("vit_ltmp"), merge=-1.0, prune=1.0)
    else:
        model = tiny_model("vit_mlp_prune", skip_first=1, keep_ratio=1e-3)
        calibrate(model, images(4, seed=9))  # keeps no patch token
    in_form(model, form)
    with torch.no_grad():
        for i in range(2):
            t = model.forward_tokens(images()[i : i + 1], record=True)
            assert all(m[0, 0] == 1 for m in t.log)
            if block == "vit_mlp_prune":
                assert all(m[0, 1:].sum() == 0 for m in t.log)
            if block == "vit_ltmp":
                assert all(m.sum() == 1 for m in t.log)  # only the class token is left
            if t.size is not None:
                assert t.size[0, 0] == 1


def test_class_token_is_not_merged_even_as_the_best_match() -> None:
    from hwbench.blocks.tokens.merge import bipartite_match, merge

    x = torch.randn(2, 11, 8)
    keys = torch.randn(2, 11, 4)
    keys[:, 0] = keys[:, 1]  # the class token is B token 0's perfect match
    best, partner = bipartite_match(keys)
    assert torch.isinf(best[:, 0]).all()
    for form in ("topk", "sort_free"):
        out, size = merge(x, torch.ones(2, 11), best, partner, 5, form)  # type: ignore[arg-type]
        assert out.shape == (2, 6, 8) and torch.equal(out[:, 0], x[:, 0]) and torch.equal(size[:, 0], torch.ones(2))


@pytest.mark.parametrize(("form", "capacity"), [("mask", N), ("fixed_count", N), ("fixed_count", 6), ("dynamic", N)])
def test_pruned_tokens_are_unchanged_in_the_output_map(form: str, capacity: int) -> None:
    """The last block prunes; tokens it skips leave it bitwise unchanged, every token it processes changes."""
    model = tiny_model("vit_mlp_prune", depth=3, skip_first=2, keep_ratio=0.5)
    calibrate(model, images(4, seed=9))
    model.set_token_form(form, [capacity] if form == "fixed_count" else None)
    prune = model.blocks[2]
    with torch.no_grad():
        for i in range(2):
            tokens = model.embed(images()[i : i + 1])
            before = model.blocks[1].run(model.blocks[0].run(tokens))
            t = model.forward_tokens(images()[i : i + 1], record=True)
            logp = prune.selector(before)[0]
            processed = t.log[0][0] > 0
            assert 2 < processed.sum() < N - 2
            if capacity < N:  # tokens beyond the slots are skipped too (lowest keep scores)
                score = logp[:, 0] - logp[:, 1] + 1e9 * (torch.arange(N) == 0)
                processed &= score >= score.topk(capacity).values[-1]
            assert t.x.shape == before.shape  # skipped tokens stay in the feature map
            assert torch.equal(t.x[0, ~processed], before[0, ~processed])
            assert (t.x[0, processed] != before[0, processed]).any(dim=-1).all()


def test_ltmp_fixed_count_overflow_keeps_the_class_token() -> None:
    model = set_ltmp(tiny_model("vit_ltmp"), merge=0.0, prune=-1.0)
    model.set_token_form("fixed_count", [5, 4, 3, 2])
    with torch.no_grad():
        t = model.forward_tokens(images(), record=True)
    assert t.x.shape == (2, 2, 32) and torch.isfinite(t.x).all()
    assert torch.equal(t.mask[:, 0], torch.ones(2))


def test_ltmp_buffers_stay_packed() -> None:
    model = set_ltmp(tiny_model("vit_ltmp"), merge=0.2, prune=1.0 / N)
    with torch.no_grad():
        log = model.forward_tokens(images(), record=True).log
    assert any((m == 0).any() for m in log)
    for m in log:  # alive tokens first, then dead ones
        assert torch.equal(m, m.sort(dim=-1, descending=True).values)


def test_ltmp_training_forward_is_hard_and_equals_eval() -> None:
    model = set_ltmp(tiny_model("vit_ltmp"), merge=0.2, prune=1.0 / N)
    x = images()
    with torch.no_grad():
        ref = model(x)
        masks = model.forward_tokens(x, record=True).log
        model.train()
        for b in model.token_blocks():
            b.train_eps = 0.0  # the reference epsilon shifts near-threshold importances
        out = model(x)
    assert all(torch.equal(a, b) for a, b in zip(masks, model.last_log))
    torch.testing.assert_close(out, ref, rtol=0, atol=ATOL)


def test_ltmp_surrogate_gradient_reaches_the_thresholds() -> None:
    model = set_ltmp(tiny_model("vit_ltmp", flops_target=0.3), merge=0.2, prune=1.0 / N).train()
    logits = model(images())
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 2])) + model.auxiliary_loss()
    loss.backward()
    for b in model.token_blocks():
        for th in (b.merge_threshold, b.prune_threshold):
            assert th.grad is not None and torch.isfinite(th.grad) and th.grad != 0
    assert torch.isfinite(model.blocks[0].attn.qkv.weight.grad).all()


def test_pruner_training_samples_hard_masks_with_selector_gradients() -> None:
    model = tiny_model("vit_mlp_prune", skip_first=1).train()
    loss = torch.nn.functional.cross_entropy(model(images()), torch.tensor([1, 2])) + model.auxiliary_loss()
    loss.backward()
    assert all(set(m.unique().tolist()) <= {0.0, 1.0} for m in model.last_log)
    assert all((b.selector.fc2.weight.grad != 0).any() for b in model.token_blocks())


@pytest.mark.parametrize("block", ["vit", "vit_tome"])
def test_methods_without_a_loss_term_add_zero(block: str) -> None:
    model = tiny_model(block, **REDUCING[block]).train()
    model(images())
    assert model.auxiliary_loss().item() == 0.0


def test_set_form_rejects_forms_a_block_lacks() -> None:
    model = tiny_model("vit_tome", r=2)
    with pytest.raises(ValueError, match="has no form 'dynamic'"):
        model.set_token_form("dynamic")
    ltmp = tiny_model("vit_ltmp")
    with pytest.raises(ValueError, match="needs a capacity"):
        ltmp.set_token_form("fixed_count")


def test_masked_training_attention_is_finite_when_a_hidden_key_dominates() -> None:
    """A trained ViT's attention logits spread by thousands (the digits-det detector's: up to 3087): a hidden key
    far above every kept one must not overflow exp (inf · 0 = NaN) in the training form, nor in its gradients."""
    from hwbench.blocks.vit import Attention

    torch.manual_seed(0)
    attn = Attention(8, 2)
    with torch.no_grad():
        attn.qkv.weight[:16] *= 30.0  # q and k rows: logits ×900
    x = torch.randn(2, 6, 8, requires_grad=True)
    mask = torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]] * 2, requires_grad=True)
    attn.train()
    out, _, probs = attn(x, mask=mask)
    (out.square().sum()).backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all() and torch.isfinite(mask.grad).all()
    assert float(probs.detach()[..., mask[0] == 0].abs().max()) == 0.0  # hidden keys get no attention
    attn.eval()
    with torch.no_grad():
        want = attn(x, mask=mask.detach())[0]
    assert torch.allclose(out, want, atol=1e-4, rtol=1e-4)  # the training form computes the inference function
