"""CoSim's Jupyter server extension: REST and WebSocket APIs under ``/cosim/api``."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import CoSimServer

    return [{"module": "cosim_server", "app": CoSimServer}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "@cosim/labextension"}]
