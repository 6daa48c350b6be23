"""Benchmark scenes: MJCF built in code so benchmarks need no model files."""

from __future__ import annotations


def box_pile_xml(n_bodies: int, spacing: float = 0.25) -> str:
    """``n_bodies`` free boxes/spheres/capsules on a grid above a plane (all of them move)."""
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
        '<worldbody><light pos="0 0 6" dir="0 0 -1"/>'
        '<geom type="plane" size="10 10 .1" rgba=".9 .9 .9 1"/>'
        f"{''.join(bodies)}</worldbody></mujoco>"
    )
