"""Anchor pruning in the store: scored anchor sets (shared by every search on the same evaluation key), searches
with their visiting order and front, and the front's pruned detectors measured on targets."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from hwbench.store.store import Store, utcnow


def removed_text(removed: Iterable[int]) -> str:
    """An anchor set's key: its removed anchors, sorted, as JSON."""
    return json.dumps(sorted(int(i) for i in removed))


def get_nodes(store: Store, eval_key: str) -> dict[str, sqlite3.Row]:
    """Every scored anchor set of an evaluation key, by its `removed` text."""
    rows = store.query("SELECT * FROM anchor_nodes WHERE eval_key=?", (eval_key,))
    return {r["removed"]: r for r in rows}


def put_node(store: Store, row: dict[str, Any]) -> None:
    """Store one scored anchor set (its own transaction: an interrupted search keeps every node scored so far)."""
    with store.transaction():
        store._upsert("anchor_nodes", {**row, "created_at": utcnow()})


def put_search(store: Store, row: dict[str, Any]) -> None:
    """Insert or replace a search's record."""
    with store.transaction():
        store._upsert("anchor_searches", {**row, "created_at": utcnow()})


def put_measurement(store: Store, row: dict[str, Any], provenance: dict[str, Any] | None) -> None:
    """Insert or replace a front point's measurement on a target."""
    with store.transaction():
        if provenance is not None:
            row = {**row, "prov_id": store.put_provenance(provenance)}
        store._upsert("anchor_measurements", {**row, "created_at": utcnow()})


def measurements(store: Store, search_key: str) -> list[sqlite3.Row]:
    """Every measurement of a search's front points (variants: pruned, retrained)."""
    return store.query(
        "SELECT * FROM anchor_measurements WHERE search_key=? ORDER BY target, variant, removed", (search_key,)
    )
