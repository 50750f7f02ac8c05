import { createHash } from "node:crypto";

/** SHA-256 of a typed array's bytes, as hex. */
export function sha256(data: ArrayBufferView): string {
  return createHash("sha256")
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest("hex");
}
