"""Token merging and pruning operators (torch) and the deploy forms they export in (this module: torch-free).

A token-reduced ViT block computes one function in several *forms* that differ only in how the tensors are
shaped, so that every runtime gets a form it can run (docs/vit.md):

- `topk`: ToMe with TopK / gather / scatter-add (ONNX, PyTorch; litert-torch cannot convert a sort).
- `sort_free`: ToMe ranked by pairwise comparisons, positions by cumulative sums, gather/scatter as
  int32 index_select and one-hot matrix products: static shapes, runs everywhere.
- `dynamic`: LTMP and the MLP pruner drop (or skip) exactly the tokens they decide to, batch 1; the token
  count follows the image (ONNX, PyTorch; litert-torch cannot convert data-dependent shapes).
- `fixed_count`: the same decisions, then a fixed number of token slots per block (calibrated), filled
  sort-free: static shapes, runs everywhere; an image that wants more tokens than a slot count loses the least
  important ones.
- `mask`: every token is computed and the decisions are masks (the training form; saves no compute).
"""

from __future__ import annotations

from collections.abc import Mapping

FORMS = ("topk", "sort_free", "dynamic", "fixed_count", "mask")
# Forms with shapes fixed at export time and no sort: litert-torch converts them and LiteRT runs them.
STATIC_FORMS = ("sort_free", "fixed_count", "mask")
# Profile values besides the form names: `auto` = the block's best form for the export format,
# `static` = its best static form.
ALIASES = ("auto", "static")
# Export formats whose converters handle top-k and data-dependent token counts (measured: docs/vit.md).
DYNAMIC_FORMATS = ("onnx", "torch")

TokenFormSetting = str | Mapping[str, str]

# Operators a form needs beyond a plain ViT's, named in a failed export's error (converters lacking them).
FORM_OPS = {
    "topk": "TopK/sort ranking with GatherElements and ScatterElements",
    "dynamic": "NonZero: a data-dependent token count",
}


def check_setting(setting: TokenFormSetting) -> None:
    """Validate a profile's `token_form` value (a name, or a mapping block → name); raise ValueError."""
    values = setting.values() if isinstance(setting, Mapping) else [setting]
    for value in values:
        if value not in FORMS + ALIASES:
            raise ValueError(f"unknown token form {value!r}; valid: {', '.join(ALIASES + FORMS)}")
    if isinstance(setting, Mapping):
        from hwbench.blocks import block_names, get_block
        from hwbench.registry import unknown_name_message

        names = [n for n in block_names("vit") if len(get_block(n).token_forms) > 1]
        for block, value in setting.items():
            if block not in names:
                raise ValueError(unknown_name_message("token-reduced block", block, names))
            forms = get_block(block).token_forms
            if value not in forms + ALIASES:
                raise ValueError(f"block {block!r} has no token form {value!r}; it has {', '.join(forms)}")


def resolve_form(block: str, forms: tuple[str, ...], setting: TokenFormSetting, fmt: str) -> str:
    """The form a block is exported in: `forms` are the block's own, best first; raise ValueError if absent."""
    if len(forms) <= 1:  # a dense block has nothing to choose
        return forms[0] if forms else "dense"
    wanted = setting.get(block, "auto") if isinstance(setting, Mapping) else setting
    if wanted == "auto":
        wanted = "any" if fmt in DYNAMIC_FORMATS else "static"
    if wanted == "any":
        return forms[0]
    if wanted == "static":
        return next(f for f in forms if f in STATIC_FORMS)
    if wanted not in forms:
        raise ValueError(f"block {block!r} has no token form {wanted!r}; it has {', '.join(forms)}")
    return wanted
