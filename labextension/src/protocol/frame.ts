// Generated from kernels/cosim_protocol/schemas/frame.schema.json by labextension/scripts/protocol_types.py (npm run build).
// Do not edit: change the schema and rebuild.

export const SCHEMA_VERSION = 1;

export const FRAME_MAGIC = 'CSF1';
export const FRAME_HEADER_BYTES = 56;
export const BYTES_PER_BODY = 28;
export const KIND_POSES = 0;
export const KIND_PIXELS = 1;

/** The fixed 56-byte header of a binary pose or pixel frame, as decoded (layout: cosim_protocol/viewer.py). */
export interface IFrameHeader {
  /** Frame number: a u64 on the wire, exact here up to 2^53. */
  number: number;
  simTime: number;
  /** Publish time, Unix seconds. */
  wallTime: number;
  simId: string;
}
