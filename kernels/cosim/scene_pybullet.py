"""A PyBullet client's bodies as a CoSim scene, and the poses of the ones that move.

Scene bodies are link frames: each multibody's base and each of its links. PyBullet reports a
base's pose at its centre of mass, so the base link frame is recovered with the inverse of the
base's local inertial frame; links come from ``getLinkStates``' URDF link frame.

``getVisualShapeData``'s local visual frames are relative to those link frames, for the base
too (checked against URDF and createMultiBody bodies with inertial offsets, PyBullet 3.2.7);
it is ``getCollisionShapeData`` whose frames are relative to the inertial frame.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pybullet as pb

from cosim_protocol.viewer import encode_scene

from .meshfiles import read_mesh

log = logging.getLogger("cosim")

_SPHERE, _BOX, _CYLINDER, _MESH, _PLANE, _CAPSULE = (
    pb.GEOM_SPHERE,
    pb.GEOM_BOX,
    pb.GEOM_CYLINDER,
    pb.GEOM_MESH,
    pb.GEOM_PLANE,
    pb.GEOM_CAPSULE,
)


class PybulletScene:
    engine = "pybullet"

    def __init__(self, client: int) -> None:
        self.client = client
        # (body uid, link index or -1) for every scene body, in scene order.
        self.frames: list[tuple[int, int]] = []
        self.names: list[str] = []
        self.moving: list[bool] = []
        self._inverse_inertial: dict[int, tuple[Any, Any]] = {}
        for i in range(pb.getNumBodies(physicsClientId=client)):
            uid = pb.getBodyUniqueId(i, physicsClientId=client)
            self._add_body(uid)
        self.dynamic = [k for k, m in enumerate(self.moving) if m]
        self._poses = np.zeros((len(self.dynamic), 7), dtype="<f4")
        # Per body: the pose rows of its base (or None) and of its moving links, so each frame
        # costs one getLinkStates call per body rather than one call per link.
        plan: dict[int, tuple[list[int], list[int], list[int]]] = {}
        for row, k in enumerate(self.dynamic):
            uid, link = self.frames[k]
            base_rows, link_rows, links = plan.setdefault(uid, ([], [], []))
            if link < 0:
                base_rows.append(row)
            else:
                link_rows.append(row)
                links.append(link)
        self._plan = [(uid, *entry) for uid, entry in plan.items()]
        # Scene size for default camera distances: how far the farthest body is from the origin.
        reach = [float(np.linalg.norm(self._pose(*frame)[0])) for frame in self.frames]
        self.extent = max([1.0, *reach])

    def _add_body(self, uid: int) -> None:
        c = self.client
        base_name = pb.getBodyInfo(uid, physicsClientId=c)[0].decode(errors="replace")
        info = pb.getDynamicsInfo(uid, -1, physicsClientId=c)
        self._inverse_inertial[uid] = pb.invertTransform(info[3], info[4])
        base_moves = info[0] > 0  # mass 0: a fixed base (plane.urdf, useFixedBase=True)
        first = len(self.frames)
        self.frames.append((uid, -1))
        self.names.append(base_name or f"body{uid}")
        self.moving.append(base_moves)
        for j in range(pb.getNumJoints(uid, physicsClientId=c)):
            joint = pb.getJointInfo(uid, j, physicsClientId=c)
            parent = int(joint[16])  # PyBullet orders links parents first
            parent_moves = self.moving[first + 1 + parent] if parent >= 0 else base_moves
            self.frames.append((uid, j))
            self.names.append(joint[12].decode(errors="replace"))
            self.moving.append(parent_moves or joint[2] != pb.JOINT_FIXED)

    def _pose(self, uid: int, link: int) -> tuple[Any, Any]:
        """World pose of a scene body: the URDF link frame (not the centre of mass)."""
        c = self.client
        if link < 0:
            com_pos, com_orn = pb.getBasePositionAndOrientation(uid, physicsClientId=c)
            inv_pos, inv_orn = self._inverse_inertial[uid]
            return pb.multiplyTransforms(com_pos, com_orn, inv_pos, inv_orn)
        state = pb.getLinkState(uid, link, computeForwardKinematics=True, physicsClientId=c)
        return state[4], state[5]

    def poses(self) -> np.ndarray:
        """(n, 7) float32 world poses of the moving bodies; PyBullet quaternions are xyzw."""
        out, c = self._poses, self.client
        for uid, base_rows, link_rows, links in self._plan:
            for row in base_rows:
                pos, orn = self._pose(uid, -1)
                out[row, :3] = pos
                out[row, 3:] = orn
            if links:
                states = pb.getLinkStates(
                    uid, links, computeForwardKinematics=True, physicsClientId=c
                )
                for row, state in zip(link_rows, states, strict=True):
                    out[row, :3] = state[4]
                    out[row, 3:] = state[5]
        return out

    def sim_time(self, syncs: int) -> float:
        """PyBullet keeps no clock: assume one stepSimulation per sync() call."""
        params = pb.getPhysicsEngineParameters(physicsClientId=self.client)
        return syncs * float(params["fixedTimeStep"])

    def encode(self, title: str) -> bytes:
        c = self.client
        index = {frame: k for k, frame in enumerate(self.frames)}
        bodies = []
        for k, (uid, link) in enumerate(self.frames):
            pos, orn = self._pose(uid, link)
            bodies.append(
                {
                    "name": self.names[k],
                    "dynamic": self.moving[k],
                    "pos": list(pos),
                    "quat": list(orn),
                }
            )
        buffers: list[np.ndarray] = []
        meshes: list[dict[str, Any]] = []
        mesh_index: dict[str, int] = {}
        geoms = []
        uids = sorted({uid for uid, _ in self.frames})
        for uid in uids:
            for shape in pb.getVisualShapeData(uid, physicsClientId=c):
                _, link, kind, dims, filename, local_pos, local_orn, rgba = shape[:8]
                geom: dict[str, Any] = {
                    "body": index[(uid, link)],
                    "pos": list(local_pos),
                    "quat": list(local_orn),
                    "rgba": list(rgba),
                    "mesh": None,
                }
                if kind == _SPHERE:
                    geom.update(type="sphere", size=[dims[0]])
                elif kind == _BOX:
                    geom.update(type="box", size=[d / 2 for d in dims[:3]])
                elif kind in (_CYLINDER, _CAPSULE):
                    name = "cylinder" if kind == _CYLINDER else "capsule"
                    geom.update(type=name, size=[dims[1], dims[0] / 2])
                elif kind == _PLANE:
                    geom.update(type="plane", size=[0.0, 0.0])
                elif kind == _MESH:
                    path = filename.decode(errors="replace")
                    if path not in mesh_index:
                        try:
                            verts, faces = read_mesh(path)
                        except (OSError, ValueError) as err:
                            log.warning("CoSim viewer: skipping mesh %s (%s)", path, err)
                            continue
                        buffers.extend([verts, faces])
                        meshes.append(
                            {
                                "name": path.rsplit("/", 1)[-1],
                                "vertices": [len(buffers) - 2, len(verts)],
                                "faces": [len(buffers) - 1, len(faces)],
                                "normals": None,
                            }
                        )
                        mesh_index[path] = len(meshes) - 1
                    geom.update(type="mesh", size=list(dims[:3]), mesh=mesh_index[path])
                else:
                    continue
                geoms.append(geom)
        scene = {
            "engine": "pybullet",
            "name": title,
            "bodies": bodies,
            "geoms": geoms,
            "meshes": meshes,
            "cameras": [],
            "lights": [],
            "extent": self.extent,
        }
        return encode_scene(scene, buffers)
