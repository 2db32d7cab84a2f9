"""Every `hwbench ...` command in README.md's code blocks runs (tiny n, temporary directory), so the docs cannot rot.

All commands run once, in README order, in one temporary directory (its own results/ store), by a module fixture;
each command is then one test. Substitutions keep the run short on CI's 2 cores and are listed with their reason
(tiny n, a one-epoch schedule, the built-in targets with a short measurement protocol); commands that need
hardware this machine lacks are skipped with the reason stated. `compare-sweeps` compares the store with a copy
of itself (no second machine here).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.conftest import FAST
from tests.conftest import ROOT

# Every README command once (about 6 minutes on 2 cores): `make test-extended`. The default suite checks each
# capability on its own; the README's two quick-start commands are `make demo` and `make test`.
pytestmark = pytest.mark.extended

README = ROOT / "README.md"
# One epoch instead of the `short` schedule's 8, same resolution (32 px: the resolution the ViT example failed at).
TINY_SCHEDULE = (ROOT / "hwbench" / "accuracy" / "schedules" / "short.yaml").read_text()
TINY_SCHEDULE = re.sub(r"(?m)^epochs: \d+", "epochs: 1", TINY_SCHEDULE).replace("name: short", "name: readme-tiny")
# Detector sweeps: det_demo cut to one epoch on 64 training and 32 test images (same 128 px: anchors are in pixels).
TINY_DET_SCHEDULE = (
    (ROOT / "hwbench" / "accuracy" / "schedules" / "det_demo.yaml")
    .read_text()
    .replace("name: det_demo", "name: readme-det")
)
TINY_DET_SCHEDULE = (
    re.sub(r"(?m)^(epochs|eval_every): \d+", r"\1: 1", TINY_DET_SCHEDULE) + "train_images: 64\nval_images: 32\n"
)
# The built-in targets with a short measurement protocol: these tests check that each command runs; the protocol
# (a 1 % interval goal, up to 20 s a round, two rounds) has its own tests (tests/measure, tests/pipeline).
FAST_MEASUREMENT = FAST
SKIPS = {
    "agent-check": "needs a board's agent on the network (the command against a local agent: tests/agent/test_cli.py)",
    "rpi4-tflite-int8": "needs a Raspberry Pi running hwbench-agent (agent targets: tests/agent, tests/runners)",
    "--ray-address": "needs a Ray cluster (sweeps on a real two-node cluster: tests/pipeline/test_ray_sweep.py)",
}


def readme_commands(text: str | None = None) -> list[str]:
    """Every `hwbench ...` command in the README's fenced code blocks, continuation lines joined, comments dropped."""
    text = README.read_text() if text is None else text
    commands = []
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("hwbench "):
                commands.append(line)
    return commands


def substitute(command: str, work: Path) -> list[str]:
    """The command as run here: tiny n, a one-epoch schedule, a test-made CIFAR-10 folder, a second local sweep."""
    args = shlex.split(command)[1:]
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--n":  # tiny n: one network per space
            out += ["--n", "1"]
            i += 2
            continue
        if arg == "--schedule":  # replaced below (one epoch)
            i += 2
            continue
        if arg == "--dataset" and args[i + 1].startswith("cifar10:"):  # no CIFAR-10 download on CI: a fake folder
            out += ["--dataset", f"cifar10:{work / 'data' / 'cifar-10-batches-py'}"]
            i += 2
            continue
        out.append(arg)
        i += 1
    if out[0] == "sweep":  # `hwbench report` is run (and checked) by its own README commands
        detectors = any(a.startswith("det_") for a in out) or "digits-det" in out
        out += ["--schedule", str(work / ("tiny_det.yaml" if detectors else "tiny.yaml")), "--no-report"]
    if out[0] == "report" and "pi" in out:  # `pi` is the board sweep (skipped): combine with a local sweep
        out[out.index("pi")] = "backends"
    return out


def _skip_reason(command: str) -> str | None:
    return next((reason for key, reason in SKIPS.items() if key in command), None)


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    """Run every README command in order in one directory; map command → its completed process."""
    from tests.accuracy.layouts import write_cifar

    work = tmp_path_factory.mktemp("readme")
    # The README's commands run from the checkout (`design_spaces/fixed/...` paths); links give the same view
    # while results/ (the default store) stays in the temporary directory.
    (work / "design_spaces").symlink_to(ROOT / "design_spaces", target_is_directory=True)
    _fast_targets(work / "targets")
    (work / "tiny.yaml").write_text(TINY_SCHEDULE)
    (work / "tiny_det.yaml").write_text(TINY_DET_SCHEDULE)
    write_cifar(work / "data", per_batch=20)  # 100 training images: more than one batch of 64
    env = {"PYTHONPATH": str(ROOT), "COLUMNS": "120", "PATH": "/usr/bin:/bin"}
    results: dict[str, subprocess.CompletedProcess] = {}
    for command in readme_commands():
        if _skip_reason(command):
            continue
        if command.startswith("hwbench import-accuracy"):
            _write_accuracies(work)
        if "--store-b other/" in command:  # a second machine's store: a copy of this one stands in for it
            shutil.copytree(work / "results", work / "other" / "results", dirs_exist_ok=True)
        results[command] = subprocess.run(
            [sys.executable, "-m", "hwbench", *substitute(command, work)],
            cwd=work, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    results["__work__"] = work  # type: ignore[assignment]
    return results


def _fast_targets(folder: Path) -> None:
    """Every built-in target file, same runner, export and options, measured with FAST_MEASUREMENT."""
    import yaml

    folder.mkdir()
    for path in sorted((ROOT / "targets").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if data["runner"] == "zigzag":  # a modelled target times nothing: its fastest search effort instead
            data["runner_options"]["effort"] = "lowest"
            (folder / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
            continue
        data["measurement"] = {**(data.get("measurement") or {}), **FAST_MEASUREMENT}
        (folder / path.name).write_text(yaml.safe_dump(data, sort_keys=False))


def _write_accuracies(work: Path) -> None:
    """accuracies.csv for `import-accuracy mine accuracies.csv`: one imported top-1 per network of sweep `mine`."""
    from hwbench.store import Store

    store = Store(work / "results" / "hwbench.sqlite", create=False)
    ids = sorted(store.sweep_arch_ids("mine"))
    store.close()
    rows = [f"{arch_id},imagenet,top1,0.{70 + i}" for i, arch_id in enumerate(ids)]
    (work / "accuracies.csv").write_text("arch_id,dataset,metric,value\n" + "\n".join(rows) + "\n")


COMMANDS = readme_commands()


def test_readme_has_the_commands_it_documents() -> None:
    names = {shlex.split(c)[1] for c in COMMANDS}
    assert {"spaces", "targets", "sweep", "show", "import-accuracy", "export-table", "report", "build"} <= names
    assert any("--space vit_tome" in c for c in COMMANDS)  # the ViT example (issue 11)


@pytest.mark.slow
@pytest.mark.export
@pytest.mark.parametrize(
    "command", COMMANDS, ids=[f"{i:02d}-{' '.join(c.split()[1:3])}" for i, c in enumerate(COMMANDS)]
)
def test_readme_command_runs(readme_run: dict, command: str) -> None:
    reason = _skip_reason(command)
    if reason:
        pytest.skip(reason)
    out = readme_run[command]
    assert out.returncode == 0, f"{command}\n{out.stderr[-3000:]}"
    assert "Traceback" not in out.stderr
    work: Path = readme_run["__work__"]
    verb = shlex.split(command)[1]
    if verb == "sweep":
        # a stage alone says what it did: networks and exports, measurements, or trainings
        summary = r"sweep '\w+': \d+ (networks|new measurements|trained)"
        assert re.search(summary, out.stderr + out.stdout), out.stderr[-2000:]
    if verb == "show" and "--accuracy" not in command:
        assert ("median_ms" if "--format csv" in command else "median ms") in out.stdout
    if verb == "export-table":
        assert (work / "results" / "mine" / "results.parquet").is_file()
    if verb == "report":
        assert "report.html" in out.stdout
    if verb == "build":
        assert "MACs 300.8 M" in out.stdout


@pytest.mark.slow
@pytest.mark.export
def test_readme_vit_example_trains_at_the_schedule_resolution(readme_run: dict) -> None:
    """The README's ViT sweep trained every network (at 32 px) and measured it at the space's 224 px."""
    import json
    import sqlite3

    work: Path = readme_run["__work__"]
    db = sqlite3.connect(work / "results" / "hwbench.sqlite")
    rows = db.execute(
        "SELECT a.status, a.info_json FROM sweep_accuracy l JOIN accuracies a ON a.acc_key = l.acc_key "
        "WHERE l.sweep = 'vits' AND a.source = 'trained'"
    ).fetchall()
    assert len(rows) == 4 and all(status == "ok" for status, _ in rows), rows
    for _, info in rows:
        info = json.loads(info)
        assert info["resolution"] == 32 and info["space_resolution"] == 224
        assert info["tokens"] == 5 and info["space_tokens"] == 197  # 2×2 + 1 trained, 14×14 + 1 timed


def test_substitutions_are_minimal(tmp_path: Path) -> None:
    cmd = "hwbench sweep --space mbconv --target cpu-onnxruntime-1t --dataset cifar10:/data/x --schedule short --n 20"
    args = substitute(cmd, tmp_path)
    assert args[:5] == ["sweep", "--space", "mbconv", "--target", "cpu-onnxruntime-1t"]
    assert args[args.index("--n") + 1] == "1" and args.count("--schedule") == 1 and args[-1] == "--no-report"
    assert args[args.index("--dataset") + 1] == f"cifar10:{tmp_path / 'data' / 'cifar-10-batches-py'}"
    assert substitute("hwbench report mine pi --bootstrap 2000", tmp_path) == [
        "report", "mine", "backends", "--bootstrap", "2000"
    ]  # fmt: skip
