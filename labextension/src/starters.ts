/**
 * Starter notebooks that run on a fresh CoSim install: every model comes from an absolute,
 * computed path (`cosim.model_path`, `pybullet_data`), never from a file the workspace lacks.
 */

export interface IStarter {
  id: string;
  label: string;
  caption: string;
  cells: { type: 'markdown' | 'code'; source: string }[];
}

const MUJOCO_HUMANOID: IStarter = {
  id: 'mujoco-humanoid',
  label: 'MuJoCo Humanoid',
  caption: "Gymnasium's humanoid in MuJoCo, live in the cell's output",
  cells: [
    {
      type: 'markdown',
      source: `# A MuJoCo sim, live

Run the cell: the humanoid appears in its output and in every collaborator's copy of this
notebook. Drag to orbit, right-drag to pan, wheel to zoom, double-click to reset the view, \`?\`
for help. **Stop sim** in the viewer's toolbar ends the loop.`
    },
    {
      type: 'code',
      source: `import mujoco
import cosim

model = mujoco.MjModel.from_xml_path(cosim.model_path("humanoid.xml"))
data = mujoco.MjData(model)
with cosim.viewer(model, data, title="humanoid") as v:
    while v.running and data.time < 60:  # sim seconds; "Stop sim" ends it sooner
        mujoco.mj_step(model, data)
        v.sync()`
    }
  ]
};

const PYBULLET_ARM: IStarter = {
  id: 'pybullet-kuka',
  label: 'PyBullet Arm',
  caption: 'A KUKA iiwa arm from pybullet_data, following a sine wave',
  cells: [
    {
      type: 'markdown',
      source: `# A PyBullet sim, live

The arm and the floor come from \`pybullet_data\`, which ships with PyBullet.`
    },
    {
      type: 'code',
      source: `import math
import pybullet as p
import pybullet_data
import cosim

cid = p.connect(p.DIRECT)
p.setAdditionalSearchPath(pybullet_data.getDataPath())
p.setGravity(0, 0, -9.81, physicsClientId=cid)
p.loadURDF("plane.urdf", physicsClientId=cid)
arm = p.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=cid)
joints = range(p.getNumJoints(arm, physicsClientId=cid))
with cosim.viewer(cid, title="kuka") as v:
    for step in range(240 * 60):  # 60 s at PyBullet's 240 Hz
        if not v.running:
            break
        t = step / 240
        for j in joints:
            p.setJointMotorControl2(arm, j, p.POSITION_CONTROL,
                                    targetPosition=0.8 * math.sin(t + j), physicsClientId=cid)
        p.stepSimulation(physicsClientId=cid)
        v.sync()`
    }
  ]
};

const MUJOCO_CAMERA: IStarter = {
  id: 'mujoco-camera',
  label: 'MuJoCo Camera Stream',
  caption: "The humanoid and its tracking camera's images, side by side",
  cells: [
    {
      type: 'markdown',
      source: `# A camera stream

\`v.camera(name)\` adds a second live view with the images of one of the model's cameras
(JPEG frames rendered offscreen), for sensors and for what poses cannot show.`
    },
    {
      type: 'code',
      source: `import mujoco
import cosim

model = mujoco.MjModel.from_xml_path(cosim.model_path("humanoid.xml"))
data = mujoco.MjData(model)
with cosim.viewer(model, data, title="humanoid") as v, v.camera("track", width=320, height=240) as cam:
    while v.running and data.time < 30:
        mujoco.mj_step(model, data)
        v.sync()
        cam.sync()`
    }
  ]
};

export const STARTERS: IStarter[] = [MUJOCO_HUMANOID, PYBULLET_ARM, MUJOCO_CAMERA];
