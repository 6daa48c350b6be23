"""The protocol's JSON Schemas are the one source of the Lab's TypeScript types and agree with
the Python codecs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cosim_protocol import control, formgrader, recording, viewer, ws

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


def test_every_schema_has_a_generated_module(tmp_path: Path) -> None:
    """No hand-written twin: each schema in the folder is one generated TypeScript module."""
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(tmp_path)], check=True)
    schemas = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    modules = {p.stem for p in tmp_path.glob("*.ts")}
    camel = {s.split("-")[0] + "".join(w.capitalize() for w in s.split("-")[1:]) for s in schemas}
    assert modules == camel


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


# Schema constants whose Python twin has another name or is derived.
PYTHON_TWIN: dict[str, object] = {
    "FRAME_HEADER_BYTES": viewer.FRAME_HEADER.size,
    "RECORDING_SUFFIX": recording.SUFFIX,
    "FILE_HEADER_BYTES": recording.FILE_HEADER.size,
    "BLOCK_HEADER_BYTES": recording.BLOCK_HEADER.size,
    "INDEX_ENTRY_BYTES": recording.INDEX_ENTRY.size,
    "FOOTER_BYTES": recording.FOOTER.size,
}


@pytest.mark.parametrize(
    ("schema", "module"),
    [
        ("frame", viewer), ("scene", viewer), ("viewer-socket", ws), ("control", control),
        ("recording", recording), ("formgrader", formgrader),
    ],
)  # fmt: skip
def test_schema_constants_match_the_python_protocol(schema: str, module: object) -> None:
    for name, value in _constants(schema).items():
        ours = PYTHON_TWIN[name] if name in PYTHON_TWIN else getattr(module, name, None)
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


def _defs(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())["$defs"]


def test_recording_enums_match_the_python_protocol() -> None:
    defs = _defs("recording")
    python = {
        "BlockType": [recording.BLOCK_SCENE, recording.BLOCK_FRAMES, recording.BLOCK_EVENTS,
                      recording.BLOCK_INDEX],
        "Codec": [recording.CODEC_NONE, recording.CODEC_ZSTD],
        "PoseCoding": [recording.FLAG_DELTA, recording.FLAG_SHUFFLE, recording.FLAG_TRANSPOSE],
    }  # fmt: skip
    for name, values in python.items():
        assert defs[name]["enum"] == values, name
        assert len(defs[name]["x-enum-names"]) == len(values), name


def test_a_control_document_after_a_change_satisfies_the_control_schema() -> None:
    schema = json.loads((SCHEMAS / "control.schema.json").read_text())
    declared = {"kp": control.check_param_declaration("kp", 1.0, 0.0, 10.0)}
    doc = control.default_document(declared)
    change = control.check_change({"state": "paused", "step": 2, "params": {"kp": 3.0}}, doc)
    _required_keys_hold(change, schema["$defs"]["ControlChange"], schema["$defs"], "change")
    doc = control.apply_change(doc, change, "alice", 1.5, 1.7e9)
    _required_keys_hold(doc, schema, schema["$defs"], "doc")
    assert schema["properties"]["state"]["$ref"].endswith("ControlState")
    assert schema["$defs"]["ControlState"]["enum"] == list(control.STATES)
