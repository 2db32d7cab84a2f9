"""Token-reduced ViTs in the results table: the form each artifact uses, what it computes, and how it compares
with its dense counterpart (the same backbone with the plain block) measured on the same target."""

from __future__ import annotations

import json
import math
import statistics

import pandas as pd

from hwbench.store import Store

TOKEN_COLUMNS = [
    "token_form",
    "token_macs",
    "token_macs_min",
    "token_macs_max",
    "tokens_min",
    "tokens_max",
    "token_inputs",
    "image_p10_ms",
    "image_median_ms",
    "image_p90_ms",
    "images_timed",
    "image_noise_ms",
    "image_sd_ms",
    "dense_arch_id",
    "dense_median_ms",
    "speedup_vs_dense",
    "slower_than_dense",
]


def add_token_columns(frame: pd.DataFrame, store: Store) -> pd.DataFrame:
    """Add TOKEN_COLUMNS (NaN outside the ViT family).

    `token_macs` (`_min`, `_max`): mean (least, most) MACs the artifact's form computes over the images it was
    prepared on, whose source is `token_inputs` (a dataset, or "random (seeded)"); `tokens_min`/`_max`: the
    fewest and most tokens the token blocks process (summed over blocks) on one of those images.
    `image_p10_ms`/`image_median_ms`/`image_p90_ms`: for artifacts whose cost follows the image (`dynamic`),
    percentiles over `images_timed` images of each image's median batch-1 latency. Those medians mix two things:
    `image_noise_ms`, the measurement noise of one image's median (1.2533·s/√rounds, s the typical spread of an
    image's timings across rounds), and `image_sd_ms`, the image-to-image standard deviation with that noise
    removed (√max(0, var(medians) − noise²)); both NaN for measurements stored before rounds were summarised.
    `speedup_vs_dense`: the dense counterpart's median over this network's (its per-image median when it was
    timed image by image), when the same sweeps measured it on the same target (sweep the `vit` space with the
    same seed: ViT spaces sharing a macro draw the same backbones). `slower_than_dense`: that speedup is below 1.
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
    for column, values in _input_columns(facts).items():
        frame.loc[vit, column] = values
    timed = _per_image(store, frame.loc[vit, "measure_key"].dropna().unique().tolist())
    for column in ("p10_ms", "median_ms", "p90_ms"):
        frame.loc[vit, f"image_{column}"] = [timed.get(k, {}).get(column) for k in frame.loc[vit, "measure_key"]]
    frame.loc[vit, "images_timed"] = [timed.get(k, {}).get("count") for k in frame.loc[vit, "measure_key"]]
    split = [separate_image_variation(timed.get(k, {})) for k in frame.loc[vit, "measure_key"]]
    frame.loc[vit, "image_noise_ms"] = [noise for noise, _ in split]
    frame.loc[vit, "image_sd_ms"] = [sd for _, sd in split]
    dense_ids = _dense_ids(store, frame.loc[vit, "arch_id"].unique().tolist())
    frame.loc[vit, "dense_arch_id"] = frame.loc[vit, "arch_id"].map(dense_ids)
    ok = frame[(frame["status"] == "ok") & vit]
    dense_ms = {(r.sweep, r.arch_id, r.target): r.median_ms for r in ok.itertuples()}
    reduced = vit & (frame["block"] != "vit")
    for i in frame.index[reduced]:
        row = frame.loc[i]
        ms = dense_ms.get((row["sweep"], row["dense_arch_id"], row["target"]))
        if ms is not None and row["status"] == "ok":
            own = row["image_median_ms"] if pd.notna(row["image_median_ms"]) else row["median_ms"]
            frame.at[i, "dense_median_ms"] = ms
            frame.at[i, "speedup_vs_dense"] = ms / own
            frame.at[i, "slower_than_dense"] = bool(ms < own)
    return frame


def separate_image_variation(per_image: dict) -> tuple[float | None, float | None]:
    """(measurement-noise sd of one image's median, image-to-image sd without that noise) from a per-image
    summary; (None, None) when it lacks the per-round spread or has fewer than two images."""
    medians, spread, rounds = per_image.get("image_median_ms"), per_image.get("round_sd_ms"), per_image.get("rounds")
    if not medians or len(medians) < 2 or spread is None or not rounds:
        return None, None
    noise = 1.2533 * float(spread) / math.sqrt(int(rounds))  # sd of a median of `rounds` timings
    total = statistics.variance(float(m) for m in medians)
    return noise, math.sqrt(max(0.0, total - noise * noise))


def _export_infos(store: Store, keys: list[str]) -> dict[str, dict]:
    if not keys:
        return {}
    rows = store.query(
        f"SELECT export_key, info_json FROM exports WHERE export_key IN ({','.join('?' for _ in keys)})", tuple(keys)
    )
    return {r["export_key"]: json.loads(r["info_json"] or "{}") for r in rows}


def _input_columns(facts: list[dict]) -> dict[str, list]:
    """MACs and token-count ranges over the images each artifact was prepared on, and their source."""
    columns: dict[str, list] = {c: [] for c in ("token_macs", "token_macs_min", "token_macs_max")}
    columns.update(tokens_min=[], tokens_max=[], token_inputs=[])
    for f in facts:
        rows = f.get("per_input") or []
        macs = [r["macs"] for r in rows]
        tokens = [sum(r["tokens"]) for r in rows if r["tokens"]]
        columns["token_macs"].append(sum(macs) / len(macs) if macs else None)
        columns["token_macs_min"].append(min(macs) if macs else None)
        columns["token_macs_max"].append(max(macs) if macs else None)
        columns["tokens_min"].append(min(tokens) if tokens else None)
        columns["tokens_max"].append(max(tokens) if tokens else None)
        columns["token_inputs"].append((f.get("calibration_images") or {}).get("source"))
    return columns


def _per_image(store: Store, keys: list[str]) -> dict[str, dict]:
    """Per-image latency summaries of the measurements that timed images one by one."""
    if not keys:
        return {}
    rows = store.query(
        f"SELECT measure_key, info_json FROM measurements WHERE measure_key IN ({','.join('?' for _ in keys)})",
        tuple(keys),
    )
    found = {r["measure_key"]: json.loads(r["info_json"] or "{}").get("per_image") or {} for r in rows}
    return {k: v for k, v in found.items() if "median_ms" in v}


def _dense_ids(store: Store, arch_ids: list[str]) -> dict[str, str]:
    from hwbench.space.archspec import ArchSpec
    from hwbench.space.vit import dense_counterpart

    rows = store.query(
        f"SELECT arch_id, spec_json FROM archs WHERE arch_id IN ({','.join('?' for _ in arch_ids)})", tuple(arch_ids)
    )
    return {r["arch_id"]: dense_counterpart(ArchSpec.from_json(r["spec_json"])).arch_id for r in rows}
