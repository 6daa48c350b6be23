// Generated from kernels/cosim_protocol/schemas/recording.schema.json by labextension/scripts/protocol_types.py (npm run build).
// Do not edit: change the schema and rebuild.

export const SCHEMA_VERSION = 1;

export const RECORDING_SUFFIX = '.cosimrec';
export const FILE_MAGIC = 'COSIMREC';
export const BLOCK_MAGIC = 'CRBK';
export const FOOTER_MAGIC = 'CRIX';
export const FILE_HEADER_BYTES = 16;
export const BLOCK_HEADER_BYTES = 48;
export const INDEX_ENTRY_BYTES = 40;
export const FOOTER_BYTES = 16;
export const MAX_RAW_BLOCK = 67108864;

/** A block's type byte. */
export enum BlockType {
  Scene = 1,
  Frames = 2,
  Events = 3,
  Index = 4
}

/** A block's codec byte. */
export enum Codec {
  None = 0,
  Zstd = 1
}

/** Frames-block flag bits, applied in this order when writing: delta, transpose, shuffle. */
export enum PoseCoding {
  Delta = 1,
  Shuffle = 2,
  Transpose = 4
}

/** The file header's JSON, right after the 16-byte binary header. */
export interface IRecordingHeader {
  format: 'cosimrec';
  engine: 'mujoco' | 'pybullet';
  title: string;
  sim_id: string;
  /** Unix seconds when recording began */
  created: number;
  /** names of the moving bodies, in the order of each frame's poses */
  bodies: string[];
  /** frames/s cap of the viewer */
  rate: number;
  /** the software that wrote the file */
  writer?: string;
}

/** One control event; an events block holds a JSON list of them. */
export interface IRecordingEvent {
  /** sim time of the latest frame when it happened */
  t: number;
  /** that frame's number */
  frame: number;
  /** Unix seconds */
  wall?: number;
  /** start/end (of the recording), stop (a viewer pressed stop), or a sim-control command (pause, resume, reset, step, param, seed, speed) */
  kind: string;
  /** hub user who sent it, if known */
  user?: string | null;
  /** the command's other fields */
  detail?: Record<string, unknown>;
}

/** One 40-byte binary index entry, as a reader exposes it. */
export interface IIndexEntry {
  offset: number;
  type: BlockType;
  codec?: Codec;
  /** PoseCoding bits (0 for blocks other than frames). */
  flags?: number;
  count: number;
  firstFrame: number;
  t0: number;
  t1: number;
}
