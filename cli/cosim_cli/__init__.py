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


class _Version(argparse.Action):
    """``--version``, reading the installed version only when asked (importlib.metadata costs
    more than a small snapshot)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from cosim_protocol import __version__

        print(f"cosim {__version__}")  # to stdout, as argparse's own version action
        parser.exit()


def build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    """The parser with every subcommand, or with ``command``'s alone when it names one: each
    module's imports (the hub's traitlets, the jobs' psutil) would otherwise delay every run."""
    parser = argparse.ArgumentParser(prog="cosim", description="CoSim command line")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    runners: dict[str, Any] = {}
    chosen = [s for s in SUBCOMMANDS if command in s[1]]
    for name, commands, extra in chosen or SUBCOMMANDS:
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
    argv = sys.argv[1:] if argv is None else argv
    parser, runners = build_parser(argv[0] if argv else None)
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
