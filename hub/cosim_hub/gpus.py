"""This machine's GPUs: finding them (NVML, or a pool declared in config), handing each GPU
server its own, and reading how busy they are.

Allocation state lives in Redis (keys in ``cosim_protocol.gpus``), like the cost guard's
ledger: it survives a hub restart, and one Lua script makes concurrent spawns race safely.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from traitlets import Float, List, Unicode
from traitlets.config import Configurable

from cosim_protocol.gpus import ASSIGNED_KEY, READINGS_KEY, SETTINGS_ENV, Assignment


class CoSimGpus(Configurable):
    """``c.CoSimGpus``: where GPUs come from on a local install."""

    declared = List(
        Unicode(),
        default_value=[],
        help="""GPU ids to hand out instead of asking NVML (e.g. ["0", "1"]), for sites that
        assign GPUs by other means and for tests. The spawn form labels them as declared.
        Empty (default): the GPUs the NVIDIA driver reports, none without a driver.""",
    ).tag(config=True)

    readings_file = Unicode(
        "",
        help="""For a declared pool: a JSON file {gpu id: {"utilization": percent,
        "memory_used_mb": MB}} that the site's own monitoring keeps current, read like NVML.
        Empty: declared GPUs have no readings (never culled as idle).""",
    ).tag(config=True)

    idle_utilization = Float(
        5.0,
        help="A GPU below this utilisation (percent) counts as idle for GPU idle culling.",
    ).tag(config=True)

    def to_env(self) -> dict[str, str]:
        """For the cost-guard service, which reads the GPUs too (culling, usage page)."""
        data = {"declared": list(self.declared), "readings_file": self.readings_file,
                "idle_utilization": self.idle_utilization}  # fmt: skip
        return {SETTINGS_ENV: json.dumps(data)}

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> CoSimGpus:
        return cls(**json.loads(environ.get(SETTINGS_ENV) or "{}"))


@dataclass(frozen=True)
class Gpu:
    id: str  # NVML / CUDA (PCI bus order) index
    name: str
    memory_mb: int


@dataclass(frozen=True)
class GpuReading:
    utilization: float  # percent, 0-100
    memory_used_mb: int


class GpuReader:
    """The GPUs of this machine and their current use. Subclasses: NVML, a declared pool."""

    declared = False

    def devices(self) -> list[Gpu]:
        raise NotImplementedError

    def readings(self) -> dict[str, GpuReading]:
        raise NotImplementedError


class NvmlReader(GpuReader):
    """NVIDIA's management library (nvidia-ml-py). No driver or no library: no GPUs, no error."""

    def __init__(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # ImportError, NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded
            self._nvml: Any = None
        else:
            self._nvml = pynvml

    def _handles(self) -> list[tuple[str, Any]]:
        if self._nvml is None:
            return []
        n = self._nvml.nvmlDeviceGetCount()
        return [(str(i), self._nvml.nvmlDeviceGetHandleByIndex(i)) for i in range(n)]

    def devices(self) -> list[Gpu]:
        found = []
        for gpu_id, handle in self._handles():
            name = self._nvml.nvmlDeviceGetName(handle)
            memory = self._nvml.nvmlDeviceGetMemoryInfo(handle).total // 2**20
            found.append(Gpu(gpu_id, name.decode() if isinstance(name, bytes) else name, memory))
        return found

    def readings(self) -> dict[str, GpuReading]:
        result = {}
        for gpu_id, handle in self._handles():
            rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
            used = self._nvml.nvmlDeviceGetMemoryInfo(handle).used // 2**20
            result[gpu_id] = GpuReading(float(rates.gpu), int(used))
        return result


class DeclaredReader(GpuReader):
    """A pool named in config; readings, when there are any, from the site's JSON file."""

    declared = True

    def __init__(self, ids: list[str], readings_file: str = "") -> None:
        self.ids = list(ids)
        self.readings_file = readings_file

    def devices(self) -> list[Gpu]:
        return [Gpu(i, "declared GPU", 0) for i in self.ids]

    def readings(self) -> dict[str, GpuReading]:
        if not self.readings_file:
            return {}
        try:
            with open(self.readings_file) as f:
                raw = json.load(f)
            return {
                str(k): GpuReading(float(v["utilization"]), int(v.get("memory_used_mb", 0)))
                for k, v in raw.items()
                if str(k) in self.ids
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}  # a missing or half-written file: no reading this time, not a crash


def reader_for(settings: CoSimGpus) -> GpuReader:
    if settings.declared:
        return DeclaredReader(settings.declared, settings.readings_file)
    return NvmlReader()


# Take ``want`` free GPUs from the pool for one server, or report how many are free.
# KEYS[1] assignments hash; ARGV: server, assignment JSON, want, pool ids...
# Returns {"ok", id...} (a server that already holds GPUs gets the same ones back: a restarted
# hub re-spawning it keeps its devices) or {"busy", free count}.
_ALLOCATE = """
local held = {}
local free = {}
for i = 4, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    if cjson.decode(raw)['server'] == ARGV[1] then table.insert(held, ARGV[i]) end
  else
    table.insert(free, ARGV[i])
  end
end
local want = tonumber(ARGV[3])
if #held >= want then
  local out = {'ok'}
  for i = 1, want do table.insert(out, held[i]) end
  return out
end
if #held + #free < want then return {'busy', tostring(#free)} end
local out = {'ok'}
for i = 1, #held do table.insert(out, held[i]) end
for i = 1, want - #held do
  redis.call('HSET', KEYS[1], free[i], ARGV[2])
  table.insert(out, free[i])
end
return out
"""

# Drop every GPU a server holds. KEYS[1] assignments hash; ARGV[1] server. Returns the ids.
_RELEASE = """
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1])['server'] == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    table.insert(out, all[i])
  end
end
return out
"""


async def gpu_usage(redis: aioredis.Redis) -> list[dict[str, Any]]:
    """One row per GPU that is assigned or was read: who holds it and how busy it is."""
    assigned = {
        _text(k): Assignment.from_json(v) for k, v in (await redis.hgetall(ASSIGNED_KEY)).items()
    }
    raw = await redis.get(READINGS_KEY)
    readings: dict[str, Any] = json.loads(raw) if raw else {}
    rows = []
    for gpu_id in sorted(assigned.keys() | readings.keys(), key=lambda i: (len(i), i)):
        a, r = assigned.get(gpu_id), readings.get(gpu_id) or {}
        rows.append({"gpu": gpu_id, "server": a.server if a else None,
                     "user": a.user if a else None, "utilization": r.get("utilization"),
                     "memory_used_mb": r.get("memory_used_mb")})  # fmt: skip
    return rows


class GpusBusy(Exception):
    """No GPUs free for a spawn; the message is a sentence for the spawn page."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class GpuPool:
    """Allocation of this machine's GPUs to servers, kept in Redis."""

    def __init__(self, redis: aioredis.Redis, reader: GpuReader) -> None:
        self.redis = redis
        self.reader = reader
        self.gpus = reader.devices()
        self._allocate = redis.register_script(_ALLOCATE)
        self._release = redis.register_script(_RELEASE)

    @property
    def ids(self) -> list[str]:
        return [g.id for g in self.gpus]

    async def assignments(self) -> dict[str, Assignment]:
        raw = await self.redis.hgetall(ASSIGNED_KEY)
        return {_text(k): Assignment.from_json(v) for k, v in raw.items()}

    async def free_count(self) -> int:
        taken = await self.assignments()
        return sum(1 for i in self.ids if i not in taken)

    async def allocate(
        self, server: str, user: str, want: int, *, until: float | None = None
    ) -> list[str]:
        """``want`` GPUs for ``server`` (the same ones if it holds them already)."""
        if want <= 0:
            return []
        if len(self.ids) < want:
            raise GpusBusy(self.unavailable_reason(want))
        assignment = Assignment(server, user, time.time(), until).to_json()
        result = [
            _text(x)
            for x in await self._allocate([ASSIGNED_KEY], [server, assignment, want, *self.ids])
        ]
        if result[0] == "ok":
            return result[1:]
        raise GpusBusy(await self._busy_sentence(want, int(result[1])))

    async def release(self, server: str) -> list[str]:
        return [_text(x) for x in await self._release([ASSIGNED_KEY], [server])]

    async def record_readings(self) -> dict[str, GpuReading]:
        """Read utilisation now and keep it in Redis for the usage page and Prometheus."""
        readings = self.reader.readings()
        now = time.time()
        payload = {k: {"utilization": r.utilization, "memory_used_mb": r.memory_used_mb,
                       "at": now} for k, r in readings.items()}  # fmt: skip
        await self.redis.set(READINGS_KEY, json.dumps(payload))
        return readings

    def unavailable_reason(self, want: int) -> str:
        """Why ``want`` GPUs can never be had here (no GPU at all, or too few)."""
        if not self.ids:
            return (
                "this machine has no GPU (no NVIDIA driver found, and no pool declared in "
                "c.CoSimGpus.declared): choose a CPU profile"
            )
        return f"this profile needs {want} GPUs and this machine has {len(self.ids)}"

    async def _busy_sentence(self, want: int, free: int) -> str:
        held = await self.assignments()
        ends = sorted(a.until for a in held.values() if a.until)
        when = (
            f"; the next one frees up by {time.strftime('%H:%M', time.localtime(ends[0]))} at "
            "the latest (a running server's time limit), or sooner when its user stops it"
            if ends
            else "; one frees up when a GPU server stops (no running GPU server has a time limit)"
        )
        return (
            f"all {len(self.ids)} GPU(s) of this machine are in use ({free} free, {want} needed)"
            + when
        )
