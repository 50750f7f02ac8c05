/**
 * Naming what a file is when it is not GGUF, with what to do about it: the files people
 * most often hand a GGUF tool by mistake.
 *
 * @module
 */

const ascii = (bytes: Uint8Array, length: number) =>
  String.fromCharCode(...bytes.subarray(0, Math.min(length, bytes.length)));

/**
 * Describes a file that does not start with `GGUF`, from its first bytes.
 *
 * @param bytes The file's first bytes (a few hundred are plenty).
 * @returns A phrase such as `a Git LFS pointer file (run git lfs pull …)`, or
 *   `undefined` when the bytes are nothing recognizable.
 *
 * @example
 * ```ts
 * import { describeNotGguf } from "./not_gguf.ts";
 * import assert from "node:assert/strict";
 * const pointer = new TextEncoder().encode("version https://git-lfs.github.com/spec/v1\n");
 * assert.match(describeNotGguf(pointer)!, /Git LFS pointer/);
 * assert.equal(describeNotGguf(new Uint8Array([1, 2, 3, 4])), undefined);
 * ```
 */
export function describeNotGguf(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return "an empty file";
  const start = ascii(bytes, 64);
  if (start.startsWith("version https://git-lfs")) {
    return "a Git LFS pointer file, not the model itself (run `git lfs pull` in its repository to fetch the model)";
  }
  if (start.startsWith("GGML") || start.startsWith("lmgg") || start.startsWith("tjgg")) {
    return "a model in ggml's older GGML/GGJT format (convert it to GGUF with llama.cpp's conversion scripts)";
  }
  if (bytes.length >= 10 && start.charCodeAt(8) === 0x7b) {
    // safetensors: an 8-byte little-endian header length, then a JSON object.
    return "a safetensors file (convert it to GGUF with llama.cpp's convert_hf_to_gguf.py)";
  }
  if (start.startsWith("\x89PNG")) return "a PNG image";
  if (start.startsWith("\xff\xd8\xff")) return "a JPEG image";
  if (start.startsWith("PK\x03\x04")) {
    return "a ZIP archive (a PyTorch checkpoint or a zipped model: unpack or convert it first)";
  }
  if (start.startsWith("\x1f\x8b")) return "a gzip-compressed file (decompress it first)";
  if (start.startsWith("(\xb5/\xfd")) return "a zstd-compressed file (decompress it first)";
  if (start.startsWith("\x80")) {
    return "a Python pickle (a PyTorch checkpoint: convert it to GGUF first)";
  }
  if (/^\s*(<!doctype html|<html)/i.test(start)) {
    return "an HTML page (a download that returned a web page instead of the file?)";
  }
  if (/^\s*[{[]/.test(start)) return "a JSON document";
  return undefined;
}
