"""The cost guard, in one package: GPU concurrency limits, monthly spend caps, metering, culling.

- ``settings``: ``c.CoSimCostGuard`` (shared by the hub and the service), scopes, service name
- ``config``: wires the guard into a hub config (spawn hooks, the managed service, scopes, roles)
- ``ledger``: the Redis ledger's writes (Lua scripts) on ``cosim_protocol.costguard``'s reads
- ``spawn``: the hub's spawn-time decisions (reserve before a spawn, release after a stop)
- the service, ``python -m cosim_hub.costguard`` (``__main__``), started and managed by the hub:
  ``meter`` (idempotent charges per server and interval, warnings, stops past a cap, culls per
  profile), ``handlers``/``page``/``usage`` (the admins' "CoSim usage" page and quota API, each
  user's own figures at ``api/self``), ``metrics`` (Prometheus), ``hub_api`` (the hub calls).
"""
