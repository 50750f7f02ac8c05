/**
 * A minimal full-duplex HTTP/1.1 POST over node:net: writes the request body while reading
 * the response, as a streaming converter needs (fetch sends the whole body first, which
 * deadlocks against a server that reads only as fast as its output is taken).
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { connect } from "node:net";
import { concat } from "./_hash.ts";

/** The response: status, and the body's bytes (kept only up to `keep`) and SHA-256. */
export interface DuplexResponse {
  status: number;
  sha256: string;
  length: number;
  text: string;
  /** Whether the answer ended as a whole one (its length, or the chunked end, reached). */
  complete: boolean;
}

/** Decodes `Transfer-Encoding: chunked` incrementally. */
class ChunkedDecoder {
  #pending: Uint8Array = new Uint8Array(0);
  #remaining = -1; // bytes left in the current chunk, -1 while reading a size line
  done = false;

  push(data: Uint8Array, out: (bytes: Uint8Array) => void): void {
    let buffer = this.#pending.length ? concat([this.#pending, data]) : data;
    for (;;) {
      if (this.done) return;
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, buffer.length);
        if (take === 0) break;
        out(buffer.subarray(0, take));
        buffer = buffer.subarray(take);
        this.#remaining -= take;
        if (this.#remaining === 0) this.#remaining = -2; // expect CRLF
        continue;
      }
      if (this.#remaining === -2) {
        if (buffer.length < 2) break;
        buffer = buffer.subarray(2);
        this.#remaining = -1;
        continue;
      }
      const lineEnd = indexOfCrlf(buffer);
      if (lineEnd < 0) break;
      const size = parseInt(new TextDecoder().decode(buffer.subarray(0, lineEnd)), 16);
      buffer = buffer.subarray(lineEnd + 2);
      if (size === 0) {
        this.done = true;
        return;
      }
      this.#remaining = size;
    }
    this.#pending = buffer.slice();
  }
}

function indexOfCrlf(bytes: Uint8Array, from = 0): number {
  for (let i = from; i + 1 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return -1;
}

/** POSTs `body` (its total `length` known) to `url`, streaming both ways. */
export async function duplexPost(
  url: string,
  body: AsyncIterable<Uint8Array>,
  length: number,
): Promise<DuplexResponse> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, "connect");
  const hash = createHash("sha256");
  let head: Uint8Array = new Uint8Array(0);
  let status = 0;
  let chunked: ChunkedDecoder | undefined;
  let contentLength = -1;
  let received = 0;
  let text = "";
  const complete = () =>
    status !== 0 && (chunked ? chunked.done : contentLength >= 0 && received >= contentLength);
  const take = (bytes: Uint8Array) => {
    hash.update(bytes);
    received += bytes.length;
    if (text.length < 4096) text += new TextDecoder().decode(bytes.subarray(0, 4096));
  };
  const finished = new Promise<void>((resolve, reject) => {
    socket.on("data", (data: Uint8Array) => {
      if (status === 0) {
        head = concat([head, data]);
        const end = (() => {
          for (let i = 0; i + 3 < head.length; i++) {
            if (head[i] === 13 && head[i + 1] === 10 && head[i + 2] === 13 && head[i + 3] === 10) {
              return i;
            }
          }
          return -1;
        })();
        if (end < 0) return;
        const lines = new TextDecoder().decode(head.subarray(0, end)).split("\r\n");
        status = Number(lines[0].split(" ")[1]);
        if (lines.some((l) => /^transfer-encoding:\s*chunked/i.test(l))) {
          chunked = new ChunkedDecoder();
        }
        const length = lines.find((l) => /^content-length:/i.test(l));
        if (length !== undefined) contentLength = Number(length.split(":")[1]);
        data = head.subarray(end + 4);
      }
      if (chunked) {
        chunked.push(data, take);
        // The response is complete: close, even if the server still expects request bytes
        // (an early error response), as curl does.
        if (chunked.done) socket.destroy();
      } else {
        take(data);
        if (contentLength >= 0 && received >= contentLength) socket.destroy();
      }
    });
    socket.on("end", resolve);
    socket.on("close", resolve);
    // A server may reset the connection after an early, complete response (workerd does after
    // a 400 while the request is still arriving): that is the end, not a failure.
    socket.on("error", (error) => (complete() ? resolve() : reject(error)));
  });
  socket.write(
    `POST ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Length: ${length}\r\n` +
      "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
  );
  for await (const chunk of body) {
    if (socket.destroyed || status >= 400) break;
    // A reset while waiting to send more is settled by `finished` (complete or not).
    if (!socket.write(chunk)) await Promise.race([once(socket, "drain").catch(() => {}), finished]);
  }
  await finished;
  socket.destroy();
  return { status, sha256: hash.digest("hex"), length: received, text, complete: complete() };
}
