"""The cost guard's settings (``c.CoSimCostGuard.<name>``), shared by the hub and the service.

The hub reads them from its config; ``configure(c)`` hands them to the managed service as JSON in
``$COSIM_COSTGUARD_SETTINGS``, so both sides always agree on intervals and defaults.
"""

from __future__ import annotations

import json
import os
from typing import Any

from traitlets import Bool, Float, Int, TraitError, Unicode, validate
from traitlets.config import Configurable

SETTINGS_ENV = "COSIM_COSTGUARD_SETTINGS"
SERVICE_NAME = "cosim-costguard"
READ_SCOPE = "custom:cosim-costguard:read"
WRITE_SCOPE = "custom:cosim-costguard:write"
# Every user holds it filtered to themselves (!user), and so do their servers' tokens: the
# service's api/self answers with the caller's own spend, cap and notices, nobody else's.
SELF_SCOPE = "custom:cosim-costguard:self"


class CoSimCostGuard(Configurable):
    """GPU concurrency limits, monthly spend caps, metering and per-profile culling."""

    enabled = Bool(
        True,
        help="""Reserve capacity before each spawn and run the cost-guard service
        (`python -m cosim_hub.costguard`) under the hub. False: no checks, no metering.""",
    ).tag(config=True)

    port = Int(
        0,
        help="Port of the cost-guard service (0: a free port chosen at hub start).",
    ).tag(config=True)

    service_host = Unicode(
        "127.0.0.1",
        help="""Host name under which the hub and proxy reach the service (on Kubernetes the
        proxy runs in its own pod: the hub's service name, 'hub', with a fixed port).""",
    ).tag(config=True)

    user_url = Unicode(
        "",
        help="""URL user servers use to reach the service, ending in /services/cosim-costguard/
        (default: the service's own URL; on Kubernetes http://hub:<port>/services/...).""",
    ).tag(config=True)

    service_bind = Unicode(
        "", help="Address the service listens on (default: service_host; '0.0.0.0' in a pod)."
    ).tag(config=True)

    meter_interval = Float(
        60.0,
        help="""Seconds per metering interval. Each interval a server has begun is charged once
        (price_per_hour * interval / 3600), keyed by server and interval, so a restarted meter
        never charges twice.""",
    ).tag(config=True)

    warn_fraction = Float(
        0.8,
        help="Fraction of a monthly spend cap at which GPU users are warned in Lab (0-1).",
    ).tag(config=True)

    spawn_warning_minutes = Float(
        60.0,
        help="""The spawn form warns when a priced profile would reach the user's or group's
        monthly spend cap within this many minutes of running (then the cost guard would stop
        it after grace_period). 0: no warning.""",
    ).tag(config=True)

    grace_period = Float(
        600.0,
        help="""Seconds a GPU server keeps running once its user or group is past the spend
        cap; then the cost guard stops it (files are kept).""",
    ).tag(config=True)

    cull_warning = Float(
        300.0,
        help="""Seconds before an idle or max-runtime cull at which Lab shows a warning.
        Each profile sets its own idle_timeout and max_runtime.""",
    ).tag(config=True)

    default_user_gpu_limit = Int(
        1, help="GPUs one user may hold at once, unless a quota for them says otherwise."
    ).tag(config=True)

    default_group_gpu_limit = Int(
        4, help="GPUs one group may hold at once, unless a quota for it says otherwise."
    ).tag(config=True)

    cluster_gpu_limit = Int(
        4,
        help="""GPUs all users together may hold: the size of the GPU node pool on Kubernetes.
        Locally it defaults to the machine's GPUs (NVML) or the pool in c.CoSimGpus.declared.""",
    ).tag(config=True)

    default_user_spend_cap = Float(
        50.0, help="Monthly spend cap per user (currency units), unless a quota says otherwise."
    ).tag(config=True)

    default_group_spend_cap = Float(
        500.0, help="Monthly spend cap per group, unless a quota for it says otherwise."
    ).tag(config=True)

    redis_timeout = Float(
        1.0,
        help="""Seconds a spawn decision waits for Redis. Past it (or Redis down), GPU spawns
        are refused (fail closed); CPU spawns go ahead unaccounted.""",
    ).tag(config=True)

    currency = Unicode("USD", help="Currency name shown next to prices and spend.").tag(config=True)

    @validate("warn_fraction")
    def _check_fraction(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0 < value <= 1:
            raise TraitError(f"CoSimCostGuard.warn_fraction must be in (0, 1], not {value}")
        return value

    @validate("meter_interval", "grace_period", "cull_warning", "redis_timeout")
    def _check_positive(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if value <= 0:
            raise TraitError(f"CoSimCostGuard.{proposal['trait'].name} must be > 0, not {value}")
        return value

    def to_json(self) -> str:
        names = [n for n in self.trait_names(config=True) if n not in ("enabled", "port")]
        return json.dumps({n: getattr(self, n) for n in sorted(names)})

    @classmethod
    def from_env(cls) -> CoSimCostGuard:
        """The settings the hub passed to its service (defaults when run by hand)."""
        raw = os.environ.get(SETTINGS_ENV, "{}")
        return cls(**json.loads(raw))
