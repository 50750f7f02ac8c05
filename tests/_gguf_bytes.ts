/**
 * A GGUF v3 file built byte by byte, so a test can put exactly the defect it is about into
 * an otherwise valid file: names and keys are raw bytes, shapes are any list of dimensions.
 */

const encoder = new TextEncoder();

/** Text as its UTF-8 bytes. */
export const utf8 = (text: string): number[] => [...encoder.encode(text)];

/** One metadata entry: the key's bytes, the value type id and the value's bytes. */
export interface RawEntry {
  key: number[];
  type: number;
  value: number[];
}

/** One tensor-index entry; F32 unless `type` says otherwise. */
export interface RawTensor {
  name: number[];
  shape: number[];
  type?: number;
  /** Data bytes (default: 4 per element, F32). */
  nbytes?: number;
}

/** A u32 as little-endian bytes. */
export function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** A u64 below 2^32 as little-endian bytes. */
export function u64(n: number): number[] {
  return [...u32(n), 0, 0, 0, 0];
}

/** A STRING value's bytes. */
export function stringValue(bytes: number[]): number[] {
  return [...u64(bytes.length), ...bytes];
}

/** `general.architecture = "llama"`. */
export const ARCHITECTURE: RawEntry = {
  key: utf8("general.architecture"),
  type: 8,
  value: stringValue(utf8("llama")),
};

/**
 * A GGUF v3 file: the entries, then the tensors laid out as ggml requires (each one's data
 * right after the previous one's, padded to 32), filled with the floats 0, 0.25, 0.5, ….
 */
export function ggufBytes(entries: RawEntry[], tensors: RawTensor[]): Uint8Array {
  const out: number[] = [...utf8("GGUF"), ...u32(3), ...u64(tensors.length)];
  out.push(...u64(entries.length));
  for (const entry of entries) {
    out.push(...stringValue(entry.key), ...u32(entry.type), ...entry.value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    out.push(...stringValue(tensor.name), ...u32(tensor.shape.length));
    for (const size of tensor.shape) out.push(...u64(size));
    out.push(...u32(tensor.type ?? 0), ...u64(offset));
    const nbytes = tensor.nbytes ?? 4 * tensor.shape.reduce((a, b) => a * b, 1);
    offset += Math.ceil(nbytes / 32) * 32;
  }
  while (out.length % 32 !== 0) out.push(0);
  const bytes = new Uint8Array(out.length + offset);
  bytes.set(out);
  const floats = new Float32Array(offset / 4).map((_, i) => i / 4);
  bytes.set(new Uint8Array(floats.buffer), out.length);
  return bytes;
}
