/**
 * Serves a `fetch(request)` handler with `node:http`, keeping TCP backpressure on request
 * bodies: a body is read only as fast as the handler reads it, even while the response
 * streams. Used by serve_deno.ts instead of `Deno.serve`, whose HTTP/1.1 path (Deno
 * 2.8.3 to at least 2.9.6) reads a request body off the socket without limit while a
 * response is pending — the whole upload ends up in memory, and every read from that buffer
 * moves the rest of it, so a large or padded upload costs quadratic CPU (denoland/deno#36869).
 *
 * After the handler stops reading a body (it cancels the stream), what the client still
 * sends is read and dropped, up to `maxDiscardBytes`; past that the connection is closed
 * once the response has been sent.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** Options for {@linkcode serveNodeHttp}. */
export interface NodeHttpOptions {
  port: number;
  hostname: string;
  /** Called once listening, with the bound port. */
  onListen?: (port: number) => void;
  /** Bytes of an abandoned request body to read and drop before closing (default 64 MiB). */
  maxDiscardBytes?: number;
}

const DEFAULT_MAX_DISCARD = 64 << 20;

/**
 * The request body as a byte stream that reads from the socket only when pulled, and
 * `abandon()` to drop whatever the handler did not read.
 */
function bodyStream(
  req: IncomingMessage,
  res: ServerResponse,
  maxDiscard: number,
): { stream: ReadableStream<Uint8Array>; abandon: () => void } {
  let pending: Uint8Array | undefined;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  req.pause();
  req.on("data", (chunk: Uint8Array) => {
    pending = chunk;
    req.pause();
    wake?.();
  });
  req.on("end", () => {
    ended = true;
    wake?.();
  });
  req.on("error", (error) => {
    failure = error;
    wake?.();
  });
  let abandoned = false;
  const abandon = () => {
    if (abandoned || ended) return;
    abandoned = true;
    pending = undefined;
    // Read and drop what the client still sends, so it can finish sending and read the
    // whole response; a client that sends too much is cut off once the response is out.
    let dropped = 0;
    req.removeAllListeners("data");
    req.on("data", (chunk: Uint8Array) => {
      dropped += chunk.length;
      if (dropped > maxDiscard) {
        req.pause();
        if (res.writableFinished) req.socket.destroy();
        else res.once("finish", () => req.socket.destroy());
      }
    });
    req.resume();
  };
  const stream = new ReadableStream({
    type: "bytes",
    async pull(controller) {
      while (pending === undefined && !ended && failure === undefined) {
        const arrived = new Promise<void>((resolve) => (wake = resolve));
        req.resume();
        await arrived;
      }
      if (failure !== undefined) throw failure;
      if (pending === undefined) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      const request = controller.byobRequest;
      if (request?.view) {
        const view = new Uint8Array(
          request.view.buffer,
          request.view.byteOffset,
          request.view.byteLength,
        );
        const count = Math.min(view.length, pending.length);
        view.set(pending.subarray(0, count));
        pending = count < pending.length ? pending.subarray(count) : undefined;
        request.respond(count);
      } else {
        controller.enqueue(pending.slice());
        pending = undefined;
      }
    },
    cancel: abandon,
  });
  return { stream, abandon };
}

/** Resolves once `res` drains or closes, leaving no listener behind. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Writes a fetch `Response` to a node response, following its backpressure. */
async function send(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  res.writeHead(response.status, headers);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  // A client that goes away cancels the body (and with it the conversion). No race against
  // a long-lived promise per chunk: each would keep its chunk alive until the end.
  const onClose = () => void reader.cancel(new Error("the client went away")).catch(() => {});
  res.once("close", onClose);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value)) await drained(res);
    }
    res.end();
  } catch {
    res.destroy(); // a failed body: the client sees a cut-off response, not a complete one
  } finally {
    res.off("close", onClose);
  }
}

/** A connection that moves no byte either way for this long is closed (a stalled upload). */
const IDLE_MS = 120_000;

/**
 * Serves `fetch` on `options.hostname:options.port` with `node:http`.
 *
 * @param fetch The handler, as for `Deno.serve` or `Bun.serve`.
 * @param options Address, listen callback, discard limit.
 * @returns The server; `close()` it to stop.
 */
export function serveNodeHttp(
  fetch: (request: Request) => Promise<Response>,
  options: NodeHttpOptions,
): Server {
  const maxDiscard = options.maxDiscardBytes ?? DEFAULT_MAX_DISCARD;
  // No cap on a request's whole time (node:http's default cuts every request at 300 s, a
  // steady upload of a large model included); a connection idle for IDLE_MS is closed.
  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    const host = req.headers.host ?? `${options.hostname}:${options.port}`;
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    const method = req.method ?? "GET";
    const hasBody = method !== "GET" && method !== "HEAD";
    const body = hasBody ? bodyStream(req, res, maxDiscard) : undefined;
    const request = new Request(`http://${host}${req.url ?? "/"}`, {
      method,
      headers,
      body: body?.stream ?? null,
      // @ts-ignore: needed by runtimes that follow the fetch spec for stream bodies
      duplex: "half",
    });
    if (body === undefined) req.resume();
    fetch(request)
      .catch((error) => {
        console.error(error);
        return new Response("error: internal failure\n", { status: 500 });
      })
      .then((response) => send(response, res))
      .catch(() => res.destroy())
      .finally(() => body?.abandon()); // an answer given before the body was read
  });
  server.setTimeout(IDLE_MS);
  server.listen(options.port, options.hostname, () => {
    const address = server.address();
    options.onListen?.(typeof address === "object" && address !== null ? address.port : 0);
  });
  return server;
}
