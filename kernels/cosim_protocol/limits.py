"""Size caps on what users may store in CoSim's shared services (Redis, the course exchange).

One place for the numbers, so the writer (kernel, server, hub) and the enforcer (Redis config,
ACL, exchange handlers) agree. Bytes unless named otherwise.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

MIB = 1024 * 1024

# ---- Redis ---------------------------------------------------------------------------------
# The Redis `cosim up` starts: total memory, and what happens when it is full. "noeviction"
# refuses writes instead of dropping keys: the cost guard's ledger lives there and must never
# be evicted to make room for someone's frames.
REDIS_MAXMEMORY = 512 * MIB
REDIS_MAXMEMORY_POLICY = "noeviction"
# The largest single value (one scene, frame, job state, stream entry) a user may write. Redis
# enforces it for every argument (`proto-max-bulk-len`, minimum 1 MiB) and refuses a request
# bigger than the query-buffer limit; CoSim's writers check it first for a clear message.
REDIS_MAX_VALUE_BYTES = 32 * MIB
REDIS_MAX_QUERY_BYTES = 64 * MIB

# ---- course exchange -----------------------------------------------------------------------
# Per student, per course: what the exchange keeps of their submissions (all assignments).
EXCHANGE_MAX_FILES_PER_STUDENT = 2000
EXCHANGE_MAX_BYTES_PER_STUDENT = 200 * MIB
# Names of assignments and files: a name of a file, not a path.
EXCHANGE_NAME_MAX = 100
# Suffixes the exchange keeps for its own files next to the assignments.
EXCHANGE_RESERVED_SUFFIXES = (".json", ".tmp", ".lock")
