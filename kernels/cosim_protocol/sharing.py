"""Sharing a user server: the hub scope that makes a share read-only, and the close codes a
visitor's sockets get when their access is revoked or changed."""

from __future__ import annotations

SCHEMA_VERSION = 1

# A share carrying this scope (filtered to the server) is read-only in the user server:
# no edits, no execution, no sim control. Declared as a hub custom scope by cosim_hub.sharing.
VIEW_SCOPE = "custom:cosim:view"

# WebSocket close code (4000-4999: application) for "your access to this server was revoked".
CLOSE_ACCESS_REVOKED = 4403

# Close code for "your access to this server changed" (a share made view-only): reconnect, and
# the new connection gets the new permissions (documents read-only, no kernels).
CLOSE_ACCESS_CHANGED = 4409
