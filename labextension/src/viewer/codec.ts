/**
 * Decoders for CoSim's viewer wire formats. The layouts are defined in
 * kernels/cosim_protocol/viewer.py; this file follows them byte for byte: little-endian,
 * quaternions (x, y, z, w), z up.
 */

import {
  BYTES_PER_BODY,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  KIND_PIXELS,
  KIND_POSES
} from '../protocol/frame';
import type { IFrameHeader } from '../protocol/frame';
import { SCENE_MAGIC, SCENE_VERSION } from '../protocol/scene';
import type { BufferRef, ISceneJSON } from '../protocol/scene';

// The wire constants and scene types are generated from the protocol's JSON Schemas.
export {
  BYTES_PER_BODY,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  KIND_PIXELS,
  KIND_POSES,
  SCENE_MAGIC,
  SCENE_VERSION
};
export type {
  BufferRef,
  GeomType,
  ISceneBody,
  ISceneCamera,
  ISceneGeom,
  ISceneJSON,
  ISceneLight,
  ISceneMesh
} from '../protocol/scene';

export interface IMeshBuffers {
  vertices: Float32Array;
  faces: Uint32Array;
  normals: Float32Array | null;
}

export interface IScene {
  /** Equal for equal scene messages (the server resends the scene on every reconnect). */
  key: string;
  json: ISceneJSON;
  /** The mesh buffers, in the order of `json.meshes`. */
  meshes: IMeshBuffers[];
}

export interface IPoseFrame extends IFrameHeader {
  kind: 'poses';
  count: number;
  /** count x 7 floats (px, py, pz, qx, qy, qz, qw) for the scene's dynamic bodies, in order. */
  poses: Float32Array;
}

export interface IPixelFrame extends IFrameHeader {
  kind: 'pixels';
  jpeg: Uint8Array;
  width: number;
  height: number;
}

export type Frame = IPoseFrame | IPixelFrame;

/** Bytes that are not a valid frame or scene. */
export class CodecError extends Error {
  name = 'CodecError';
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The first four bytes as text ('' when shorter). */
export function magicOf(buffer: ArrayBuffer): string {
  if (buffer.byteLength < 4) {
    return '';
  }
  const b = new Uint8Array(buffer, 0, 4);
  return String.fromCharCode(b[0], b[1], b[2], b[3]);
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    out += b.toString(16).padStart(2, '0');
  }
  return out;
}

/** A little-endian float32 view, zero-copy where alignment and byte order allow it. */
function float32s(buffer: ArrayBuffer, offset: number, length: number): Float32Array {
  if (LITTLE_ENDIAN && offset % 4 === 0) {
    return new Float32Array(buffer, offset, length);
  }
  const view = new DataView(buffer, offset, length * 4);
  return Float32Array.from({ length }, (_, i) => view.getFloat32(i * 4, true));
}

function uint32s(buffer: ArrayBuffer, offset: number, length: number): Uint32Array {
  if (LITTLE_ENDIAN && offset % 4 === 0) {
    return new Uint32Array(buffer, offset, length);
  }
  const view = new DataView(buffer, offset, length * 4);
  return Uint32Array.from({ length }, (_, i) => view.getUint32(i * 4, true));
}

export function decodeFrame(buffer: ArrayBuffer): Frame {
  if (buffer.byteLength < FRAME_HEADER_BYTES || magicOf(buffer) !== FRAME_MAGIC) {
    throw new CodecError('not a CoSim frame (bad magic or too short)');
  }
  const view = new DataView(buffer);
  const kind = view.getUint16(4, true);
  const header: IFrameHeader = {
    number: view.getUint32(8, true) + view.getUint32(12, true) * 2 ** 32,
    simTime: view.getFloat64(16, true),
    wallTime: view.getFloat64(24, true),
    simId: hex(new Uint8Array(buffer, 40, 16))
  };
  const count = view.getUint32(32, true);
  const payload = buffer.byteLength - FRAME_HEADER_BYTES;
  if (kind === KIND_POSES) {
    if (payload !== count * BYTES_PER_BODY) {
      throw new CodecError(`frame says ${count} bodies but has ${payload} pose bytes`);
    }
    const poses = float32s(buffer, FRAME_HEADER_BYTES, count * 7);
    return { kind: 'poses', ...header, count, poses };
  }
  if (kind === KIND_PIXELS) {
    if (payload !== count) {
      throw new CodecError(`frame says ${count} JPEG bytes but has ${payload}`);
    }
    const jpeg = new Uint8Array(buffer, FRAME_HEADER_BYTES, count);
    const width = view.getUint16(36, true);
    const height = view.getUint16(38, true);
    return { kind: 'pixels', ...header, jpeg, width, height };
  }
  throw new CodecError(`unknown frame kind ${kind}`);
}

function slice<T>(
  make: (buffer: ArrayBuffer, offset: number, length: number) => T,
  buffer: ArrayBuffer,
  start: number,
  ref: BufferRef,
  what: string
): T {
  const [offset, count] = ref;
  const offsetOk = Number.isInteger(offset) && offset >= 0;
  const end = start + offset + count * 12; // 3 x 4 bytes per vertex, normal or triangle
  if (!offsetOk || !Number.isInteger(count) || count < 0 || end > buffer.byteLength) {
    throw new CodecError(`scene ${what} [${offset}, ${count}] lies outside the binary section`);
  }
  return make(buffer, start + offset, count * 3);
}

export function decodeScene(buffer: ArrayBuffer): IScene {
  if (buffer.byteLength < 12 || magicOf(buffer) !== SCENE_MAGIC) {
    throw new CodecError('not a CoSim scene (bad magic or too short)');
  }
  const view = new DataView(buffer);
  const version = view.getUint32(4, true);
  if (version !== SCENE_VERSION) {
    throw new CodecError(`scene version ${version} is not supported (this viewer reads 1)`);
  }
  const length = view.getUint32(8, true);
  if (12 + length > buffer.byteLength) {
    throw new CodecError(`scene JSON length ${length} runs past the end of the message`);
  }
  const text = new TextDecoder().decode(new Uint8Array(buffer, 12, length));
  let parsed: Partial<ISceneJSON>;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CodecError(`scene JSON is invalid: ${String(error)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || !Array.isArray(parsed.bodies)) {
    throw new CodecError('scene JSON has no bodies');
  }
  const json: ISceneJSON = {
    engine: String(parsed.engine ?? ''),
    name: String(parsed.name ?? ''),
    bodies: parsed.bodies,
    geoms: parsed.geoms ?? [],
    meshes: parsed.meshes ?? [],
    cameras: parsed.cameras ?? [],
    lights: parsed.lights ?? [],
    extent: Number(parsed.extent) > 0 ? Number(parsed.extent) : 1
  };
  const start = 12 + length;
  const meshes = json.meshes.map(m => {
    const vertices = slice(float32s, buffer, start, m.vertices, `mesh ${m.name} vertices`);
    const faces = slice(uint32s, buffer, start, m.faces, `mesh ${m.name} faces`);
    const normals = m.normals
      ? slice(float32s, buffer, start, m.normals, `mesh ${m.name} normals`)
      : null;
    const vertexCount = vertices.length / 3;
    if (faces.some(index => index >= vertexCount)) {
      throw new CodecError(`mesh ${m.name} has a face index past its ${vertexCount} vertices`);
    }
    if (normals && normals.length !== vertices.length) {
      throw new CodecError(
        `mesh ${m.name} has ${normals.length / 3} normals for ${vertexCount} vertices`
      );
    }
    return { vertices, faces, normals };
  });
  return { key: `${buffer.byteLength}:${text}`, json, meshes };
}
