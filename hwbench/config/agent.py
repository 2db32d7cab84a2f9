"""How a target reaches its runtime: a board's agent settings (where it listens, its pool, where the token comes
from), the transport checks and the refusal of secrets in target files."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from hwbench.agent.wire import DEFAULT_PORT, TOKEN_ENV, read_token
from hwbench.config.loading import Strict
from hwbench.errors import ConfigError


class AgentSettings(Strict):
    """Where a board's agent listens and where its token comes from (never the token itself)."""

    host: str = Field(min_length=1)
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    token_env: str | None = None  # name of an environment variable holding the token (default HWBENCH_TOKEN)
    token_file: str | None = None  # path of a file holding the token
    connect_timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(4, ge=0, le=20)  # connection attempts after the first, with exponential backoff
    backoff_s: float = Field(1.0, ge=0)
    queue_timeout_s: float = Field(3600.0, gt=0)  # longest wait behind other sweeps' measurements on the board
    keepalive_s: float = Field(10.0, gt=0)  # TCP keepalive: a vanished board is noticed in about 3x this
    # More boards of the same kind ("host" or "host:port", port defaulting to `port`): the target's networks are
    # shared among every reachable one (docs/boards.md, "Board pools"). Same token source and timeouts.
    pool: list[str] = []

    @model_validator(mode="after")
    def _distinct_boards(self) -> AgentSettings:
        errors, seen = [], {(self.host.lower(), self.port): "agent.host"}
        for i, entry in enumerate(self.pool):
            try:
                host, port = _parse_board(entry, self.port)
            except ValueError as exc:
                errors.append(_pool_error(i, entry, str(exc)))
                continue
            where = seen.setdefault((host.lower(), port), f"agent.pool[{i}]")
            if where != f"agent.pool[{i}]":
                errors.append(_pool_error(i, entry, f"{_address(host, port)} is already named by {where}"))
        if errors:
            raise ValidationError.from_exception_data("AgentSettings", errors)
        return self

    def token(self) -> str:
        """Read the token from its source (TokenError when missing or weak)."""
        return read_token(token_file=self.token_file, token_env=self.token_env or TOKEN_ENV)

    def boards(self) -> list[tuple[str, int]]:
        """(host, port) of every board of the target: the main one first, then the pool's."""
        return [(self.host, self.port), *(_parse_board(entry, self.port) for entry in self.pool)]


_HOST = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


def _parse_board(entry: str, default_port: int) -> tuple[str, int]:
    """(host, port) of a pool entry: `host`, `host:port`, an IPv6 address, or `[v6]:port` (ValueError otherwise)."""
    host, port = entry, str(default_port)
    if "/" in entry or "@" in entry:
        raise ValueError("give host or host:port, not a URL (no scheme, path or user)")
    if entry.startswith("["):
        inside, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("an IPv6 address in brackets is written [addr] or [addr]:port")
        host, port = inside, rest[1:] if rest else port
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("not an IPv6 address (give host, host:port or [IPv6]:port)") from None
    elif not _HOST.match(host):
        raise ValueError("give a host name or address, or host:port (no scheme, path, user or spaces)")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port!r} is not a number from 1 to 65535")
    return host, int(port)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _pool_error(i: int, entry: str, message: str) -> InitErrorDetails:
    """A fault of pool entry i, located at `pool[i]` so it reads `agent.pool[i]` in the file's error."""
    return InitErrorDetails(type=PydanticCustomError("pool_entry", message), loc=(f"pool[{i}]",), input=entry)


def check_transport(file: Any, path: Path) -> None:
    """An agent target has an `agent:` section with at most one token source; a local one has none (`file`: a
    config.target.TargetFile, typed loosely because that module imports this one)."""
    if file.transport == "agent" and file.agent is None:
        raise ConfigError(
            path, "agent", "transport: agent needs an `agent:` section (host, port, token_env or token_file)"
        )
    if file.transport != "agent" and file.agent is not None:
        raise ConfigError(path, "transport", "an `agent:` section needs `transport: agent`")
    if file.transport == "ray-node" and not file.ray_resource:
        raise ConfigError(
            path, "ray_resource", "transport: ray-node needs the Ray resource that names the node (docs/cluster.md)"
        )
    if file.transport != "ray-node" and file.ray_resource:
        raise ConfigError(path, "ray_resource", "only a `transport: ray-node` target is measured on a Ray node")
    if file.agent is not None and file.agent.token_env and file.agent.token_file:
        raise ConfigError(path, "agent", "give token_env or token_file, not both")


def refuse_secrets(data: dict[str, Any], path: Path) -> None:
    """A token in a target file would end up in git and in the store: refuse it, saying what to do instead."""
    agent = data.get("agent")
    for where, section in (("", data), ("agent.", agent if isinstance(agent, dict) else {})):
        for key in section:
            if str(key).lower() in ("token", "password", "secret"):
                raise ConfigError(
                    path,
                    f"{where}{key}",
                    "never put the token in a target file: set agent.token_env (the name of an environment "
                    "variable that holds it) or agent.token_file (a file that holds it)",
                )
