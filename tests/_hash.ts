import { createHash } from "node:crypto";
import { encodeConverted, prepareConversion } from "../pipeline.ts";
import { openGgufModel } from "../sources.ts";
import type { ConversionPolicy } from "../mod.ts";

/** SHA-256 of a typed array's bytes, as hex. */
export function sha256(data: ArrayBufferView): string {
  return createHash("sha256")
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest("hex");
}

/**
 * The SHA-256 and size of what the file path writes for `path` under the default policy —
 * the reference that stream, pipe and edge outputs must equal.
 */
export async function convertedDigest(
  path: string,
  lenient = false,
  policy: ConversionPolicy = {},
): Promise<{ sha256: string; length: number }> {
  const model = await openGgufModel(path, { lenient });
  try {
    const conversion = prepareConversion(model, { policy, onWarning: () => {} }, true);
    const hash = createHash("sha256");
    for await (const chunk of encodeConverted(model, conversion)) hash.update(chunk);
    return { sha256: hash.digest("hex"), length: conversion.header!.fileSize };
  } finally {
    await model.close();
  }
}

/** Joins byte arrays into one. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
