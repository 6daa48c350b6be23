"""Sharing a user server: the hub scope that makes a share read-only, and the close code a
viewer socket gets when its user's access is revoked."""

from __future__ import annotations

SCHEMA_VERSION = 1

# A share carrying this scope (filtered to the server) is read-only in the user server:
# no edits, no execution, no sim control. Declared as a hub custom scope by cosim_hub.sharing.
VIEW_SCOPE = "custom:cosim:view"

# WebSocket close code (4000-4999: application) for "your access to this server was revoked".
CLOSE_ACCESS_REVOKED = 4403
