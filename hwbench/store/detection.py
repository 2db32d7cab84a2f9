"""Detection latency in parts (graph, NMS, end to end) in the store: one record per timing key, linked per sweep."""

from __future__ import annotations

import sqlite3
from typing import Any

from hwbench.store.store import Store, utcnow


def get_detection_timing(store: Store, key: str) -> sqlite3.Row | None:
    """The detection timing record of a key, or None."""
    rows = store.query("SELECT * FROM detection_timings WHERE timing_key=?", (key,))
    return rows[0] if rows else None


def put_detection_timing(
    store: Store, row: dict[str, Any], provenance: dict[str, Any] | None, links: list[tuple[str, str, str]]
) -> None:
    """Insert or replace a timing record and link it to (sweep, arch, target) in one transaction."""
    with store.transaction():
        if provenance is not None:
            row = {**row, "prov_id": store.put_provenance(provenance)}
        store._upsert("detection_timings", {**row, "created_at": utcnow()})
        for sweep, arch_id, target in links:
            link_detection_timing(store, sweep, arch_id, target, row["timing_key"], transaction=False)


def link_detection_timing(
    store: Store, sweep: str, arch_id: str, target: str, key: str, transaction: bool = True
) -> None:
    """Point (sweep, arch, target) at a timing record (the newest replaces an older link)."""
    sql = "INSERT OR REPLACE INTO sweep_detection_timings VALUES (?,?,?,?)"
    if not transaction:
        store.db.execute(sql, (sweep, arch_id, target, key))
        return
    with store.transaction():
        store.db.execute(sql, (sweep, arch_id, target, key))


def sweep_detection_timings(store: Store, sweep: str) -> list[sqlite3.Row]:
    """Every detection timing a sweep links to, with the network's space and block."""
    return store.query(
        "SELECT l.sweep, sa.space, ar.block, d.* FROM sweep_detection_timings l "
        "JOIN detection_timings d ON d.timing_key = l.timing_key JOIN archs ar ON ar.arch_id = l.arch_id "
        "LEFT JOIN sweep_archs sa ON sa.sweep = l.sweep AND sa.arch_id = l.arch_id WHERE l.sweep=? "
        "ORDER BY l.target, sa.space, sa.sample_index",
        (sweep,),
    )
