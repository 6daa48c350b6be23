from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from mjcf_models import ALL_GEOMS

from cosim.scene_mujoco import MujocoScene
from cosim_protocol.viewer import decode_scene


def _scene() -> tuple[MujocoScene, dict[str, Any], memoryview]:
    model = mujoco.MjModel.from_xml_string(ALL_GEOMS)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    extractor = MujocoScene(model, data)
    scene, binary = decode_scene(extractor.encode("all geoms"))
    return extractor, scene, binary


def _rotate(xyzw: list[float], v: list[float]) -> np.ndarray:
    out = np.zeros(3)
    x, y, z, w = xyzw
    mujoco.mju_rotVecQuat(out, np.array(v), np.array([w, x, y, z]))
    return out


def test_every_geom_type_is_extracted() -> None:
    _, scene, _ = _scene()
    by_type: dict[str, dict[str, Any]] = {}
    for geom in scene["geoms"]:
        by_type.setdefault(geom["type"], geom)  # the first of each type
    assert set(by_type) == {
        "plane", "hfield", "box", "ellipsoid", "cylinder", "sphere", "capsule", "mesh",
    }  # fmt: skip
    assert by_type["box"]["size"] == [0.1, 0.2, 0.3]
    assert by_type["box"]["rgba"] == [1.0, 0.0, 0.0, 1.0]  # from its material
    assert by_type["sphere"]["size"] == [0.15]
    assert by_type["capsule"]["size"] == [0.05, 0.2]
    assert by_type["cylinder"]["size"] == [0.1, 0.25]
    assert by_type["ellipsoid"]["size"] == [0.1, 0.2, 0.3]
    assert by_type["plane"]["size"] == [3.0, 3.0]
    assert by_type["hfield"]["size"] == [1.0, 0.5, 0.3, 0.1]
    names = [b["name"] for b in scene["bodies"]]
    assert scene["geoms"][0]["body"] == names.index("world")
    assert by_type["sphere"]["body"] == names.index("arm")
    assert by_type["box"]["body"] == names.index("free")


def test_meshes_are_binary_buffers_matching_the_model() -> None:
    extractor, scene, binary = _scene()
    model = extractor.model
    meshes = {m["name"]: m for m in scene["meshes"]}
    tet = meshes["tet"]
    assert tet["vertices"][1] == model.mesh_vertnum[0]
    assert tet["faces"][1] == model.mesh_facenum[0]
    verts = np.frombuffer(binary, "<f4", count=3 * tet["vertices"][1], offset=tet["vertices"][0])
    np.testing.assert_allclose(verts.reshape(-1, 3), model.mesh_vert[: model.mesh_vertnum[0]])
    hills = meshes["hills"]
    assert hills["vertices"][1] == 3 * 4  # nrow x ncol grid
    assert hills["faces"][1] == 2 * 2 * 3  # two triangles per cell
    faces = np.frombuffer(binary, "<u4", count=3 * hills["faces"][1], offset=hills["faces"][0])
    assert faces.max() < hills["vertices"][1]


def test_dynamic_bodies_cameras_lights() -> None:
    extractor, scene, _ = _scene()
    dynamic = {b["name"] for b in scene["bodies"] if b["dynamic"]}
    assert dynamic == {"free", "arm"}
    assert len(extractor.dynamic) == 2
    (camera,) = scene["cameras"]
    assert camera["name"] == "front" and camera["body"] == 0
    assert camera["pos"] == [0.0, -3.0, 1.0] and camera["fovy"] == 45.0
    # xyaxes="1 0 0 0 0 1": the camera's -z (its view direction) is the world's +y.
    view = _rotate(camera["quat"], [0.0, 0.0, -1.0])
    np.testing.assert_allclose(view, [0, 1, 0], atol=1e-6)
    (light,) = scene["lights"]
    assert light["name"] == "sun" and light["directional"] is True
    assert light["pos"] == [0.0, 0.0, 4.0] and light["dir"] == [0.0, 0.0, -1.0]
    assert scene["extent"] > 0


def test_poses_are_world_positions_and_xyzw_quaternions() -> None:
    extractor, _, _ = _scene()
    model, data = extractor.model, extractor.data
    data.qvel[:] = np.random.default_rng(0).random(model.nv)
    for _ in range(50):
        mujoco.mj_step(model, data)
    poses = extractor.poses()
    for row, body in enumerate(extractor.dynamic):
        np.testing.assert_allclose(poses[row, :3], data.xpos[body], rtol=1e-6, atol=1e-6)
        w, x, y, z = data.xquat[body]
        np.testing.assert_allclose(poses[row, 3:], [x, y, z, w], rtol=1e-6, atol=1e-6)


def test_geom_colour_follows_mujoco_material_rules() -> None:
    model = mujoco.MjModel.from_xml_string(
        """<mujoco><asset><material name="red" rgba="1 0 0 1"/></asset><worldbody>
        <geom name="material" type="sphere" size=".1" material="red"/>
        <geom name="own" type="sphere" size=".1" material="red" rgba="0 1 0 1"/>
        <geom name="plain" type="sphere" size=".1"/>
        <geom name="invisible" type="sphere" size=".1" rgba="0 0 1 0"/>
        <geom name="hidden" type="sphere" size=".1" group="3"/>
        </worldbody></mujoco>"""
    )
    scene, _ = decode_scene(MujocoScene(model, mujoco.MjData(model)).encode("colours"))
    colours = [g["rgba"] for g in scene["geoms"]]
    # The geom's own rgba wins over its material's unless it is MuJoCo's default grey.
    assert colours == [[1, 0, 0, 1], [0, 1, 0, 1], [0.5, 0.5, 0.5, 1], [0.5, 0.5, 0.5, 1]]
    assert [g["group"] for g in scene["geoms"]] == [0, 0, 0, 3]  # fully transparent: dropped


def test_scene_bytes_are_stable_for_the_content_hash() -> None:
    model = mujoco.MjModel.from_xml_string(ALL_GEOMS)
    data = mujoco.MjData(model)
    first = MujocoScene(model, data).encode("same")
    for _ in range(30):
        mujoco.mj_step(model, data)
    # Same model and start state: same bytes, so the same scene key in Redis.
    assert MujocoScene(model, mujoco.MjData(model)).encode("same") == first
