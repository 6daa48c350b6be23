"""The ``.cosimrec`` file: a sim's scene, every published pose frame and its control events.

Standard library only. Compression is the caller's: this module lays out, checks and indexes
blocks and moves their bytes; ``cosim.recording`` compresses them with zstd. numpy, where a
caller has it, only speeds up the delta coding (``delta_encode``/``delta_decode``).

All integers and floats are little-endian. A file is a header, then blocks, then (once the
recording was closed cleanly) an index block and a footer::

    file header (16 bytes + JSON)
    0   8   magic b"COSIMREC"
    8   2   version (u16) = SCHEMA_VERSION
    10  2   flags (reserved, 0)
    12  4   JSON length (u32), then UTF-8 JSON padded with spaces to a multiple of 8:
            {"format": "cosimrec", "engine", "title", "sim_id", "created" (Unix s),
             "bodies": [names of the moving bodies, in the frames' order], "rate",
             "writer"}  (schemas/recording.schema.json, "RecordingHeader")

    block header (48 bytes), then ``stored`` payload bytes
    0   4   magic b"CRBK"
    4   1   type: 1 scene, 2 frames, 3 events, 4 index
    5   1   codec: 0 none, 1 zstd (one zstd frame)
    6   2   flags (frames blocks): bit 0 XOR-delta, bit 1 byte shuffle, bit 2 transpose
    8   4   stored length (u32): payload bytes in the file
    12  4   raw length (u32): payload bytes after decompression (at most MAX_RAW_BLOCK)
    16  4   CRC-32 of the stored payload (zlib.crc32)
    20  4   count: frames (frames block), events (events block), entries (index)
    24  8   first frame number (u64; 0 if none)
    32  8   first sim time (f64)
    40  8   last sim time (f64)

    footer (16 bytes, last in the file): magic b"CRIX", u32 reserved, u64 index block offset

Block payloads once decompressed:
- scene: the scene bytes exactly as published live (``CSSC``, see ``cosim.protocol``).
- frames: ``count`` = k frames of n bodies (n = len(header "bodies")): u64 frame numbers [k],
  f64 sim times [k], f64 publish wall times [k], then k*n*7 float32 poses (px, py, pz, qx, qy,
  qz, qw per body, as on the wire), coded in this order, each step lossless and optional:
  bit 0 (delta): each frame's values stored as the XOR of their u32 bit patterns with the
  previous frame's in the block (the first frame as is); bit 2 (transpose): the k x (n*7)
  matrix of u32 stored column by column (each value's time series together); bit 1 (shuffle):
  the bytes split into 4 planes (every u32's byte 0, then every byte 1, ...). Smoothly moving
  poses then share their sign, exponent and high mantissa bits, which zstd packs tightly.
- events: UTF-8 JSON list of control events (schema "event"): {"t": sim time, "wall": Unix s,
  "frame": frame number, "kind": "start"|"stop"|..., "user": str|null, "detail": {}}.
- index: ``count`` entries of 40 bytes: u64 block offset, u8 type, u8 codec, u16 flags,
  u32 count, u64 first frame, f64 first sim time, f64 last sim time.

Every block header repeats what the index holds, so a file without its footer (a killed kernel)
is indexed by scanning blocks from the header on; the scan stops at the first incomplete or
damaged block, so such a file reads up to its last complete block.
"""

from __future__ import annotations

import array
import json
import struct
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

SCHEMA_VERSION = 1
FILE_MAGIC = b"COSIMREC"
BLOCK_MAGIC = b"CRBK"
FOOTER_MAGIC = b"CRIX"
SUFFIX = ".cosimrec"
MIME_TYPE = "application/vnd.cosim.recording"

FILE_HEADER = struct.Struct("<8sHHI")
BLOCK_HEADER = struct.Struct("<4sBBHIIIIQdd")
INDEX_ENTRY = struct.Struct("<QBBHIQdd")
FOOTER = struct.Struct("<4sIQ")
assert (FILE_HEADER.size, BLOCK_HEADER.size, INDEX_ENTRY.size, FOOTER.size) == (16, 48, 40, 16)

BLOCK_SCENE, BLOCK_FRAMES, BLOCK_EVENTS, BLOCK_INDEX = 1, 2, 3, 4
BLOCK_TYPES = {BLOCK_SCENE: "scene", BLOCK_FRAMES: "frames", BLOCK_EVENTS: "events",
               BLOCK_INDEX: "index"}  # fmt: skip
CODEC_NONE, CODEC_ZSTD = 0, 1
FLAG_DELTA, FLAG_SHUFFLE, FLAG_TRANSPOSE = 1, 2, 4

# Limits a reader enforces before allocating: a hostile file cannot make it use more.
MAX_RAW_BLOCK = 64 * 1024 * 1024
MAX_HEADER_JSON = 1024 * 1024
MAX_BODIES = 100_000
POSE_FLOATS = 7


class RecordingError(ValueError):
    """A file that is not a readable CoSim recording; the message says why."""


@dataclass(frozen=True)
class Block:
    """One block's header and where it sits in the file (also one index entry)."""

    offset: int
    type: int
    codec: int
    flags: int
    stored: int
    raw: int
    crc: int
    count: int
    first_frame: int
    t0: float
    t1: float

    @property
    def end(self) -> int:
        return self.offset + BLOCK_HEADER.size + self.stored


# -- file header ------------------------------------------------------------------------------
def encode_header(header: dict[str, Any]) -> bytes:
    text = json.dumps({"format": "cosimrec", **header}, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 8)
    return FILE_HEADER.pack(FILE_MAGIC, SCHEMA_VERSION, 0, len(text)) + text


def read_header(f: BinaryIO, size: int) -> tuple[dict[str, Any], int]:
    """The header JSON and the offset of the first block."""
    raw = f.read(FILE_HEADER.size)
    if len(raw) >= 8 and raw[:8] != FILE_MAGIC:
        raise RecordingError("not a CoSim recording (bad magic)")
    if len(raw) < FILE_HEADER.size:
        raise RecordingError(f"truncated: {size} bytes, shorter than the file header")
    _magic, version, _flags, length = FILE_HEADER.unpack(raw)
    if version > SCHEMA_VERSION or version < 1:
        raise RecordingError(
            f"recording format version {version} is newer than this CoSim reads "
            f"({SCHEMA_VERSION}): upgrade CoSim to open it"
            if version > SCHEMA_VERSION
            else f"recording format version {version} is not valid"
        )
    if length > MAX_HEADER_JSON:
        raise RecordingError(f"header JSON of {length} bytes exceeds {MAX_HEADER_JSON}")
    if FILE_HEADER.size + length > size:
        raise RecordingError("truncated: the file ends inside its header")
    try:
        header = json.loads(f.read(length))
    except ValueError as err:
        raise RecordingError(f"header JSON is invalid: {err}") from None
    check_header(header)
    return header, FILE_HEADER.size + length


def check_header(header: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != "cosimrec":
        raise RecordingError("header JSON is not a cosimrec header")
    bodies = header.get("bodies")
    if not isinstance(bodies, list) or not all(isinstance(b, str) for b in bodies):
        raise RecordingError("header 'bodies' must be a list of body names")
    if len(bodies) > MAX_BODIES:
        raise RecordingError(f"header lists {len(bodies)} bodies (at most {MAX_BODIES})")


# -- blocks -----------------------------------------------------------------------------------
def encode_block(
    type_: int,
    stored: bytes,
    *,
    raw_len: int,
    codec: int = CODEC_NONE,
    flags: int = 0,
    count: int = 0,
    first_frame: int = 0,
    t0: float = 0.0,
    t1: float = 0.0,
) -> bytes:
    if raw_len > MAX_RAW_BLOCK:
        raise ValueError(f"block of {raw_len} bytes exceeds {MAX_RAW_BLOCK}")
    head = BLOCK_HEADER.pack(
        BLOCK_MAGIC, type_, codec, flags, len(stored), raw_len, zlib.crc32(stored), count,
        first_frame, t0, t1,
    )  # fmt: skip
    return head + stored


def read_block_header(f: BinaryIO, offset: int, size: int) -> Block | None:
    """The block at ``offset``, or None where no complete, well-formed block starts there."""
    if offset + BLOCK_HEADER.size > size:
        return None
    f.seek(offset)
    raw = f.read(BLOCK_HEADER.size)
    if len(raw) < BLOCK_HEADER.size:
        return None
    magic, type_, codec, flags, stored, raw_len, crc, count, first, t0, t1 = BLOCK_HEADER.unpack(
        raw
    )
    if magic != BLOCK_MAGIC or type_ not in BLOCK_TYPES or codec not in (CODEC_NONE, CODEC_ZSTD):
        return None
    block = Block(offset, type_, codec, flags, stored, raw_len, crc, count, first, t0, t1)
    return block if block.end <= size else None


def read_stored(f: BinaryIO, block: Block) -> bytes:
    """The block's payload as stored, checked against its CRC."""
    f.seek(block.offset + BLOCK_HEADER.size)
    data = f.read(block.stored)
    if len(data) != block.stored:
        raise RecordingError(f"truncated: block at {block.offset} ends past the end of the file")
    if zlib.crc32(data) != block.crc:
        raise RecordingError(f"block at {block.offset} is damaged (CRC mismatch)")
    return data


def scan_blocks(f: BinaryIO, start: int, size: int) -> tuple[list[Block], bool]:
    """Every complete block from ``start`` on, and whether the scan stopped before the end
    (a truncated or damaged tail). Headers are checked, payload CRCs too (one read each)."""
    blocks: list[Block] = []
    offset = start
    while offset < size:
        block = read_block_header(f, offset, size)
        if block is None:
            return blocks, True
        try:
            read_stored(f, block)
        except RecordingError:
            return blocks, True
        if block.type != BLOCK_INDEX:
            blocks.append(block)
        offset = block.end
        if offset + FOOTER.size == size and _footer_at(f, offset) is not None:
            return blocks, False
    return blocks, False


def _footer_at(f: BinaryIO, offset: int) -> int | None:
    f.seek(offset)
    raw = f.read(FOOTER.size)
    if len(raw) != FOOTER.size:
        return None
    magic, _reserved, index_offset = FOOTER.unpack(raw)
    return index_offset if magic == FOOTER_MAGIC else None


def encode_index(blocks: Sequence[Block], at: int) -> bytes:
    """The index block (to be written at offset ``at``) and the footer after it."""
    payload = b"".join(
        INDEX_ENTRY.pack(b.offset, b.type, b.codec, b.flags, b.count, b.first_frame, b.t0, b.t1)
        for b in blocks
    )
    block = encode_block(BLOCK_INDEX, payload, raw_len=len(payload), count=len(blocks))
    return block + FOOTER.pack(FOOTER_MAGIC, 0, at)


def read_index(f: BinaryIO, start: int, size: int) -> tuple[list[Block], bool]:
    """The file's blocks from its index when it has a footer, else by scanning; and whether
    the file's tail was incomplete (then only its complete blocks are listed)."""
    index_offset = _footer_at(f, size - FOOTER.size) if size >= start + FOOTER.size else None
    if index_offset is None:
        return scan_blocks(f, start, size)
    if not start <= index_offset <= size - FOOTER.size - BLOCK_HEADER.size:
        raise RecordingError(
            f"block index points past the end of the file (offset {index_offset}, "
            f"file {size} bytes)"
        )
    index = read_block_header(f, index_offset, size - FOOTER.size)
    if index is None or index.type != BLOCK_INDEX:
        raise RecordingError(f"no block index at offset {index_offset} (damaged footer)")
    payload = read_stored(f, index)
    if index.count * INDEX_ENTRY.size != len(payload):
        raise RecordingError("block index is damaged (length does not match its count)")
    blocks = []
    for i in range(index.count):
        offset, type_, _codec, _flags, count, first, _t0, _t1 = INDEX_ENTRY.unpack_from(
            payload, i * INDEX_ENTRY.size
        )
        if offset < start or offset + BLOCK_HEADER.size > index_offset:
            raise RecordingError(
                f"block index entry {i} points past the end of the file (offset {offset}, "
                f"data ends at {index_offset})"
            )
        block = read_block_header(f, offset, index_offset)
        if block is None or (block.type, block.count, block.first_frame) != (type_, count, first):
            raise RecordingError(f"block index entry {i} does not match the block at {offset}")
        blocks.append(block)
    return blocks, False


# -- frames payload ---------------------------------------------------------------------------
FRAME_COLUMNS = struct.Struct("<Qdd")  # per frame, but stored as three columns


def frames_payload_size(k: int, n: int) -> int:
    return k * (FRAME_COLUMNS.size + n * POSE_FLOATS * 4)


def encode_frames(
    numbers: Sequence[int], times: Sequence[float], walls: Sequence[float], poses: bytes, n: int
) -> bytes:
    """The raw frames payload; ``poses``: k*n*7 little-endian float32, already coded."""
    k = len(numbers)
    if len(poses) != k * n * POSE_FLOATS * 4:
        raise ValueError(f"{len(poses)} pose bytes for {k} frames of {n} bodies")
    return (
        struct.pack(f"<{k}Q", *numbers)
        + struct.pack(f"<{k}d", *times)
        + struct.pack(f"<{k}d", *walls)
        + poses
    )


def split_frames(
    raw: bytes, k: int, n: int
) -> tuple[memoryview, memoryview, memoryview, memoryview]:
    """Views of the numbers (u64), sim times (f64), wall times (f64) and coded pose bytes."""
    if len(raw) != frames_payload_size(k, n):
        raise RecordingError(
            f"frames block holds {len(raw)} bytes, not {frames_payload_size(k, n)} for "
            f"{k} frames of {n} bodies"
        )
    view = memoryview(raw)
    return view[: 8 * k], view[8 * k : 16 * k], view[16 * k : 24 * k], view[24 * k :]


def delta_encode(poses: bytes, k: int, n: int, flags: int) -> bytes:
    """Apply FLAG_DELTA, then FLAG_TRANSPOSE, then FLAG_SHUFFLE to k frames of n bodies of
    float32 poses (the steps the header comment describes)."""
    m = n * POSE_FLOATS
    np = _numpy()
    if np is not None:
        words = np.frombuffer(poses, dtype="<u4").reshape(k, m)
        if flags & FLAG_DELTA and k > 1:
            words = np.concatenate([words[:1], words[1:] ^ words[:-1]])
        if flags & FLAG_TRANSPOSE:
            words = words.T
        data = np.ascontiguousarray(words).view("u1").reshape(-1, 4)
        return data.T.tobytes() if flags & FLAG_SHUFFLE else data.tobytes()
    words = _words(poses)
    if flags & FLAG_DELTA:
        for i in range(len(words) - 1, m - 1, -1):
            words[i] ^= words[i - m]
    if flags & FLAG_TRANSPOSE:
        words = array.array("I", b"".join(words[c::m].tobytes() for c in range(m)))
    out = _le(words)
    return b"".join(out[j::4] for j in range(4)) if flags & FLAG_SHUFFLE else out


def delta_decode(coded: bytes | memoryview, k: int, n: int, flags: int) -> bytes:
    """Undo ``delta_encode``: the plain float32 pose bytes."""
    m = n * POSE_FLOATS
    np = _numpy()
    if np is not None:
        data = np.frombuffer(coded, dtype="u1")
        if flags & FLAG_SHUFFLE:
            data = data.reshape(4, -1).T
        words = np.ascontiguousarray(data).view("<u4")
        words = words.reshape(m, k).T if flags & FLAG_TRANSPOSE else words.reshape(k, m)
        if flags & FLAG_DELTA:
            words = np.bitwise_xor.accumulate(words, axis=0)
        return np.ascontiguousarray(words).tobytes()
    raw = bytes(coded)
    if flags & FLAG_SHUFFLE:
        plain = bytearray(len(raw))
        q = len(raw) // 4
        for j in range(4):
            plain[j::4] = raw[j * q : (j + 1) * q]
        raw = bytes(plain)
    words = _words(raw)
    if flags & FLAG_TRANSPOSE:
        rows = array.array("I", bytes(len(raw)))
        for c in range(m):
            rows[c::m] = words[c * k : (c + 1) * k]
        words = rows
    if flags & FLAG_DELTA:
        for i in range(m, len(words)):
            words[i] ^= words[i - m]
    return _le(words)


def _words(data: bytes) -> array.array[int]:
    words = array.array("I", data)
    if sys.byteorder == "big":
        words.byteswap()
    return words


def _le(words: array.array[int]) -> bytes:
    if sys.byteorder == "big":
        words = array.array("I", words)
        words.byteswap()
    return words.tobytes()


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


# -- events -----------------------------------------------------------------------------------
EVENT_KINDS = ("start", "stop", "pause", "resume", "reset", "step", "param", "seed", "speed")


def encode_events(events: Sequence[dict[str, Any]]) -> bytes:
    return json.dumps(list(events), separators=(",", ":")).encode()


def decode_events(raw: bytes) -> list[dict[str, Any]]:
    try:
        events = json.loads(raw)
    except ValueError as err:
        raise RecordingError(f"events block is invalid JSON: {err}") from None
    if not isinstance(events, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("kind"), str)
        and isinstance(e.get("t"), (int, float))
        for e in events
    ):
        raise RecordingError("events block is not a list of events")
    return events


def iter_frame_blocks(blocks: Sequence[Block]) -> Iterator[Block]:
    return (b for b in blocks if b.type == BLOCK_FRAMES)
