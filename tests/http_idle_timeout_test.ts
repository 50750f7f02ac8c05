/**
 * A server that falls silent never hangs a read: no response, or a body that stops, for
 * `idleTimeout` is an `IO` error on every HTTP path (range requests, the one-pass stream,
 * the deferred stream, redirects), its connection closed and the output left as it was;
 * a slow but steady server is never cut off, and the abort signal still ends a wait. The
 * servers are local and the timeouts short, so each case takes well under a second.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { convertFile, GgufError, readGguf } from "../mod.ts";
import { openHttpRangeSource, openHttpStream } from "../sources.ts";
import { runCli as run } from "./_cli.ts";
import { openDeferredHttpStream } from "../src/source/http_stream.ts";
import { requestSettings } from "../src/source/http_request.ts";
import { ioError, serveBytes, startScriptedServer, type TestServer } from "./_http_servers.ts";

const MODEL = new Uint8Array(
  readFileSync(new URL("../samples/tiny-llama.gguf", import.meta.url)),
);
const scratch = mkdtempSync(join(tmpdir(), "gguf-idle-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A short idle timeout and fast retries: every case takes a fraction of a second. */
const SHORT = { idleTimeout: 200, retry: { attempts: 2, baseDelay: 1, maxDelay: 5 } };

/** A handler that leaves its request unanswered. */
const silent = () => {};

/** Answers `req` with the model's headers and its first `bytes` bytes, then nothing. */
function stallAfter(bytes: number, headers: Record<string, string> = {}) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const match = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
    const start = match ? Number(match[1]) : 0;
    const last = match?.[2] ? Math.min(Number(match[2]), MODEL.length - 1) : MODEL.length - 1;
    res.writeHead(match ? 206 : 200, {
      ...headers,
      "content-length": String(last + 1 - start),
      ...(match ? { "content-range": `bytes ${start}-${last}/${MODEL.length}` } : {}),
    });
    res.flushHeaders();
    if (bytes > 0) res.write(MODEL.subarray(start, start + bytes));
  };
}

/** A scripted server that records its connections, to see that the client closes them. */
async function withServer(
  handler: (req: IncomingMessage, res: ServerResponse, count: number) => void,
  body: (on: TestServer, sockets: Set<Socket>) => Promise<void>,
): Promise<void> {
  const sockets = new Set<Socket>();
  const on = await startScriptedServer((req, res, count) => {
    sockets.add(req.socket);
    handler(req, res, count);
  });
  try {
    await body(on, sockets);
  } finally {
    await on.close();
  }
}

/** Waits until the client has closed every connection the server saw (at most 2 s). */
async function closedByClient(sockets: Set<Socket>): Promise<void> {
  const deadline = performance.now() + 2000;
  while ([...sockets].some((s) => !s.destroyed) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(sockets.size > 0);
  assert.deepEqual([...sockets].filter((s) => !s.destroyed).length, 0, "a connection left open");
}

/** Runs `body` and returns how long it took, in milliseconds. */
async function timed(body: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await body();
  return performance.now() - start;
}

test("a server that never answers is an IO error after the idle timeout, retried", async () => {
  await withServer(silent, async (on, sockets) => {
    const url = `${on.url}/m.gguf`;
    const took = await timed(() =>
      assert.rejects(
        readGguf(url, SHORT),
        ioError(
          /^Cannot fetch http:\/\/127\.0\.0\.1:\d+\/m\.gguf: the server sent nothing for 0\.2 s \(after 2 attempts\)$/,
        ),
      )
    );
    assert.ok(took >= 400 && took < 3000, `${took} ms`);
    assert.equal(sockets.size, 2); // one connection per attempt
    await closedByClient(sockets);
    // The one-pass stream a conversion reads, and a stream opened directly.
    await assert.rejects(
      convertFile(url, join(scratch, "never.gguf"), { force: true, ...SHORT }),
      ioError(/^Cannot fetch .*: the server sent nothing for 0\.2 s \(after 2 attempts\)$/),
    );
    await assert.rejects(openHttpStream(url, SHORT), ioError(/sent nothing for 0\.2 s/));
    await closedByClient(sockets);
  });
});

test("a range body that stops is an IO error after the idle timeout", async () => {
  // The first request's body stops after 1000 bytes, every time.
  await withServer(stallAfter(1000), async (on, sockets) => {
    await assert.rejects(
      readGguf(`${on.url}/m.gguf`, SHORT),
      ioError(
        /^Cannot fetch .*: the server sent nothing for 0\.2 s after 1_000 bytes of the body \(after 2 attempts\)$/,
      ),
    );
    await closedByClient(sockets);
  });
  // A later range read (past the first request's bytes) whose body never starts.
  await withServer((req, res, count) => {
    if (count === 1) serveBytes(req, res, MODEL);
    else stallAfter(0)(req, res);
  }, async (on, sockets) => {
    const source = await openHttpRangeSource(`${on.url}/m.gguf`, {
      ...SHORT,
      firstRequestBytes: 4096,
    });
    try {
      await assert.rejects(
        source.read(8192, 100),
        ioError(/^Cannot read .* at byte 8_192: the server sent nothing for 0\.2 s after 0 bytes/),
      );
    } finally {
      await source.close();
    }
    await closedByClient(new Set([...sockets].slice(1)));
  });
});

test("a one-pass stream that stops leaves the output as it was", async () => {
  mkdirSync(join(scratch, "kept"));
  const out = join(scratch, "kept", "out.gguf");
  writeFileSync(out, "the previous output");
  // No ETag or Last-Modified: the stream cannot be resumed, so it fails at the stall.
  await withServer(stallAfter(100_000), async (on, sockets) => {
    const url = `${on.url}/m.gguf`;
    await assert.rejects(
      convertFile(url, out, { force: true, ...SHORT }),
      ioError(
        /^Cannot read .* at byte 100_000: the server sent nothing for 0\.2 s \(the server gave no ETag or Last-Modified to resume by\)$/,
      ),
    );
    assert.equal(readFileSync(out, "utf8"), "the previous output");
    assert.deepEqual(readdirSync(join(scratch, "kept")), ["out.gguf"]);
    // The CLI says the same in one line, exit 1.
    const cli = await run([url, "-o", out, "--force", "--idle-timeout", "0.2", "-q"]);
    assert.equal(cli.status, 1);
    assert.match(
      cli.stderr,
      /^error: Cannot read http:\/\/127\.0\.0\.1:\d+\/m\.gguf at byte 100_000: the server sent nothing for 0\.2 s \(the server gave no ETag or Last-Modified to resume by\)\n$/,
    );
    assert.equal(readFileSync(out, "utf8"), "the previous output");
    assert.deepEqual(readdirSync(join(scratch, "kept")), ["out.gguf"]);
    await closedByClient(sockets);
  });
});

test("--plan by URL retries a request its server left unanswered", async () => {
  // The first request goes unanswered; its retry is served.
  await withServer((req, res, count) => {
    if (count > 1) serveBytes(req, res, MODEL);
  }, async (on) => {
    const plan = await run([`${on.url}/m.gguf`, "--plan", "--idle-timeout", "0.2", "-q"]);
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(plan.stdout, /tensors: 21/);
    assert.equal(on.log.length, 2);
  });
});

// Four attempts, the CLI's, with its waits of 0.5, 1 and 2 s between them.
test("--key by URL gives up on a silent server in one line, exit 1", {
  timeout: 30_000,
}, async () => {
  await withServer(silent, async (on, sockets) => {
    const key = await run([`${on.url}/m.gguf`, "--key", "general.name", "--idle-timeout", "0.2"]);
    assert.equal(key.status, 1);
    assert.match(
      key.stderr,
      /^error: Cannot fetch http:\/\/127\.0\.0\.1:\d+\/m\.gguf: the server sent nothing for 0\.2 s \(after 4 attempts\)\n$/,
    );
    assert.equal(sockets.size, 4);
    await closedByClient(sockets);
  });
});

test("a one-pass stream that stops is resumed where it stopped when it can be", async () => {
  const validators = { etag: '"v1"' };
  const fromFile = join(scratch, "resumed-file.gguf");
  const fromUrl = join(scratch, "resumed-url.gguf");
  writeFileSync(join(scratch, "model.gguf"), MODEL);
  await convertFile(join(scratch, "model.gguf"), fromFile, { force: true });
  await withServer((req, res, count) => {
    if (count === 1) stallAfter(100_000, validators)(req, res);
    else serveBytes(req, res, MODEL, { headers: validators });
  }, async (on) => {
    await convertFile(`${on.url}/m.gguf`, fromUrl, { force: true, ...SHORT });
    assert.deepEqual(on.log.map((e) => e.range).filter((r) => r !== undefined), [
      "bytes=100000-",
    ]);
  });
  assert.deepEqual(readFileSync(fromUrl), readFileSync(fromFile));
});

test("a deferred stream whose body never starts is an IO error", async () => {
  // The header by a range of 4 KiB, then the body's GET from there, which stalls.
  await withServer((req, res) => {
    if (req.headers.range === "bytes=0-4095") {
      serveBytes(req, res, MODEL, { headers: { etag: '"1"' } });
    } else stallAfter(0, { etag: '"1"' })(req, res);
  }, async (on, sockets) => {
    const source = await openDeferredHttpStream(`${on.url}/m.gguf`, {
      ...SHORT,
      firstRequestBytes: 4096,
    });
    try {
      assert.deepEqual((await source.prefix(4)).bytes, MODEL.subarray(0, 4));
      await assert.rejects(
        source.read(4096, 100),
        ioError(
          /^Cannot read .* at byte 4_096: the server sent nothing for 0\.2 s \(after 2 attempts\)$/,
        ),
      );
    } finally {
      await source.close().catch(() => {}); // a failed stream's close repeats its error
    }
    await closedByClient(sockets);
  });
});

test("a redirect to a silent server is an IO error naming the URL asked for", async () => {
  await withServer((req, res) => {
    if (req.url === "/r") res.writeHead(302, { location: "/m.gguf" }).end();
    else silent();
  }, async (on) => {
    await assert.rejects(
      readGguf(`${on.url}/r`, SHORT),
      ioError(/^Cannot fetch http:\/\/127\.0\.0\.1:\d+\/r: the server sent nothing for 0\.2 s/),
    );
    await assert.rejects(
      convertFile(`${on.url}/r`, join(scratch, "redirect.gguf"), { force: true, ...SHORT }),
      ioError(/^Cannot fetch .*\/r: the server sent nothing for 0\.2 s/),
    );
  });
});

test("a slow but steady server is never cut off, nor is a slow reader", async () => {
  // The model in 8 pieces 100 ms apart: 0.8 s in all, four times the idle timeout.
  const steady = (req: IncomingMessage, res: ServerResponse) => {
    const match = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
    const start = match ? Number(match[1]) : 0;
    const last = match?.[2] ? Math.min(Number(match[2]), MODEL.length - 1) : MODEL.length - 1;
    const body = MODEL.subarray(start, last + 1);
    res.writeHead(match ? 206 : 200, {
      "content-length": String(body.length),
      ...(match ? { "content-range": `bytes ${start}-${last}/${MODEL.length}` } : {}),
    });
    const piece = Math.ceil(body.length / 8);
    let sent = 0;
    const next = () => {
      if (res.destroyed) return;
      res.write(body.subarray(sent, sent + piece));
      sent += piece;
      if (sent >= body.length) res.end();
      else setTimeout(next, 100);
    };
    next();
  };
  await withServer(steady, async (on) => {
    const url = `${on.url}/m.gguf`;
    const took = await timed(async () => {
      const header = await readGguf(url, SHORT);
      assert.equal(header.fileSize, MODEL.length);
    });
    assert.ok(took >= 600, `${took} ms`);
    const out = join(scratch, "steady.gguf");
    await convertFile(url, out, { force: true, ...SHORT });
    // Time spent between reads is the reader's, not the server's silence.
    const stream = await openHttpStream(url, SHORT);
    const reader = stream.getReader();
    let length = 0;
    for (let reads = 0;; reads++) {
      const { value, done } = await reader.read();
      if (done) break;
      length += value.length;
      if (reads < 2) await new Promise((resolve) => setTimeout(resolve, 300));
    }
    assert.equal(length, MODEL.length);
  });
});

test("the abort signal ends a wait on a silent server at once", async () => {
  await withServer(silent, async (on, sockets) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("user left")), 100);
    const took = await timed(() =>
      assert.rejects(
        readGguf(`${on.url}/m.gguf`, { signal: controller.signal }), // the default 30 s
        (error: unknown) => error instanceof GgufError && error.code === "ABORTED",
      )
    );
    assert.ok(took < 2000, `${took} ms`);
    await closedByClient(sockets);
  });
  await withServer(stallAfter(100_000, { etag: '"1"' }), async (on, sockets) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("user left")), 300);
    await assert.rejects(
      convertFile(`${on.url}/m.gguf`, join(scratch, "aborted.gguf"), {
        force: true,
        signal: controller.signal,
      }),
      (error: unknown) => error instanceof GgufError && error.code === "ABORTED",
    );
    await closedByClient(sockets);
  });
});

test("idleTimeout takes milliseconds: 30 s by default, 0 for no limit", () => {
  assert.equal(requestSettings({}).idleTimeout, 30_000);
  assert.equal(requestSettings({ idleTimeout: 0 }).idleTimeout, 0);
  for (const bad of [-1, 1.5, 2 ** 31, Number.NaN]) {
    assert.throws(() => requestSettings({ idleTimeout: bad }), TypeError, String(bad));
  }
});
