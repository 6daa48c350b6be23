"""GPU check for a machine with an NVIDIA GPU, no hub needed (MuJoCo, torch, SB3 and CoSim's own
rendering code): render + JPEG frames/s of the humanoid's tracking camera at 640x480 on the GPU
(EGL on the NVIDIA device) vs on the CPU (software OpenGL) in the same run, PPO and SAC env
steps/s with device=cuda vs cpu, and the isolation check: a process with a CPU profile's
environment sees no GPU in torch or NVML, one with a 1-GPU profile's sees exactly its one.

    python benchmarks/gpu.py [--quick] [--json]

Each figure runs in a fresh subprocess with the environment a user server would get, so the
EGL device, CUDA_VISIBLE_DEVICES and the thread count are set before anything loads. On a
machine without a GPU it measures the CPU side and reports the GPU figures as null.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import report

from cosim_protocol.gpus import device_environment

# Mesa's EGL vendor file (software EGL, llvmpipe); COSIM_MESA_EGL names another, e.g. where Mesa
# was unpacked outside /usr. Without it the CPU side renders through OSMesa.
MESA_EGL = os.environ.get("COSIM_MESA_EGL", "/usr/share/glvnd/egl_vendor.d/50_mesa.json")

RENDER = """
import json, time, mujoco, numpy as np
from cosim.models import model_path
from cosim.pixels import MujocoPixels
model = mujoco.MjModel.from_xml_path(model_path("humanoid.xml"))
data = mujoco.MjData(model)
pixels = MujocoPixels(model, data, 640, 480, "track")
for _ in range(5):
    pixels.render()
rounds = []
for _ in range({rounds}):
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < {seconds}:
        mujoco.mj_step(model, data)
        pixels.render()
        n += 1
    rounds.append(n / (time.perf_counter() - start))
pixels.close()
print(json.dumps(rounds))
"""

TRAIN = """
import json, time, gymnasium as gym, torch
from stable_baselines3 import PPO, SAC
torch.set_num_threads({threads})
algo = {{"ppo": PPO, "sac": SAC}}["{algo}"]
env = gym.make("Hopper-v5")
kw = {{"n_steps": 512, "batch_size": 64}} if "{algo}" == "ppo" else {{"learning_starts": 100}}
model = algo("MlpPolicy", env, device="{device}", seed=1, verbose=0, **kw)
start = time.perf_counter()
model.learn({steps})
print(json.dumps({steps} / (time.perf_counter() - start)))
"""

SEES = """
import json, torch
try:
    import pynvml
    pynvml.nvmlInit()
    nvml = pynvml.nvmlDeviceGetCount()
except Exception:
    nvml = 0
print(json.dumps({"torch": torch.cuda.device_count(), "nvml_total": nvml}))
"""

# Keeps the GPU busy for a while (the way a training job would) so the hub's reader sees use.
BUSY = """
import time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
end = time.time() + {seconds}
while time.time() < end:
    for _ in range(20):
        a @ a
    torch.cuda.synchronize()
"""


def nvml_reader_check(seconds: float) -> dict[str, Any]:
    """The hub's own NVML reader (what the spawn form, the usage page and GPU idle culling read)
    on this machine's real GPU: the devices it lists, and utilisation idle vs under load, judged
    against c.CoSimGpus.idle_utilization's default as the culler judges it."""
    try:
        from cosim_hub.gpus import CoSimGpus, NvmlReader
    except ImportError as err:  # the hub is not installed here: say so, measure the rest
        return {"nvml_reader": f"not run ({err})"}
    reader = NvmlReader()
    devices = reader.devices()
    threshold = CoSimGpus().idle_utilization
    idle = max(r.utilization for r in reader.readings().values()) if devices else None
    busy_proc = subprocess.Popen(
        [sys.executable, "-c", BUSY.format(seconds=seconds)],
        env={**os.environ, **device_environment(["0"])},
    )
    busy: list[float] = []
    try:
        time.sleep(min(3.0, seconds / 2))  # CUDA start-up; NVML averages over its sample period
        while busy_proc.poll() is None:
            busy.append(reader.readings()["0"].utilization)
            time.sleep(0.25)
    finally:
        busy_proc.kill()
        busy_proc.wait()
    peak = max(busy) if busy else None
    return {
        "nvml_devices": [f"{d.id}: {d.name}, {d.memory_mb} MiB" for d in devices],
        "nvml_idle_utilization": idle,
        "nvml_busy_utilization": peak,
        "idle_detection_ok": idle is not None and peak is not None and idle < threshold <= peak,
    }


def _run(code: str, env: dict[str, str], timeout: float = 600) -> Any:
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def gpu_count() -> int:
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetCount())
    except Exception:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds (under a minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object")
    args = parser.parse_args()
    rounds, seconds = (3, 1.0) if args.quick else (5, 3.0)
    steps = 1024 if args.quick else 4096
    gpus = gpu_count()
    figures: dict[str, Any] = {"gpus": gpus}
    rows: list[tuple[str, str, str]] = [("gpus", str(gpus), "NVML")]

    # Rendering: software OpenGL vs the GPU's EGL device, alternating which goes first.
    code = RENDER.format(rounds=rounds, seconds=seconds)
    cpu_env = {"MUJOCO_GL": "osmesa", **device_environment([])}
    if Path(MESA_EGL).is_file():  # software EGL (llvmpipe), even where NVIDIA's EGL is first
        cpu_env.update(MUJOCO_GL="egl", __EGL_VENDOR_LIBRARY_FILENAMES=MESA_EGL)
    gpu_env = {"MUJOCO_GL": "egl", **device_environment(["0"])}
    results: dict[str, list[float]] = {"cpu": [], "gpu": []}
    order = [("cpu", cpu_env), ("gpu", gpu_env)] if gpus else [("cpu", cpu_env)]
    for i in range(2):
        for side, env in order if i % 2 == 0 else order[::-1]:
            results[side] += _run(code, env)
    for side in ("cpu", "gpu"):
        values = results[side]
        med = statistics.median(values) if values else None
        figures[f"render_fps_{side}"] = med
        spread = f"{min(values):.1f}-{max(values):.1f}" if values else "no GPU"
        rows.append((f"render_fps_{side}", f"{med:.1f}" if med else "-", f"spread {spread}"))
    cpu, gpu = figures["render_fps_cpu"], figures["render_fps_gpu"]
    figures["render_speedup"] = gpu / cpu if gpu and cpu else None
    speedup = figures["render_speedup"]
    rows.append(("render_speedup", f"{speedup:.1f}" if speedup else "-", "goal >= 5"))

    # RL throughput: MLP policies on Hopper, the same script with device=cpu and device=cuda.
    for algo in ("ppo", "sac"):
        n = steps if algo == "ppo" else steps // 4
        for device in ("cpu", "cuda") if gpus else ("cpu",):
            env = device_environment(["0"] if device == "cuda" else [])
            code = TRAIN.format(algo=algo, device=device, steps=n, threads=os.cpu_count() or 1)
            rate = _run(code, env)
            figures[f"{algo}_steps_per_s_{device}"] = rate
            rows.append((f"{algo}_steps_per_s_{device}", f"{rate:.0f}", f"{n} env steps"))

    # Isolation: what a CPU profile's and a 1-GPU profile's processes can see.
    cpu_sees = _run(SEES, device_environment([]))
    ok = cpu_sees["torch"] == 0
    note = f"CPU profile sees {cpu_sees['torch']} GPU(s) in torch"
    if gpus:
        gpu_sees = _run(SEES, device_environment(["0"]))
        ok = ok and gpu_sees["torch"] == 1
        note += f"; 1-GPU profile sees {gpu_sees['torch']}"
    figures["isolation_ok"] = ok if gpus else None
    rows.append(("isolation_ok", str(figures["isolation_ok"]), note))

    if gpus:
        nvml = nvml_reader_check(8.0 if args.quick else 15.0)
        figures.update(nvml)
        for key, value in nvml.items():
            rows.append((key, str(value), "hub's NvmlReader, idle vs a bf16 matmul loop"))
    report(rows, figures, args.json)


if __name__ == "__main__":
    main()
