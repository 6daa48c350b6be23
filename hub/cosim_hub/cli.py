"""``cosim up``: the hub side of the ``cosim`` command (dispatched by ``cosim_cli``)."""

from __future__ import annotations

import argparse

from .config import default_state_dir


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, not {value}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
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
        "--subdomains",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve each user server on its own origin, http://<user>.cosim.localhost:<port>, "
        "apart from the hub's (default on a loopback --ip; elsewhere set "
        "c.CoSimHub.subdomain_host)",
    )
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="hub log level (default: INFO); the log is <state-dir>/logs/hub.log",
    )


def run(args: argparse.Namespace) -> int:
    from .launcher import UpOptions, up

    opts = UpOptions(
        port=args.port,
        ip=args.ip,
        state_dir=args.state_dir,
        admin=args.admin,
        config_file=args.config_file,
        log_level=args.log_level,
        subdomains=args.subdomains,
    )
    return up(opts)


def main(argv: list[str] | None = None) -> int:
    """``python -m cosim_hub up ...``: the hub's own commands, without the user-side ones."""
    from cosim_protocol import __version__

    parser = argparse.ArgumentParser(prog="cosim", description="CoSim hub command line")
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    add_parser(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(argv)
    if args.command == "up":
        return run(args)
    parser.print_help()
    return 2
