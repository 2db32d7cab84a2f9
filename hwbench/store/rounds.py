"""Measurement rounds awaiting their network's final record (table `measurement_rounds`, schema v3)."""

from __future__ import annotations

import sqlite3
from typing import Any

from hwbench.store.store import Store


def get_rounds(store: Store, measure_key: str) -> dict[int, sqlite3.Row]:
    """The stored rounds of a measurement not yet final, by round number."""
    rows = store.query("SELECT * FROM measurement_rounds WHERE measure_key=? ORDER BY round", (measure_key,))
    return {int(r["round"]): r for r in rows}


def put_round(store: Store, row: dict[str, Any]) -> None:
    """Insert or replace one round (one row per measure_key and round: a re-measure replaces, never adds)."""
    with store.transaction():
        store._upsert("measurement_rounds", row)


def drop_rounds(store: Store, measure_key: str) -> None:
    """Forget the rounds of a measurement whose final record is written (their summary lives in its info_json)."""
    with store.transaction():
        store.db.execute("DELETE FROM measurement_rounds WHERE measure_key=?", (measure_key,))
