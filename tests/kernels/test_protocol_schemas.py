"""The protocol's JSON Schemas are the one source of the Lab's TypeScript types and agree with
the Python codecs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cosim_protocol import viewer, ws

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "kernels" / "cosim_protocol" / "schemas"
GENERATOR = REPO / "labextension" / "scripts" / "protocol_types.py"


def test_generated_typescript_is_up_to_date(tmp_path: Path) -> None:
    """src/protocol/*.ts must be exactly what the generator writes from the schemas."""
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(tmp_path)], check=True)
    committed = REPO / "labextension" / "src" / "protocol"
    generated = {p.name: p.read_text() for p in tmp_path.glob("*.ts")}
    assert generated, "the generator wrote nothing"
    for name, text in generated.items():
        assert (committed / name).read_text() == text, f"{name} is stale: run npm run build"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(tmp_path)], check=True)
    (tmp_path / "scene.ts").write_text("// edited by hand\n")
    check = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--out", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 1 and "scene.ts" in check.stderr


def _constants(name: str) -> dict[str, object]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())["x-constants"]


@pytest.mark.parametrize(
    ("schema", "module"), [("frame", viewer), ("scene", viewer), ("viewer-socket", ws)]
)
def test_schema_constants_match_the_python_protocol(schema: str, module: object) -> None:
    for name, value in _constants(schema).items():
        ours = getattr(module, name, None)
        if name == "FRAME_HEADER_BYTES":
            ours = viewer.FRAME_HEADER.size
        if isinstance(ours, bytes):
            ours = ours.decode()
        assert ours == value, f"{schema}.{name}: schema {value!r}, Python {ours!r}"


def _required_keys_hold(value: object, schema: dict, defs: dict, where: str) -> None:
    """A small structural check (required keys, types of arrays) enough for our schemas."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if schema.get("type") == "object" and "properties" in schema:
        assert isinstance(value, dict), where
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{where}: missing {sorted(missing)}"
        for key, sub in schema["properties"].items():
            if key in value:
                _required_keys_hold(value[key], sub, defs, f"{where}.{key}")
    if schema.get("type") == "array" and "items" in schema:
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _required_keys_hold(item, schema["items"], defs, f"{where}[{i}]")


def test_a_mujoco_scene_satisfies_the_scene_schema() -> None:
    mujoco = pytest.importorskip("mujoco")
    from mjcf_models import ALL_GEOMS

    from cosim.scene_mujoco import MujocoScene

    model = mujoco.MjModel.from_xml_string(ALL_GEOMS)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    scene, _ = viewer.decode_scene(MujocoScene(model, data).encode("all geoms"))
    schema = json.loads((SCHEMAS / "scene.schema.json").read_text())
    _required_keys_hold(scene, schema, schema["$defs"], "scene")
    assert scene["geoms"] and scene["meshes"]
