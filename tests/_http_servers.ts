/**
 * Local HTTP servers for the remote-input tests, bound to 127.0.0.1 on a free port: a
 * real static server (`http-server` from npm, which honours Range) and a plain one that
 * ignores Range and can redirect. Both log every request (its Range header, status and
 * body size) so tests can count requests and bytes.
 */
import assert from "node:assert/strict";
import { createReadStream, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
// @ts-types="./_http_server_types.d.ts"
import httpServer from "http-server";
import { GgufError } from "../mod.ts";

/** One request a server answered. */
export interface LoggedRequest {
  path: string;
  range: string | undefined;
  headers: IncomingMessage["headers"];
  status: number;
  /** The response body's length (its Content-Length). */
  bytes: number;
}

/** A running server: its base URL (no trailing slash), its log, and how to stop it. */
export interface TestServer {
  url: string;
  log: LoggedRequest[];
  /** The number of requests and body bytes logged so far. */
  totals(): { requests: number; bytes: number };
  close(): Promise<void>;
}

function logRequests(server: Server, log: LoggedRequest[]): void {
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    const entry = () => ({
      path: decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname),
      range: req.headers.range,
      headers: req.headers,
      status: res.statusCode,
      bytes: Number(res.getHeader("content-length") ?? 0),
    });
    res.on("finish", () => log.push(entry()));
    // A response cut short (a reset mid-body) never finishes: log it when it closes.
    res.on("close", () => {
      if (!res.writableFinished) log.push(entry());
    });
  });
}

async function listen(server: Server, log: LoggedRequest[]): Promise<TestServer> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    log,
    totals: () => ({
      requests: log.length,
      bytes: log.reduce((sum, entry) => sum + entry.bytes, 0),
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Serves `root` with `http-server` (Range honoured, no caching, no directory listings). */
export function startStaticServer(root: string): Promise<TestServer> {
  const wrapper = httpServer.createServer({
    root,
    cache: -1,
    showDir: false,
    autoIndex: false,
    gzip: false,
    brotli: false,
  });
  const log: LoggedRequest[] = [];
  logRequests(wrapper.server, log);
  return listen(wrapper.server, log);
}

/**
 * Serves `root` ignoring Range (every GET is a 200 with the whole file). `/redirect/P`
 * answers `302` to `redirectTo + "/" + P`.
 */
export function startPlainServer(root: string, redirectTo?: string): Promise<TestServer> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (path.startsWith("/redirect/") && redirectTo !== undefined) {
      res.writeHead(302, { location: redirectTo + path.slice("/redirect".length) });
      res.end();
      return;
    }
    const file = join(root, path);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      res.writeHead(404, { "content-length": "0" });
      res.end();
      return;
    }
    res.writeHead(200, { "content-length": String(size) });
    const stream = createReadStream(file);
    stream.pipe(res);
    res.on("close", () => stream.destroy());
  });
  const log: LoggedRequest[] = [];
  logRequests(server, log);
  return listen(server, log);
}

/** What a scripted handler is given: the request, the response, and the request's number (1-based). */
export type ScriptedHandler = (req: IncomingMessage, res: ServerResponse, count: number) => void;

/** A server whose every answer is the test's `handler`, logged like the others. */
export function startScriptedServer(handler: ScriptedHandler): Promise<TestServer> {
  let count = 0;
  const server = createServer((req, res) => handler(req, res, ++count));
  const log: LoggedRequest[] = [];
  logRequests(server, log);
  return listen(server, log);
}

/** How {@linkcode serveBytes} answers. */
export interface ServeOptions {
  /** Extra headers (ETag, Last-Modified, Content-Type …). */
  headers?: Record<string, string>;
  /** Ignore Range: answer 200 with the whole file. */
  ignoreRange?: boolean;
  /** Write this many bytes of the body, then reset the connection. */
  resetAfter?: number;
}

/**
 * Answers `req` from `bytes` as a static server would: `Range: bytes=A-B` or `A-` gives a
 * 206 (unless `If-Range` names other validators), anything else a 200.
 */
export function serveBytes(
  req: IncomingMessage,
  res: ServerResponse,
  bytes: Uint8Array,
  options: ServeOptions = {},
): void {
  const headers: Record<string, string> = { ...options.headers };
  const match = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
  const ifRange = req.headers["if-range"] as string | undefined;
  const validators = [headers.etag, headers["last-modified"]];
  const honoured = match && !options.ignoreRange &&
    (ifRange === undefined || validators.includes(ifRange));
  let body = bytes;
  let status = 200;
  if (honoured) {
    const start = Number(match[1]);
    const end = match[2] === "" ? bytes.length - 1 : Math.min(Number(match[2]), bytes.length - 1);
    body = bytes.subarray(start, end + 1);
    status = 206;
    headers["content-range"] = `bytes ${start}-${end}/${bytes.length}`;
  }
  headers["content-length"] = String(body.length);
  res.writeHead(status, headers);
  if (options.resetAfter !== undefined && options.resetAfter < body.length) {
    res.write(body.subarray(0, options.resetAfter), () => {
      // Let the bytes reach the client, then drop the connection mid-body.
      setTimeout(() => res.socket?.destroy(), 20);
    });
    return;
  }
  res.end(body);
}

/** A free local port with nothing listening on it (for "connection refused"). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * Asserts a `GgufError` `IO` whose message matches every pattern: what an HTTP source
 * fails with, for `assert.rejects`.
 */
export function ioError(...patterns: RegExp[]): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof GgufError, String(error));
    assert.equal(error.code, "IO", error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  };
}
