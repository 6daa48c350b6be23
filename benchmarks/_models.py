"""Benchmark scenes: MJCF built in code so benchmarks need no model files."""

from __future__ import annotations


def box_pile_xml(n_bodies: int, spacing: float = 0.25) -> str:
    """``n_bodies`` free boxes/spheres/capsules on a grid above a floor (all of them move).

    Styled like Gymnasium's MuJoCo models (gradient skybox, checker floor), so a rendered JPEG
    of it is the size a real camera frame of such a scene has.
    """
    side = max(1, round(n_bodies ** (1 / 2)))
    shapes = [
        '<geom type="box" size=".05 .05 .05" rgba=".8 .3 .2 1"/>',
        '<geom type="sphere" size=".06" rgba=".2 .5 .8 1"/>',
        '<geom type="capsule" size=".04 .06" rgba=".3 .7 .3 1"/>',
    ]
    bodies = []
    for i in range(n_bodies):
        x = (i % side - side / 2) * spacing
        y = (i // side % side - side / 2) * spacing
        z = 0.3 + (i // (side * side)) * spacing
        bodies.append(f'<body pos="{x:.3f} {y:.3f} {z:.3f}"><freejoint/>{shapes[i % 3]}</body>')
    return (
        '<mujoco><option timestep="0.002"/>'
        '<visual><global offwidth="640" offheight="480"/></visual>'
        '<asset><texture type="skybox" builtin="gradient" rgb1=".4 .5 .6" rgb2="0 0 0"'
        ' width="100" height="100"/>'
        '<texture name="grid" type="2d" builtin="checker" rgb1=".1 .2 .3" rgb2=".2 .3 .4"'
        ' width="300" height="300" mark="edge" markrgb=".2 .3 .4"/>'
        '<material name="grid" texture="grid" texrepeat="8 8" reflectance=".2"/></asset>'
        '<worldbody><light pos="0 0 6" dir="0 0 -1"/>'
        '<camera name="view" pos="0 -1.8 1.1" xyaxes="1 0 0 0 .55 1"/>'
        '<geom type="plane" size="10 10 .1" material="grid"/>'
        f"{''.join(bodies)}</worldbody></mujoco>"
    )
