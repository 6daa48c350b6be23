/**
 * Reads a `.cosimrec` recording in the browser (layout: kernels/cosim_protocol/recording.py,
 * types: ../protocol/recording.ts). Every size and offset is checked before use, so a damaged
 * or hostile file gives a RecordingError, never a hang or an oversized allocation.
 */
import { decompress } from 'fzstd';

import {
  BLOCK_HEADER_BYTES,
  BLOCK_MAGIC,
  BlockType,
  Codec,
  FILE_HEADER_BYTES,
  FILE_MAGIC,
  FOOTER_BYTES,
  FOOTER_MAGIC,
  IIndexEntry,
  INDEX_ENTRY_BYTES,
  IRecordingEvent,
  IRecordingHeader,
  MAX_RAW_BLOCK,
  PoseCoding,
  SCHEMA_VERSION as RECORDING_SCHEMA_VERSION
} from '../protocol/recording';

export class RecordingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordingError';
  }
}

interface IBlock extends IIndexEntry {
  stored: number;
  raw: number;
}

/** One decoded frames block. */
export interface IFramesBlock {
  numbers: Float64Array;
  times: Float64Array;
  /** count x bodies x 7 float32. */
  poses: Float32Array;
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

export class RecordingReader {
  readonly header: IRecordingHeader;
  readonly sceneBuffer: ArrayBuffer;
  readonly events: IRecordingEvent[] = [];
  readonly truncated: boolean;
  readonly frameCount: number;

  constructor(buffer: ArrayBuffer) {
    this._bytes = new Uint8Array(buffer);
    this._view = new DataView(buffer);
    const size = buffer.byteLength;
    if (size >= 8 && ascii(this._bytes, 0, 8) !== FILE_MAGIC) {
      throw new RecordingError('not a CoSim recording (bad magic)');
    }
    if (size < FILE_HEADER_BYTES) {
      throw new RecordingError(`truncated: ${size} bytes, shorter than the file header`);
    }
    const version = this._view.getUint16(8, true);
    if (version > RECORDING_SCHEMA_VERSION) {
      throw new RecordingError(
        `recording format version ${version} is newer than this CoSim reads ` +
          `(${RECORDING_SCHEMA_VERSION}): upgrade CoSim to open it`
      );
    }
    const length = this._view.getUint32(12, true);
    if (FILE_HEADER_BYTES + length > size) {
      throw new RecordingError('truncated: the file ends inside its header');
    }
    try {
      const text = new TextDecoder().decode(this._bytes.subarray(16, 16 + length));
      this.header = JSON.parse(text) as IRecordingHeader;
    } catch {
      throw new RecordingError('header JSON is invalid');
    }
    if (this.header?.format !== 'cosimrec' || !Array.isArray(this.header.bodies)) {
      throw new RecordingError('header JSON is not a cosimrec header');
    }
    const start = FILE_HEADER_BYTES + length;
    const [blocks, truncated] = this._index(start, size);
    this.truncated = truncated;
    const scene = blocks.find(b => b.type === BlockType.Scene);
    if (!scene) {
      throw new RecordingError('truncated: the file ends before its scene block');
    }
    const sceneBytes = this._payload(scene);
    this.sceneBuffer = sceneBytes.slice().buffer;
    for (const block of blocks.filter(b => b.type === BlockType.Events)) {
      const list = JSON.parse(new TextDecoder().decode(this._payload(block)));
      if (Array.isArray(list)) {
        this.events.push(...(list as IRecordingEvent[]));
      }
    }
    this._frames = blocks.filter(b => b.type === BlockType.Frames);
    this._starts = [0];
    for (const b of this._frames) {
      this._starts.push(this._starts[this._starts.length - 1] + b.count);
    }
    this.frameCount = this._starts[this._starts.length - 1];
  }

  get bodies(): number {
    return this.header.bodies.length;
  }

  get startTime(): number {
    return this._frames.length ? this._frames[0].t0 : 0;
  }

  get endTime(): number {
    return this._frames.length ? this._frames[this._frames.length - 1].t1 : 0;
  }

  /** Index of the last frame at or before sim time `t` (clamped). */
  frameAt(t: number): number {
    let lo = 0;
    let hi = this._frames.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this._frames[mid].t0 <= t) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    const block = this._block(lo);
    let k = 0;
    while (k + 1 < block.times.length && block.times[k + 1] <= t) {
      k++;
    }
    return this._starts[lo] + k;
  }

  /** Frame `j` (0-based): its number, sim time and poses (bodies x 7). */
  frame(j: number): { number: number; time: number; poses: Float32Array } {
    let i = 0;
    while (this._starts[i + 1] <= j) {
      i++;
    }
    const block = this._block(i);
    const k = j - this._starts[i];
    const n = this.bodies * 7;
    return {
      number: block.numbers[k],
      time: block.times[k],
      poses: block.poses.subarray(k * n, (k + 1) * n)
    };
  }

  private _block(i: number): IFramesBlock {
    const cached = this._cache.get(i);
    if (cached) {
      return cached;
    }
    const block = this._frames[i];
    const raw = this._payload(block);
    const k = block.count;
    const m = this.bodies * 7;
    if (raw.length !== k * (24 + m * 4)) {
      throw new RecordingError(`frames block at ${block.offset} has the wrong size`);
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const numbers = new Float64Array(k);
    const times = new Float64Array(k);
    for (let f = 0; f < k; f++) {
      numbers[f] = Number(view.getBigUint64(8 * f, true));
      times[f] = view.getFloat64(8 * k + 8 * f, true);
    }
    const poses = decodePoses(raw.subarray(24 * k), k, m, block.flags ?? 0);
    const decoded = { numbers, times, poses };
    if (this._cache.size > 32) {
      this._cache.clear();
    }
    this._cache.set(i, decoded);
    return decoded;
  }

  private _blockAt(offset: number, end: number): IBlock | null {
    if (offset + BLOCK_HEADER_BYTES > end || ascii(this._bytes, offset, 4) !== BLOCK_MAGIC) {
      return null;
    }
    const v = this._view;
    const block: IBlock = {
      offset,
      type: v.getUint8(offset + 4),
      codec: v.getUint8(offset + 5),
      flags: v.getUint16(offset + 6, true),
      stored: v.getUint32(offset + 8, true),
      raw: v.getUint32(offset + 12, true),
      count: v.getUint32(offset + 20, true),
      firstFrame: Number(v.getBigUint64(offset + 24, true)),
      t0: v.getFloat64(offset + 32, true),
      t1: v.getFloat64(offset + 40, true)
    };
    if (block.type < 1 || block.type > 4 || offset + BLOCK_HEADER_BYTES + block.stored > end) {
      return null;
    }
    return block;
  }

  private _index(start: number, size: number): [IBlock[], boolean] {
    const footer = size - FOOTER_BYTES;
    if (footer >= start && ascii(this._bytes, footer, 4) === FOOTER_MAGIC) {
      const at = Number(this._view.getBigUint64(footer + 8, true));
      if (at < start || at + BLOCK_HEADER_BYTES > footer) {
        throw new RecordingError(
          `block index points past the end of the file (offset ${at}, file ${size} bytes)`
        );
      }
      const index = this._blockAt(at, footer);
      if (!index || index.type !== BlockType.Index) {
        throw new RecordingError(`no block index at offset ${at} (damaged footer)`);
      }
      const blocks: IBlock[] = [];
      for (let i = 0; i < index.count; i++) {
        const entry = at + BLOCK_HEADER_BYTES + i * INDEX_ENTRY_BYTES;
        if (entry + INDEX_ENTRY_BYTES > footer) {
          throw new RecordingError('block index is damaged (length does not match its count)');
        }
        const offset = Number(this._view.getBigUint64(entry, true));
        const block = offset >= start ? this._blockAt(offset, at) : null;
        if (!block) {
          throw new RecordingError(
            `block index entry ${i} points past the end of the file (offset ${offset}, ` +
              `data ends at ${at})`
          );
        }
        blocks.push(block);
      }
      return [blocks, false];
    }
    // No footer (a killed kernel): scan block headers up to the first incomplete one.
    const blocks: IBlock[] = [];
    let offset = start;
    while (offset < size) {
      const block = this._blockAt(offset, size);
      if (!block) {
        return [blocks, true];
      }
      if (block.type !== BlockType.Index) {
        blocks.push(block);
      }
      offset += BLOCK_HEADER_BYTES + block.stored;
    }
    return [blocks, false];
  }

  private _payload(block: IBlock): Uint8Array {
    const begin = block.offset + BLOCK_HEADER_BYTES;
    const stored = this._bytes.subarray(begin, begin + block.stored);
    if (block.raw > MAX_RAW_BLOCK) {
      throw new RecordingError(`block at ${block.offset} claims ${block.raw} bytes`);
    }
    if (block.codec === Codec.None) {
      return stored;
    }
    // A buffer of the declared size: a bomb overflows it and fzstd throws instead of growing.
    const out = new Uint8Array(block.raw);
    let raw: Uint8Array;
    try {
      raw = decompress(stored, out);
    } catch {
      throw new RecordingError(
        `block at ${block.offset} cannot be decompressed or decompresses past the ` +
          `${block.raw} bytes it declares`
      );
    }
    if (raw.length !== block.raw) {
      throw new RecordingError(`block at ${block.offset} holds the wrong number of bytes`);
    }
    return raw;
  }

  private _bytes: Uint8Array;
  private _view: DataView;
  private _frames: IBlock[];
  private _starts: number[];
  private _cache = new Map<number, IFramesBlock>();
}

/** Undo the writer's pose coding (delta, then transpose, then shuffle, in reverse). */
export function decodePoses(coded: Uint8Array, k: number, m: number, flags: number): Float32Array {
  const count = k * m;
  let bytes = coded;
  if (flags & PoseCoding.Shuffle) {
    const plain = new Uint8Array(count * 4);
    for (let j = 0; j < 4; j++) {
      for (let i = 0; i < count; i++) {
        plain[i * 4 + j] = coded[j * count + i];
      }
    }
    bytes = plain;
  }
  const src = new Uint32Array(bytes.slice().buffer, 0, count);
  let words = src;
  if (flags & PoseCoding.Transpose) {
    words = new Uint32Array(count);
    for (let c = 0; c < m; c++) {
      for (let f = 0; f < k; f++) {
        words[f * m + c] = src[c * k + f];
      }
    }
  }
  if (flags & PoseCoding.Delta) {
    for (let i = m; i < count; i++) {
      words[i] ^= words[i - m];
    }
  }
  return new Float32Array(words.buffer, words.byteOffset, count);
}
