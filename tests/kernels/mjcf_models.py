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
