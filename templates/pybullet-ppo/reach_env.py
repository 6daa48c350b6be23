"""KukaReach: a Gymnasium env over the KUKA iiwa arm that ships with ``pybullet_data``.

pybullet's own bundled envs still use the old ``gym`` API, so this is a small one of our own.
The arm moves its seven joints by velocity targets; the reward is the negative distance from the
end effector to a random target, minus a small action cost. The arm stands on a floor, and the
target is a red ball that touches nothing: a rollout in the viewer shows what the arm reaches for.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pybullet_data

SUBSTEPS = 4  # 240 Hz physics, 60 Hz control
EE_LINK = 6
TARGET_RADIUS = 0.04


class KukaReach(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, max_steps: int = 200) -> None:
        self.client = p.connect(p.DIRECT)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.client)
        p.setGravity(0, 0, -9.81, physicsClientId=self.client)
        p.loadURDF("plane.urdf", physicsClientId=self.client)
        self.robot = p.loadURDF(
            "kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=self.client
        )
        # A visual-only ball (no collision shape). It has a (tiny) mass so the viewer streams its
        # pose, and is put back at the target after every physics step.
        ball = p.createVisualShape(
            p.GEOM_SPHERE, radius=TARGET_RADIUS, rgbaColor=[0.9, 0.15, 0.1, 1.0],
            physicsClientId=self.client,
        )  # fmt: skip
        self.target_body = p.createMultiBody(
            baseMass=1e-3, baseCollisionShapeIndex=-1, baseVisualShapeIndex=ball,
            physicsClientId=self.client,
        )  # fmt: skip
        self.joints = list(range(p.getNumJoints(self.robot, physicsClientId=self.client)))
        self.max_steps = max_steps
        n = len(self.joints)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n,), np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2 * n + 6,), np.float32)
        self.target = np.zeros(3)
        self.steps = 0

    def _obs(self) -> np.ndarray:
        states = p.getJointStates(self.robot, self.joints, physicsClientId=self.client)
        pos = [s[0] for s in states]
        vel = [s[1] for s in states]
        ee = p.getLinkState(self.robot, EE_LINK, physicsClientId=self.client)[0]
        self.ee = np.asarray(ee)
        return np.concatenate([pos, vel, self.ee, self.target]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        for j in self.joints:
            angle = self.np_random.uniform(-0.3, 0.3)
            p.resetJointState(self.robot, j, angle, 0.0, physicsClientId=self.client)
        r = self.np_random.uniform(0.4, 0.7)
        phi = self.np_random.uniform(-np.pi, np.pi)
        self.target = np.array([r * np.cos(phi), r * np.sin(phi), self.np_random.uniform(0.3, 0.9)])
        self._place_target()
        self.steps = 0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> Any:
        action = np.clip(action, -1.0, 1.0)
        p.setJointMotorControlArray(
            self.robot,
            self.joints,
            p.VELOCITY_CONTROL,
            targetVelocities=(2.0 * action).tolist(),
            forces=[200.0] * len(self.joints),
            physicsClientId=self.client,
        )
        for _ in range(SUBSTEPS):
            p.stepSimulation(physicsClientId=self.client)
        self._place_target()
        obs = self._obs()
        dist = float(np.linalg.norm(self.ee - self.target))
        reward = -dist - 0.01 * float(np.square(action).sum())
        self.steps += 1
        return obs, reward, False, self.steps >= self.max_steps, {"distance": dist}

    def _place_target(self) -> None:
        c = self.client
        p.resetBasePositionAndOrientation(self.target_body, self.target.tolist(), [0, 0, 0, 1],
                                          physicsClientId=c)  # fmt: skip
        p.resetBaseVelocity(self.target_body, [0, 0, 0], [0, 0, 0], physicsClientId=c)

    def close(self) -> None:
        if p.isConnected(self.client):
            p.disconnect(self.client)
