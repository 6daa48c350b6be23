"""The notebook-side CoSim API (``cosim.viewer``, ``cosim.jobs``, ``cosim.snapshot``).

The features arrive with their issues; this package already carries the version so notebooks can
check which CoSim they run against.
"""

from cosim_server._version import __version__

__all__ = ["__version__"]
