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
# Assignment names become folder names next to the exchange's own "<name>.json" metadata.
EXCHANGE_NAME_MAX = 80
EXCHANGE_RESERVED_SUFFIXES = (".json", ".tmp", ".lock")
# Paths of files inside a transfer: each part a valid file name on every filesystem we use.
EXCHANGE_FILE_NAME_MAX = 255
EXCHANGE_PATH_MAX = 1024
