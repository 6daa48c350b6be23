// Generated from kernels/cosim_protocol/schemas/scene.schema.json by labextension/scripts/protocol_types.py (npm run build).
// Do not edit: change the schema and rebuild.

export const SCHEMA_VERSION = 1;

export const SCENE_MAGIC = 'CSSC';
export const SCENE_VERSION = 1;

export type GeomType = 'plane' | 'sphere' | 'capsule' | 'ellipsoid' | 'cylinder' | 'box' | 'mesh' | 'hfield';

/** `[byte offset from the binary section's start, count]`. */
export type BufferRef = [number, number];

export interface ISceneBody {
  name: string;
  dynamic: boolean;
  pos: number[];
  quat: number[];
}

export interface ISceneGeom {
  body: number;
  type: GeomType;
  size: number[];
  /** Relative to the body. */
  pos: number[];
  quat: number[];
  rgba: number[];
  mesh: number | null;
  /** MuJoCo's visibility group (0-5); groups 3 and up are hidden, as in MuJoCo's viewer. */
  group?: number;
}

export interface ISceneMesh {
  name: string;
  vertices: BufferRef;
  faces: BufferRef;
  normals: BufferRef | null;
}

export interface ISceneCamera {
  name: string;
  body: number;
  pos: number[];
  quat: number[];
  /** Vertical field of view in degrees. */
  fovy: number;
}

export interface ISceneLight {
  name: string;
  body: number;
  pos: number[];
  dir: number[];
  directional: boolean;
}

/** The JSON part of a scene message (layout: cosim_protocol/viewer.py). */
export interface ISceneJSON {
  engine: string;
  name: string;
  bodies: ISceneBody[];
  geoms: ISceneGeom[];
  meshes: ISceneMesh[];
  cameras: ISceneCamera[];
  lights: ISceneLight[];
  /** Scene size, for the default camera distance. */
  extent: number;
}
