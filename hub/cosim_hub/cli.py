"""The ``cosim`` command line."""

from __future__ import annotations

import argparse
import sys

from .config import default_state_dir


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, not {value}")
    return value


def _add_up(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "up",
        help="start Redis, JupyterHub and the proxy on this machine",
        description="Start CoSim on this machine: a redis-server (unless REDIS_URL is set), "
        "JupyterHub with configurable-http-proxy, local accounts and one JupyterLab server per "
        "user (their own Unix account when run as root). Ctrl-C stops everything it started.",
    )
    p.add_argument("--port", type=_port, default=8000, help="public port (default: 8000)")
    p.add_argument(
        "--ip",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; 0.0.0.0 opens CoSim to the network)",
    )
    p.add_argument(
        "--state-dir",
        default=default_state_dir(),
        help="hub database, secrets, Redis data, logs and users' homes "
        "(default: $COSIM_STATE_DIR or ~/.local/share/cosim)",
    )
    p.add_argument(
        "--admin",
        default="admin",
        help="name of the initial admin account (default: admin); its password comes from "
        "$COSIM_ADMIN_PASSWORD or is generated at first start and printed once",
    )
    p.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE",
        help="extra jupyterhub_config.py-style file (c.CoSimHub..., c.JupyterHub...) loaded "
        "before CoSim's defaults, so its settings win",
    )
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="hub log level (default: INFO); the log is <state-dir>/logs/hub.log",
    )


def main(argv: list[str] | None = None) -> int:
    from cosim_server import __version__

    parser = argparse.ArgumentParser(prog="cosim", description="CoSim command line")
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_up(sub)
    from cosim.snapshots.cli import add_parser as add_snapshot

    add_snapshot(sub)
    from cosim.jobs.cli import add_parsers as add_jobs

    add_jobs(sub)
    from cosim.recording_cli import add_parser as add_rec

    add_rec(sub)
    args = parser.parse_args(argv)
    if args.command == "up":
        from .launcher import UpOptions, up

        opts = UpOptions(
            port=args.port,
            ip=args.ip,
            state_dir=args.state_dir,
            admin=args.admin,
            config_file=args.config_file,
            log_level=args.log_level,
        )
        return up(opts)
    if args.command == "snapshot":
        from cosim.snapshots.cli import run as run_snapshot

        return run_snapshot(args)
    if args.command == "rec":
        from cosim.recording_cli import run as run_rec

        return run_rec(args)
    if args.command in ("template", "jobs"):
        from cosim.jobs import cli as jobs_cli

        return (
            jobs_cli.run_template(args) if args.command == "template" else jobs_cli.run_jobs(args)
        )
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
