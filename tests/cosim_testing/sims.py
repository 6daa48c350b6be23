"""A sim as ``cosim.viewer`` publishes it (meta, scene, one frame), written straight into a
stack's Redis, for tests that need a live sim in a user's server but not a kernel running one."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import redis

from cosim_protocol.control import META_KEY
from cosim_protocol.keys import Keys, namespace_name
from cosim_protocol.viewer import encode_poses, encode_scene, new_sim_id

from .stack import CoSimStack


def admin_redis_url(stack: CoSimStack) -> str:
    config = (stack.state_dir / "hub" / "jupyterhub_config.py").read_text()
    match = re.search(r"c\.CoSimHub\.redis_url = '([^']+)'", config)
    assert match
    return match.group(1)


def fake_sim(stack: CoSimStack, owner: str, control: Path | None = None) -> str:
    """A live sim in ``owner``'s server; ``control``: its sim-control.json (absolute path)."""
    keys, sim_id = Keys(namespace_name(owner)), new_sim_id()
    client = redis.Redis.from_url(admin_redis_url(stack))
    scene = encode_scene({"engine": "test", "bodies": [], "geoms": [], "meshes": []}, [])
    meta = {"sim_id": sim_id, "engine": "test", "title": "shared", "scene": "s1",
            "started": time.time(), "ended": None, "bodies": 1}  # fmt: skip
    if control is not None:
        meta[META_KEY] = {"path": str(control), "params": {}}
    client.set(keys.scene("s1"), scene, ex=600)
    client.set(keys.meta(sim_id), json.dumps(meta), ex=600)
    client.set(keys.frame(sim_id), encode_poses(sim_id, 1, 0.0, time.time(), np.zeros((1, 7))))
    client.close()
    return sim_id
