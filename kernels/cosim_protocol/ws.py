"""WebSocket message types and close codes, the same on the server and in Lab.

Close codes 4000-4999 are for applications (RFC 6455). A client that sees ``CLOSE_SIM_ENDED``
or ``CLOSE_JOB_DELETED`` shows "ended" and does not reconnect; any other close is a lost
connection it retries.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

CLOSE_NORMAL = 1000
CLOSE_SIM_ENDED = 4404  # viewer socket: the sim ended or is gone
CLOSE_JOB_DELETED = 4404  # job log socket: the job was deleted

# Viewer socket, server -> client JSON messages (binary messages are scenes and frames).
MSG_ENDED = "ended"
MSG_ERROR = "error"
