"""The SQLite store: schema versions, WAL, idempotent inserts, refusing a changed space, clear errors."""

import sqlite3
from pathlib import Path

import pytest

from hwbench.errors import HwbenchError
from hwbench.store import Store
from hwbench.store.schema import SCHEMA_VERSION

CX = {"macs": 1, "params": 2, "acts": 3}


def test_new_store_has_schema_and_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    assert store.query("SELECT value FROM meta WHERE key='schema_version'")[0][0] == str(SCHEMA_VERSION)
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    store.close()
    Store(tmp_path / "s.sqlite").close()  # reopening applies nothing twice


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    store.close()
    with pytest.raises(HwbenchError, match="newer than this hwbench"):
        Store(tmp_path / "s.sqlite")


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HwbenchError, match="not a usable hwbench store"):
        Store(path)


def test_missing_store_when_reading(tmp_path: Path) -> None:
    with pytest.raises(HwbenchError, match="no results store here"):
        Store(tmp_path / "none.sqlite", create=False)


def test_seed_mismatch_and_changed_space(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.ensure_sweep("a", 0, {})
    with pytest.raises(HwbenchError, match="already exists with seed 0"):
        store.ensure_sweep("a", 1, {})
    store.put_arch("x1", "cnn", "mbconv", "{}", CX)
    store.put_arch("x1", "cnn", "mbconv", "{}", CX)  # idempotent
    store.put_arch("x2", "cnn", "mbconv", "{}", CX)
    store.link_arch("a", "space", 0, "x1", "space.yaml")
    store.link_arch("a", "space", 0, "x1", "space.yaml")
    with pytest.raises(HwbenchError, match="space 'space' changed since sweep 'a'"):
        store.link_arch("a", "space", 0, "x2", "space.yaml")
    assert len(store.query("SELECT * FROM archs")) == 2


def test_measurement_and_link_are_one_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.ensure_sweep("a", 0, {})
    store.put_arch("x1", "cnn", "mbconv", "{}", CX)
    row = {
        "measure_key": "m1",
        "artifact_hash": "h",
        "target_fp": "fp",
        "target": "t",
        "settings_json": {},
        "status": "ok",
        "median_ms": 1.0,
    }
    with pytest.raises(sqlite3.IntegrityError):  # the export it links to does not exist: nothing is kept
        store.put_measurement(row, {"machine": {}}, ("a", "x1", "t", "missing-export", "m1"))
    assert store.get_measurement("m1") is None
    store.put_measurement(row, {"machine": {}}, ("a", "x1", "t", None, "m1"))
    assert store.get_measurement("m1")["median_ms"] == 1.0
    assert len(store.query("SELECT * FROM runs")) == 1


def test_a_schema_7_store_gains_the_canary_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    from hwbench.store.schema import MIGRATIONS

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    for migration in MIGRATIONS[:7]:
        db.executescript(migration)
    db.execute("INSERT INTO meta VALUES ('schema_version', '7')")
    db.execute(
        "INSERT INTO measurements (measure_key, artifact_hash, target_fp, target, settings_json, status, median_ms) "
        "VALUES ('m', 'h', 'fp', 't', '{}', 'ok', 1.5)"
    )
    db.commit()
    db.close()
    store = Store(path)
    assert SCHEMA_VERSION == 8
    assert store.query("SELECT value FROM meta WHERE key='schema_version'")[0][0] == "8"
    row = store.get_measurement("m")
    assert row is not None and row["median_ms"] == 1.5
    assert [row[c] for c in ("canary_kind", "canary_ms", "canary_n", "canary_rel_sd")] == [None] * 4
    columns = {r[1] for r in store.query("PRAGMA table_info(detection_timings)")}
    assert {"disturbed", "disturbed_reason"} <= columns
