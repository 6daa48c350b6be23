"""CoSim's contract between its parts: wire formats, file formats, Redis keys, names.

Standard library only. Every CoSim package may import it; it imports none of them. Each module
here owns one kind of message or file and carries its own schema version.
"""

from functools import cache

__all__ = ["__version__"]


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cosim")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    # Read when asked: importlib.metadata costs every CLI and kernel start ~25 ms otherwise.
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'cosim_protocol' has no attribute {name!r}")
