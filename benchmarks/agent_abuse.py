"""The agent against a hostile peer on loopback, before and after a change: the figures of issue 18.

Phases, each against a fresh `hwbench-agent` process with its default limits (all traffic to 127.0.0.1, bounded):
1. slow requests: 16 tokenless connections send one byte every 2 s (reconnecting when dropped) while an
   authenticated client asks `/v1/hello` every 0.5 s; latency = first try to a 200 (retrying at once on refusal).
2. header flood: 16 concurrent tokenless requests with 100 header lines of 62 KB each (6.2 MB per request);
   the agent's resident memory before, at its peak (VmHWM) and 2 s after.
3. malformed authenticated requests (huge or non-ASCII Content-Length, JSON nested 50k-100k deep, numbers like
   10**400, threads beyond the board's cores, ...): how many got a 5xx, and how many were accepted.
4. the log after requests with control characters and a token in the URL: raw control characters, tokens.
5. side effects: entries created in $HOME, $TMPDIR and the working directory (empty folders, watched with
   inotify, so files created and deleted again count) by 5 hellos and one measurement.
6. whether `--host ::1` (IPv6) starts.

`python benchmarks/agent_abuse.py [--before REV] [--seconds 36]`: with --before, the same run against the agent
of git revision REV (exported with `git archive`) first, and both side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT, save, table

TOKEN = "abuse-benchmark-token-0123456789abcdef"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"


class Agent:
    """An agent process from a given source tree, with its own HOME, TMPDIR, working directory and cache."""

    def __init__(self, source: Path, tmp: Path, host: str = "127.0.0.1") -> None:
        self.tmp = tmp
        for d in ("home", "tmp", "cwd", "cache"):
            (tmp / d).mkdir(parents=True, exist_ok=True)
        (tmp / "token").write_text(TOKEN + "\n")
        (tmp / "token").chmod(0o600)
        self.log = tmp / "agent.log"
        cmd = [sys.executable, "-m", "hwbench.agent", "--host", host, "--port", "0"]
        cmd += ["--token-file", str(tmp / "token"), "--cache-dir", str(tmp / "cache")]
        env = {**os.environ, "PYTHONPATH": str(source), "HOME": str(tmp / "home"), "TMPDIR": str(tmp / "tmp")}
        env.pop("XDG_CACHE_HOME", None)
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(cmd, stderr=err, stdout=subprocess.DEVNULL, env=env, cwd=tmp / "cwd")
        self.port = 0
        for _ in range(1200):
            found = re.search(r"listening on [^ ]+:(\d+)", self.log.read_text())
            if found:
                self.port = int(found.group(1))
                return
            if self.proc.poll() is not None:
                return
            time.sleep(0.05)

    def memory_mb(self) -> dict[str, float]:
        """Resident and peak resident memory of the agent process, MB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024 for k in ("VmRSS", "VmHWM")}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def exchange(port: int, data: bytes, timeout: float = 10.0) -> int | None:
    """Send a request, return the response's status code (None when the connection was dropped)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            with contextlib.suppress(OSError):  # the agent may refuse before reading all; its reply may be there
                s.sendall(data)
            reply = s.recv(64)
    except OSError:
        return None
    found = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    return int(found.group(1)) if found else None


def hello_status(port: int, timeout: float = 10.0) -> int | None:
    return exchange(port, f"GET /v1/hello HTTP/1.1\r\nHost: x\r\n{AUTH}Connection: close\r\n\r\n".encode(), timeout)


def slow_requests(agent: Agent, seconds: float, attackers: int = 16) -> dict:
    """Worst and median authenticated latency while tokenless connections trickle one byte every 2 s."""
    stop = threading.Event()
    reconnects = [0]

    def trickle() -> None:
        payload = b"GET /v1/hello HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 10000
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", agent.port), timeout=5) as s:
                    for byte in payload:
                        s.sendall(bytes([byte]))
                        if stop.wait(2.0):
                            return
            except OSError:
                reconnects[0] += 1
                stop.wait(0.2)

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(attackers)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # every attacker connected
    latencies, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        while hello_status(agent.port, timeout=2.0) != 200 and time.monotonic() < end + 5:
            time.sleep(0.05)
        latencies.append(time.monotonic() - t0)
        time.sleep(0.5)
    stop.set()
    latencies.sort()
    return {
        "requests": len(latencies),
        "worst_s": latencies[-1],
        "median_s": latencies[len(latencies) // 2],
        "attacker_reconnects": reconnects[0],
    }


def header_flood(agent: Agent, senders: int = 16, lines: int = 100, line_bytes: int = 62000) -> dict:
    """The agent's memory under concurrent tokenless requests with huge headers."""
    before = agent.memory_mb()
    request = b"GET /v1/hello HTTP/1.1\r\n" + b"".join(
        f"X-{i}: ".encode() + b"a" * line_bytes + b"\r\n" for i in range(lines)
    )
    statuses: list[int | None] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(exchange(agent.port, request + b"\r\n", 30)))
        for _ in range(senders)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    time.sleep(2.0)
    after = agent.memory_mb()
    return {
        "request_mb": len(request) / 1e6,
        "rss_before_mb": before["VmRSS"],
        "peak_mb": after["VmHWM"],
        "rss_after_mb": after["VmRSS"],
        "statuses": sorted({str(s) for s in statuses}),
        "alive": agent.proc.poll() is None,
    }


def measure_request(body: bytes, length: str | None = None) -> bytes:
    n = str(len(body)) if length is None else length
    head = f"POST /v1/measure HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Length: ".encode() + n.encode("utf-8")
    return head + b"\r\nConnection: close\r\n\r\n" + body


def job(**changes: object) -> bytes:
    base = {
        "artifact": "a" * 64 + ".onnx",
        "runner": "onnxruntime",
        "threads": 1,
        "options": {},
        "protocol": {
            "warmup_runs": 1,
            "warmup_seconds": 0.0,
            "min_runs": 1,
            "min_seconds": 0.0,
            "max_runs": 5,
            "max_seconds": 1.0,
            "rel_ci": 0.05,
        },
        "seed": 0,
    }
    for key, value in changes.items():
        if key in ("max_runs", "max_seconds"):
            base["protocol"][key] = value  # type: ignore[index]
        else:
            base[key] = value
    return json.dumps(base).encode()


def malformed_cases() -> dict[str, bytes]:
    """Authenticated requests that must each get a 4xx."""
    huge = 10**400
    cases = {
        "content-length 5000 digits": measure_request(b"{}", "9" * 5000),
        "content-length non-ascii digit": measure_request(b"{}", "1\u00b2"),
        "content-length arabic digits": measure_request(b"{}", "\u0662"),
        "json nested 50k": measure_request(b"[" * 50000 + b"]" * 50000),
        "json nested 100k objects": measure_request(b'{"a":' * 100000 + b"1" + b"}" * 100000),
        "threads 10**400": measure_request(job(threads=huge)),
        "seed 10**400": measure_request(job(seed=huge)),
        "max_runs 10**400": measure_request(job(max_runs=huge)),
        "max_seconds 10**400": measure_request(job(max_seconds=huge)),
        "queue_timeout 10**400": measure_request(job(queue_timeout_s=huge)),
        "threads -10**400": measure_request(job(threads=-huge)),
        "options nested": measure_request(job(options={"io_binding": [[[{}]]]})),
        "options unknown": measure_request(job(options={"nope": 1})),
        "runner a number": measure_request(job(runner=huge)),
        f"threads 1024 (cores {os.cpu_count()})": measure_request(job(threads=1024)),
    }
    return cases


def malformed(agent: Agent) -> dict:
    statuses = {label: exchange(agent.port, data) for label, data in malformed_cases().items()}
    return {
        "cases": len(statuses),
        "5xx": sum(1 for s in statuses.values() if s is not None and s >= 500),
        "not_4xx": sum(1 for s in statuses.values() if s is None or not 400 <= s < 500),
        "statuses": statuses,
        "alive": agent.proc.poll() is None,
    }


def log_abuse(agent: Agent, repeats: int = 20) -> dict:
    forged = "/v1/\x1b[2K\ragent: 127.0.0.1 measuring " + "b" * 64 + ".onnx"
    for _ in range(repeats):
        exchange(agent.port, f"GET /v1/hello?token={TOKEN} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        exchange(agent.port, f"GET /v1/hello?token={TOKEN} HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode())
        exchange(agent.port, f"GET {forged} HTTP/1.1\r\nHost: x\r\n{AUTH}Connection: close\r\n\r\n".encode("latin-1"))
        exchange(agent.port, f"GET {forged} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1"))
    time.sleep(0.5)
    text = agent.log.read_text(errors="replace")
    return {
        "requests": 4 * repeats,
        "control_chars": sum(1 for c in text if (ord(c) < 32 and c != "\n") or ord(c) == 127),
        "tokens_logged": text.count(TOKEN),
    }


def tiny_onnx(path: Path) -> str:
    """A 32x32 MatMul+Relu model; returns its sha256."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((32, 32)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 32])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path.write_bytes(model.SerializeToString())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def side_effects(source: Path, tmp: Path, hellos: int = 5) -> dict:
    """Entries created outside the cache (in HOME, TMPDIR, cwd: empty, watched) by hellos and a measurement."""
    from tests.agent.watch import Watch

    for d in ("home", "tmp", "cwd"):
        (tmp / d).mkdir(parents=True)
    watch = Watch(*(tmp / d for d in ("home", "tmp", "cwd")))
    agent = Agent(source, tmp)
    model = agent.tmp / "model.onnx"
    digest = tiny_onnx(model)
    for _ in range(hellos):
        hello_status(agent.port)
    body = model.read_bytes()
    put = f"PUT /v1/artifacts/{digest}.onnx HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Length: {len(body)}\r\n"
    stored = exchange(agent.port, put.encode() + b"Connection: close\r\n\r\n" + body)
    measured = exchange(agent.port, measure_request(job(artifact=f"{digest}.onnx")), 120)
    agent.stop()
    found = sorted({str(Path(p).relative_to(tmp)) for p in watch.created()})
    watch.close()
    return {"upload": stored, "measure": measured, "files_outside_cache": len(found), "examples": found[:6]}


def ipv6(source: Path, tmp: Path) -> dict:
    if not socket.has_ipv6:
        return {"ipv6_starts": None}
    agent = Agent(source, tmp, host="::1")
    ok = agent.port != 0 and agent.proc.poll() is None
    status = exchange_v6(agent.port) if ok else None
    agent.stop()
    return {"ipv6_starts": ok, "ipv6_hello": status}


def exchange_v6(port: int) -> int | None:
    try:
        with socket.create_connection(("::1", port), timeout=10) as s:
            s.sendall(f"GET /v1/hello HTTP/1.1\r\nHost: x\r\n{AUTH}Connection: close\r\n\r\n".encode())
            found = re.match(rb"HTTP/1\.[01] (\d{3})", s.recv(64))
            return int(found.group(1)) if found else None
    except OSError:
        return None


def run(source: Path, seconds: float) -> dict:
    """Every phase against agents from one source tree."""
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="hwbench-abuse-") as tmp:
        root = Path(tmp)
        for phase, fn in (("slow", lambda a: slow_requests(a, seconds)), ("flood", header_flood)):
            agent = Agent(source, root / phase)
            out[phase] = fn(agent)
            agent.stop()
        agent = Agent(source, root / "abuse")
        out["malformed"], out["log"] = malformed(agent), log_abuse(agent)
        agent.stop()
        out["side_effects"] = side_effects(source, root / "files")
        out.update(ipv6(source, root / "v6"))
    return out


def rows_of(label: str, r: dict) -> dict:
    return {
        "agent": label,
        "auth worst s": r["slow"]["worst_s"],
        "auth median s": r["slow"]["median_s"],
        "flood peak MB": r["flood"]["peak_mb"],
        "RSS after MB": r["flood"]["rss_after_mb"],
        "5xx": r["malformed"]["5xx"],
        "not 4xx": r["malformed"]["not_4xx"],
        "ctrl chars": r["log"]["control_chars"],
        "tokens": r["log"]["tokens_logged"],
        "files out": r["side_effects"]["files_outside_cache"],
        "IPv6": r.get("ipv6_starts"),
    }


def export(revision: str, tree: Path) -> Path:
    """The hwbench package of a git revision, in a folder of its own."""
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "hwbench"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def main() -> None:
    """Run the phases (optionally on an older revision too) and print the figures side by side."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", help="git revision whose agent to run first, for comparison")
    p.add_argument("--after", help="git revision to run instead of this working tree")
    p.add_argument("--seconds", type=float, default=36.0, help="length of the slow-request phase")
    p.add_argument("--name", default="agent_abuse", help="results file name")
    args = p.parse_args()
    results, rows = {}, []
    with tempfile.TemporaryDirectory(prefix="hwbench-abuse-src-") as src:
        if args.before:
            results["before"] = run(export(args.before, Path(src) / "before"), args.seconds)
            rows.append(rows_of(f"before ({args.before[:10]})", results["before"]))
        after = export(args.after, Path(src) / "after") if args.after else ROOT
        results["after"] = run(after, args.seconds)
        rows.append(rows_of(f"after ({args.after[:10]})" if args.after else "this tree", results["after"]))
    columns = list(rows[0])
    details = {k: {p: v[p] for p in ("slow", "flood", "malformed", "log", "side_effects")} for k, v in results.items()}
    text = (
        f"slow requests: 16 tokenless connections, 1 byte / 2 s, {args.seconds:.0f} s; header flood: 16 x "
        f"{results['after']['flood']['request_mb']:.1f} MB; {results['after']['malformed']['cases']} malformed "
        "authenticated requests\n" + table(rows, columns) + "\n\n" + json.dumps(details, indent=1, default=str)
    )
    save(args.name, text, results)


if __name__ == "__main__":
    main()
