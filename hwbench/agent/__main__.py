"""`hwbench-agent` / `python -m hwbench.agent`: serve measurements on this board."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import tempfile
from pathlib import Path

from hwbench.agent.wire import DEFAULT_PORT, TOKEN_ENV, TokenError, new_token, read_token


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="hwbench-agent", description="Measure hwbench artifacts on this board.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: only this board)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0: any)")
    p.add_argument("--token-file", help=f"file holding the shared token (default: ${TOKEN_ENV})")
    p.add_argument("--create-token", action="store_true", help="write a new random token to --token-file if absent")
    p.add_argument("--cache-dir", default="~/.cache/hwbench-agent", help="where uploaded artifacts are kept")
    p.add_argument("--cache-max-mb", type=float, default=1024, help="cache size bound (least recently used go)")
    p.add_argument("--cache-max-files", type=int, default=500, help="cache file-count bound")
    p.add_argument("--max-upload-mb", type=float, default=256, help="largest artifact accepted")
    p.add_argument("--request-timeout", type=float, default=10, help="seconds to send a request's head (and body)")
    p.add_argument("--max-connections", type=int, default=16, help="concurrent connections served")
    p.add_argument("--reserved-connections", type=int, default=4, help="connections kept for clients with the token")
    p.add_argument(
        "--max-threads", type=int, default=os.cpu_count() or 1, help="most threads a job may use (default: cores)"
    )
    p.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return p.parse_args(argv)


def _token(args: argparse.Namespace) -> str:
    if args.create_token:
        if not args.token_file:
            raise TokenError("--create-token needs --token-file")
        path = Path(args.token_file).expanduser()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(new_token() + "\n")
            print(f"hwbench-agent: wrote a new token to {path} (copy it to the workstation)", file=sys.stderr)
    token = read_token(token_file=args.token_file)
    if args.token_file:
        mode = Path(args.token_file).expanduser().stat().st_mode
        if mode & 0o077:
            print(f"hwbench-agent: warning: {args.token_file} is readable by others (chmod 600 it)", file=sys.stderr)
    return token


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _contain(cache_dir: str) -> None:
    """Point temporary files and runtimes' caches (onnxruntime's ~/.cache database) into the agent's cache."""
    root = Path(cache_dir).expanduser().resolve() / ".runtime"
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "cache").mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(root / "tmp")  # inherited by the measurement process and any tool spawned
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    tempfile.tempdir = None  # recomputed from TMPDIR on next use


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Start the agent; errors in the options print one line and exit 2."""
    from hwbench.agent.board import runtimes
    from hwbench.agent.server import AgentConfig, serve

    args = parse_args(argv)
    try:
        if args.max_threads < 1 or args.max_connections < 1 or args.reserved_connections < 0:
            raise ValueError("--max-threads and --max-connections must be at least 1, --reserved-connections 0")
        if args.request_timeout <= 0:
            raise ValueError("--request-timeout must be positive")
        token = _token(args)
        _contain(args.cache_dir)
        config = AgentConfig(
            token=token,
            cache_dir=args.cache_dir,
            cache_max_bytes=int(args.cache_max_mb * (1 << 20)),
            cache_max_files=args.cache_max_files,
            max_upload_bytes=int(args.max_upload_mb * (1 << 20)),
            request_timeout_s=args.request_timeout,
            max_connections=args.max_connections,
            reserved_connections=args.reserved_connections,
            max_threads=args.max_threads,
            quiet=args.quiet,
        )
        server = serve(args.host, args.port, config)
    except (TokenError, OSError, ValueError) as exc:
        print(f"hwbench-agent: error: {exc}", file=sys.stderr)
        sys.exit(2)
    host, port = server.server_address[:2]
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    found = [f"{n} {next(iter(v['versions'].values()))}" for n, v in runtimes().items() if v["available"]]
    if not _is_loopback(args.host):
        print(
            f"hwbench-agent: warning: listening on {args.host}: anyone who can reach this port and has the token "
            "can run models here; restrict it with a firewall, or bind 127.0.0.1 and use an SSH tunnel",
            file=sys.stderr,
        )
    print(
        f"hwbench-agent listening on {shown} (cache {server.cache.root}; runtimes: {', '.join(found) or 'none'})",
        file=sys.stderr,
        flush=True,
    )
    # SIGTERM (systemd stop, kill) ends like Ctrl-C: close the socket and the measurement process.
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
