/**
 * Hostile GGUF headers, written fast and straight to a file: many empty nested arrays, many
 * empty strings, a huge boolean array, many tensors, many keys. Each is valid GGUF (apart
 * from its size), so a reader either holds it within its memory budget or refuses it with
 * `LIMIT_EXCEEDED`.
 *
 * Also runnable: `deno run -A tests/_hostile.ts KIND COUNT OUT.gguf [PER_KEY]`.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";

/** The kinds of hostile header. */
export type HostileKind =
  | "nested"
  | "strings"
  | "words"
  | "bools"
  | "bytes"
  | "tensors"
  | "keys";

/** Buffered little-endian writes to a file descriptor. */
class FileWriter {
  readonly #fd: number;
  readonly #bytes = new Uint8Array(1 << 20);
  readonly #view = new DataView(this.#bytes.buffer);
  #used = 0;
  /** Bytes written so far, buffered or not. */
  position = 0;

  constructor(fd: number) {
    this.#fd = fd;
  }

  #room(count: number): number {
    if (this.#used + count > this.#bytes.length) this.flush();
    const at = this.#used;
    this.#used += count;
    this.position += count;
    return at;
  }

  u32(value: number): void {
    this.#view.setUint32(this.#room(4), value, true);
  }

  u64(value: number): void {
    this.#view.setBigUint64(this.#room(8), BigInt(value), true);
  }

  text(value: string): void {
    const bytes = new TextEncoder().encode(value);
    this.u64(bytes.length);
    this.#bytes.set(bytes, this.#room(bytes.length));
  }

  u8(value: number): void {
    this.#bytes[this.#room(1)] = value;
  }

  flush(): void {
    for (let done = 0; done < this.#used;) {
      done += writeSync(this.#fd, this.#bytes, done, this.#used - done);
    }
    this.#used = 0;
  }
}

const ARRAY = 9;
const STRING = 8;
const BOOL = 7;
const UINT8 = 0;

/**
 * Writes a hostile GGUF v3 file.
 *
 * @param path Where to write.
 * @param kind What the header is full of.
 * @param count How many of them.
 * @param perKey For `nested` and `strings`: elements per metadata array (so the reader meets
 *   many modest arrays rather than one declared up front).
 * @returns The file's size.
 */
export function writeHostile(
  path: string,
  kind: HostileKind,
  count: number,
  perKey = count,
): number {
  const fd = openSync(path, "w");
  try {
    const out = new FileWriter(fd);
    out.u32(0x46554747);
    out.u32(3);
    if (kind === "tensors") {
      out.u64(count);
      out.u64(0);
      // F32 [8]: 32 bytes each, back to back at the default alignment of 32.
      for (let i = 0; i < count; i++) {
        out.text(`t${i}`);
        out.u32(1);
        out.u64(8);
        out.u32(0);
        out.u64(i * 32);
      }
      out.flush();
      const dataOffset = Math.ceil(out.position / 32) * 32;
      ftruncateSync(fd, dataOffset + count * 32);
      return dataOffset + count * 32;
    }
    if (kind === "keys") {
      out.u64(0);
      out.u64(count);
      for (let i = 0; i < count; i++) {
        out.text(`k${i}`);
        out.u32(UINT8);
        out.u8(0);
      }
      out.flush();
      return out.position;
    }
    if (kind === "bools" || kind === "bytes") {
      out.u64(0);
      out.u64(1);
      out.text(kind);
      out.u32(ARRAY);
      out.u32(kind === "bools" ? BOOL : UINT8);
      out.u64(count);
      out.flush();
      ftruncateSync(fd, out.position + count); // all false (0), written as a hole
      return out.position + count;
    }
    const keys = Math.ceil(count / perKey);
    out.u64(0);
    out.u64(keys);
    for (let k = 0; k < keys; k++) {
      const length = Math.min(perKey, count - k * perKey);
      out.text(`h${k}`);
      out.u32(ARRAY);
      out.u32(kind === "nested" ? ARRAY : STRING); // "strings" are empty, "words" short and distinct
      out.u64(length);
      for (let i = 0; i < length; i++) {
        if (kind === "nested") {
          out.u32(UINT8);
          out.u64(0);
        } else if (kind === "words") {
          out.text(`w${k * perKey + i}`);
        } else {
          out.u64(0);
        }
      }
    }
    out.flush();
    return out.position;
  } finally {
    closeSync(fd);
  }
}

if (import.meta.main) {
  const [kind, count, path, perKey] = process.argv.slice(2);
  const size = writeHostile(
    path,
    kind as HostileKind,
    Number(count),
    perKey === undefined ? undefined : Number(perKey),
  );
  console.log(`${path}: ${size} bytes`);
}
