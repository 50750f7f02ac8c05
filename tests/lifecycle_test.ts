/**
 * Lifecycles: how a conversion ends when it is cancelled, aborted or interrupted, what a
 * stream read in tiny pieces holds, and that the output's directory is synced after the
 * rename.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  write,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  convertFile,
  convertGguf,
  convertStream,
  convertTensors,
  GgufError,
  readGguf,
  readGgufStream,
} from "../mod.ts";
import type { ByteSource } from "../mod.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE = join(ROOT, "node_modules", "node", "bin", "node");
const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const IN_CI = process.env.CI === "true" || process.env.CI === "1";

test("the npm bin under Node exits 130 on SIGINT while standard input stays open", {
  skip: process.platform === "win32"
    ? "no FIFOs"
    : IN_CI || existsSync(NODE)
    ? false
    : "the pinned node is not installed in node_modules",
}, async () => {
  // The bin as packed, over a dist/convert.js that is the source tree's convert.ts.
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-lifecycle-"));
  try {
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "dist"));
    copyFileSync(join(ROOT, "bin", "gguf-stream.js"), join(dir, "bin", "gguf-stream.js"));
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    writeFileSync(
      join(dir, "dist", "convert.js"),
      `export * from ${JSON.stringify(pathToFileURL(join(ROOT, "convert.ts")).href)};\n`,
    );
    const out = join(dir, "out.gguf");
    // Standard input a FIFO opened for reading, as a shell pipe is (spawn() makes a socket,
    // whose reads do not block); this side holds it open for writing, so it never ends.
    const fifo = join(dir, "stdin.fifo");
    assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
    const stdin = openSync(fifo, "r+");
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const bin = join(dir, "bin", "gguf-stream.js");
    const child = spawn("sh", ["-c", 'exec "$0" "$1" - -o "$2" -q < "$3"', NODE, bin, out, fifo], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (text: string) => stderr += text);
    const exited = new Promise<number | string | null>((done) => {
      child.on("exit", (code, signal) => done(code ?? signal));
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<string>((done) => {
      timer = setTimeout(() => done("still running after 10 s"), 10_000);
    });
    // All but the last tensor's bytes: once the pipe has taken them, the CLI is converting
    // (its signal handlers installed) and waits on a read that never completes.
    const model = readFileSync(SAMPLE);
    const written = new Promise<void>((done, fail) => {
      const rest = model.subarray(0, model.length - 4096);
      const from = (at: number) => {
        if (at === rest.length) return done();
        write(stdin, rest, at, rest.length - at, null, (error, count) => {
          if (error) fail(error);
          else from(at + count);
        });
      };
      from(0);
    });
    await Promise.race([written, exited, timeout]);
    child.kill("SIGINT");
    const status = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (status === "still running after 10 s") child.kill("SIGKILL");
    closeSync(stdin);
    // Deno's child_process reports an exit status of 128 + n as the signal n.
    const interrupted = "Deno" in globalThis && status === "SIGINT" ? 130 : status;
    assert.equal(interrupted, 130, stderr);
    assert.match(stderr, /interrupted by SIGINT/);
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Whether `error` is the one documented abort failure, caused by `reason`. */
function abortedBy(reason: unknown) {
  return (error: unknown) => {
    assert.ok(error instanceof GgufError, `not a GgufError: ${error}`);
    assert.equal(error.code, "ABORTED");
    assert.equal(error.cause, reason);
    return true;
  };
}

/** The sample as a source read by position (no views), calling `onRead` before each read. */
function countingSource(onRead: (reads: number) => void): ByteSource {
  const bytes = new Uint8Array(readFileSync(SAMPLE));
  let reads = 0;
  return {
    kind: "read",
    size: bytes.length,
    read(offset, length, into) {
      onRead(++reads);
      const range = bytes.subarray(offset, offset + length);
      if (into === undefined) return Promise.resolve(range.slice());
      into.set(range);
      return Promise.resolve(into.subarray(0, length));
    },
    view: () => undefined,
    close: () => Promise.resolve(),
  };
}

/** The sample as a stream of 4 KiB chunks, calling `onPull` with the bytes delivered so far. */
function sampleStream(onPull: (delivered: number) => void = () => {}): ReadableStream<Uint8Array> {
  const bytes = new Uint8Array(readFileSync(SAMPLE));
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      onPull(at);
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 4096));
      at += 4096;
    },
  });
}

/** Every function taking a signal, run to completion on the sample. */
const RUNS: Record<string, (signal: AbortSignal, input?: ByteSource) => Promise<unknown>> = {
  convertGguf: (signal, input) => convertGguf(input ?? SAMPLE, { signal }),
  convertTensors: async (signal, input) => {
    for await (const _ of convertTensors(input ?? SAMPLE, { signal })) {
      // Each tensor is dropped.
    }
  },
  convertFile: async (signal) => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-stream-abort-"));
    try {
      await convertFile(SAMPLE, join(dir, "out.gguf"), { signal });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  convertStream: (signal) => new Response(convertStream(sampleStream(), { signal })).bytes(),
  readGguf: (signal, input) => readGguf(input ?? SAMPLE, { signal }),
  readGgufStream: async (signal) => {
    for await (const tensor of await readGgufStream(sampleStream(), { signal })) {
      for await (const _ of tensor.data) {
        // Each chunk is dropped.
      }
    }
  },
};

for (const [name, run] of Object.entries(RUNS)) {
  test(`${name}() with an aborted signal fails as ABORTED, the signal's reason its cause`, async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(run(controller.signal), abortedBy(reason));
  });
}

for (const name of ["convertGguf", "convertTensors"]) {
  test(`${name}() aborted midway fails as ABORTED, the signal's reason its cause`, async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const source = countingSource((reads) => reads === 6 && controller.abort(reason));
    await assert.rejects(RUNS[name](controller.signal, source), abortedBy(reason));
  });
}

test("convertFile() aborted midway fails as ABORTED, the signal's reason its cause", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-abort-"));
  try {
    const controller = new AbortController();
    const reason = new Error("stop");
    const out = join(dir, "out.gguf");
    await assert.rejects(
      convertFile(SAMPLE, out, {
        signal: controller.signal,
        onProgress: () => controller.abort(reason),
      }),
      abortedBy(reason),
    );
    assert.equal(existsSync(out), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const name of ["convertStream", "readGgufStream"]) {
  test(`${name}() aborted midway fails as ABORTED, the signal's reason its cause`, async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const stream = sampleStream((delivered) => delivered > 100_000 && controller.abort(reason));
    const run = name === "convertStream"
      ? new Response(convertStream(stream, { signal: controller.signal })).bytes()
      : (async () => {
        for await (const tensor of await readGgufStream(stream, { signal: controller.signal })) {
          for await (const _ of tensor.data) {
            // Each chunk is dropped.
          }
        }
      })();
    await assert.rejects(run, abortedBy(reason));
  });
}

test("readGguf() aborted while a stream's header is awaited fails as ABORTED", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  // A stream that never delivers: the abort is what ends the read.
  const stream = new ReadableStream<Uint8Array>({
    pull: () => {
      controller.abort(reason);
      return new Promise(() => {});
    },
  });
  await assert.rejects(readGguf(stream, { signal: controller.signal }), abortedBy(reason));
});

/** A stream that delivers `head` then stalls, recording its cancellation. */
function stallingStream(head: Uint8Array) {
  const state = { cancelled: false, reason: undefined as unknown };
  let sent = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller): Promise<void> | void {
      if (sent) return new Promise(() => {});
      sent = true;
      controller.enqueue(head);
    },
    cancel(reason) {
      state.cancelled = true;
      state.reason = reason;
    },
  });
  return { stream, state };
}

for (const mode of ["default", "byob"] as const) {
  test(`cancelling convertStream() (${mode} reader) while the header is read cancels and unlocks the input`, async () => {
    const { stream, state } = stallingStream(new Uint8Array(readFileSync(SAMPLE)).slice(0, 100));
    const output = convertStream(stream);
    const reader = mode === "byob" ? output.getReader({ mode }) : output.getReader();
    const reading = mode === "byob"
      ? (reader as ReadableStreamBYOBReader).read(new Uint8Array(16))
      : (reader as ReadableStreamDefaultReader<Uint8Array>).read();
    reading.catch(() => {});
    // Let the header read start and stall.
    for (let i = 0; i < 5; i++) await new Promise((done) => setTimeout(done, 1));
    assert.equal(stream.locked, true);
    const reason = new Error("consumer left");
    await reader.cancel(reason);
    assert.equal((await reading).done, true);
    for (let i = 0; i < 50 && !state.cancelled; i++) {
      await new Promise((done) => setTimeout(done, 1));
    }
    assert.equal(state.cancelled, true, "the input was not cancelled");
    assert.equal(state.reason, reason);
    assert.equal(stream.locked, false, "the input is still locked");
  });
}

test("convertStream() aborted while the header is read cancels and unlocks the input", async () => {
  const { stream, state } = stallingStream(new Uint8Array(readFileSync(SAMPLE)).slice(0, 100));
  const controller = new AbortController();
  const reason = new Error("stop");
  const reading = new Response(convertStream(stream, { signal: controller.signal })).bytes();
  for (let i = 0; i < 5; i++) await new Promise((done) => setTimeout(done, 1));
  controller.abort(reason);
  await assert.rejects(reading, abortedBy(reason));
  assert.equal(state.cancelled, true);
  assert.equal(state.reason, reason);
  assert.equal(stream.locked, false);
});

/**
 * A byte stream answering each BYOB read with at most `piece` bytes of `bytes`, counting
 * the buffer bytes its reader offered at offset 0 (each such read is a buffer taken).
 */
function trickle(bytes: Uint8Array, piece: number) {
  const seen = { buffersTaken: 0, bufferBytes: 0 };
  let at = 0;
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view!;
      if (view.byteOffset === 0) {
        seen.buffersTaken++;
        seen.bufferBytes += view.byteLength;
      }
      if (at >= bytes.length) {
        controller.close();
        request.respond(0);
        return;
      }
      const count = Math.min(piece, view.byteLength, bytes.length - at);
      new Uint8Array(view.buffer, view.byteOffset, count).set(bytes.subarray(at, at + count));
      at += count;
      request.respond(count);
    },
  }) as ReadableStream<Uint8Array>;
  return { stream, seen };
}

test("a stream read 1,400 bytes at a time holds buffers in proportion to its bytes", async () => {
  const { openStreamSource } = await import("../sources.ts");
  const model = new Uint8Array(readFileSync(SAMPLE));
  const held = 512 * 1024;
  const { stream, seen } = trickle(model, 1400);
  const source = openStreamSource(stream);
  const { bytes } = await source.prefix(held);
  assert.deepEqual(bytes, model.subarray(0, held));
  // 375 reads; a fresh 64 KiB buffer for each would be 24 MiB for 512 KiB held.
  assert.ok(
    seen.bufferBytes <= 2 * held,
    `took ${seen.buffersTaken} buffers, ${seen.bufferBytes} bytes, to hold ${held} bytes`,
  );
  // The rest, read forward in odd lengths, is the file's.
  const rest = await source.read(held + 3, 300_001);
  assert.deepEqual(rest, model.subarray(held + 3, held + 3 + 300_001));
  await source.close();
});

test("a stream read by blocking calls of 1,400 bytes: its bytes, in recycled buffers", async () => {
  const { openStreamSource } = await import("../sources.ts");
  const { readsBlocking } = await import("../src/source/stream_buffer.ts");
  const model = new Uint8Array(readFileSync(SAMPLE));
  const buffers = new Set<ArrayBufferLike>();
  let at = 0;
  const stream = readsBlocking(
    new ReadableStream<Uint8Array>({ pull: () => assert.fail("read through the stream") }, {
      highWaterMark: 0,
    }),
    (into) => {
      buffers.add(into.buffer);
      const count = Math.min(1400, into.length, model.length - at);
      into.set(model.subarray(at, at + count));
      at += count;
      return count;
    },
  );
  const source = openStreamSource(stream);
  const held = 256 * 1024;
  assert.deepEqual((await source.prefix(held)).bytes, model.subarray(0, held));
  // Reads under 64 KiB, which go through the buffers (larger ones skip them: below).
  for (let offset = held + 5; offset < model.length; offset += 30_001) {
    const length = Math.min(30_001, model.length - offset);
    assert.deepEqual(await source.read(offset, length), model.subarray(offset, offset + length));
  }
  // 64 KiB buffers: 4 hold the prefix, one more is filled; then, each read's bytes taken
  // at once, one is filled over and over (16 for the file were none used again).
  assert.ok(buffers.size <= 6, `${buffers.size} buffers`);
  await source.close();
  assert.equal(stream.locked, false);
});

test("blocking reads of 64 KiB or more go straight into the caller's array", async () => {
  const { openStreamSource } = await import("../sources.ts");
  const { readsBlocking } = await import("../src/source/stream_buffer.ts");
  const model = new Uint8Array(readFileSync(SAMPLE));
  const open = (end = model.length) => {
    const calls: Uint8Array[] = [];
    let at = 0;
    const stream = readsBlocking(
      new ReadableStream<Uint8Array>({ pull: () => assert.fail("read through the stream") }, {
        highWaterMark: 0,
      }),
      (into) => {
        calls.push(into);
        const count = Math.min(1400, into.length, end - at);
        into.set(model.subarray(at, at + count));
        at += count;
        return count;
      },
    );
    return { source: openStreamSource(stream), calls };
  };
  const { source, calls } = open();
  await source.prefix(1000); // a 64 KiB buffer now holds the first bytes
  const into = new Uint8Array(200_000);
  const first = await source.read(10, 150_000, into);
  assert.equal(first.buffer, into.buffer);
  assert.deepEqual(first, model.subarray(10, 150_010));
  // The buffered bytes first, then blocking reads into `into` itself while 64 KiB or
  // more are left, then the last bytes through a buffer.
  const direct = calls.filter((call) => call.buffer === into.buffer);
  const directBytes = direct.reduce((sum, call) => sum + Math.min(1400, call.length), 0);
  assert.ok(directBytes >= 150_000 - 1400 - 65_536, `${directBytes} bytes read into it`);
  // Shared memory is read through the buffers, as a runtime's blocking read may refuse it.
  const shared = new Uint8Array(new SharedArrayBuffer(100_000));
  const before = calls.length;
  const second = await source.read(150_010, 100_000, shared);
  assert.deepEqual(second, model.subarray(150_010, 250_010));
  assert.ok(calls.slice(before).every((call) => call.buffer !== shared.buffer));
  await source.close();
  // A stream that ends inside a direct read: TRUNCATED, at the byte where it ended.
  const short = open(120_000).source;
  await assert.rejects(short.read(0, 200_000), (error: GgufError) => {
    assert.equal(error.code, "TRUNCATED");
    assert.equal(error.offset, 120_000);
    assert.match(error.message, /ended at byte 120_000, 80_000 bytes short/);
    return true;
  });
  await short.close();
});

test("readGgufStream() over a stream of 1,400-byte reads yields the file's tensor bytes", async () => {
  const model = new Uint8Array(readFileSync(SAMPLE));
  const { stream, seen } = trickle(model, 1400);
  let checked = 0;
  for await (const tensor of await readGgufStream(stream, { windowBytes: 10_000 })) {
    let at = tensor.info.fileOffset;
    for await (const chunk of tensor.data) {
      assert.deepEqual(chunk, model.subarray(at, at + chunk.length));
      at += chunk.length;
    }
    assert.equal(at, tensor.info.fileOffset + tensor.info.nbytes);
    checked++;
  }
  assert.equal(checked, 21);
  assert.ok(seen.bufferBytes <= 2 * model.length, `${seen.bufferBytes} buffer bytes`);
});

test("convertFile() flushes the output's directory once the file has its name", async () => {
  const fileSink = await import("../src/source/file_sink.ts") as {
    directorySync?: { run: (dir: string) => Promise<void> };
  };
  const hook = fileSink.directorySync;
  assert.ok(hook !== undefined, "file_sink.ts has no directory flush");
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-dirsync-"));
  const out = join(dir, "out.gguf");
  const original = hook.run;
  const synced: [string, boolean][] = [];
  hook.run = async (path) => {
    synced.push([path, existsSync(out)]);
    await original(path); // on Linux, a real flush that must not fail
  };
  try {
    await convertFile(SAMPLE, out);
    assert.deepEqual(synced, [[dir, true]]);
  } finally {
    hook.run = original;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("syncDirectory() flushes a directory on Linux and refuses a missing one", {
  skip: process.platform === "linux" ? false : "other systems may not flush directories",
}, async () => {
  const { syncDirectory } = await import("../src/source/file_sink.ts") as {
    syncDirectory?: (dir: string) => Promise<void>;
  };
  assert.ok(syncDirectory !== undefined, "file_sink.ts has no syncDirectory()");
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-dirsync-"));
  try {
    await syncDirectory(dir);
    await assert.rejects(
      syncDirectory(join(dir, "missing")),
      (e: unknown) => e instanceof GgufError && e.code === "IO",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
