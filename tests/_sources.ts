/**
 * The byte sources every conformance test runs over: mmap, positional reads, bytes,
 * and bytes at a misaligned `byteOffset`. Node has no mmap: there the mmap source is
 * skipped, with its reason.
 */
import { readFileSync } from "node:fs";
import type { ByteSource } from "../mod.ts";
import { bytesSource, openByteSource } from "../sources.ts";
import { RUNTIME } from "../src/runtime/current.ts";

/** A named way of opening a file. */
export interface SourceKind {
  name: string;
  open(path: string): Promise<ByteSource>;
  /** Why this runtime cannot open files this way (a `node:test` skip reason), or false. */
  skip: string | false;
}

/** Why `access: "mmap"` cannot work in this runtime, or false. */
export const MMAP_MISSING: string | false = RUNTIME === "node"
  ? "Node has no mmap (files are read by position there)"
  : false;

/** Copies `bytes` into a buffer at byte offset 1, so no typed view of it is aligned. */
export function misaligned(bytes: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(bytes.length + 1);
  buffer.set(bytes, 1);
  return buffer.subarray(1);
}

export const SOURCE_KINDS: SourceKind[] = [
  { name: "mmap", open: (path) => openByteSource(path, { access: "mmap" }), skip: MMAP_MISSING },
  { name: "read", open: (path) => openByteSource(path, { access: "read" }), skip: false },
  {
    name: "bytes",
    open: (path) => Promise.resolve(bytesSource(new Uint8Array(readFileSync(path)))),
    skip: false,
  },
  {
    name: "misaligned bytes",
    open: (path) => Promise.resolve(bytesSource(misaligned(new Uint8Array(readFileSync(path))))),
    skip: false,
  },
];
