"""Modelled results in the store: one record per (artifact, modelled target, settings), their links to sweeps, and
the cache of costed layers. Only the sweep's driver writes (workers return results)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from hwbench.store.keys import canonical
from hwbench.store.store import Store, utcnow

# What a worker's result puts in the modelled table's columns.
MODELLED_COLUMNS = (
    "status",
    "error",
    "cycles",
    "latency_ms",
    "energy_uj",
    "utilisation",
    "spatial_utilisation",
    "macs",
    "costed_macs",
    "mac_coverage",
    "n_layers",
    "layers_cached",
    "layers_costed",
    "model_seconds",
)


def get_modelled(store: Store, key: str) -> sqlite3.Row | None:
    """The modelled record of a key, if any."""
    return store.db.execute("SELECT * FROM modelled WHERE model_key=?", (key,)).fetchone()


def put_modelled(
    store: Store,
    row: dict[str, Any],
    provenance: dict[str, Any],
    link: tuple[str, str, str],
    layers: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Store a modelled record, the layers it costed (into the cache) and its sweep link, in one transaction."""
    with store.transaction():
        row = {**row, "prov_id": store.put_provenance(provenance), "created_at": utcnow()}
        values = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in row.values()]
        columns, marks = ", ".join(row), ", ".join("?" for _ in row)
        store.db.execute(f"INSERT OR REPLACE INTO modelled ({columns}) VALUES ({marks})", values)
        _put_layers(store, layers or {})
        _link(store, *link, row["model_key"])


def link_modelled(store: Store, sweep: str, arch_id: str, target: str, key: str) -> None:
    """Point (sweep, network, modelled target) at a record already stored."""
    with store.transaction():
        _link(store, sweep, arch_id, target, key)


def _link(store: Store, sweep: str, arch_id: str, target: str, key: str) -> None:
    store.db.execute(
        "INSERT INTO sweep_modelled VALUES (?,?,?,?) ON CONFLICT(sweep, arch_id, target) DO UPDATE SET "
        "model_key=excluded.model_key",
        (sweep, arch_id, target, key),
    )


def delete_modelled(store: Store, key: str) -> None:
    """Forget a modelled record (before a retry) and its links."""
    with store.transaction():
        store.db.execute("DELETE FROM sweep_modelled WHERE model_key=?", (key,))
        store.db.execute("DELETE FROM modelled WHERE model_key=?", (key,))


def cached_layers(store: Store, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The cached cost of every key the cache holds (the others are absent)."""
    wanted = sorted(set(keys))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        for key, cost in store.db.execute(
            f"SELECT layer_key, cost_json FROM modelled_layers WHERE layer_key IN ({marks})", chunk
        ):
            found[key] = json.loads(cost)
    return found


def _put_layers(store: Store, layers: dict[str, dict[str, Any]]) -> None:
    now = utcnow()
    for key, cost in layers.items():
        store.db.execute("INSERT OR IGNORE INTO modelled_layers VALUES (?,?,?)", (key, canonical(cost), now))
