from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as pb
import pybullet_data
import pytest

from cosim.scene_pybullet import PybulletScene
from cosim_protocol.viewer import decode_scene


@pytest.fixture
def kuka_world() -> Iterator[tuple[int, int]]:
    cid = pb.connect(pb.DIRECT)
    pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
    pb.setGravity(0, 0, -9.8, physicsClientId=cid)
    pb.loadURDF("plane.urdf", physicsClientId=cid)
    kuka = pb.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=cid)
    yield cid, kuka
    pb.disconnect(cid)


def test_kuka_scene_has_meshes_and_static_plane(kuka_world: tuple[int, int]) -> None:
    cid, _ = kuka_world
    extractor = PybulletScene(cid)
    scene, binary = decode_scene(extractor.encode("kuka"))
    names = [b["name"] for b in scene["bodies"]]
    assert names[0] == "planeLink" and not scene["bodies"][0]["dynamic"]
    links = [b for b in scene["bodies"] if b["name"].startswith("lbr_iiwa_link_")]
    assert len(links) == 8  # base + 7 links
    assert not links[0]["dynamic"]  # fixed base
    assert all(b["dynamic"] for b in links[1:])
    mesh_names = {m["name"] for m in scene["meshes"]}
    assert {f"link_{i}.obj" for i in range(8)} <= mesh_names
    for mesh in scene["meshes"]:
        count = mesh["faces"][1]
        faces = np.frombuffer(binary, "<u4", count=3 * count, offset=mesh["faces"][0])
        assert count > 0 and faces.max() < mesh["vertices"][1]
    assert len(extractor.dynamic) == 7


def test_poses_follow_the_links(kuka_world: tuple[int, int]) -> None:
    cid, kuka = kuka_world
    extractor = PybulletScene(cid)
    before = extractor.poses().copy()
    for j in range(pb.getNumJoints(kuka, physicsClientId=cid)):
        pb.setJointMotorControl2(kuka, j, pb.POSITION_CONTROL, targetPosition=0.7,
                                 physicsClientId=cid)  # fmt: skip
    for _ in range(240):
        pb.stepSimulation(physicsClientId=cid)
    after = extractor.poses()
    assert not np.allclose(before, after)
    last = pb.getLinkState(kuka, 6, computeForwardKinematics=True, physicsClientId=cid)
    np.testing.assert_allclose(after[-1, :3], last[4], atol=1e-5)
    np.testing.assert_allclose(after[-1, 3:], last[5], atol=1e-5)


def test_base_frame_is_the_link_frame_not_the_centre_of_mass() -> None:
    cid = pb.connect(pb.DIRECT)
    try:
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
        # r2d2's base has an inertial offset; its link frame is where we placed it.
        body = pb.loadURDF("r2d2.urdf", [1, 2, 3], physicsClientId=cid)
        extractor = PybulletScene(cid)
        pos, _ = extractor._pose(body, -1)
        np.testing.assert_allclose(pos, [1, 2, 3], atol=1e-6)
    finally:
        pb.disconnect(cid)


# A base and a child link, each with an inertial frame offset from its link frame and a visual
# offset, and a fixed-jointed link before the moving one: the cases PyBullet's frames differ on.
OFFSETS_URDF = """<robot name="offsets">
  <link name="base">
    <inertial><origin xyz="0.1 0.2 0.3" rpy="0 0 0.5"/><mass value="{base_mass}"/>
      <inertia ixx="1" iyy="1" izz="1" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><origin xyz="1 0 0"/><geometry><box size="0.2 0.4 0.6"/></geometry></visual>
  </link>
  <link name="bracket">
    <visual><geometry><cylinder radius="0.05" length="0.3"/></geometry></visual>
  </link>
  <link name="arm">
    <inertial><origin xyz="0 0.4 0" rpy="0.3 0 0"/><mass value="1"/>
      <inertia ixx="1" iyy="1" izz="1" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><origin xyz="0 0 1" rpy="0 0 1.5707963"/><geometry><sphere radius="0.1"/></geometry>
      <material name="green"><color rgba="0 1 0 1"/></material></visual>
  </link>
  <joint name="weld" type="fixed"><parent link="base"/><child link="bracket"/>
    <origin xyz="0 0 0.5"/></joint>
  <joint name="hinge" type="revolute"><parent link="bracket"/><child link="arm"/>
    <origin xyz="0 0 1.5"/><axis xyz="1 0 0"/>
    <limit lower="-3" upper="3" effort="10" velocity="10"/></joint>
</robot>
"""


def _world(pose: tuple[Any, Any], local: tuple[Any, Any]) -> np.ndarray:
    return np.array(pb.multiplyTransforms(pose[0], pose[1], local[0], local[1])[0])


@pytest.mark.parametrize("base_mass", [0, 2])
def test_visual_frames_land_where_the_urdf_puts_them(tmp_path: Path, base_mass: int) -> None:
    urdf = tmp_path / "offsets.urdf"
    urdf.write_text(OFFSETS_URDF.format(base_mass=base_mass))
    cid = pb.connect(pb.DIRECT)
    try:
        uid = pb.loadURDF(str(urdf), [0, 0, 0], physicsClientId=cid)
        pb.resetJointState(uid, 1, 0.7, physicsClientId=cid)
        extractor = PybulletScene(cid)
        scene, _ = decode_scene(extractor.encode("offsets"))
    finally:
        pb.disconnect(cid)
    names = [b["name"] for b in scene["bodies"]]
    assert names == ["base", "bracket", "arm"]
    # Without base mass PyBullet fixes the base, and the welded bracket with it.
    assert [b["dynamic"] for b in scene["bodies"]] == [base_mass > 0, base_mass > 0, True]
    geoms = {g["type"]: g for g in scene["geoms"]}
    pose = {k: (b["pos"], b["quat"]) for k, b in enumerate(scene["bodies"])}
    box = geoms["box"]
    assert box["size"] == pytest.approx([0.1, 0.2, 0.3])
    # World positions: body pose (link frame) composed with the geom's local frame.
    np.testing.assert_allclose(_world(pose[box["body"]], (box["pos"], box["quat"])), [1, 0, 0],
                               atol=1e-6)  # fmt: skip
    cyl = geoms["cylinder"]
    assert cyl["size"] == pytest.approx([0.05, 0.15])
    np.testing.assert_allclose(_world(pose[cyl["body"]], (cyl["pos"], cyl["quat"])),
                               [0, 0, 0.5], atol=1e-6)  # fmt: skip
    ball = geoms["sphere"]
    assert ball["rgba"] == [0, 1, 0, 1] and ball["body"] == 2
    # The arm's link frame is 2 m up, turned 0.7 rad about x; the ball 1 m along its z.
    expected = [0, -np.sin(0.7), 2 + np.cos(0.7)]
    np.testing.assert_allclose(_world(pose[2], (ball["pos"], ball["quat"])), expected, atol=1e-6)


def test_sim_time_counts_syncs_of_the_physics_time_step(kuka_world: tuple[int, int]) -> None:
    cid, _ = kuka_world
    pb.setTimeStep(1 / 500, physicsClientId=cid)
    assert PybulletScene(cid).sim_time(250) == pytest.approx(0.5)


def test_a_falling_body_is_dynamic_from_its_base(kuka_world: tuple[int, int]) -> None:
    cid, _ = kuka_world
    r2d2 = pb.loadURDF("r2d2.urdf", [2, 0, 1], physicsClientId=cid)
    extractor = PybulletScene(cid)
    moving = {extractor.frames[k][0] for k in extractor.dynamic}
    assert r2d2 in moving
    rows = [r for r, k in enumerate(extractor.dynamic) if extractor.frames[k] == (r2d2, -1)]
    for _ in range(60):
        pb.stepSimulation(physicsClientId=cid)
    pos, _ = extractor._pose(r2d2, -1)
    np.testing.assert_allclose(extractor.poses()[rows[0], :3], pos, atol=1e-6)
    assert pos[2] < 1
