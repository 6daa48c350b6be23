"""C++ build core (compiler driver, object cache, compile DB, sandbox) and the ``cosim-cpp``
kernel. ``cosim_cpp.build.build`` is shared by the kernel and the server's build endpoint."""

from cosim_protocol import __version__

__all__ = ["__version__"]
