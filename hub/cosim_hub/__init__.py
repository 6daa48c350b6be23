"""CoSim's hub side: ``configure(c)`` for jupyterhub_config.py, the ``cosim up`` launcher."""

from __future__ import annotations

from .config import CoSimHub, configure

__all__ = ["CoSimHub", "configure"]
