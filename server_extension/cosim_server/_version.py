from cosim_protocol import __version__

__all__ = ["__version__"]
