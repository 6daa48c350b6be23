"""Small MJCF models for the kernel-side tests."""

ALL_GEOMS = """
<mujoco>
  <asset>
    <mesh name="tet" vertex="0 0 0  .2 0 0  0 .2 0  0 0 .2"/>
    <hfield name="hills" nrow="3" ncol="4" size="1 .5 .3 .1"
            elevation="0 .5 1 .5  0 1 0 1  1 0 .5 0"/>
    <material name="red" rgba="1 0 0 1"/>
  </asset>
  <worldbody>
    <light name="sun" pos="0 0 4" dir="0 0 -1" directional="true"/>
    <camera name="front" pos="0 -3 1" xyaxes="1 0 0 0 0 1"/>
    <geom name="floor" type="plane" size="3 3 .1"/>
    <geom name="terrain" type="hfield" hfield="hills" pos="4 0 0"/>
    <body name="free" pos="0 0 1">
      <freejoint/>
      <geom name="box" type="box" size=".1 .2 .3" material="red"/>
      <geom name="ellipsoid" type="ellipsoid" size=".1 .2 .3" pos=".5 0 0"/>
      <geom name="cylinder" type="cylinder" size=".1 .25" pos="-.5 0 0"/>
      <body name="arm" pos="0 0 .5">
        <joint type="hinge" axis="0 1 0"/>
        <geom name="sphere" type="sphere" size=".15" rgba="0 0 1 1"/>
        <geom name="capsule" type="capsule" size=".05 .2" pos="0 0 .3"/>
        <geom name="tetra" type="mesh" mesh="tet" pos=".3 0 0"/>
      </body>
    </body>
    <body name="welded" pos="2 0 0"><geom type="box" size=".1 .1 .1"/></body>
  </worldbody>
</mujoco>
"""


def chain(n: int) -> str:
    """``n`` capsule links in a hinge chain, plus ``n`` free boxes falling on a floor: a
    humanoid-sized model (2n moving bodies) for overhead measurements."""
    links = ""
    for i in range(n):
        links += (
            f'<body name="link{i}" pos="0 0 .2"><joint type="hinge" axis="0 1 0"/>'
            '<geom type="capsule" size=".03 .1" pos="0 0 .1"/>'
        )
    links += "</body>" * n
    boxes = "".join(
        f'<body name="box{i}" pos="{i % 5 * 0.3} {i // 5 * 0.3 + 1} {0.3 + i * 0.05}">'
        '<freejoint/><geom type="box" size=".1 .1 .1"/></body>'
        for i in range(n)
    )
    return (
        '<mujoco><worldbody><geom type="plane" size="5 5 .1"/>'
        f'<body name="root" pos="0 0 .1">{links}</body>{boxes}</worldbody></mujoco>'
    )
