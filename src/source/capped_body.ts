/**
 * Reads a response body that must hold exactly the bytes asked for, into one buffer of
 * that size: a body that runs past it is refused as soon as it does (an endless or
 * oversized reply costs at most one chunk more than asked), never buffered whole.
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { describeNetworkError, TransientError } from "./http_request.ts";

/**
 * Reads `response`'s body, which must be exactly `length` bytes. A `Content-Length` that
 * says otherwise is refused before any byte is read.
 *
 * @param response The response.
 * @param length The bytes asked for.
 * @param what What is being read, for messages: `Cannot read URL at byte N`.
 * @param offset The byte offset the body starts at, for errors.
 * @returns The bytes.
 * @throws {GgufError} `IO` for a body longer (or declared longer or shorter) than asked.
 * @throws {TransientError} When the connection fails or the body ends short (its message
 *   is the reason alone: the retry loop names what was being read).
 *
 * @example Refusing a body longer than asked, without reading it whole
 * ```ts
 * import { readCappedBody } from "./capped_body.ts";
 * import assert from "node:assert/strict";
 * const endless = new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(1024)) });
 * await assert.rejects(readCappedBody(new Response(endless), 10, "Cannot read x", 0), {
 *   code: "IO",
 * });
 * assert.deepEqual([...await readCappedBody(new Response("abc"), 3, "Cannot read x", 0)], [
 *   97, 98, 99,
 * ]);
 * ```
 */
export async function readCappedBody(
  response: Response,
  length: number,
  what: string,
  offset: number,
): Promise<Uint8Array> {
  const tooLong = (sent: string) =>
    new GgufError(
      "IO",
      `${what}: the server sent ${sent}, ${formatInteger(length)} were asked for`,
      offset,
    );
  const declared = response.headers.get("content-length");
  // A compressed body's Content-Length counts the compressed bytes.
  const encoded = (response.headers.get("content-encoding") ?? "identity") !== "identity";
  if (declared !== null && !encoded && /^\d+$/.test(declared.trim())) {
    if (Number(declared) !== length) {
      await response.body?.cancel().catch(() => {});
      throw tooLong(`${formatInteger(Number(declared))} bytes (its Content-Length)`);
    }
  }
  const bytes = new Uint8Array(length);
  if (response.body === null) {
    if (length === 0) return bytes;
    throw new TransientError("the response has no body");
  }
  const reader = response.body.getReader();
  let filled = 0;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        throw new TransientError(
          `${describeNetworkError(cause)} after ${formatInteger(filled)} bytes of the body`,
          { cause },
        );
      }
      if (chunk.done) break;
      if (chunk.value.length > length - filled) {
        throw tooLong(`more than ${formatInteger(length)} bytes`);
      }
      bytes.set(chunk.value, filled);
      filled += chunk.value.length;
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
  if (filled !== length) {
    throw new TransientError(
      `the body ended after ${formatInteger(filled)} of ${formatInteger(length)} bytes`,
    );
  }
  return bytes;
}
