/**
 * The byte sources every conformance test runs over: mmap, positional reads, bytes,
 * and bytes at a misaligned `byteOffset`.
 */
import { readFileSync } from "node:fs";
import type { ByteSource } from "../mod.ts";
import { bytesSource, openByteSource } from "../advanced.ts";

/** A named way of opening a file. */
export interface SourceKind {
  name: string;
  open(path: string): Promise<ByteSource>;
}

/** Copies `bytes` into a buffer at byte offset 1, so no typed view of it is aligned. */
export function misaligned(bytes: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(bytes.length + 1);
  buffer.set(bytes, 1);
  return buffer.subarray(1);
}

export const SOURCE_KINDS: SourceKind[] = [
  { name: "mmap", open: (path) => openByteSource(path, { access: "mmap" }) },
  { name: "read", open: (path) => openByteSource(path, { access: "read" }) },
  {
    name: "bytes",
    open: (path) => Promise.resolve(bytesSource(new Uint8Array(readFileSync(path)))),
  },
  {
    name: "misaligned bytes",
    open: (path) => Promise.resolve(bytesSource(misaligned(new Uint8Array(readFileSync(path))))),
  },
];
