"""``Recording.play()``: publish a recording's frames to the live viewers at their recorded pace,
so it shows inline (and in the side panel) exactly like a live sim."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from .live_viewer import DEFAULT_REDIS_URL
from .protocol import MIME_TYPE, Keys, encode_poses, namespace_user, new_sim_id
from .publisher import Publisher

if TYPE_CHECKING:
    from .recording import Recording

MAX_SPEED = 10.0
MIN_SPEED = 0.1


class Player:
    """A recording being replayed as a sim of its own (meta ``"recording"`` is the file)."""

    def __init__(
        self,
        recording: Recording,
        *,
        speed: float = 1.0,
        loop: bool = False,
        redis_url: str | None = None,
        display: bool = True,
    ) -> None:
        if not MIN_SPEED <= float(speed) <= MAX_SPEED:
            raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, not {speed}")
        self.recording, self.speed, self.loop = recording, float(speed), loop
        self.sim_id = new_sim_id()
        self.user = namespace_user()
        scene = recording.scene_bytes
        title = f"{recording.header.get('title') or 'recording'} (replay)"
        self.meta: dict[str, Any] = {
            "sim_id": self.sim_id,
            "engine": recording.header.get("engine"),
            "title": title,
            "scene": hashlib.sha256(scene).hexdigest(),
            "started": time.time(),
            "ended": None,
            "bodies": len(recording.bodies),
            "pid": os.getpid(),
            "mode": "poses",
            "recording": str(recording.path),
        }
        url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        self._publisher = Publisher(url, Keys(self.user), self.sim_id, self.meta, scene)
        self._publisher.open()
        self._publisher.start()
        self._stop = threading.Event()
        self.frames_sent = 0
        self._thread = threading.Thread(target=self._run, name="cosim-replay", daemon=True)
        self._thread.start()
        if display:
            _display(self.sim_id, title, self.user, self.meta["engine"])

    def _run(self) -> None:
        track = self.recording.to_numpy()
        while not self._stop.is_set():
            start, t0 = time.monotonic(), float(track.time[0]) if len(track.time) else 0.0
            for j in range(len(track.time)):
                due = start + (float(track.time[j]) - t0) / self.speed
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                frame = encode_poses(
                    self.sim_id, j + 1, float(track.time[j]), time.time(), track.poses[j]
                )
                self._publisher.submit(frame)
                self.frames_sent += 1
            if not self.loop:
                break
        self._publisher.close()

    @property
    def playing(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


def _display(sim_id: str, title: str, user: str, engine: Any) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return
    bundle = {
        MIME_TYPE: {"sim_id": sim_id, "title": title, "user": user, "engine": engine},
        "text/plain": f"CoSim replay: {title} (sim {sim_id})",
    }
    display(bundle, raw=True)
