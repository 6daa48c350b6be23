"""The cost-guard service: ``python -m cosim_hub.costguard``, started and managed by the hub.

It meters running servers (idempotent charges per server and interval), warns and then stops GPU
servers past a spend cap, culls servers per profile (idle timeout, maximum runtime), serves the
admins' "CoSim usage" page and quota API under ``/services/cosim-costguard/``, and Prometheus
metrics. Spawn-time decisions are taken in the hub by ``cosim_hub.spawn_guard`` on the same ledger.
"""
