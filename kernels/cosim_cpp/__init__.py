"""C++ build core and the ``cosim-cpp`` kernel (arrives with its issue)."""

from cosim_server._version import __version__

__all__ = ["__version__"]
