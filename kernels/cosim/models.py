"""Robot models a notebook can load on any CoSim install, by name, from an absolute path.

A relative path such as ``"humanoid.xml"`` only works in the folder that holds the file, which
a new workspace does not; the MJCF models that ship with Gymnasium (humanoid, ant, hopper, ...)
are installed with CoSim's user environment, so starters and the README use those.
"""

from __future__ import annotations

from pathlib import Path


def _asset_dirs() -> list[Path]:
    dirs: list[Path] = []
    try:
        import gymnasium
    except ImportError:  # the user environment installs it; say what is missing below
        return dirs
    dirs.append(Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets")
    return dirs


def available_models() -> list[str]:
    """Names ``model_path`` accepts, e.g. ``["ant.xml", "half_cheetah.xml", "humanoid.xml"]``."""
    return sorted({p.name for d in _asset_dirs() if d.is_dir() for p in d.glob("*.xml")})


def model_path(name: str) -> str:
    """The absolute path of a bundled MJCF model: ``model_path("humanoid.xml")``.

    >>> model = mujoco.MjModel.from_xml_path(cosim.model_path("humanoid.xml"))
    """
    if not name.endswith(".xml"):
        name += ".xml"
    for folder in _asset_dirs():
        candidate = folder / name
        if candidate.is_file():
            return str(candidate)
    known = ", ".join(available_models()) or "none (is gymnasium[mujoco] installed?)"
    raise FileNotFoundError(f"no bundled model {name!r}; available: {known}")
