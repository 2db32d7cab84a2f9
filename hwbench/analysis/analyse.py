"""Every analysis of the pre-selection report in one call, as DataFrames, from the store or a results table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hwbench.analysis import (
    conversion,
    correlation,
    edf,
    gap,
    iso,
    noisy,
    overview,
    pareto,
    ranking,
    recommend,
    reference,
    stage_blocks,
)
from hwbench.analysis.data import Quality, accuracy_basis, choose_quality, usable, with_accuracy_ci, with_quality
from hwbench.analysis.median_noise import noise_table
from hwbench.analysis.provenance import provenance_table, provenance_warnings
from hwbench.analysis.rank_agreement import rank_agreement
from hwbench.analysis.stepfront import TargetFronts, target_fronts
from hwbench.errors import HwbenchError


@dataclass(frozen=True)
class Options:
    """Knobs of the analysis (the report's CLI options map onto these)."""

    n_boot: int = 1000  # bootstrap replicates (0: no confidence intervals)
    confidence: float = 0.95  # of intervals, the bootstrap support a drop needs; 1 - it: Holm level of "faster"
    cov_threshold: float = 0.10  # a result with a larger robust CoV (p10–p90 spread) is flagged noisy
    seed: int = 0  # of the bootstrap streams
    front_m: int = 3  # networks per best-of-m draw: fronts compare the expected best of m (docs/statistics.md)
    edf_bins: int = 10  # complexity bins of the normalised EDF
    group: str = "block"  # what a "block" is: the `block` column, or e.g. `space`
    proxy: str = "macs"  # capacity proxy when there is no accuracy: macs or params
    latency_tolerance: float = 0.02  # a block is covered when the kept ones are at most this much slower anywhere
    quality_tolerance: float | None = None  # top-end reach (None: 0.005 accuracy, i.e. 0.5 points; 5% complexity)

    def __post_init__(self) -> None:
        checks = {
            "n_boot": self.n_boot >= 0,
            "confidence": 0 < self.confidence < 1,
            "cov_threshold": self.cov_threshold > 0,
            "front_m": self.front_m >= 1,
            "edf_bins": self.edf_bins >= 1,
            "proxy": self.proxy in ("macs", "params"),
            "latency_tolerance": self.latency_tolerance >= 0,
            "quality_tolerance": self.quality_tolerance is None or self.quality_tolerance >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise HwbenchError(f"analysis option {name}: invalid value {getattr(self, name)!r}")


def make_options(**values: Any) -> Options:
    """Options from keyword arguments; an unknown name is a clear error."""
    from dataclasses import fields

    from hwbench.registry import unknown_name_message

    valid = [f.name for f in fields(Options)]
    for name in values:
        if name not in valid:
            raise HwbenchError(unknown_name_message("analysis option", name, valid))
    return Options(**values)


@dataclass
class Analysis:
    """The report's content: tables by name (see docs/report.md), the fronts behind them, warnings and notes."""

    sweeps: list[str]
    options: Options
    quality: Quality  # the quality axis of the fronts: accuracy, or the complexity proxy
    fronts: dict[str, TargetFronts]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def has_accuracy(self) -> bool:
        """True when the fronts use measured accuracy."""
        return self.quality.is_accuracy

    @property
    def quality_tolerance(self) -> float:
        """The top-end reach tolerance in use (the option, or the quality axis's default)."""
        tol = self.options.quality_tolerance
        return self.quality.default_tolerance() if tol is None else tol

    @property
    def targets(self) -> list[str]:
        """Every target with results, sorted."""
        return sorted(self.tables["results"]["target"].unique())


def analyse(store: Any, sweeps: list[str], options: Options | None = None) -> Analysis:
    """Read the sweeps' results, raw samples and provenance from the store and run every analysis."""
    from hwbench.analysis.median_noise import load_samples
    from hwbench.analysis.provenance import load_provenance
    from hwbench.analysis.table import require_rows, results_frame

    options = options or Options()
    frame = results_frame(store, sweeps)
    require_rows(frame, sweeps)
    samples = load_samples(store, sweeps) if options.n_boot else {}
    docs = load_provenance(store, frame["prov_id"].dropna().unique().tolist())
    return analyse_frame(frame, samples, docs, options, sweeps)


def analyse_frame(
    frame: pd.DataFrame,
    samples: dict[str, bytes] | None = None,
    provenance: dict[str, dict[str, Any]] | None = None,
    options: Options | None = None,
    sweeps: list[str] | None = None,
) -> Analysis:
    """Run every analysis on a results table (hb.results(...) or one made by hand)."""
    options = options or Options()
    if options.group not in frame:
        raise HwbenchError(f"analysis option group: no column {options.group!r} in the results")
    frame = frame.assign(group=frame[options.group].astype(str))
    frame = with_accuracy_ci(frame, options.confidence)  # each accuracy's binomial interval, in results.csv
    # Reference networks (sweep --reference) are compared with every block's front and belong to none of them.
    frame = frame if "reference" in frame else reference.add_reference_column(frame)
    is_ref = reference.reference_mask(frame)
    population = frame[~is_ref]
    data, notes = usable(population, options.group)
    quality = choose_quality(data, options.proxy)
    scored = with_quality(data, quality).reset_index(drop=True)
    noise = noise_table(scored, samples or {}) if options.n_boot and len(scored) else None
    fronts = target_fronts(scored, quality, noise, options.n_boot, options.seed, options.front_m)
    result = Analysis(sweeps or sorted(frame["sweep"].unique()), options, quality, fronts, notes=notes)
    result.tables.update(_tables(population, data, scored, result, provenance or {}))
    result.tables["results"] = frame.drop(columns=["group"])
    result.tables["references"] = _references(frame[is_ref], result, samples or {})
    result.tables["stage_blocks"] = stage_blocks.stage_preference(scored, quality.column)
    result.warnings += provenance_warnings(result.tables["provenance"])
    result.notes += conversion.failure_notes(frame)
    result.notes += _coverage_notes(data, quality) + _sample_notes(fronts)
    return result


def _references(rows: pd.DataFrame, a: Analysis, samples: dict[str, bytes]) -> pd.DataFrame:
    """Every reference against every block's front per target, with Holm over all of them, and its sentence."""
    o = a.options
    refs, _ = usable(rows, o.group)
    if refs.empty:
        return pd.DataFrame(columns=[*reference.REFERENCE_COLUMNS, "p_holm", "faster", "sentence"])
    noise = noise_table(refs, samples) if o.n_boot else None
    table = reference.reference_table(a.fronts, refs, a.quality, noise, o.confidence)
    table = reference.with_verdicts(table, 1 - o.confidence)
    table["sentence"] = [reference.reference_sentence(r, a.quality, o.front_m) for _, r in table.iterrows()]
    return table


def _tables(
    frame: pd.DataFrame, data: pd.DataFrame, scored: pd.DataFrame, a: Analysis, docs: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """Every table of the report, by name."""
    o, q = a.options, a.quality
    t: dict[str, pd.DataFrame] = {"results": frame.drop(columns=["group"])}
    t["overview"] = overview.block_overview(frame, data)
    qualities = [q.column] if q.is_accuracy else ["macs", "params"]
    costs = ["median_ms", "macs", "params"] if q.is_accuracy else ["median_ms"]
    t["fronts"] = pd.concat(
        [pareto.front_table(with_quality(data, _q(qc, q)), qc, c) for qc in qualities for c in costs],
        ignore_index=True,
    )
    t["shares"] = pareto.front_shares(scored, q.column, q.log)
    pairs = [iso.pair_tables(tf, o.confidence) for tf in a.fronts.values()]
    t["speedup_curves"] = _concat([p[0] for p in pairs], iso.PAIR_CURVE_COLUMNS)
    t["speedups"] = _concat([p[1] for p in pairs], iso.PAIR_COLUMNS)
    t["speedups"] = _with_holm(t["speedups"], 1 - o.confidence)
    t["speedups"]["sentence"] = [
        iso.speedup_sentence(r, q, r["target"], 1 - o.confidence) for _, r in t["speedups"].iterrows()
    ]
    t["slowdown"] = _concat([iso.slowdown_curves(tf, o.confidence) for tf in a.fronts.values()], iso.SLOWDOWN_COLUMNS)
    gaps = [gap.gap_tables(tf, o.confidence) for tf in a.fronts.values()] if q.is_accuracy else []
    t["gap_curves"] = _concat([g[0] for g in gaps], gap.CURVE_COLUMNS)
    t["gaps"] = _concat([g[1] for g in gaps], gap.GAP_COLUMNS)
    t["edf"], t["edf_summary"] = (
        edf.edf_tables(frame, k=o.edf_bins, confidence=o.confidence) if q.is_accuracy else (pd.DataFrame(),) * 2
    )
    t["correlation"] = correlation.proxy_correlation(data, confidence=o.confidence)
    t["correlation_by_block"] = correlation.proxy_correlation(data, by=("target", "group"))
    t["ranks"], t["rank_stability"] = ranking.rank_tables(a.fronts)
    t["rank_agreement"] = rank_agreement(scored, q.column, o.n_boot, o.seed, o.confidence)
    t["accuracy_basis"] = accuracy_basis(frame)
    t["noisy"] = noisy.noisy_results(data, o.cov_threshold)
    t["noise_summary"] = noisy.noise_summary(data, t["noisy"])
    t["dominance"] = _concat(
        [recommend.dominance_table(tf, o.latency_tolerance, o.quality_tolerance) for tf in a.fronts.values()],
        recommend.DOMINANCE_COLUMNS,
    )
    t["recommendations"] = _recommendations(frame, t["shares"], a)
    t["provenance"] = provenance_table(data, docs)
    t["conversion"] = conversion.conversion_summary(frame)
    return t


def _with_holm(pairs: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Holm-adjusted p-values over every pair of every target in the report, and which block is called faster:
    the family-wise error of all "faster" sentences together stays below alpha."""
    from hwbench.analysis.inference import holm

    pairs = pairs.copy()
    pairs["p_holm"] = holm(pairs["p_value"].to_numpy(dtype=float)) if len(pairs) else []
    faster = []
    for r in pairs.itertuples():
        shown = np.isfinite(r.p_holm) and r.p_holm < alpha and not r.geo_ci_low <= 1 <= r.geo_ci_high
        faster.append((r.block_x if r.geomean_speedup > 1 else r.block_y) if shown else "")
    pairs["faster"] = faster
    return pairs


def _q(column: str, quality: Quality) -> Quality:
    from hwbench.analysis.data import PROXIES

    return quality if column == quality.column else PROXIES[column]


def _concat(frames: list[pd.DataFrame], columns: list[str] | None = None) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _recommendations(frame: pd.DataFrame, shares: pd.DataFrame, a: Analysis) -> pd.DataFrame:
    """Per target, a verdict for every block that has results there, measured or not."""
    o, out = a.options, []
    for target in sorted(frame["target"].unique()):
        groups = sorted(frame.loc[frame["target"] == target, "group"].unique())
        tf = a.fronts.get(target) or TargetFronts(target, a.quality, np.empty(0))
        part = shares[shares["target"] == target]
        out.append(recommend.recommend(tf, part, groups, o.confidence, o.latency_tolerance, o.quality_tolerance))
    return _concat(out, recommend.RECOMMEND_COLUMNS)


def _sample_notes(fronts: dict[str, TargetFronts]) -> list[str]:
    """Blocks too small for a verdict or an estimate, per target, in words."""
    from hwbench.analysis.recommend import MIN_NETWORKS
    from hwbench.analysis.stepfront import REACH

    notes = []
    for target, tf in sorted(fronts.items()):
        small = [f"{b} ({f.n})" for b, f in sorted(tf.blocks.items()) if f.n < MIN_NETWORKS]
        if small:
            notes.append(
                f"On {target}, {', '.join(small)} have fewer than {MIN_NETWORKS} networks: no keep/drop verdict for "
                f"them (bootstrap support is unstable at that size), and below {REACH * tf.m} networks no "
                f"best-of-{tf.m} curve at all (docs/statistics.md)"
            )
    return notes


def _coverage_notes(data: pd.DataFrame, quality: Quality) -> list[str]:
    """What the accuracy views leave out, in words."""
    notes = []
    if not quality.is_accuracy:
        notes.append(
            "The store has no accuracy for these sweeps: accuracy views (iso-accuracy speedups, accuracy gaps, "
            f"EDFs) are not shown, and fronts and recommendations use {quality.label} instead."
        )
        return notes
    missing = data[data[quality.column].isna()]
    for group, part in missing.groupby("group", sort=True):
        notes.append(
            f"{part['arch_id'].nunique()} network(s) of {group} have no accuracy and are left out of the accuracy views"
        )
    return notes
