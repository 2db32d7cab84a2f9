"""Versioned SQLite schema. Each migration is applied once, in order, inside a transaction."""

from __future__ import annotations

SCHEMA_VERSION_KEY = "schema_version"

# One key, one record: every table's primary key is what produced the row (DESIGN.md §1).
MIGRATIONS: list[str] = [
    # 1: sweeps, architectures, exports, measurements and the links that say which belong to a sweep.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sweeps (
        name TEXT PRIMARY KEY, seed INTEGER NOT NULL, created_at TEXT NOT NULL, config_json TEXT NOT NULL
    );
    CREATE TABLE archs (
        arch_id TEXT PRIMARY KEY, family TEXT NOT NULL, block TEXT NOT NULL, spec_json TEXT NOT NULL,
        macs INTEGER, params INTEGER, acts INTEGER, created_at TEXT NOT NULL
    );
    CREATE TABLE sweep_archs (
        sweep TEXT NOT NULL REFERENCES sweeps(name), space TEXT NOT NULL, sample_index INTEGER NOT NULL,
        arch_id TEXT NOT NULL REFERENCES archs(arch_id), space_file TEXT,
        PRIMARY KEY (sweep, space, sample_index)
    );
    CREATE TABLE sweep_targets (
        sweep TEXT NOT NULL REFERENCES sweeps(name), target TEXT NOT NULL, target_file TEXT,
        config_json TEXT NOT NULL, PRIMARY KEY (sweep, target)
    );
    CREATE TABLE provenance (prov_id TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE exports (
        export_key TEXT PRIMARY KEY, arch_id TEXT NOT NULL REFERENCES archs(arch_id), format TEXT NOT NULL,
        profile_json TEXT NOT NULL, status TEXT NOT NULL, error TEXT, artifact_hash TEXT, extension TEXT,
        export_seconds REAL, parity_ok INTEGER, max_abs_err REAL, max_rel_err REAL, ops_json TEXT,
        info_json TEXT, prov_id TEXT REFERENCES provenance(prov_id), created_at TEXT NOT NULL
    );
    CREATE INDEX exports_artifact ON exports(artifact_hash);
    CREATE TABLE measurements (
        measure_key TEXT PRIMARY KEY, artifact_hash TEXT NOT NULL, target_fp TEXT NOT NULL,
        target TEXT NOT NULL, settings_json TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
        median_ms REAL, mean_ms REAL, std_ms REAL, cov REAL, min_ms REAL, p10_ms REAL, p90_ms REAL,
        p99_ms REAL, ci_low_ms REAL, ci_high_ms REAL, rel_ci REAL, n_runs INTEGER, converged INTEGER,
        stop_reason TEXT, warmup_runs INTEGER, device_seconds REAL, queue_seconds REAL, order_index INTEGER,
        samples BLOB, info_json TEXT, prov_id TEXT REFERENCES provenance(prov_id),
        started_at TEXT, finished_at TEXT
    );
    CREATE TABLE runs (
        sweep TEXT NOT NULL REFERENCES sweeps(name), arch_id TEXT NOT NULL REFERENCES archs(arch_id),
        target TEXT NOT NULL, export_key TEXT REFERENCES exports(export_key),
        measure_key TEXT REFERENCES measurements(measure_key), updated_at TEXT NOT NULL,
        PRIMARY KEY (sweep, arch_id, target)
    );
    """,
    # 2: accuracies (trained, imported, or measured on an exported artifact) and which sweep uses which.
    """
    CREATE TABLE accuracies (
        acc_key TEXT PRIMARY KEY, arch_id TEXT NOT NULL REFERENCES archs(arch_id), dataset TEXT NOT NULL,
        dataset_id TEXT NOT NULL, schedule TEXT NOT NULL, schedule_hash TEXT NOT NULL,
        evaluated_on TEXT NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
        top1 REAL, top5 REAL, loss REAL, train_seconds REAL, images_per_second REAL, final_train_loss REAL,
        curve_json TEXT, info_json TEXT, prov_id TEXT REFERENCES provenance(prov_id), created_at TEXT NOT NULL
    );
    CREATE INDEX accuracies_arch ON accuracies(arch_id);
    CREATE TABLE sweep_accuracy (
        sweep TEXT NOT NULL REFERENCES sweeps(name), arch_id TEXT NOT NULL REFERENCES archs(arch_id),
        acc_key TEXT NOT NULL REFERENCES accuracies(acc_key), PRIMARY KEY (sweep, arch_id, acc_key)
    );
    """,
    # 3: measurement you can trust: rounds, interference, disturbed flag (docs/measurement.md). A round's row is
    # kept until its network's final measurement is written from all rounds, so an interrupted sweep resumes
    # mid-round without measuring a finished round twice.
    """
    ALTER TABLE measurements ADD COLUMN disturbed INTEGER;
    ALTER TABLE measurements ADD COLUMN disturbed_reason TEXT;
    ALTER TABLE measurements ADD COLUMN rounds INTEGER;
    ALTER TABLE measurements ADD COLUMN n_eff REAL;
    ALTER TABLE measurements ADD COLUMN foreign_share REAL;
    ALTER TABLE measurements ADD COLUMN canary_drift REAL;
    CREATE TABLE measurement_rounds (
        measure_key TEXT NOT NULL, round INTEGER NOT NULL, attempts INTEGER NOT NULL, status TEXT NOT NULL,
        error TEXT, disturbed INTEGER, disturbed_reason TEXT, median_ms REAL, ci_low_ms REAL, ci_high_ms REAL,
        n_runs INTEGER, n_eff REAL, converged INTEGER, stop_reason TEXT, warmup_runs INTEGER,
        device_seconds REAL, foreign_share REAL, canary_drift REAL, samples BLOB, result_json TEXT,
        started_at TEXT, finished_at TEXT, PRIMARY KEY (measure_key, round)
    );
    """,
    # 4: detection (docs/detection.md): mAP beside top-1, each detector's boxes and head MACs, and latency in parts
    # (graph, NMS, end to end) timed on dataset images with trained weights, keyed by what produced it.
    """
    ALTER TABLE accuracies ADD COLUMN map REAL;
    ALTER TABLE accuracies ADD COLUMN map50 REAL;
    ALTER TABLE accuracies ADD COLUMN map75 REAL;
    ALTER TABLE accuracies ADD COLUMN map_small REAL;
    ALTER TABLE accuracies ADD COLUMN map_medium REAL;
    ALTER TABLE accuracies ADD COLUMN map_large REAL;
    ALTER TABLE archs ADD COLUMN boxes INTEGER;
    ALTER TABLE archs ADD COLUMN head_macs INTEGER;
    CREATE TABLE detection_timings (
        timing_key TEXT PRIMARY KEY, arch_id TEXT NOT NULL REFERENCES archs(arch_id), target TEXT NOT NULL,
        target_fp TEXT NOT NULL, acc_key TEXT NOT NULL, artifact_hash TEXT, placement TEXT NOT NULL,
        nms_json TEXT NOT NULL, status TEXT NOT NULL, error TEXT, images INTEGER, rounds INTEGER,
        graph_ms REAL, nms_ms REAL, e2e_ms REAL, graph_p10_ms REAL, graph_p90_ms REAL, nms_p10_ms REAL,
        nms_p90_ms REAL, e2e_p10_ms REAL, e2e_p90_ms REAL, boxes_before INTEGER, boxes_above REAL, boxes_kept REAL,
        nms_ms_per_1000 REAL, info_json TEXT, prov_id TEXT REFERENCES provenance(prov_id), created_at TEXT NOT NULL
    );
    CREATE TABLE sweep_detection_timings (
        sweep TEXT NOT NULL REFERENCES sweeps(name), arch_id TEXT NOT NULL REFERENCES archs(arch_id),
        target TEXT NOT NULL, timing_key TEXT NOT NULL REFERENCES detection_timings(timing_key),
        PRIMARY KEY (sweep, arch_id, target)
    );
    """,
    # 5: how sure a mAP is (a percentile bootstrap over evaluation images, docs/detection.md), and the mAP of the
    # exported artifact each target timed (an int8 artifact scores its own mAP, not PyTorch's).
    """
    ALTER TABLE accuracies ADD COLUMN map_ci_low REAL;
    ALTER TABLE accuracies ADD COLUMN map_ci_high REAL;
    ALTER TABLE detection_timings ADD COLUMN artifact_map REAL;
    ALTER TABLE detection_timings ADD COLUMN artifact_map50 REAL;
    ALTER TABLE detection_timings ADD COLUMN artifact_map_ci_low REAL;
    ALTER TABLE detection_timings ADD COLUMN artifact_map_ci_high REAL;
    ALTER TABLE detection_timings ADD COLUMN artifact_images INTEGER;
    """,
    # 6: anchor pruning (docs/anchor-pruning.md): every anchor set scored (by evaluation key: weights, split, NMS),
    # every search with its visiting order and front, and the front's pruned detectors measured on targets.
    """
    CREATE TABLE anchor_nodes (
        eval_key TEXT NOT NULL, removed TEXT NOT NULL, anchors INTEGER NOT NULL, map REAL, map50 REAL,
        boxes INTEGER, head_macs INTEGER, macs INTEGER, mean_candidates REAL, mean_kept REAL, metrics_json TEXT,
        created_at TEXT NOT NULL, PRIMARY KEY (eval_key, removed)
    );
    CREATE TABLE anchor_searches (
        search_key TEXT PRIMARY KEY, sweep TEXT NOT NULL, arch_id TEXT NOT NULL REFERENCES archs(arch_id),
        acc_key TEXT NOT NULL, eval_key TEXT NOT NULL, strategy TEXT NOT NULL, cost TEXT NOT NULL,
        min_map REAL NOT NULL, max_nodes INTEGER NOT NULL, status TEXT NOT NULL, exhausted INTEGER,
        visited_json TEXT, front_json TEXT, info_json TEXT, created_at TEXT NOT NULL
    );
    CREATE TABLE anchor_measurements (
        search_key TEXT NOT NULL, removed TEXT NOT NULL, variant TEXT NOT NULL, target TEXT NOT NULL,
        target_fp TEXT NOT NULL, status TEXT NOT NULL, error TEXT, map REAL, graph_ms REAL, nms_ms REAL,
        e2e_ms REAL, predicted_graph_ms REAL, predicted_nms_ms REAL, predicted_e2e_ms REAL, artifact_map REAL,
        info_json TEXT, prov_id TEXT REFERENCES provenance(prov_id), created_at TEXT NOT NULL,
        PRIMARY KEY (search_key, removed, variant, target, target_fp)
    );
    """,
    # 7: modelled targets (docs/modelled-targets.md): figures an analytical accelerator model (ZigZag) gives for an
    # exported artifact, keyed like measurements (artifact × target fingerprint × settings) but of kind `modelled`
    # and kept in their own table, so no view reads one for a measurement; and the cache of costed layers, keyed by
    # layer signature × accelerator × mapping × settings × model version, shared by every network and sweep.
    """
    CREATE TABLE modelled (
        model_key TEXT PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'modelled', artifact_hash TEXT NOT NULL,
        target_fp TEXT NOT NULL, target TEXT NOT NULL, settings_json TEXT NOT NULL, status TEXT NOT NULL,
        error TEXT, cycles REAL, latency_ms REAL, energy_uj REAL, utilisation REAL, spatial_utilisation REAL,
        macs INTEGER, costed_macs INTEGER, mac_coverage REAL, n_layers INTEGER, layers_cached INTEGER,
        layers_costed INTEGER, model_seconds REAL, layers_json TEXT, coverage_json TEXT, info_json TEXT,
        prov_id TEXT REFERENCES provenance(prov_id), created_at TEXT NOT NULL
    );
    CREATE TABLE sweep_modelled (
        sweep TEXT NOT NULL REFERENCES sweeps(name), arch_id TEXT NOT NULL REFERENCES archs(arch_id),
        target TEXT NOT NULL, model_key TEXT NOT NULL REFERENCES modelled(model_key),
        PRIMARY KEY (sweep, arch_id, target)
    );
    CREATE TABLE modelled_layers (layer_key TEXT PRIMARY KEY, cost_json TEXT NOT NULL, created_at TEXT NOT NULL);
    """,
    # 8: the machine's speed behind each result (docs/measurement.md): the canary of the target block that measured
    # it (kind, median, count of timings, their relative spread), kept on the measurement because measurements are
    # reused across sweeps; and detection timings judged for disturbance like measurements. Older rows: NULL.
    """
    ALTER TABLE measurements ADD COLUMN canary_kind TEXT;
    ALTER TABLE measurements ADD COLUMN canary_ms REAL;
    ALTER TABLE measurements ADD COLUMN canary_n INTEGER;
    ALTER TABLE measurements ADD COLUMN canary_rel_sd REAL;
    ALTER TABLE detection_timings ADD COLUMN disturbed INTEGER;
    ALTER TABLE detection_timings ADD COLUMN disturbed_reason TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
