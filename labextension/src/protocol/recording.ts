/**
 * The `.cosimrec` recording format: TypeScript twin of
 * kernels/cosim_protocol/schemas/recording.schema.json (JSON parts) and the binary layout
 * documented in kernels/cosim_protocol/recording.py.
 *
 * Written by hand until the schema-to-TypeScript generator (issue 14) is on main; regenerate
 * then and keep these names.
 */

export const RECORDING_SCHEMA_VERSION = 1;
export const RECORDING_SUFFIX = '.cosimrec';
export const FILE_MAGIC = 'COSIMREC';
export const BLOCK_MAGIC = 'CRBK';
export const FOOTER_MAGIC = 'CRIX';
export const FILE_HEADER_BYTES = 16;
export const BLOCK_HEADER_BYTES = 48;
export const INDEX_ENTRY_BYTES = 40;
export const FOOTER_BYTES = 16;
/** A reader refuses blocks that declare more than this once decompressed. */
export const MAX_RAW_BLOCK = 64 * 1024 * 1024;

export enum BlockType {
  Scene = 1,
  Frames = 2,
  Events = 3,
  Index = 4
}

export enum Codec {
  None = 0,
  Zstd = 1
}

/** Frames-block flags, applied in this order when writing: delta, transpose, shuffle. */
export enum PoseCoding {
  Delta = 1,
  Shuffle = 2,
  Transpose = 4
}

/** The file header's JSON ("header" in the schema). */
export interface IRecordingHeader {
  format: 'cosimrec';
  engine: 'mujoco' | 'pybullet';
  title: string;
  sim_id: string;
  /** Unix seconds when recording began. */
  created: number;
  /** Names of the moving bodies, in the order of each frame's poses. */
  bodies: string[];
  /** Frames/s cap of the viewer. */
  rate: number;
  writer?: string;
}

/** One control event ("event" in the schema); an events block is a JSON list of them. */
export interface IRecordingEvent {
  /** Sim time of the latest frame when it happened. */
  t: number;
  frame: number;
  wall?: number;
  /** start / end (of the recording), stop, or a sim-control command. */
  kind: string;
  user?: string | null;
  detail?: Record<string, unknown>;
}

/** One block index entry ("indexEntry" in the schema). */
export interface IIndexEntry {
  offset: number;
  type: BlockType;
  codec?: Codec;
  flags?: number;
  count: number;
  firstFrame: number;
  t0: number;
  t1: number;
}
