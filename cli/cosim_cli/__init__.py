"""The ``cosim`` command: a dispatcher that knows each subcommand's module by name only.

Each subcommand module has ``add_parser(sub)`` (adds its parser(s) to the argparse
sub-parsers) and ``run(args) -> int``. A module that cannot be imported (its install extra is
missing, e.g. only ``cosim[hub]`` is installed) still gets a parser, whose run says what to
install. To add a subcommand, add one line to ``SUBCOMMANDS``.

This is the one module allowed to reach every part (hub, kernel packages): it is the process's
entry point, not a library, and it imports them only when building the parser.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import Any

# What marks each install extra as present (looked up, not imported: the hub stays light).
EXTRAS: dict[str, tuple[str, ...]] = {
    "cosim[hub]": ("jupyterhub",),
    "cosim[user]": ("jupyter_server", "numpy"),
}

# (module, the commands it adds, the install extra it needs)
SUBCOMMANDS: list[tuple[str, tuple[str, ...], str]] = [
    ("cosim_hub.cli", ("up",), "cosim[hub]"),
    ("cosim.snapshots.cli", ("snapshot",), "cosim[user]"),
    ("cosim.jobs.cli", ("template", "jobs"), "cosim[user]"),
    ("cosim.recording_cli", ("rec",), "cosim[user]"),
    ("cosim.slam.cli", ("slam", "datasets"), "cosim[user]"),
]


def _missing(sub: Any, commands: tuple[str, ...], extra: str, err: ImportError) -> None:
    for command in commands:
        parser = sub.add_parser(command, help=f"(needs {extra}: pip install '{extra}')")
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(_cosim_missing=(extra, str(err)))


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    from cosim_protocol import __version__

    parser = argparse.ArgumentParser(prog="cosim", description="CoSim command line")
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    runners: dict[str, Any] = {}
    for name, commands, extra in SUBCOMMANDS:
        absent = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
        try:
            if absent:
                raise ImportError(f"no module {absent[0]!r}")
            module = importlib.import_module(name)
        except ImportError as err:
            _missing(sub, commands, extra, err)
            continue
        module.add_parser(sub)
        runners.update(dict.fromkeys(commands, module))
    return parser, runners


def main(argv: list[str] | None = None) -> int:
    parser, runners = build_parser()
    args = parser.parse_args(argv)
    missing = getattr(args, "_cosim_missing", None)
    if missing:
        extra, why = missing
        print(f"cosim {args.command}: not installed here ({why}); pip install '{extra}'",
              file=sys.stderr)  # fmt: skip
        return 2
    module = runners.get(args.command)
    if module is None:
        parser.print_help()
        return 2
    try:
        return int(module.run(args))
    except ModuleNotFoundError as err:  # a dependency imported only when the command runs
        extra = next(e for n, _, e in SUBCOMMANDS if n == module.__name__)
        print(f"cosim {args.command}: {err}; pip install '{extra}'", file=sys.stderr)
        return 2
