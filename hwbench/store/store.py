"""SQLite results store: WAL mode, versioned schema, one row per key, errors stored as rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hwbench.errors import HwbenchError
from hwbench.store.keys import canonical, digest
from hwbench.store.schema import MIGRATIONS, SCHEMA_VERSION, SCHEMA_VERSION_KEY

DEFAULT_STORE = Path("results") / "hwbench.sqlite"


def default_store_path() -> Path:
    """results/hwbench.sqlite under the current directory."""
    return DEFAULT_STORE


def utcnow() -> str:
    """UTC timestamp, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """Read and write hwbench records. Only the sweep's main process writes; workers return results."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise HwbenchError(f"{self.path}: no results store here (run `hwbench sweep` first or pass --store)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise HwbenchError(f"{self.path}: not a usable hwbench store ({exc})") from None

    # -- schema ---------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone()
        version = 0
        if has_meta:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (SCHEMA_VERSION_KEY,)).fetchone()
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise HwbenchError(
                f"{self.path}: store schema v{version} is newer than this hwbench (v{SCHEMA_VERSION}); upgrade"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                # executescript would COMMIT first; running statements one by one keeps the migration atomic.
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                    (SCHEMA_VERSION_KEY, str(number + 1)),
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # -- sweeps ---------------------------------------------------------------------------------------
    def ensure_sweep(self, name: str, seed: int, config: dict[str, Any]) -> None:
        """Create the sweep, or check that an existing one used the same seed."""
        row = self.db.execute("SELECT seed FROM sweeps WHERE name=?", (name,)).fetchone()
        if row is not None and int(row["seed"]) != int(seed):
            raise HwbenchError(
                f"sweep {name!r} already exists with seed {row['seed']} (asked for {seed}); "
                "use another --name or the same --seed"
            )
        with self.transaction():
            self.db.execute(
                "INSERT INTO sweeps(name, seed, created_at, config_json) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET config_json=excluded.config_json",
                (name, seed, utcnow(), canonical(config)),
            )

    def record_sweep(
        self,
        name: str,
        seed: int,
        config: dict[str, Any],
        archs: Sequence[tuple[str, int, str, str, str, str, dict[str, int], str]],
        targets: Sequence[tuple[str, str, dict[str, Any]]],
    ) -> None:
        """Write a sweep, its sampled architectures and its targets in one transaction, checks first.

        `archs`: (space, index, arch_id, family, block, spec_json, complexity, space_file);
        `targets`: (name, file, configuration). A refused sweep (other seed, changed space) writes nothing.
        """
        self._check_sweep(name, seed, archs)
        with self.transaction():
            self.db.execute(
                "INSERT INTO sweeps(name, seed, created_at, config_json) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET config_json=excluded.config_json",
                (name, seed, utcnow(), canonical(config)),
            )
            for space, index, arch_id, family, block, spec_json, cx, space_file in archs:
                self._insert_arch(arch_id, family, block, spec_json, cx)
                self.db.execute(
                    "INSERT OR IGNORE INTO sweep_archs VALUES (?,?,?,?,?)", (name, space, index, arch_id, space_file)
                )
            for target, target_file, target_config in targets:
                self.db.execute(
                    "INSERT INTO sweep_targets VALUES (?,?,?,?) ON CONFLICT(sweep, target) DO UPDATE SET "
                    "target_file=excluded.target_file, config_json=excluded.config_json",
                    (name, target, target_file, canonical(target_config)),
                )

    def _check_sweep(self, name: str, seed: int, archs: Sequence[tuple]) -> None:
        """Refuse a sweep name stored with another seed, or a space whose samples changed, before writing."""
        row = self.db.execute("SELECT seed FROM sweeps WHERE name=?", (name,)).fetchone()
        if row is None:
            return
        if int(row["seed"]) != int(seed):
            raise HwbenchError(
                f"sweep {name!r} already exists with seed {row['seed']} (asked for {seed}); "
                "use another --name or the same --seed"
            )
        stored = {
            (r["space"], r["sample_index"]): r["arch_id"]
            for r in self.db.execute("SELECT space, sample_index, arch_id FROM sweep_archs WHERE sweep=?", (name,))
        }
        for space, index, arch_id, *_, space_file in archs:
            before = stored.get((space, index))
            if before is not None and before != arch_id:
                raise HwbenchError(
                    f"{space_file}: space {space!r} changed since sweep {name!r} was sampled "
                    f"(sample {index} was {before}, now {arch_id}); use a new --name"
                )

    def sweep_targets(self, sweep: str) -> list[sqlite3.Row]:
        """The targets a sweep ran on: name, file and configuration (JSON)."""
        return self.query("SELECT * FROM sweep_targets WHERE sweep=? ORDER BY target", (sweep,))

    def sweep_names(self) -> list[str]:
        """Every sweep in the store."""
        return [r[0] for r in self.db.execute("SELECT name FROM sweeps ORDER BY created_at")]

    def require_sweeps(self, names: list[str]) -> None:
        """Raise a clear error for an unknown sweep name."""
        from hwbench.registry import unknown_name_message

        known = self.sweep_names()
        for name in names:
            if name not in known:
                raise HwbenchError(f"{self.path}: " + unknown_name_message("sweep", name, known))

    # -- architectures --------------------------------------------------------------------------------
    def put_arch(self, arch_id: str, family: str, block: str, spec_json: str, cx: dict[str, int]) -> None:
        """Insert an architecture (idempotent: the arch_id is the hash of spec_json)."""
        with self.transaction():
            self._insert_arch(arch_id, family, block, spec_json, cx)

    def _insert_arch(self, arch_id: str, family: str, block: str, spec_json: str, cx: dict[str, int]) -> None:
        # boxes and head MACs: detectors only (schema 4); None for classifiers.
        self.db.execute(
            "INSERT OR IGNORE INTO archs (arch_id, family, block, spec_json, macs, params, acts, created_at, "
            "boxes, head_macs) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                arch_id,
                family,
                block,
                spec_json,
                cx["macs"],
                cx["params"],
                cx["acts"],
                utcnow(),
                cx.get("boxes"),
                cx.get("head_macs"),
            ),
        )

    def link_arch(self, sweep: str, space: str, index: int, arch_id: str, space_file: str) -> None:
        """Record that sample `index` of `space` in `sweep` is `arch_id`; refuse if that changed."""
        row = self.db.execute(
            "SELECT arch_id FROM sweep_archs WHERE sweep=? AND space=? AND sample_index=?",
            (sweep, space, index),
        ).fetchone()
        if row is not None and row["arch_id"] != arch_id:
            raise HwbenchError(
                f"{space_file}: space {space!r} changed since sweep {sweep!r} was sampled "
                f"(sample {index} was {row['arch_id']}, now {arch_id}); use a new --name"
            )
        if row is None:
            with self.transaction():
                self.db.execute(
                    "INSERT INTO sweep_archs VALUES (?,?,?,?,?)", (sweep, space, index, arch_id, space_file)
                )

    def link_target(self, sweep: str, target: str, target_file: str, config: dict[str, Any]) -> None:
        """Record (or update) a target of the sweep."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO sweep_targets VALUES (?,?,?,?) ON CONFLICT(sweep, target) DO UPDATE SET "
                "target_file=excluded.target_file, config_json=excluded.config_json",
                (sweep, target, target_file, canonical(config)),
            )

    # -- provenance -----------------------------------------------------------------------------------
    def put_provenance(self, prov: dict[str, Any]) -> str:
        """Store a provenance document once; return its id."""
        prov_id = digest(prov, 16)
        self.db.execute("INSERT OR IGNORE INTO provenance VALUES (?,?)", (prov_id, canonical(prov)))
        return prov_id

    # -- exports and measurements ---------------------------------------------------------------------
    def get_export(self, key: str) -> sqlite3.Row | None:
        """The export row for a key, if any."""
        return self.db.execute("SELECT * FROM exports WHERE export_key=?", (key,)).fetchone()

    def put_export(
        self, row: dict[str, Any], provenance: dict[str, Any] | None = None, links: Sequence[tuple] = ()
    ) -> None:
        """Insert or replace an export record and link it to (sweep, arch, target) triples, in one transaction."""
        with self.transaction():
            if provenance is not None:
                row = {**row, "prov_id": self.put_provenance(provenance)}
            self._upsert("exports", {**row, "created_at": utcnow()})
            for sweep, arch_id, target in links:
                self._link_export(sweep, arch_id, target, row["export_key"])

    def link_exports(self, links: Sequence[tuple[str, str, str, str]]) -> None:
        """Point (sweep, arch, target) at export keys already stored, in one transaction."""
        with self.transaction():
            for sweep, arch_id, target, export_key in links:
                self._link_export(sweep, arch_id, target, export_key)

    def _link_export(self, sweep: str, arch_id: str, target: str, export_key: str) -> None:
        # Another export (new converter versions, another profile) makes the old measurement someone else's.
        self.db.execute(
            "INSERT INTO runs VALUES (?,?,?,?,NULL,?) ON CONFLICT(sweep, arch_id, target) DO UPDATE SET "
            "measure_key=CASE WHEN runs.export_key IS excluded.export_key THEN runs.measure_key ELSE NULL END, "
            "export_key=excluded.export_key, updated_at=excluded.updated_at",
            (sweep, arch_id, target, export_key, utcnow()),
        )

    def get_measurement(self, key: str) -> sqlite3.Row | None:
        """The measurement row for a key, if any."""
        return self.db.execute("SELECT * FROM measurements WHERE measure_key=?", (key,)).fetchone()

    def put_measurement(self, row: dict[str, Any], provenance: dict[str, Any] | None, link: tuple) -> None:
        """Insert a measurement and link it to its (sweep, arch, target) in one transaction."""
        with self.transaction():
            if provenance is not None:
                row = {**row, "prov_id": self.put_provenance(provenance)}
            self._upsert("measurements", row)
            self._link_run(*link)

    def link_run(self, sweep: str, arch_id: str, target: str, export_key: str | None, measure_key: str | None) -> None:
        """Point (sweep, arch, target) at its export and measurement records."""
        with self.transaction():
            self._link_run(sweep, arch_id, target, export_key, measure_key)

    def _link_run(self, sweep: str, arch_id: str, target: str, export_key: str | None, measure_key: str | None) -> None:
        self.db.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?) ON CONFLICT(sweep, arch_id, target) DO UPDATE SET "
            "export_key=excluded.export_key, measure_key=excluded.measure_key, updated_at=excluded.updated_at",
            (sweep, arch_id, target, export_key, measure_key, utcnow()),
        )

    def _upsert(self, table: str, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        values = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in row.values()]
        self.db.execute(f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})", values)

    def delete_measurement(self, key: str) -> None:
        """Forget a measurement (used before a retry)."""
        with self.transaction():
            self.db.execute("UPDATE runs SET measure_key=NULL WHERE measure_key=?", (key,))
            self.db.execute("DELETE FROM measurements WHERE measure_key=?", (key,))

    # -- accuracies -----------------------------------------------------------------------------------
    def get_accuracy(self, key: str) -> sqlite3.Row | None:
        """The accuracy row for a key, if any."""
        return self.db.execute("SELECT * FROM accuracies WHERE acc_key=?", (key,)).fetchone()

    def put_accuracy(
        self, row: dict[str, Any], provenance: dict[str, Any] | None = None, links: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Insert or replace an accuracy record and link it to (sweep, arch) pairs, in one transaction."""
        with self.transaction():
            if provenance is not None:
                row = {**row, "prov_id": self.put_provenance(provenance)}
            self._upsert("accuracies", {**row, "created_at": utcnow()})
            for sweep, arch_id in links:
                self._link_accuracy(sweep, arch_id, row["acc_key"])

    def link_accuracy(self, sweep: str, arch_id: str, acc_key: str) -> None:
        """Record that a sweep uses an accuracy record (idempotent)."""
        with self.transaction():
            self._link_accuracy(sweep, arch_id, acc_key)

    def _link_accuracy(self, sweep: str, arch_id: str, acc_key: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO sweep_accuracy VALUES (?,?,?)", (sweep, arch_id, acc_key))

    def sweep_accuracies(self, sweep: str) -> list[sqlite3.Row]:
        """Every accuracy record a sweep links to, with the network's space and block, oldest first."""
        return self.query(
            "SELECT sa.space, ar.block, a.* FROM sweep_accuracy l JOIN accuracies a ON a.acc_key = l.acc_key "
            "JOIN archs ar ON ar.arch_id = a.arch_id "
            "LEFT JOIN sweep_archs sa ON sa.sweep = l.sweep AND sa.arch_id = l.arch_id "
            "WHERE l.sweep=? ORDER BY a.created_at",
            (sweep,),
        )

    def sweep_samples(self, sweep: str) -> list[dict[str, Any]]:
        """The sweep's sampled networks in sampling order: space, index, spec_json, complexity, space_file."""
        rows = self.query(
            "SELECT sa.space, sa.sample_index, sa.space_file, a.spec_json, a.macs, a.params, a.acts, a.boxes, "
            "a.head_macs FROM sweep_archs sa JOIN archs a ON a.arch_id = sa.arch_id WHERE sa.sweep=? "
            "ORDER BY sa.rowid",
            (sweep,),
        )
        keys = ("macs", "params", "acts", "boxes", "head_macs")
        return [{**dict(r), "complexity": {k: r[k] for k in keys if r[k] is not None}} for r in rows]

    def sweep_exports(self, sweep: str, target: str) -> dict[str, str | None]:
        """arch_id → the export key the export stage linked for (sweep, network, target); None: not exported."""
        return {
            r["arch_id"]: r["export_key"]
            for r in self.query("SELECT arch_id, export_key FROM runs WHERE sweep=? AND target=?", (sweep, target))
        }

    def sweep_arch_ids(self, sweep: str) -> set[str]:
        """The architectures a sweep sampled."""
        return {r[0] for r in self.db.execute("SELECT arch_id FROM sweep_archs WHERE sweep=?", (sweep,))}

    # -- reading --------------------------------------------------------------------------------------
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run a read query."""
        return self.db.execute(sql, params).fetchall()
