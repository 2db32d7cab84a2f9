"""`hwbench agent-check`: is a board's agent reachable, does it accept the token, which runtimes has it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hwbench.cli.common import app
from hwbench.errors import HwbenchError


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
