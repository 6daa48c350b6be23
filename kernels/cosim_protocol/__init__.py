"""CoSim's contract between its parts: wire formats, file formats, Redis keys, names.

Standard library only. Every CoSim package may import it; it imports none of them. Each module
here owns one kind of message or file and carries its own schema version.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cosim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
