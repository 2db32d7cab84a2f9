"""Token-reduced ViTs in the results table: the form each artifact uses, what it computes, and how it compares
with its dense counterpart (the same backbone with the plain block) measured on the same target."""

from __future__ import annotations

import json

import pandas as pd

from hwbench.store import Store

TOKEN_COLUMNS = [
    "token_form",
    "token_macs",
    "dense_arch_id",
    "dense_median_ms",
    "speedup_vs_dense",
    "slower_than_dense",
]


def add_token_columns(frame: pd.DataFrame, store: Store) -> pd.DataFrame:
    """Add TOKEN_COLUMNS (NaN outside the ViT family).

    `token_macs`: mean MACs the artifact's form computes on the inputs it was prepared on (the token count of
    LTMP and the pruner depends on the image). `speedup_vs_dense`: the dense counterpart's median over this
    network's, when the same sweeps measured it on the same target (sweep the `vit` space with the same seed:
    ViT spaces sharing a macro draw the same backbones). `slower_than_dense`: that speedup is below 1.
    """
    frame = frame.copy()
    for column in TOKEN_COLUMNS:
        frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    vit = frame["family"] == "vit"
    if not vit.any():
        return frame
    info = _export_infos(store, frame.loc[vit, "export_key"].dropna().unique().tolist())
    facts = [info.get(k, {}) for k in frame.loc[vit, "export_key"]]
    frame.loc[vit, "token_form"] = [f.get("token_form") for f in facts]
    frame.loc[vit, "token_macs"] = [_mean_macs(f) for f in facts]
    dense_ids = _dense_ids(store, frame.loc[vit, "arch_id"].unique().tolist())
    frame.loc[vit, "dense_arch_id"] = frame.loc[vit, "arch_id"].map(dense_ids)
    ok = frame[(frame["status"] == "ok") & vit]
    dense_ms = {(r.sweep, r.arch_id, r.target): r.median_ms for r in ok.itertuples()}
    reduced = vit & (frame["block"] != "vit")
    for i in frame.index[reduced]:
        row = frame.loc[i]
        ms = dense_ms.get((row["sweep"], row["dense_arch_id"], row["target"]))
        if ms is not None and row["status"] == "ok":
            frame.at[i, "dense_median_ms"] = ms
            frame.at[i, "speedup_vs_dense"] = ms / row["median_ms"]
            frame.at[i, "slower_than_dense"] = bool(ms < row["median_ms"])
    return frame


def _export_infos(store: Store, keys: list[str]) -> dict[str, dict]:
    if not keys:
        return {}
    rows = store.query(
        f"SELECT export_key, info_json FROM exports WHERE export_key IN ({','.join('?' for _ in keys)})", tuple(keys)
    )
    return {r["export_key"]: json.loads(r["info_json"] or "{}") for r in rows}


def _mean_macs(facts: dict) -> float | None:
    rows = facts.get("per_input") or []
    return sum(r["macs"] for r in rows) / len(rows) if rows else None


def _dense_ids(store: Store, arch_ids: list[str]) -> dict[str, str]:
    from hwbench.space.archspec import ArchSpec
    from hwbench.space.vit import dense_counterpart

    rows = store.query(
        f"SELECT arch_id, spec_json FROM archs WHERE arch_id IN ({','.join('?' for _ in arch_ids)})", tuple(arch_ids)
    )
    return {r["arch_id"]: dense_counterpart(ArchSpec.from_json(r["spec_json"])).arch_id for r in rows}
