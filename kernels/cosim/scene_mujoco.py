"""A MuJoCo model as a CoSim scene (once per model) and its moving bodies' poses (every frame)."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from cosim_protocol.viewer import encode_scene

# Keyed by int: model.geom_type holds numpy ints, which do not hash like the enum members.
_TYPES = {
    int(mujoco.mjtGeom.mjGEOM_PLANE): "plane",
    int(mujoco.mjtGeom.mjGEOM_HFIELD): "hfield",
    int(mujoco.mjtGeom.mjGEOM_SPHERE): "sphere",
    int(mujoco.mjtGeom.mjGEOM_CAPSULE): "capsule",
    int(mujoco.mjtGeom.mjGEOM_ELLIPSOID): "ellipsoid",
    int(mujoco.mjtGeom.mjGEOM_CYLINDER): "cylinder",
    int(mujoco.mjtGeom.mjGEOM_BOX): "box",
    int(mujoco.mjtGeom.mjGEOM_MESH): "mesh",
}


def xyzw(wxyz: Any) -> list[float]:
    w, x, y, z = (float(v) for v in wxyz)
    return [x, y, z, w]


def _name(model: mujoco.MjModel, kind: mujoco.mjtObj, index: int, fallback: str) -> str:
    return mujoco.mj_id2name(model, kind, index) or f"{fallback}{index}"


def _size(model: mujoco.MjModel, g: int, kind: str) -> list[float]:
    s = [float(v) for v in model.geom_size[g]]
    if kind == "plane":
        return s[:2]
    if kind == "sphere":
        return s[:1]
    if kind in ("capsule", "cylinder"):
        return s[:2]
    if kind == "hfield":
        return [float(v) for v in model.hfield_size[model.geom_dataid[g]]]
    if kind == "mesh":
        return [1.0, 1.0, 1.0]  # compiled mesh vertices are already scaled
    return s[:3]


def _hfield_mesh(model: mujoco.MjModel, h: int) -> tuple[np.ndarray, np.ndarray]:
    """The surface of heightfield ``h`` as a triangle mesh in the geom's frame."""
    nrow, ncol = int(model.hfield_nrow[h]), int(model.hfield_ncol[h])
    hx, hy, z_top, _ = model.hfield_size[h]
    adr = model.hfield_adr[h]
    heights = model.hfield_data[adr : adr + nrow * ncol].reshape(nrow, ncol)
    ys, xs = np.meshgrid(np.linspace(-hy, hy, nrow), np.linspace(-hx, hx, ncol), indexing="ij")
    verts = np.stack([xs, ys, heights * z_top], axis=-1).reshape(-1, 3).astype("<f4")
    idx = np.arange(nrow * ncol).reshape(nrow, ncol)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate(
        [np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)]
    ).astype("<u4")
    return verts, faces


class MujocoScene:
    """Extracts the scene of ``model`` and reads the poses of its moving bodies from ``data``."""

    engine = "mujoco"

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        self.model, self.data = model, data
        # A body moves if it is not welded to the world, or if it is a mocap body.
        self.dynamic = np.array(
            [
                b
                for b in range(model.nbody)
                if model.body_weldid[b] != 0 or model.body_mocapid[b] >= 0
            ],
            dtype=np.intp,
        )
        self._poses = np.zeros((len(self.dynamic), 7), dtype="<f4")

    def poses(self) -> np.ndarray:
        """(n, 7) float32: position and quaternion (x, y, z, w) of each moving body."""
        out, data, dyn = self._poses, self.data, self.dynamic
        out[:, :3] = data.xpos[dyn]
        quat = data.xquat[dyn]
        out[:, 3:6] = quat[:, 1:]
        out[:, 6] = quat[:, 0]
        return out

    def sim_time(self, syncs: int) -> float:
        return float(self.data.time)

    def encode(self, title: str) -> bytes:
        model = self.model
        state = mujoco.MjData(model)  # initial world poses without touching the user's data
        state.qpos[:] = self.data.qpos
        state.mocap_pos[:] = self.data.mocap_pos
        state.mocap_quat[:] = self.data.mocap_quat
        mujoco.mj_kinematics(model, state)
        dynamic = set(self.dynamic.tolist())
        bodies = [
            {
                "name": _name(model, mujoco.mjtObj.mjOBJ_BODY, b, "body"),
                "dynamic": b in dynamic,
                "pos": [float(v) for v in state.xpos[b]],
                "quat": xyzw(state.xquat[b]),
            }
            for b in range(model.nbody)
        ]
        buffers: list[np.ndarray] = []
        meshes: list[dict[str, Any]] = []
        mesh_index: dict[tuple[str, int], int] = {}

        def add_mesh(key: tuple[str, int], name: str, verts: np.ndarray, faces: np.ndarray) -> int:
            if key not in mesh_index:
                buffers.extend(
                    [np.ascontiguousarray(verts, "<f4"), np.ascontiguousarray(faces, "<u4")]
                )
                meshes.append(
                    {
                        "name": name,
                        "vertices": [len(buffers) - 2, len(verts)],
                        "faces": [len(buffers) - 1, len(faces)],
                        "normals": None,
                    }
                )
                mesh_index[key] = len(meshes) - 1
            return mesh_index[key]

        geoms = []
        for g in range(model.ngeom):
            kind = _TYPES.get(int(model.geom_type[g]))
            rgba = _rgba(model, g)
            if kind is None or rgba[3] == 0:
                continue
            mesh = None
            if kind == "mesh":
                m = model.geom_dataid[g]
                va, vn = model.mesh_vertadr[m], model.mesh_vertnum[m]
                fa, fn = model.mesh_faceadr[m], model.mesh_facenum[m]
                name = _name(model, mujoco.mjtObj.mjOBJ_MESH, m, "mesh")
                mesh = add_mesh(
                    ("mesh", m), name, model.mesh_vert[va : va + vn], model.mesh_face[fa : fa + fn]
                )
            elif kind == "hfield":
                h = model.geom_dataid[g]
                verts, faces = _hfield_mesh(model, h)
                mesh = add_mesh(
                    ("hfield", h),
                    _name(model, mujoco.mjtObj.mjOBJ_HFIELD, h, "hfield"),
                    verts,
                    faces,
                )
            geoms.append(
                {
                    "body": int(model.geom_bodyid[g]),
                    "type": kind,
                    "size": _size(model, g, kind),
                    "pos": [float(v) for v in model.geom_pos[g]],
                    "quat": xyzw(model.geom_quat[g]),
                    "rgba": [float(v) for v in rgba],
                    "mesh": mesh,
                    "group": int(model.geom_group[g]),
                }
            )
        cameras = [
            {
                "name": _name(model, mujoco.mjtObj.mjOBJ_CAMERA, c, "camera"),
                "body": int(model.cam_bodyid[c]),
                "pos": [float(v) for v in model.cam_pos[c]],
                "quat": xyzw(model.cam_quat[c]),
                "fovy": float(model.cam_fovy[c]),
            }
            for c in range(model.ncam)
        ]
        lights = [
            {
                "name": _name(model, mujoco.mjtObj.mjOBJ_LIGHT, i, "light"),
                "body": int(model.light_bodyid[i]),
                "pos": [float(v) for v in model.light_pos[i]],
                "dir": [float(v) for v in model.light_dir[i]],
                "directional": _light_directional(model, i),
            }
            for i in range(model.nlight)
        ]
        scene = {
            "engine": "mujoco",
            "name": title,
            "bodies": bodies,
            "geoms": geoms,
            "meshes": meshes,
            "cameras": cameras,
            "lights": lights,
            "extent": float(model.stat.extent),
        }
        return encode_scene(scene, buffers)


# MJCF: a geom's own rgba overrides its material's only when it differs from this default.
_DEFAULT_RGBA = np.array([0.5, 0.5, 0.5, 1.0], dtype=np.float32)


def _rgba(model: mujoco.MjModel, g: int) -> np.ndarray:
    mat, rgba = int(model.geom_matid[g]), model.geom_rgba[g]
    if mat >= 0 and np.array_equal(rgba, _DEFAULT_RGBA):
        return model.mat_rgba[mat]
    return rgba


def _light_directional(model: mujoco.MjModel, i: int) -> bool:
    if hasattr(model, "light_type"):  # MuJoCo >= 3.3 replaced light_directional with a type
        return int(model.light_type[i]) == int(mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    return bool(model.light_directional[i])
