"""The cost guard's spawn decision against a real redis-server, with and without the guard.

- decision_overhead_ms: mean time of the hub's spawn decision with the cost guard (profile
  check + atomic reservation in Redis + release on stop) minus the same decision without it
  (profile check only), interleaved in the same run. Goal < 20 ms.
- reservations_per_s: GPU reservations decided per second while 50 spawn requests arrive at once
  (more users than GPUs, so some are refused), against a baseline that records the same
  reservation in Redis without any check (one pipelined write).
- accounting_errors: after every burst, GPUs in use must equal the reservations granted and the
  cluster limit must never be exceeded; after release, everything must be back at zero; metering
  every server twice must charge each interval exactly once. Each mismatch counts. Must be 0.

    python benchmarks/costguard.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from cosim_hub.costguard.ledger import MICRO, Quota
from cosim_hub.costguard.settings import CoSimCostGuard
from cosim_hub.costguard.spawn import SpawnGuard, SpawnRefused
from cosim_hub.profiles import load_profiles
from cosim_hub.redis_server import RedisServer

CONCURRENT = 50
CLUSTER_GPUS = 20
INTERVAL = 60.0


async def decision_times(guard: SpawnGuard, rounds: int) -> tuple[list[float], list[float]]:
    """Interleaved pairs: (with guard, without) for the same GPU spawn request."""
    with_guard, without = [], []
    options = {"profile": "gpu-small"}
    for i in range(rounds):
        user = f"lat{i}"
        start = time.perf_counter()
        guard.choose(options["profile"], [])  # what the hub does without a cost guard
        without.append(time.perf_counter() - start)
        start = time.perf_counter()
        await guard.reserve(user, "", options, [])
        await guard.release(user, "")
        with_guard.append(time.perf_counter() - start)
    return with_guard, without


async def burst(guard: SpawnGuard, round_no: int) -> tuple[float, int, int]:
    """50 GPU spawns at once; returns (seconds, granted, accounting errors)."""

    async def one(i: int) -> bool:
        try:
            await guard.reserve(f"u{round_no}-{i}", "", {"profile": "gpu-small"}, [f"g{i % 5}"])
            return True
        except SpawnRefused:
            return False

    start = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(CONCURRENT)))
    elapsed = time.perf_counter() - start
    granted = sum(results)
    errors = 0
    gpus = await guard.ledger.gpus_in_use()
    reservations = await guard.ledger.reservations()
    errors += granted != min(CONCURRENT, CLUSTER_GPUS)
    errors += gpus["cluster"] != granted
    errors += len(reservations) != granted
    errors += sum(gpus["groups"].values()) != granted

    # Meter every granted server twice up to 150 s after its start: every interval begun by
    # then (3 or 4, with the phase of the start) is charged exactly once.
    now = time.time()
    for res in reservations.values():
        for _ in range(2):
            await guard.ledger.meter_one(res, INTERVAL, res.started + 2.5 * INTERVAL)
    month = time.strftime("%Y-%m", time.gmtime(now))
    spend = await guard.ledger.spend(month)
    per_interval = round(1.2 * INTERVAL / 3600 * MICRO)  # gpu-small: $1.20/h
    for res in reservations.values():
        begun = int((res.started + 2.5 * INTERVAL) // INTERVAL) - int(res.started // INTERVAL) + 1
        errors += round(spend.get(f"user:{res.user}", 0.0) * MICRO) != per_interval * begun

    await asyncio.gather(*(guard.release(r.user, r.server) for r in reservations.values()))
    gpus = await guard.ledger.gpus_in_use()
    errors += gpus["cluster"] != 0 or bool(gpus["users"]) or bool(gpus["groups"])
    errors += bool(await guard.ledger.reservations())
    return elapsed, granted, errors


async def baseline_burst(client: aioredis.Redis, round_no: int) -> float:
    """The same 50 reservations written with no check at all (one pipelined write each)."""

    async def one(i: int) -> None:
        key = f"u{round_no}-{i}/"
        pipe = client.pipeline(transaction=False)
        pipe.hset("bench:servers", key, "{}")
        pipe.hincrby("bench:gpu:user", key, 1)
        pipe.incrby("bench:gpu:cluster", 1)
        await pipe.execute()

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(CONCURRENT)))
    elapsed = time.perf_counter() - start
    await client.delete("bench:servers", "bench:gpu:user", "bench:gpu:cluster")
    return elapsed


async def run(url: str, rounds: int, bursts: int) -> dict[str, float]:
    settings = CoSimCostGuard(redis_timeout=5.0, default_user_gpu_limit=1)
    guard = SpawnGuard(settings, load_profiles(), url)
    await guard.redis.flushall()
    await guard.ledger.set_quota("cluster", Quota(gpu_limit=CLUSTER_GPUS))
    await guard.ledger.set_quota("default:group", Quota(gpu_limit=None, spend_cap=None))
    await guard.ledger.set_quota("default:user", Quota(gpu_limit=1, spend_cap=None))
    await decision_times(guard, 20)  # warm-up: connections, script cache
    with_guard, without = await decision_times(guard, rounds)

    ours, theirs, errors, granted = 0.0, 0.0, 0, 0
    baseline_client = aioredis.Redis.from_url(url)
    for i in range(bursts):
        elapsed, got, errs = await burst(guard, i)
        ours += elapsed
        errors += errs
        granted += got
        theirs += await baseline_burst(baseline_client, i)
    await baseline_client.aclose()
    await guard.redis.aclose()
    decisions = bursts * CONCURRENT
    return {
        "with_ms": statistics.mean(with_guard) * 1000,
        "with_p95_ms": statistics.quantiles(with_guard, n=20)[18] * 1000,
        "without_ms": statistics.mean(without) * 1000,
        "decision_overhead_ms": (statistics.mean(with_guard) - statistics.mean(without)) * 1000,
        "reservations_per_s": decisions / ours,
        "baseline_per_s": decisions / theirs,
        "accounting_errors": errors,
        "granted": granted,
        "decisions": decisions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 decisions, 10 bursts")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rounds, bursts = (200, 10) if args.quick else (2000, 100)
    folder = Path(tempfile.mkdtemp(prefix="cosim-bench-guard-"))
    server = RedisServer(folder / "redis", persist=False).start()
    try:
        r = asyncio.run(run(server.url, rounds, bursts))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)

    print(f"{'spawn decision (GPU profile)':<40}{'cost guard':>12}{'baseline':>12}  ratio")
    print(f"{'mean latency (ms)':<40}{r['with_ms']:12.3f}{r['without_ms']:12.4f}  "
          f"+{r['decision_overhead_ms']:.3f} ms (< 20); p95 {r['with_p95_ms']:.3f} ms")  # fmt: skip
    print(f"{'reservations/s, 50 at once':<40}{r['reservations_per_s']:12.0f}"
          f"{r['baseline_per_s']:12.0f}  {r['reservations_per_s'] / r['baseline_per_s']:.3f}"
          "  (baseline: unchecked pipelined write)")  # fmt: skip
    print(f"granted {r['granted']} of {r['decisions']} (cluster limit {CLUSTER_GPUS} per burst); "
          f"accounting errors: {r['accounting_errors']} (must be 0)")  # fmt: skip
    figures = {
        "decision_overhead_ms": round(r["decision_overhead_ms"], 3),
        "reservations_per_s": round(r["reservations_per_s"], 1),
        "accounting_errors": int(r["accounting_errors"]),
    }
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
