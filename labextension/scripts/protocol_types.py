"""Write TypeScript types for the Lab extension from CoSim's JSON Schemas.

Reads kernels/cosim_protocol/schemas/*.schema.json and writes src/protocol/<name>.ts (one
module per schema: the top-level type, its $defs, and its x-constants). Our keywords: the
top-level type is named by `x-type-name` (else `title`; a schema with neither `type` nor
`properties` at the top only holds $defs); a $def with `x-enum-names` beside an integer `enum`
becomes a TypeScript `enum`. Run by `npm run build`;
tests/kernels/test_protocol_schemas.py fails when the committed files differ from what this
writes. Standard library only. Usage: protocol_types.py [--check] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

LAB = Path(__file__).resolve().parents[1]
SCHEMAS = LAB.parent / "kernels" / "cosim_protocol" / "schemas"
OUT = LAB / "src" / "protocol"
GENERATED = ("control", "formgrader", "frame", "jobs", "recording", "scene", "viewer-socket")


def module_name(schema_file: Path) -> str:
    """``viewer-socket.schema.json`` -> ``viewerSocket``."""
    head, *rest = schema_file.name.removesuffix(".schema.json").split("-")
    return head + "".join(part.capitalize() for part in rest)


class Writer:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def type_name(self, name: str) -> str:
        schema = self.defs[name]
        return f"I{name}" if schema.get("type") == "object" else name

    def ts(self, schema: dict[str, Any], indent: str) -> str:
        if "$ref" in schema:
            return self.type_name(schema["$ref"].rsplit("/", 1)[-1])
        if "const" in schema:
            return json.dumps(schema["const"]).replace('"', "'")
        if "enum" in schema:
            return " | ".join(json.dumps(v).replace('"', "'") for v in schema["enum"])
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return " | ".join(self.ts(s, indent) for s in schema[key])
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join(self.ts({**schema, "type": k}, indent) for k in kind)
        if kind in ("number", "integer"):
            return "number"
        if kind in ("string", "boolean", "null"):
            return kind
        if kind == "array":
            if "prefixItems" in schema:
                return "[" + ", ".join(self.ts(s, indent) for s in schema["prefixItems"]) + "]"
            item = self.ts(schema.get("items", {}), indent)
            return f"({item})[]" if " | " in item else f"{item}[]"
        if kind == "object":
            if "properties" not in schema:
                extra = schema.get("additionalProperties", True)
                value = "unknown" if extra is True else self.ts(extra, indent)
                return f"Record<string, {value}>"
            return self.object_body(schema, indent)
        return "unknown"

    def object_body(self, schema: dict[str, Any], indent: str) -> str:
        required = set(schema.get("required", []))
        lines = ["{"]
        for name, prop in schema["properties"].items():
            if "description" in prop:
                lines.append(f"{indent}  /** {prop['description']} */")
            optional = "" if name in required else "?"
            lines.append(f"{indent}  {name}{optional}: {self.ts(prop, indent + '  ')};")
        lines.append(indent + "}")
        return "\n".join(lines)

    def declaration(self, name: str, schema: dict[str, Any]) -> str:
        doc = f"/** {schema['description']} */\n" if "description" in schema else ""
        if "x-enum-names" in schema:
            members = zip(schema["x-enum-names"], schema["enum"], strict=True)
            body = ",\n".join(f"  {member} = {value}" for member, value in members)
            return f"{doc}export enum {name} {{\n{body}\n}}\n"
        if schema.get("type") == "object" and "properties" in schema:
            return f"{doc}export interface I{name} {self.object_body(schema, '')}\n"
        return f"{doc}export type {name} = {self.ts(schema, '')};\n"


def generate(schema_file: Path) -> str:
    schema = json.loads(schema_file.read_text())
    defs = dict(schema.get("$defs", {}))
    top = {k: v for k, v in schema.items() if not k.startswith("$") and not k.startswith("x-")}
    if {"type", "properties", "oneOf", "anyOf"} & set(top):
        defs[schema.get("x-type-name", schema["title"])] = top
    writer = Writer(defs)
    rel = schema_file.relative_to(LAB.parent).as_posix()
    parts = [
        f"// Generated from {rel} by labextension/scripts/protocol_types.py (npm run build).\n"
        "// Do not edit: change the schema and rebuild.\n",
        f"export const SCHEMA_VERSION = {schema.get('x-schema-version', 1)};\n",
    ]
    constants = schema.get("x-constants", {})
    if constants:
        parts.append(
            "".join(f"export const {k} = {json.dumps(v).replace(chr(34), chr(39))};\n"
                    for k, v in constants.items())
        )  # fmt: skip
    for name, sub in defs.items():
        parts.append(writer.declaration(name, sub))
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    args = parser.parse_args(argv)
    stale = []
    args.out.mkdir(parents=True, exist_ok=True)
    for schema_file in [SCHEMAS / f"{name}.schema.json" for name in GENERATED]:
        target = args.out / f"{module_name(schema_file)}.ts"
        text = generate(schema_file)
        if target.exists() and target.read_text() == text:
            continue
        if args.check:
            stale.append(str(target))
        else:
            target.write_text(text)
    if stale:
        print("out of date (run npm run build):", *stale, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
