"""The `hwbench` command line: parse, call the pipeline, show progress. Errors exit with status 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hwbench.errors import HwbenchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Compare neural-network blocks on real hardware.",
)

StoreOpt = Annotated[Path, typer.Option("--store", help="SQLite results store.")]
DEFAULT_STORE = Path("results/hwbench.sqlite")
# The built-in demo: the mission's textbook pair (MBConv: depthwise, cheap in MACs; Fused-MBConv: a full 3x3 conv,
# more MACs, often faster on CPUs) on onnxruntime with 1 and 2 threads. The report compares two blocks only where
# 9 networks of each reach an accuracy level and gives verdicts from 10 networks per block
# (analysis.recommend.MIN_NETWORKS): 15 networks per block give the pair a shared accuracy range; five blocks with
# 3 networks each, or three with 10, showed no comparison at all.
DEFAULT_SPACES = ["mbconv", "fused_mbconv"]
DEFAULT_TARGETS = ["cpu-onnxruntime-1t", "cpu-onnxruntime-2t"]
# The built-in offline dataset (ships inside scikit-learn) and the schedule the demo trains on (`demo`: 5 epochs),
# chosen so that `make demo` stays under 10 minutes on 2 cores from a fresh clone (README "Quick start").
DEFAULT_DATASET = "digits"
DEFAULT_SCHEDULE = "demo"
DEFAULT_N = 15


@app.command()
def sweep(
    space: Annotated[
        list[str] | None, typer.Option("--space", "-s", help="Design space file or name (repeat).")
    ] = None,
    target: Annotated[list[str] | None, typer.Option("--target", "-t", help="Target file or name (repeat).")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Networks per space.")] = DEFAULT_N,
    seed: Annotated[int, typer.Option(help="Sampling seed: same seed, same architectures.")] = 0,
    name: Annotated[str, typer.Option("--name", help="Sweep name (re-use it to resume).")] = "demo",
    store: StoreOpt = DEFAULT_STORE,
    workers: Annotated[int | None, typer.Option(min=1, help="Export worker processes (default: cores).")] = None,
    export_timeout: Annotated[float, typer.Option(help="Seconds before a hung export is killed.")] = 900.0,
    retry_errors: Annotated[bool, typer.Option(help="Redo exports and measurements that failed before.")] = False,
    report: Annotated[bool, typer.Option(help="Write the report when done.")] = True,
    dataset: Annotated[
        str, typer.Option(help="Dataset to train on: NAME[:PATH] (see `hwbench datasets`).")
    ] = DEFAULT_DATASET,
    schedule: Annotated[str, typer.Option(help="Training schedule: a name (see `hwbench schedules`) or a file.")] = (
        DEFAULT_SCHEDULE
    ),
    train: Annotated[bool, typer.Option(help="Train and evaluate every network (--no-train: latency only).")] = True,
    download: Annotated[
        bool, typer.Option(help="Fetch a missing standard dataset (CIFAR, MNIST) into PATH; never done otherwise.")
    ] = False,
    train_seed: Annotated[int | None, typer.Option(help="Training seed (default: the schedule's).")] = None,
    train_workers: Annotated[
        int | None, typer.Option(min=1, help="Training worker processes (default: one per core; one on CUDA).")
    ] = None,
    train_timeout: Annotated[float, typer.Option(help="Seconds before one network's training is stopped.")] = 3600.0,
    train_device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    eval_artifacts: Annotated[
        str, typer.Option(help="Accuracy of exported artifacts: auto (int8 targets), all or none.")
    ] = "auto",
) -> None:
    """Sample N networks per space, export, measure on every target, train, store, report. Re-run to resume."""
    from hwbench.pipeline import SweepRequest, run_sweep
    from hwbench.progress import RichProgress

    request = SweepRequest(
        name=name,
        **_resolve_inputs(space or DEFAULT_SPACES, target or DEFAULT_TARGETS),
        n=n,
        seed=seed,
        store=store,
        workers=workers,
        export_timeout=export_timeout,
        retry_errors=retry_errors,
        report=report,
        dataset=dataset if train else None,
        schedule=schedule,
        download=download,
        train_seed=train_seed,
        train_workers=train_workers,
        train_timeout=train_timeout,
        train_device=train_device,
        eval_artifacts=eval_artifacts,
    )
    ui = RichProgress()
    counts = run_sweep(request, ui)
    trained = f", {counts.get('trained', 0)} trained" if train else ""
    ui.note(
        f"sweep {name!r}: {counts.get('archs', 0)} networks, {counts.get('exports', 0)} new exports, "
        f"{counts.get('measurements', 0)} new measurements{trained} (store: {store})"
    )


def _resolve_inputs(spaces: list[str], targets: list[str]) -> dict[str, list[Path]]:
    """Every --space and --target value as files; all the unknown ones reported together."""
    from hwbench.config import raise_errors, split_errors
    from hwbench.errors import ConfigError
    from hwbench.paths import resolve
    from hwbench.space.locate import space_paths

    found: dict[str, list[Path]] = {"spaces": [], "targets": []}
    errors: list[ConfigError] = []
    for value in spaces:
        try:
            found["spaces"] += space_paths(value)
        except ConfigError as exc:
            errors += split_errors(exc)
    for value in targets:
        try:
            found["targets"].append(resolve(value, "targets", "--target"))
        except ConfigError as exc:
            errors += split_errors(exc)
    raise_errors(errors)
    return found


def _version(value: bool) -> None:
    if value:
        from hwbench import __version__

        typer.echo(f"hwbench {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Compare neural-network blocks on real hardware."""


@app.command()
def spaces() -> None:
    """List the design spaces (and fixed architectures) in design_spaces/."""
    from hwbench.paths import data_dir, listing

    rows = []
    for path in listing("design_spaces"):
        rows.append((str(path.relative_to(data_dir("design_spaces")).with_suffix("")), *_describe(path, "block")))
    _print_table(["name", "block", "description"], rows)


@app.command()
def targets() -> None:
    """List the targets in targets/."""
    from hwbench.paths import data_dir, listing

    rows = [
        (str(p.relative_to(data_dir("targets")).with_suffix("")), *_describe(p, "runner")) for p in listing("targets")
    ]
    _print_table(["name", "runner", "description"], rows)


def _describe(path: Path, key: str) -> tuple[str, str]:
    """(key value, description) of a YAML file, without validating it (listing must never fail)."""
    from hwbench.config import load_yaml

    try:
        data = load_yaml(path)
    except HwbenchError as exc:
        return ("?", f"unreadable: {exc}")
    value = data.get(key) or (data.get("arch") or {}).get(key, "")
    description = data.get("description", "")
    return (str(value), f"{description}{' (fixed architecture)' if 'arch' in data else ''}")


def _range(low: object, high: object, scale: float = 1.0, unit: str = "") -> str:
    """'a–b' (or 'a' when equal) of two numbers scaled; '–' when unknown."""
    try:
        lo, hi = float(low) / scale, float(high) / scale  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if lo != lo or hi != hi:
        return "–"
    fmt = "{:.0f}" if scale == 1.0 else "{:.3g}"  # whole token counts; scaled MACs to 3 significant digits
    low_text, high_text = fmt.format(lo), fmt.format(hi)
    return f"{low_text}{unit}" if low_text == high_text else f"{low_text}–{high_text}{unit}"


def _image_ms(r: object) -> str:
    """Median [p10–p90] over images of each image's median latency, for artifacts timed image by image."""
    if getattr(r, "image_median_ms", None) is None or r.image_median_ms != r.image_median_ms:  # type: ignore[attr-defined]
        return "–"
    return f"{_num(r.image_median_ms)} [{_num(r.image_p10_ms)}–{_num(r.image_p90_ms)}] ×{r.images_timed}"  # type: ignore[attr-defined]


def _pct(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if v != v else f"{100 * v:.1f}%"


def _num(value: object, digits: int = 3) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if v != v:
        return "–"
    return f"{v:.0f}" if digits == 0 else f"{v:.{digits}g}"


@app.command("export-table")
def export_table(
    name: Annotated[str, typer.Argument(help="Sweep name.")],
    format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Write a sweep's results table for pandas users."""
    from hwbench.analysis.table import results_frame
    from hwbench.store import Store

    if format not in ("csv", "parquet"):
        raise HwbenchError(f"--format: expected csv or parquet, got {format!r}")
    frame = results_frame(Store(store, create=False), [name])
    path = output or store.parent / name / f"results.{format}"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False) if format == "csv" else frame.to_parquet(path, index=False)
    typer.echo(f"{len(frame)} rows → {path}")


@app.command()
def report(
    names: Annotated[list[str], typer.Argument(help="Sweep name(s); several are combined.")],
    store: StoreOpt = DEFAULT_STORE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report directory.")] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap replicates (0: no intervals).")] = 1000,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="Interval level; also the bootstrap support a drop needs.")
    ] = 0.95,
    cov_threshold: Annotated[float, typer.Option(min=0.0, help="Flag a larger robust CoV as noisy.")] = 0.10,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    group: Annotated[str, typer.Option(help="Compare by this column: block or space.")] = "block",
) -> None:
    """Regenerate the pre-selection report from the store alone (one sweep, or several combined)."""
    from hwbench.analysis.analyse import Options
    from hwbench.report import write_report
    from hwbench.store import Store

    if group not in ("block", "space"):
        raise HwbenchError(f"--group: expected block or space, got {group!r}")
    options = Options(n_boot=bootstrap, confidence=confidence, cov_threshold=cov_threshold, seed=seed, group=group)
    outdir = output or store.parent / "+".join(names)
    typer.echo(f"report: {write_report(Store(store, create=False), names, outdir, options)}")


@app.command()
def build(
    spec: Annotated[
        str, typer.Argument(help="Architecture or design space: a file or a name (a space's first sample).")
    ],
    seed: Annotated[int, typer.Option(help="Seed when SPEC is a design space.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the canonical spec and counts as JSON.")] = False,
) -> None:
    """Build one architecture and print its MACs, parameters and activations."""
    import json

    from hwbench.models.complexity import complexity
    from hwbench.space.design_space import load_space
    from hwbench.space.locate import space_paths

    by_path = Path(spec).is_file() or spec.endswith((".yaml", ".yml"))  # a missing file: "file not found"
    space = load_space(spec if by_path else space_paths(spec, "SPEC")[0])
    arch = space.fixed or space.sample(1, seed)[0].spec
    cx = complexity(arch)
    if as_json:
        typer.echo(json.dumps({"arch_id": arch.arch_id, **cx.as_dict(), "arch": arch.to_dict()}, indent=2))
        return
    typer.echo(f"{space.name}  arch_id {arch.arch_id}  block {arch.block}  family {arch.family}")
    typer.echo(f"MACs {cx.macs / 1e6:,.1f} M   params {cx.params / 1e6:,.3f} M   activations {cx.acts / 1e6:,.2f} M")


@app.command("agent-check")
def agent_check(
    address: Annotated[str, typer.Argument(help="HOST:PORT of an agent, or an agent target (file or name).")],
    token_file: Annotated[Path | None, typer.Option(help="File holding the token (default: $HWBENCH_TOKEN).")] = None,
    token_env: Annotated[str | None, typer.Option(help="Environment variable holding the token.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the connection.")] = 10.0,
) -> None:
    """Say whether a board's agent is reachable and accepts the token, and what runtimes it has."""
    from hwbench.agent.client import AgentAuthError, AgentClient, AgentError
    from hwbench.agent.wire import TokenError, read_token

    try:
        host, port, token = _agent_address(address, token_file, token_env, read_token)
    except TokenError as exc:
        raise HwbenchError(f"{address}: {exc}") from None
    client = AgentClient(host, port, token, connect_timeout_s=timeout, retries=0)
    try:
        facts = client.hello()
    except AgentAuthError as exc:
        raise HwbenchError(f"{exc}: reachable, but not authenticated (check the token)") from None
    except AgentError as exc:
        raise HwbenchError(str(exc)) from None
    finally:
        client.close()
    from hwbench.agent.board import describe

    typer.echo(describe(client.address, facts))


def _agent_address(address: str, token_file: Path | None, token_env: str | None, read_token) -> tuple[str, int, str]:
    """(host, port, token) from HOST:PORT and the token options, or from an agent target's `agent:` section."""
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and not Path(address).is_file():
        return host.strip("[]"), int(port), read_token(str(token_file) if token_file else None, token_env)
    from hwbench.config.target import load_target
    from hwbench.paths import resolve

    target = load_target(resolve(address, "targets", "ADDRESS"))
    if target.agent is None:
        raise HwbenchError(f"{target.source}: not an agent target (no `transport: agent`); give HOST:PORT")
    if token_file or token_env:
        return target.agent.host, target.agent.port, read_token(str(token_file) if token_file else None, token_env)
    return target.agent.host, target.agent.port, target.agent.token()


def _print_table(headers: list[str], rows: list[tuple], width: int | None = None) -> None:
    """A rich table; `width` fixes the layout width (default: the terminal's, or $COLUMNS, or 80)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, show_lines=False)
    for row in rows:
        table.add_row(*(str(c) for c in row))
    Console(width=width).print(table)


# Accuracy commands (import-accuracy, datasets, schedules), `show` and `compare-sweeps` live in their own modules.
from hwbench import cli_accuracy, cli_compare, cli_show  # noqa: E402, F401  (cli_compare: compare-sweeps)


class Interrupted(Exception):
    """Ctrl-C, raised as an ordinary exception so the CLI framework does not swallow it."""


def _on_sigint(signum: int, frame: object) -> None:
    raise Interrupted


def main() -> None:
    """Entry point: user errors print one line each and exit 2; Ctrl-C stops cleanly with 130."""
    import signal

    try:  # typer ≥ 0.20 vendors click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - older typer on plain click
        from click.exceptions import UsageError

    # Only replace Python's own handler: a shell that started us with SIGINT ignored keeps it ignored.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        # standalone_mode=False: usage errors reach us as exceptions, printed as one line instead of a box.
        code = typer.main.get_command(app).main(standalone_mode=False)
    except HwbenchError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    except UsageError as exc:
        if exc.format_message():  # empty: no arguments at all, and the help was printed
            print(f"error: {exc.format_message()} (see `hwbench {_command_name(exc)}--help`)", file=sys.stderr)
        sys.exit(2)
    except (Interrupted, KeyboardInterrupt, typer.Abort):
        print("\ninterrupted: everything finished so far is stored; re-run the same command to resume", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _command_name(exc: object) -> str:
    """'sweep ' for an error in `hwbench sweep`, '' at the top level."""
    ctx = getattr(exc, "ctx", None)
    return f"{ctx.info_name} " if ctx is not None and ctx.parent is not None else ""
