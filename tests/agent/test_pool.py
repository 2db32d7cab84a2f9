"""Board pools: one agent target's networks shared among two real agents on loopback, each network measured once.

The networks are exported once per module; each test measures a copy of that store (`--stage measure`). Both
agents run on this machine, so they report the same device id: the tests give each board its own id at the
handshake (as two real boards have), so each result is keyed by the board that measured it.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hwbench.errors import ConfigError
from hwbench.pipeline import SweepRequest, run_sweep
from hwbench.progress import NullProgress
from hwbench.store import Store
from tests.agent.conftest import TOKEN, Agent
from tests.conftest import TINY_MACRO, TINY_SPACE, write_target

pytestmark = pytest.mark.remote

NETWORKS = 4
# Each round takes a second at least, so a board can be killed while it measures.
SLOW = "measurement: {warmup_runs: 1, warmup_seconds: 0.0, min_runs: 6, min_seconds: 1.0, max_runs: 100000, max_seconds: 1.0}\n"


class Notes(NullProgress):
    """Keeps the notes a sweep prints."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, message: str) -> None:
        self.lines.append(message)


def pool_target(directory: Path, token_file: Path, host_port: int, pool: list[str], extra: str = "") -> Path:
    """The agent target `t-pool` with its main board on loopback at `host_port` and `pool` as its pool."""
    path = write_target(directory, "t-pool", "onnxruntime", "{format: onnx, opset: 18}", extra=extra)
    agent = {"host": "127.0.0.1", "port": host_port, "token_file": str(token_file), "retries": 0, "pool": pool}
    path.write_text(path.read_text() + f"transport: agent\nagent: {json.dumps(agent)}\n")
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder holding NETWORKS tiny networks exported for `t-pool`, not measured."""
    root = tmp_path_factory.mktemp("exported")
    (root / "design_spaces" / "macros").mkdir(parents=True)
    (root / "design_spaces" / "macros" / "tiny.yaml").write_text(TINY_MACRO)
    space = root / "design_spaces" / "tiny_mbconv.yaml"
    space.write_text(TINY_SPACE.format(name="tiny_mbconv", block="mbconv"))
    token = root / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    target = pool_target(root / "targets", token, 9, ["127.0.0.1:10"])
    counts = run_sweep(request(root / "results", [space], target, "export"))
    assert counts == {"archs": NETWORKS, "exports": NETWORKS}
    return root / "results"


def request(results: Path, spaces: list[Path], target: Path, stage: str) -> SweepRequest:
    return SweepRequest(
        name="p", spaces=spaces, targets=[target], n=NETWORKS, store=results / "s.sqlite", report=False, stage=stage
    )


@pytest.fixture
def boards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two agents; each reports a device id of its own (by port), as two boards of one kind do."""
    import hwbench.pipeline.board_pool as board_pool

    real = board_pool.handshake

    def handshake(target, address=None):
        board = real(target, address)
        if not isinstance(board, str):
            board.facts["device"]["device_id"] = f"board-{board.client.port}"
        return board

    monkeypatch.setattr(board_pool, "handshake", handshake)
    # Two agents on one machine disturb each other's rounds: no re-measures (each waits for quiet), so the tests
    # stay short; a disturbed round is stored flagged, which these tests do not look at.
    monkeypatch.setattr("hwbench.pipeline.rounds.RETRY_BUDGET_S", 0.0)
    agents = [Agent(tmp_path / f"agent{i}").start() for i in range(2)]
    yield agents
    for agent in agents:
        agent.kill()


def measure(exported: Path, tmp_path: Path, boards: list[Agent], measurement: str = "") -> tuple[dict, Notes, Path]:
    """Run the measure stage on a copy of the exported store; (counts, notes, the store's path)."""
    results = tmp_path / "results"
    if not results.exists():
        shutil.copytree(exported, results)
    first, second = boards
    target = pool_target(tmp_path / "targets", first.token_file, first.port, [f"127.0.0.1:{second.port}"], measurement)
    notes = Notes()
    counts = run_sweep(request(results, [], target, "measure"), notes)
    return counts, notes, results / "s.sqlite"


def measured(db: Path) -> list[dict]:
    """Every measurement with the address and device id of the board that made it."""
    store = Store(db, create=False)
    try:
        rows = store.query(
            "SELECT m.measure_key, m.status, m.error, m.target_fp, m.artifact_hash, p.json FROM measurements m "
            "JOIN provenance p USING (prov_id)"
        )
        return [{**dict(r), "agent": json.loads(r["json"])["agent"]} for r in rows]
    finally:
        store.close()


def links(db: Path) -> dict[str, str | None]:
    store = Store(db, create=False)
    try:
        return {r["arch_id"]: r["measure_key"] for r in store.query("SELECT arch_id, measure_key FROM runs")}
    finally:
        store.close()


def test_a_pool_shares_the_networks_and_measures_each_once(exported: Path, tmp_path: Path, boards: list) -> None:
    counts, notes, db = measure(exported, tmp_path, boards)
    assert counts["measurements"] == NETWORKS, notes.lines
    rows = measured(db)
    assert [r["status"] for r in rows] == ["ok"] * NETWORKS
    # Round-robin: each board measured half, keyed by its own fingerprint, its address in the provenance.
    by_board = {a.port: [r for r in rows if r["agent"]["address"] == f"127.0.0.1:{a.port}"] for a in boards}
    assert [len(found) for found in by_board.values()] == [NETWORKS // 2] * 2
    for port, found in by_board.items():
        assert {r["agent"]["device"]["device_id"] for r in found} == {f"board-{port}"}
        assert len({r["target_fp"] for r in found}) == 1
    assert len({r["target_fp"] for r in rows}) == 2
    # Every network once: one record each, each linked to the sweep.
    assert len({r["artifact_hash"] for r in rows}) == NETWORKS
    assert sorted(links(db).values()) == sorted(r["measure_key"] for r in rows)
    assert all(a.log().count("measuring ") >= NETWORKS // 2 * 2 for a in boards)  # two rounds per network

    again, _, _ = measure(exported, tmp_path, boards)
    assert again["measurements"] == 0
    assert len(measured(db)) == NETWORKS


def test_each_board_measures_under_its_own_lease(
    exported: Path, tmp_path: Path, boards: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under Ray every board's thread holds one unit of `board:<target>`: a pool of N boards holds N at once."""
    held: list[str] = []
    most = [0]
    lock = threading.Lock()

    @contextmanager
    def lease(target_name: str, executor: object) -> Iterator[str]:
        with lock:
            held.append(threading.current_thread().name)
            most[0] = max(most[0], len(held))
        try:
            yield f"holding board:{target_name}"
        finally:
            with lock:
                held.remove(threading.current_thread().name)

    monkeypatch.setattr("hwbench.pipeline.board_lease.board_lease", lease)
    counts, notes, _ = measure(exported, tmp_path, boards)
    assert counts["measurements"] == NETWORKS
    leased = sorted(n for n in notes.lines if "holding board:t-pool" in n)
    assert leased == sorted(f"t-pool @ 127.0.0.1:{a.port}: holding board:t-pool" for a in boards)
    assert most[0] == 2 and not held


def test_a_board_down_is_skipped_and_its_results_count_for_the_pool(
    exported: Path, tmp_path: Path, boards: list
) -> None:
    up, down = boards
    down.kill()
    counts, notes, db = measure(exported, tmp_path, boards)
    assert counts["measurements"] == NETWORKS
    assert any(f"127.0.0.1:{down.port}" in n and "that board is skipped" in n for n in notes.lines), notes.lines
    rows = measured(db)
    assert {r["agent"]["address"] for r in rows} == {f"127.0.0.1:{up.port}"} and len(rows) == NETWORKS

    # The board is back, now the main one: what the other measured is linked, not measured again under its key.
    down.start()
    again, _, _ = measure(exported, tmp_path, [down, up])
    assert again["measurements"] == 0
    assert "measuring " not in down.log()


def test_no_board_reachable_leaves_every_network_pending(exported: Path, tmp_path: Path, boards: list) -> None:
    for agent in boards:
        agent.kill()
    counts, notes, db = measure(exported, tmp_path, boards)
    assert counts["measurements"] == 0
    assert any("no board of its pool is usable; its networks stay pending" in n for n in notes.lines), notes.lines
    assert list(links(db).values()) == [None] * NETWORKS and not measured(db)


@pytest.mark.slow
def test_a_board_lost_mid_sweep_stops_its_share_only(exported: Path, tmp_path: Path, boards: list) -> None:
    first, lost = boards
    outcome: dict = {}

    def sweep() -> None:
        outcome["counts"], outcome["notes"], outcome["db"] = measure(exported, tmp_path, boards, SLOW)

    thread = threading.Thread(target=sweep)
    thread.start()
    end = time.time() + 120
    while lost.log().count("measuring ") < 1 and time.time() < end:
        time.sleep(0.05)
    time.sleep(0.3)  # its first round is running
    lost.kill()
    thread.join(300)
    assert not thread.is_alive()
    db, notes = outcome["db"], outcome["notes"].lines
    assert any(f"127.0.0.1:{lost.port}" in n and "the unfinished ones stay pending" in n for n in notes), notes
    rows = measured(db)
    kept = [r for r in rows if r["agent"]["address"] == f"127.0.0.1:{first.port}"]
    failed = [r for r in rows if r["agent"]["address"] == f"127.0.0.1:{lost.port}"]
    # The other board finished its share; the lost one's network in flight is a transport failure, the rest
    # of its share stays pending (not handed to the other board mid-run).
    assert [r["status"] for r in kept] == ["ok"] * (NETWORKS // 2)
    assert [r["status"] for r in failed] == ["error"] and "unreachable" in failed[0]["error"]
    assert sum(key is None for key in links(db).values()) == NETWORKS // 2 - 1

    lost.start()
    again, _, _ = measure(exported, tmp_path, boards, SLOW)
    assert again["measurements"] == NETWORKS // 2
    status = {r["measure_key"]: r["status"] for r in measured(db)}
    assert [status.get(key) for key in links(db).values()] == ["ok"] * NETWORKS


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ('["rpi5.local", "rpi6:99999"]', r"agent\.pool\[1\]: port '99999' is not a number from 1 to 65535"),
        ('["http://rpi5.local:8765"]', r"agent\.pool\[0\]: give host or host:port, not a URL"),
        ('["rpi 5"]', r"agent\.pool\[0\]: give a host name or address, or host:port"),
        ('["[fe80::1"]', r"agent\.pool\[0\]: an IPv6 address in brackets is written \[addr\] or \[addr\]:port"),
        ('["rpi5", "RPI5:8765"]', r"agent\.pool\[1\]: RPI5:8765 is already named by agent\.pool\[0\]"),
        ('["127.0.0.1:8765"]', r"agent\.pool\[0\]: 127\.0\.0\.1:8765 is already named by agent\.host"),
        ('"rpi5.local"', r"agent\.pool: Input should be a valid list"),
    ],
)
def test_bad_pool_entries_are_named(tmp_path: Path, pool: str, message: str) -> None:
    from hwbench.config.target import load_target

    path = write_target(tmp_path, "t", "onnxruntime", "{format: onnx, opset: 18}")
    path.write_text(path.read_text() + f"transport: agent\nagent: {{host: 127.0.0.1, port: 8765, pool: {pool}}}\n")
    with pytest.raises(ConfigError, match=rf"t\.yaml: {message}"):
        load_target(path)


def test_pool_boards_and_default_port() -> None:
    from hwbench.config.target import AgentSettings

    agent = AgentSettings(host="rpi4", port=9000, pool=["rpi5", "rpi6:9001", "[fe80::1]:9002", "fe80::2"])
    assert agent.boards() == [("rpi4", 9000), ("rpi5", 9000), ("rpi6", 9001), ("fe80::1", 9002), ("fe80::2", 9000)]


def test_two_addresses_of_one_machine_are_noted() -> None:
    from hwbench.agent.client import AgentClient
    from hwbench.config.target import AgentSettings
    from hwbench.pipeline.board_pool import _note_twins
    from hwbench.pipeline.remote import Board

    target = type("T", (), {"name": "t-pool", "agent": AgentSettings(host="a")})()
    boards = [Board(AgentClient("a", port, TOKEN), {}) for port in (1, 2, 3)]
    notes = Notes()
    _note_twins(target, boards, ["fp1", "fp2", "fp1"], notes)  # type: ignore[arg-type]
    assert notes.lines == [
        "t-pool: a:1 and a:3 report the same machine and device id; their results share one fingerprint, and two "
        "agents on one machine disturb each other's timings"
    ]
