/**
 * A bounded reader over one contiguous byte buffer: one DataView, one TextDecoder.
 * When the buffer is only a prefix of the input it throws {@linkcode NeedMoreBytes}
 * (a private signal, never seen by callers) so the caller can fetch more and retry;
 * when it holds the rest of the input, running past its end is a `TRUNCATED` error.
 *
 * @module
 */
import { decodeUtf8 } from "./utf8.ts";
import { formatInteger, GgufError } from "../model/errors.ts";
import { CHAR_COST, type MemoryBudget } from "./memory_budget.ts";

/** Thrown when a parse needs bytes past the end of a partial buffer. Internal only. */
export class NeedMoreBytes {
  /** The absolute end offset the parse needed. */
  readonly end: number;
  constructor(end: number) {
    this.end = end;
  }
}

const TWO_POW_32 = 4294967296;
/** The largest high word of a u64 that keeps the value ≤ 2^53 − 1. */
const MAX_SAFE_HIGH = 0x1fffff;

/** Bounded reads of little- or big-endian fields from one buffer. */
export class Cursor {
  /** The buffer: bytes `0 .. bytes.length` of the input. */
  readonly bytes: Uint8Array;
  /** Whether `bytes` reaches the end of the input. */
  readonly complete: boolean;
  /** The input's total size, when known. */
  readonly totalSize: number | undefined;
  /** The read position. */
  pos = 0;
  /** Field byte order. */
  littleEndian = true;
  /** Charged for each string's characters before they are decoded, when set. */
  budget: MemoryBudget | undefined;
  readonly #view: DataView;

  constructor(bytes: Uint8Array, complete: boolean, totalSize: number | undefined) {
    this.bytes = bytes;
    this.complete = complete;
    this.totalSize = complete ? bytes.length : totalSize;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes known to remain in the input after `pos` (`Infinity` when the size is unknown). */
  get remaining(): number {
    return this.totalSize === undefined ? Infinity : this.totalSize - this.pos;
  }

  /** Ensures `count` bytes can be read at `pos`, describing `what` on failure. */
  need(count: number, what: string): void {
    const end = this.pos + count;
    if (end <= this.bytes.length) return;
    if (!this.complete && (this.totalSize === undefined || end <= this.totalSize)) {
      throw new NeedMoreBytes(end);
    }
    const size = this.totalSize ?? this.bytes.length;
    throw new GgufError(
      "TRUNCATED",
      `Cannot read ${what} at byte ${formatInteger(this.pos)}: it needs ${
        formatInteger(count)
      } bytes, but the file ends at byte ${formatInteger(size)}`,
      this.pos,
    );
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++];
  }

  i8(what: string): number {
    this.need(1, what);
    return this.#view.getInt8(this.pos++);
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.#view.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }

  i16(what: string): number {
    this.need(2, what);
    const v = this.#view.getInt16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.#view.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  i32(what: string): number {
    this.need(4, what);
    const v = this.#view.getInt32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  f32(what: string): number {
    this.need(4, what);
    const v = this.#view.getFloat32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  f64(what: string): number {
    this.need(8, what);
    const v = this.#view.getFloat64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }

  u64Big(what: string): bigint {
    this.need(8, what);
    const v = this.#view.getBigUint64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }

  i64Big(what: string): bigint {
    this.need(8, what);
    const v = this.#view.getBigInt64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }

  /**
   * Reads an unsigned 64-bit count, size or offset as a number. Values past
   * 2^53 − 1 cannot be exact numbers and are a `LIMIT_EXCEEDED` error.
   */
  u64(what: string): number {
    this.need(8, what);
    const at = this.pos;
    const first = this.#view.getUint32(at, this.littleEndian);
    const second = this.#view.getUint32(at + 4, this.littleEndian);
    const high = this.littleEndian ? second : first;
    const low = this.littleEndian ? first : second;
    if (high > MAX_SAFE_HIGH) {
      const value = this.#view.getBigUint64(at, this.littleEndian);
      throw new GgufError(
        "LIMIT_EXCEEDED",
        `Cannot read ${what} at byte ${formatInteger(at)}: ${value} is larger than 2^53 - 1`,
        at,
      );
    }
    this.pos += 8;
    return high * TWO_POW_32 + low;
  }

  /** Reads a count or length: u32 in GGUF v1, u64 from v2 on. */
  length(wide: boolean, what: string): number {
    return wide ? this.u64(what) : this.u32(what);
  }

  /** Reads a GGUF string (length, then UTF-8 bytes). */
  string(wide: boolean, what: string): string {
    const start = this.#stringStart(wide, what);
    return decodeUtf8(this.bytes, start, this.pos);
  }

  /** Steps over a GGUF string with the same checks and charges as {@linkcode string}. */
  skipString(wide: boolean, what: string): void {
    this.#stringStart(wide, what);
  }

  /** Steps over `count` bytes, checking they are there. */
  skip(count: number, what: string): void {
    this.need(count, what);
    this.pos += count;
  }

  /** Reads a string's length, checks and charges it, and returns where its bytes start. */
  #stringStart(wide: boolean, what: string): number {
    const at = this.pos;
    const length = this.length(wide, `the length of ${what}`);
    if (length > this.remaining) {
      throw new GgufError(
        "TRUNCATED",
        `Cannot read ${what} at byte ${formatInteger(at)}: its length is ${
          formatInteger(length)
        } bytes, but only ${formatInteger(this.remaining)} bytes remain in the file`,
        at,
      );
    }
    this.budget?.charge(CHAR_COST * length, at, what);
    this.need(length, what);
    const start = this.pos;
    this.pos += length;
    return start;
  }

  /** Copies `count` bytes at `pos` into a new, aligned buffer and advances. */
  take(count: number, what: string): ArrayBuffer {
    this.need(count, what);
    const start = this.bytes.byteOffset + this.pos;
    this.pos += count;
    return this.bytes.buffer.slice(start, start + count) as ArrayBuffer;
  }
}
