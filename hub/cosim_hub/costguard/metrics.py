"""Prometheus metrics of the cost guard, read fresh from the ledger at each scrape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


class ReportCollector:
    """Turns one usage report (see usage.py) into metric families."""

    def __init__(self) -> None:
        self.report: dict[str, Any] = {}
        self.meter_lag = 0.0

    def collect(self) -> Iterator[Metric]:
        report = self.report
        running = GaugeMetricFamily(
            "cosim_running_servers", "Servers holding a reservation, by profile", labels=["profile"]
        )
        by_profile: dict[str, int] = {}
        for server in report.get("servers", []):
            by_profile[server["profile"]] = by_profile.get(server["profile"], 0) + 1
        for profile, count in sorted(by_profile.items()):
            running.add_metric([profile], count)
        yield running

        gpus = report.get("gpus", {})
        in_use = GaugeMetricFamily("cosim_gpus_in_use", "GPUs reserved", labels=["scope", "name"])
        in_use.add_metric(["cluster", ""], gpus.get("cluster", 0))
        for name, count in sorted(gpus.get("groups", {}).items()):
            in_use.add_metric(["group", name], count)
        yield in_use

        util = GaugeMetricFamily(
            "cosim_gpu_utilization_percent", "GPU utilisation (NVML)", labels=["gpu", "user"]
        )
        memory = GaugeMetricFamily(
            "cosim_gpu_memory_used_mb", "GPU memory in use (NVML)", labels=["gpu", "user"]
        )
        for row in report.get("gpu_devices", []):
            labels = [row["gpu"], row["user"] or ""]
            if row["utilization"] is not None:
                util.add_metric(labels, row["utilization"])
            if row["memory_used_mb"] is not None:
                memory.add_metric(labels, row["memory_used_mb"])
        yield util
        yield memory

        cluster_limit = (report.get("quotas", {}).get("cluster") or {}).get("gpu_limit")
        if cluster_limit is not None:
            yield GaugeMetricFamily(
                "cosim_gpu_limit_cluster", "GPUs all users may hold at once", value=cluster_limit
            )

        spend = GaugeMetricFamily(
            "cosim_spend_month", "Spend this month (currency units), by group", labels=["group"]
        )
        for group, amount in sorted(report.get("spend", {}).get("groups", {}).items()):
            spend.add_metric([group], amount)
        yield spend

        refused = CounterMetricFamily(
            "cosim_reservations_refused", "Spawns refused by the cost guard", labels=["reason"]
        )
        for reason, count in sorted(report.get("refused", {}).items()):
            refused.add_metric([reason], count)
        yield refused

        yield GaugeMetricFamily(
            "cosim_meter_lag_seconds",
            "How late the last meter pass started against its schedule",
            value=self.meter_lag,
        )
        age = (report.get("meter") or {}).get("age")
        if age is not None:
            yield GaugeMetricFamily(
                "cosim_meter_age_seconds", "Seconds since the meter's last pass", value=age
            )


def render(collector: ReportCollector) -> bytes:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    return generate_latest(registry)
