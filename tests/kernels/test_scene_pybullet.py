from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pybullet as pb
import pybullet_data
import pytest

from cosim.protocol import decode_scene
from cosim.scene_pybullet import PybulletScene


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
