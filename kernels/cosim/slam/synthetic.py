"""A TUM-format RGB-D sequence rendered from a textured MuJoCo room along a known camera path.

So a SLAM class runs with no download: ``generate(folder)`` writes ``rgb/``, ``depth/``,
``rgb.txt``, ``depth.txt``, ``groundtruth.txt`` (TUM layouts) and ``camera.json`` (pinhole
intrinsics, depth scale). Poses are of the optical frame (OpenCV axes: x right, y down, z forward)
in the world, as TUM's ground truth; depth is z-depth in 1/5000 m as 16-bit PNG, as TUM's.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEPTH_SCALE = 5000.0  # TUM: depth PNG value / 5000 = metres
ROOM_HALF = 4.0  # the room spans [-4, 4] m in x and y
ROOM_HEIGHT = 3.0
TEXTURE_METRES = 4.0  # one texture image covers this many metres of wall


@dataclass(frozen=True)
class SequenceSpec:
    duration_s: float = 20.0
    fps: float = 30.0
    path_period_s: float = 20.0  # one loop of the camera path; a shorter duration renders part
    width: int = 640
    height: int = 480
    fovy_deg: float = 60.0
    seed: int = 0

    @property
    def frames(self) -> int:
        return round(self.duration_s * self.fps)

    def intrinsics(self) -> dict[str, float]:
        """Pinhole model of MuJoCo's camera in OpenCV pixel coordinates (pixel centres at
        integers, so the principal point sits half a pixel before the image centre)."""
        f = 0.5 * self.height / math.tan(math.radians(self.fovy_deg) / 2)
        return {
            "fx": f,
            "fy": f,
            "cx": (self.width - 1) / 2,
            "cy": (self.height - 1) / 2,
            "width": self.width,
            "height": self.height,
            "depth_scale": DEPTH_SCALE,
        }


def camera_pose(t: float, duration_s: float = 20.0) -> np.ndarray:
    """4x4 pose (world from optical frame) at time ``t``: one smooth loop around the room's
    centre, looking outwards at the walls with a swaying heading, a little pitch and roll."""
    w = 2 * math.pi / duration_s
    pos = np.array(
        [1.2 * math.cos(w * t), 0.8 * math.sin(2 * w * t), 1.4 + 0.1 * math.sin(3 * w * t)]
    )
    yaw = w * t + math.pi / 2 + 0.4 * math.sin(3 * w * t)
    pitch = -0.1 + 0.08 * math.sin(2 * w * t)
    roll = 0.05 * math.sin(5 * w * t)
    forward = np.array(
        [math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), math.sin(pitch)]
    )
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.column_stack([right, down, forward])
    c, s = math.cos(roll), math.sin(roll)
    rot = rot @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rot, pos
    return pose


def _texture(path: Path, seed: int, size: int = 1024) -> None:
    """A busy, non-repeating picture (shapes over noise) so ORB finds distinct corners."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    noise = rng.integers(60, 200, (size // 16, size // 16, 3), dtype=np.uint8)
    img = Image.fromarray(noise).resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(400):
        x, y = rng.integers(0, size, 2)
        w, h = rng.integers(8, 90, 2)
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        box = (int(x), int(y), int(x + w), int(y + h))
        if rng.random() < 0.5:
            draw.rectangle(box, fill=color)
        else:
            draw.ellipse(box, fill=color, outline=(0, 0, 0))
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    img.save(path)


def scene_xml(asset_dir: Path, spec: SequenceSpec) -> str:
    """The room: six textured planes, a few boxes for depth structure, a mocap camera."""
    for i in range(3):
        _texture(asset_dir / f"tex{i}.png", spec.seed * 10 + i)
    rep = 1.0 / TEXTURE_METRES
    h, z = ROOM_HALF, ROOM_HEIGHT
    walls = [
        ("floor", "0 0 0", "0 0 1", 0),
        ("ceiling", f"0 0 {z}", "0 0 -1", 1),
        ("north", f"0 {h} {z / 2}", "0 -1 0", 2),
        ("south", f"0 {-h} {z / 2}", "0 1 0", 1),
        ("east", f"{h} 0 {z / 2}", "-1 0 0", 0),
        ("west", f"{-h} 0 {z / 2}", "1 0 0", 2),
    ]
    geoms = "\n".join(
        f'<geom name="{n}" type="plane" pos="{p}" zaxis="{a}" size="{h} {h} 0.1" material="m{m}"/>'
        for n, p, a, m in walls
    )
    rng = np.random.default_rng(spec.seed + 100)
    boxes = []
    for i in range(10):
        angle = 2 * math.pi * i / 10 + rng.uniform(-0.2, 0.2)
        r = rng.uniform(2.6, 3.4)
        sx, sy, sz = rng.uniform(0.15, 0.4, 3)
        boxes.append(
            f'<geom type="box" pos="{r * math.cos(angle):.3f} {r * math.sin(angle):.3f} '
            f'{sz:.3f}" size="{sx:.3f} {sy:.3f} {sz:.3f}" material="m{i % 3}"/>'
        )
    textures = "\n".join(
        f'<texture name="t{i}" type="2d" file="{asset_dir / f"tex{i}.png"}"/>'
        f'<material name="m{i}" texture="t{i}" texuniform="true" texrepeat="{rep} {rep}"/>'
        for i in range(3)
    )
    return f"""<mujoco model="slam-room">
  <visual>
    <global offwidth="{spec.width}" offheight="{spec.height}"/>
    <quality shadowsize="0"/>
    <map znear="0.02" zfar="30"/>
    <headlight ambient="0.5 0.5 0.5" diffuse="0.4 0.4 0.4" specular="0 0 0"/>
  </visual>
  <asset>{textures}</asset>
  <worldbody>
    {geoms}
    {"".join(boxes)}
    <body name="rig" mocap="true">
      <camera name="cam" fovy="{spec.fovy_deg}"/>
    </body>
  </worldbody>
</mujoco>"""


class _RgbdCamera:
    """Colour and metric z-depth of the model's camera "cam", offscreen. Opens its own headless
    GL context (as pixel mode does), so it works even when ``mujoco`` was imported first with
    another backend, e.g. in a notebook or a test session."""

    def __init__(self, model: Any, data: Any, width: int, height: int) -> None:
        import mujoco

        from ..pixels import _gl_context, headless_backend

        self.model, self.data = model, data
        self._gl = _gl_context(headless_backend(), width, height)
        self._gl.make_current()
        self._scene = mujoco.MjvScene(model, maxgeom=1000)
        self._option = mujoco.MjvOption()
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._cam.fixedcamid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "cam")
        self._context: Any = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._rgb = np.empty((height, width, 3), dtype=np.uint8)
        self._depth = np.empty((height, width), dtype=np.float32)
        extent = model.stat.extent
        self._near = model.vis.map.znear * extent
        self._far = model.vis.map.zfar * extent

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        import mujoco

        self._gl.make_current()
        mujoco.mjv_updateScene(
            self.model, self.data, self._option, None, self._cam,
            mujoco.mjtCatBit.mjCAT_ALL, self._scene,
        )  # fmt: skip
        mujoco.mjr_render(self._rect, self._scene, self._context)
        mujoco.mjr_readPixels(self._rgb, self._depth, self._rect, self._context)
        # Depth buffer [0, 1] to metres along the optical axis; OpenGL rows run bottom-up.
        n, f = self._near, self._far
        z = n / (1.0 - self._depth * (1.0 - n / f))
        return self._rgb[::-1].copy(), z[::-1].copy()

    def close(self) -> None:
        self._gl.make_current()
        self._context.free()
        self._gl.free()


def _quat_xyzw(rot: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rot).as_quat()


# MuJoCo cameras look along -z with y up; the optical (OpenCV) frame looks along +z with y down.
_MJ_FROM_CV = np.diag([1.0, -1.0, -1.0])


def generate(
    folder: str | Path,
    spec: SequenceSpec | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render the sequence into ``folder`` (created; must not hold a sequence already)."""
    import cv2

    spec = spec or SequenceSpec()
    import mujoco
    from scipy.spatial.transform import Rotation

    folder = Path(folder)
    if (folder / "rgb.txt").exists():
        raise FileExistsError(f"{folder} already holds a sequence (rgb.txt)")
    (folder / "rgb").mkdir(parents=True, exist_ok=True)
    (folder / "depth").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as assets:
        model = mujoco.MjModel.from_xml_string(scene_xml(Path(assets), spec))
    data = mujoco.MjData(model)
    camera = _RgbdCamera(model, data, spec.width, spec.height)
    rgb_lines, depth_lines, gt_lines = [], [], []
    t0 = 1_700_000_000.0  # TUM-like absolute stamps
    try:
        for k in range(spec.frames):
            t = k / spec.fps
            pose = camera_pose(t, spec.path_period_s)
            data.mocap_pos[0] = pose[:3, 3]
            wxyz = np.roll(Rotation.from_matrix(pose[:3, :3] @ _MJ_FROM_CV).as_quat(), 1)
            data.mocap_quat[0] = wxyz
            mujoco.mj_forward(model, data)
            rgb, depth = camera.render()
            stamp = f"{t0 + t:.6f}"
            cv2.imwrite(str(folder / "rgb" / f"{stamp}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            depth_png = np.clip(depth * DEPTH_SCALE, 0, 65535).astype(np.uint16)
            cv2.imwrite(str(folder / "depth" / f"{stamp}.png"), depth_png)
            rgb_lines.append(f"{stamp} rgb/{stamp}.png")
            depth_lines.append(f"{stamp} depth/{stamp}.png")
            q = _quat_xyzw(pose[:3, :3])
            gt_lines.append(stamp + " " + " ".join(f"{v:.7f}" for v in (*pose[:3, 3], *q)))
            if progress is not None:
                progress(k + 1, spec.frames)
    finally:
        camera.close()
    header = "# generated by cosim.slam.synthetic (MuJoCo)\n"
    (folder / "rgb.txt").write_text(header + "# timestamp filename\n" + "\n".join(rgb_lines) + "\n")
    (folder / "depth.txt").write_text(
        header + "# timestamp filename\n" + "\n".join(depth_lines) + "\n"
    )
    (folder / "groundtruth.txt").write_text(
        header + "# timestamp tx ty tz qx qy qz qw\n" + "\n".join(gt_lines) + "\n"
    )
    (folder / "camera.json").write_text(json.dumps(spec.intrinsics(), indent=2) + "\n")
    return folder
