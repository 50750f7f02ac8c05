/**
 * Hostile headers and hostile peers (issue #12): headers built to exhaust memory end in
 * `LIMIT_EXCEEDED` (or convert) with the peak memory of the process that read them within
 * its budget plus a fixed margin, on every path — `--plan`, file to file, pipe to pipe and
 * the edge handler; streams of things that are not bytes are a `TypeError`, and an endless
 * one still yields to an abort; pipes named as files are refused with advice; the edge
 * servers (Deno, Bun, workerd) shrug off trailing bytes, oversized bodies and bad requests
 * and keep a bounded memory per request.
 *
 * Peak memory is each process's own VmHWM (tests/_peak_child.ts says why not maxRSS).
 * Sizes are printed, never asserted against the clock.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { convertStream, GgufError, readGguf } from "../mod.ts";
import { openGgufModel } from "../sources.ts";
import { main } from "../convert.ts";
import { writeSyntheticModel } from "../bench/synthetic_model.ts";
import { type HostileKind, writeHostile } from "./_hostile.ts";
import { duplexPost } from "./_duplex_http.ts";
import { convertedDigest } from "./_hash.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const CHILD = join(ROOT, "tests", "_peak_child.ts");
const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const IS_DENO = "Deno" in globalThis;
const LINUX = process.platform === "linux";
const MiB = 1 << 20;
/** The CLI's default header budget and the edge example's. */
const CLI_BUDGET = 64 * MiB;
const EDGE_BUDGET = 48 * MiB;
/**
 * What a path may use beyond its runtime's footprint for a tiny model (measured first, in
 * the same way) and the header budget: buffers of the header's bytes, the young generation.
 */
const SLACK = 48 * MiB;

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-stream-hostile-"));
});
after(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

interface ChildRun {
  /** The CLI's exit status, or the edge handler's HTTP status. */
  status: number;
  peak: number;
  stderr: string;
}

/** Runs tests/_peak_child.ts in the runtime running this test. */
function runChild(args: string[], stdinFile?: string): Promise<ChildRun> {
  const command = process.execPath;
  // Deno needs `run -A`; Bun and Node (>= 22.18, type stripping) run the file directly.
  const full = IS_DENO ? ["run", "-A", CHILD, ...args] : [CHILD, ...args];
  const child = spawn(command, full, {
    cwd: ROOT,
    stdio: [stdinFile === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stdout!.on("data", () => {}); // pipe to pipe: the output is drained and dropped
  child.stderr!.on("data", (data: Uint8Array) => (stderr += new TextDecoder().decode(data)));
  if (stdinFile !== undefined) {
    child.stdin!.on("error", () => {}); // the child may stop reading early (EPIPE)
    const input = createReadStream(stdinFile, { highWaterMark: 1 << 20 });
    input.on("error", () => {});
    input.pipe(child.stdin!);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`timed out: ${args.join(" ")}\n${stderr}`));
    }, 180_000);
    child.on("exit", () => {
      clearTimeout(timer);
      const match = stderr.match(/peak-rss-kib (\d+) status (\d+)\s*$/);
      if (match === null) return reject(new Error(`no report from ${args.join(" ")}: ${stderr}`));
      resolve({ status: Number(match[2]), peak: Number(match[1]) * 1024, stderr });
    });
  });
}

type Way = "plan" | "file" | "pipe" | "edge";
const WAYS: Way[] = ["plan", "file", "pipe", "edge"];

/** Converts (or plans) `model` one way in a child process. */
function runWay(way: Way, model: string, budget?: number): Promise<ChildRun> {
  const flags = budget === undefined ? [] : ["--max-header-memory", String(budget)];
  switch (way) {
    case "plan":
      return runChild(["cli", model, "--plan", ...flags]);
    case "file":
      return runChild(["cli", model, "-o", join(dir, "out.gguf"), "--force", "-q", ...flags]);
    case "pipe":
      return runChild(["cli", "-", "-o", "-", "-q", ...flags], model);
    case "edge":
      return runChild([
        "edge",
        model,
        JSON.stringify(budget === undefined ? {} : { maxHeaderMemory: budget }),
      ]);
  }
}

/** Each way's peak for a tiny model: the runtime's own footprint, and the margin's base. */
const footprint = new Map<Way, number>();
async function footprintOf(way: Way): Promise<number> {
  if (!footprint.has(way)) {
    const run = await runWay(way, SAMPLE);
    assert.equal(run.status, way === "edge" ? 200 : 0, run.stderr);
    footprint.set(way, run.peak);
  }
  return footprint.get(way)!;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

/** Sizes that exhaust memory without a budget (measured before it: 0.5 to 2.2 GB). */
const HOSTILE: { name: string; kind: HostileKind; count: number; perKey?: number }[] = [
  { name: "2×10^6 empty nested arrays", kind: "nested", count: 2_000_000, perKey: 1000 },
  { name: "10^7 empty strings", kind: "strings", count: 10_000_000, perKey: 100_000 },
  { name: "2^27 + 8 booleans", kind: "bools", count: 2 ** 27 + 8 },
  { name: "10^6 tensors", kind: "tensors", count: 1_000_000 },
  { name: "10^6 metadata keys", kind: "keys", count: 1_000_000 },
];

/** Sizes that fit a 16 MiB budget, each close to it. */
const FITTING: { name: string; kind: HostileKind; count: number; perKey?: number }[] = [
  { name: "25 000 empty nested arrays", kind: "nested", count: 25_000, perKey: 1000 },
  { name: "150 000 short strings", kind: "words", count: 150_000, perKey: 1000 },
  { name: "550 000 booleans", kind: "bools", count: 550_000 },
  { name: "4 500 tensors", kind: "tensors", count: 4_500 },
  { name: "6 500 metadata keys", kind: "keys", count: 6_500 },
];

function assertLimited(way: Way, run: ChildRun, what: string): void {
  if (way === "edge") {
    assert.equal(run.status, 413, `${what}: ${run.stderr}`);
    assert.match(run.stderr, /^error: Cannot read/, what);
  } else {
    assert.equal(run.status, 1, `${what}: ${run.stderr}`);
    assert.doesNotMatch(run.stderr, /unexpected failure|RangeError/, what);
    assert.match(run.stderr, /budget|a JavaScript array holds/, what);
  }
}

test("hostile headers end in LIMIT_EXCEEDED within the budget on every path", async () => {
  for (const c of HOSTILE) {
    const model = join(dir, `${c.kind}.gguf`);
    writeHostile(model, c.kind, c.count, c.perKey);
    const peaks: string[] = [];
    for (const way of WAYS) {
      const budget = way === "edge" ? EDGE_BUDGET : CLI_BUDGET;
      const run = await runWay(way, model);
      assertLimited(way, run, `${c.name}, ${way}`);
      const bound = (await footprintOf(way)) + budget + SLACK;
      assert.ok(run.peak <= bound, `${c.name}, ${way}: ${mib(run.peak)} > ${mib(bound)}`);
      peaks.push(`${way} ${mib(run.peak)}`);
    }
    rmSync(model);
    process.stderr.write(`${c.name}: refused; peak ${peaks.join(", ")}\n`);
  }
});

test("headers that fit a small budget convert within it on every path", async () => {
  const budget = 16 * MiB;
  for (const c of FITTING) {
    const model = join(dir, `${c.kind}-fits.gguf`);
    writeHostile(model, c.kind, c.count, c.perKey);
    const peaks: string[] = [];
    for (const way of WAYS) {
      const run = await runWay(way, model, budget);
      assert.equal(run.status, way === "edge" ? 200 : 0, `${c.name}, ${way}: ${run.stderr}`);
      const bound = (await footprintOf(way)) + budget + SLACK;
      assert.ok(run.peak <= bound, `${c.name}, ${way}: ${mib(run.peak)} > ${mib(bound)}`);
      peaks.push(`${way} ${mib(run.peak)}`);
    }
    rmSync(model);
    process.stderr.write(`${c.name} (16 MiB budget): converted; peak ${peaks.join(", ")}\n`);
  }
  process.stderr.write(
    `footprint (tiny model): ${WAYS.map((w) => `${w} ${mib(footprint.get(w)!)}`).join(", ")}\n`,
  );
});

test("array lengths work up to the budget and fail past it with a GgufError", async () => {
  // 2^27 + 8 booleans: past what a JavaScript array holds on V8, whatever the budget.
  const bools = join(dir, "bools-big.gguf");
  writeHostile(bools, "bools", 2 ** 27 + 8);
  for (const maxHeaderMemory of [undefined, 2 ** 34]) {
    await assert.rejects(readGguf(bools, { maxHeaderMemory }), (e: unknown) => {
      assert.ok(e instanceof GgufError, String(e));
      assert.equal(e.code, "LIMIT_EXCEEDED");
      return true;
    });
  }
  const run = await runWay("pipe", bools, 2 ** 34);
  assertLimited("pipe", run, "2^27 + 8 booleans, budget 16 GiB");
  rmSync(bools);
  // The same count of bytes is a typed array: it reads once the budget allows it.
  const bytes = join(dir, "bytes-big.gguf");
  writeHostile(bytes, "bytes", 2 ** 27 + 8);
  await assert.rejects(readGguf(bytes), { code: "LIMIT_EXCEEDED" });
  const file = await readGguf(bytes, { maxHeaderMemory: 2 ** 29 });
  const values = (file.metadata.get("bytes")!.value as { values: Uint8Array }).values;
  assert.ok(values instanceof Uint8Array);
  assert.equal(values.length, 2 ** 27 + 8);
  rmSync(bytes);
});

test("--max-header-memory sets the budget and names itself when it is spent", async () => {
  const io = () => {
    const out = { stderr: "", stdout: "" };
    return {
      out,
      io: { stdout: (t: string) => (out.stdout += t), stderr: (t: string) => (out.stderr += t) },
    };
  };
  const bad = io();
  assert.equal(await main([SAMPLE, "--max-header-memory", "lots"], bad.io), 2);
  assert.match(bad.out.stderr, /--max-header-memory takes a byte count/);
  const tight = io();
  assert.equal(await main([SAMPLE, "--plan", "--max-header-memory", "64K"], tight.io), 1);
  assert.match(tight.out.stderr, /65_536-byte budget \(raise the budget, --max-header-memory, if/);
  const enough = io();
  assert.equal(await main([SAMPLE, "--plan", "--max-header-memory", "16M"], enough.io), 0);
});

test("real vocabularies read within the default budget", async () => {
  const real = join(ROOT, "..", "shared", "fixtures", "real");
  if (!existsSync(real)) return;
  for (const name of ["ggml-vocab-gpt-2.gguf", "ggml-vocab-falcon-v2.gguf"]) {
    const file = await readGguf(join(real, name), { maxHeaderMemory: 16 * MiB });
    assert.ok(file.metadata.size > 0, name);
  }
});

/** A stream of the given chunks, then an end. */
function streamOf(chunks: unknown[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++] as Uint8Array);
      else controller.close();
    },
  });
}

test("a stream chunk that is not bytes is a TypeError naming it", async () => {
  const cases: [unknown, RegExp][] = [
    [5, /number 5/],
    [{}, /an object \(Object\)/],
    [new ArrayBuffer(8), /an ArrayBuffer/],
    ["GGUF", /a string/],
  ];
  for (const [chunk, name] of cases) {
    await assert.rejects(openGgufModel(streamOf([chunk])), (e: unknown) => {
      assert.ok(e instanceof TypeError, `${String(chunk)}: ${e}`);
      assert.match(e.message, name);
      return true;
    });
    // An endless stream of them ends at the first.
    const endless = new ReadableStream({ pull: (c) => c.enqueue(chunk as Uint8Array) });
    await assert.rejects(openGgufModel(endless), TypeError);
  }
  // Any other view of bytes is taken as its bytes: a DataView, an Int8Array.
  const model = new Uint8Array(readFileSync(SAMPLE));
  const half = model.length >> 1;
  const views = [
    new DataView(model.buffer, model.byteOffset, half),
    new Int8Array(model.buffer, model.byteOffset + half, model.length - half),
  ];
  const out = new Uint8Array(await new Response(convertStream(streamOf(views))).arrayBuffer());
  const want = await convertedDigest(SAMPLE);
  assert.equal(createHash("sha256").update(out).digest("hex"), want.sha256);
});

test("an endless stream of empty chunks still lets an abort fire", async () => {
  for (const chunk of [new Uint8Array(0), new DataView(new ArrayBuffer(0))]) {
    const endless = new ReadableStream({ pull: (c) => c.enqueue(chunk as Uint8Array) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("enough")), 50);
    await assert.rejects(
      openGgufModel(endless, { signal: controller.signal }),
      (e: unknown) => e instanceof GgufError && e.code === "ABORTED",
    );
  }
});

test("a pipe or directory named as the model is refused at once, with advice", {
  skip: LINUX && spawnSync("mkfifo", ["--version"]).status === 0 ? false : "needs mkfifo",
}, async () => {
  const fifo = join(dir, "model.fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  // No writer: opening it for reading would wait forever.
  for (const input of [fifo, dir]) {
    const run = await runChild(["cli", input, "--plan"]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(
      run.stderr,
      input === fifo ? /pipe \(FIFO\).*MODEL "-".*< <\(cmd\)/ : /is a directory/,
    );
  }
  // With a writer, as a process substitution <(curl …) gives it.
  const writer = spawn("sh", ["-c", `cat "${SAMPLE}" > "${fifo}"`], { stdio: "ignore" });
  const run = await runChild(["cli", fifo, "--plan"]);
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /pipe \(FIFO\).*MODEL "-"/);
  writer.kill();
  rmSync(fifo);
});

// ---- The edge servers ----------------------------------------------------------------

const tools = ["deno", "bun", "workerd"].every((name) => existsSync(join(BIN, name)));
const serversSkip = !tools
  ? "deno, bun and workerd are not installed in node_modules"
  : LINUX
  ? false
  : "reads servers' memory from /proc";

interface Server {
  url: string;
  child: ChildProcess;
  /** The server process (for workerd, the node process that started it). */
  pid: number;
}

async function start(name: string, env: Record<string, string> = {}): Promise<Server> {
  let command: string;
  let args: string[];
  if (name === "deno") {
    [command, args] = [join(BIN, "deno"), ["run", "-A", "examples/serve_deno.ts", "0"]];
  } else if (name === "bun") [command, args] = [join(BIN, "bun"), ["examples/serve_bun.ts", "0"]];
  else {
    mkdirSync(join(ROOT, "out"), { recursive: true });
    const build = spawnSync(join(BIN, "bun"), [
      "build",
      "examples/edge_convert.ts",
      "--outfile",
      "out/edge_convert.js",
      "--target",
      "browser",
      "--external",
      "node:*",
    ], { cwd: ROOT, encoding: "utf8" });
    assert.equal(build.status, 0, build.stderr);
    [command, args] = ["node", ["examples/serve_workerd.mjs", "0"]];
  }
  const child = spawn(command, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${output}`)), 60_000);
    const onData = (data: Uint8Array) => {
      output += new TextDecoder().decode(data);
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].endsWith("/") ? match[1] : match[1] + "/");
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code}: ${output}`)));
  });
  return { url, child, pid: child.pid! };
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.on("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

function peakOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB/m)![1]) *
    1024;
}

/**
 * POSTs `head` and then `trailing` more zero bytes, all declared in Content-Length. With
 * `keepSending`, everything is written whatever the server answers (as a client that does
 * not watch the response would: curl -T), else sending stops once the response is in.
 * Resolves with the response once it is complete and sending stopped, or the connection
 * closed.
 */
async function postAll(
  url: string,
  head: Uint8Array,
  trailing: number,
  keepSending = false,
): Promise<{ status: number; length: number; sha256: string }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const hash = createHash("sha256");
  let received = new Uint8Array(0);
  let status = 0;
  let bodyLength = 0;
  let contentLength = -1;
  let chunked: { left: number; buffer: Uint8Array; done: boolean } | undefined;
  let finish = () => {};
  const complete = () =>
    chunked?.done === true || (contentLength >= 0 && bodyLength >= contentLength);
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  const done = new Promise<void>((resolve) => {
    finish = resolve;
    socket.on("close", () => resolve());
    socket.on("error", () => {});
    socket.on("data", (data: Uint8Array) => {
      if (status === 0) {
        const joined = new Uint8Array(received.length + data.length);
        joined.set(received);
        joined.set(data, received.length);
        received = joined;
        const text = new TextDecoder("latin1").decode(received);
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        status = Number(text.split(" ")[1]);
        const head = text.slice(0, end);
        chunked = /transfer-encoding:\s*chunked/i.test(head)
          ? { left: -1, buffer: new Uint8Array(0), done: false }
          : undefined;
        const length = head.match(/content-length:\s*(\d+)/i);
        if (length !== null) contentLength = Number(length[1]);
        data = received.subarray(end + 4);
      }
      if (chunked === undefined) {
        hash.update(data);
        bodyLength += data.length;
        if (complete()) finish();
        return;
      }
      // Chunked: strip the framing.
      let buffer = new Uint8Array(chunked.buffer.length + data.length);
      buffer.set(chunked.buffer);
      buffer.set(data, chunked.buffer.length);
      for (;;) {
        if (chunked.left > 0) {
          const take = Math.min(chunked.left, buffer.length);
          if (take === 0) break;
          hash.update(buffer.subarray(0, take));
          bodyLength += take;
          chunked.left -= take;
          buffer = buffer.subarray(take);
          if (chunked.left === 0) chunked.left = -2;
          continue;
        }
        if (chunked.left === -2) {
          if (buffer.length < 2) break;
          buffer = buffer.subarray(2);
          chunked.left = -1;
          continue;
        }
        const text = new TextDecoder("latin1").decode(buffer.subarray(0, 32));
        const line = text.indexOf("\r\n");
        if (line < 0) break;
        const size = parseInt(text.slice(0, line), 16);
        buffer = buffer.subarray(line + 2);
        if (size === 0) {
          chunked.done = true;
          finish();
          break;
        }
        chunked.left = size;
      }
      chunked.buffer = buffer.slice();
    });
  });
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(
    `POST / HTTP/1.1\r\nHost: ${hostname}\r\nContent-Length: ${head.length + trailing}\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  const zeros = new Uint8Array(1 << 20);
  const pieces = [head];
  for (let left = trailing; left > 0; left -= zeros.length) {
    pieces.push(zeros.subarray(0, Math.min(left, zeros.length)));
  }
  for (const piece of pieces) {
    if (socket.destroyed || (complete() && !keepSending)) break;
    if (!socket.write(piece)) {
      await Promise.race([new Promise((r) => socket.once("drain", r)), closed]);
    }
  }
  // Everything handed to the system (or the server hung up), then the whole response.
  if (keepSending && !socket.destroyed) {
    await Promise.race([new Promise<void>((r) => socket.end(() => r())), closed]);
  }
  await done;
  socket.destroy();
  return { status, length: bodyLength, sha256: hash.digest("hex") };
}

async function* chunksOf(bytes: Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const SERVERS = ["deno", "bun", "workerd"] as const;

/** An 18 MiB synthetic model, written once, and what the file path makes of it. */
let synthetic: Promise<{ path: string; bytes: Uint8Array; sha256: string }> | undefined;
function syntheticModel() {
  synthetic ??= (async () => {
    const path = join(dir, "synthetic.gguf");
    writeSyntheticModel(path, { embd: 512, ff: 1536, vocab: 8000, layers: 6, seed: 7 });
    const { sha256 } = await convertedDigest(path);
    return { path, bytes: new Uint8Array(readFileSync(path)), sha256 };
  })();
  return synthetic;
}

for (const name of SERVERS) {
  test(`the edge server under ${name} takes trailing bytes, limits and bad requests in stride`, {
    skip: serversSkip,
  }, async () => {
    // Limits small enough to meet; workerd keeps the example's defaults.
    const env = { GGUF_MAX_BODY_BYTES: String(80 * MiB), GGUF_MAX_HEADER_MEMORY: String(16 * MiB) };
    const server = await start(name, env);
    try {
      // A model followed by 48 MiB of trailing bytes (sent whatever the answer), then at
      // once a normal request.
      const synthetic = await syntheticModel();
      const padded = await postAll(server.url, synthetic.bytes, 48 * MiB, true);
      assert.equal(padded.status, 200);
      assert.equal(padded.sha256, synthetic.sha256, "the padded model's output");
      const model = new Uint8Array(readFileSync(SAMPLE));
      const want = await convertedDigest(SAMPLE);
      const next = await duplexPost(server.url, chunksOf(model), model.length);
      assert.equal(next.status, 200);
      assert.equal(next.sha256, want.sha256, "the next request's output");
      // Refused from the request line and headers alone. (Small bodies: a server that
      // answers early and closes with bytes unread may reset the connection, which can
      // drop the answer before the client reads it; workerd does.)
      const small = model.subarray(0, 64);
      const get = await fetch(server.url);
      assert.equal(get.status, 405);
      await get.body?.cancel();
      const gzip = await fetch(server.url, {
        method: "POST",
        headers: { "content-encoding": "gzip" },
        body: small,
      });
      assert.equal(gzip.status, 415);
      await gzip.body?.cancel();
      const form = new FormData();
      form.append("model", new Blob([small]));
      const formResponse = await fetch(server.url, { method: "POST", body: form });
      assert.equal(formResponse.status, 415);
      await formResponse.body?.cancel();
      const readme = new Uint8Array(readFileSync(join(ROOT, "README.md")));
      const bad = await duplexPost(server.url, chunksOf(readme), readme.length);
      assert.equal(bad.status, 400);
      // A header cut off (its counts larger than the bytes that follow): the model's fault.
      const cut = model.subarray(0, 100);
      const short = await duplexPost(server.url, chunksOf(cut), cut.length);
      assert.equal(short.status, 400, short.text);
      assert.match(short.text, /bytes remain/);
      // A query's text comes back escaped, on one line.
      const query = new URL(server.url);
      query.search = "?requantize=Q8%0Asecond%20line&%1B%5B2J=1";
      const echoed = await duplexPost(query.href, chunksOf(readme), readme.length);
      assert.equal(echoed.status, 400);
      assert.ok(!echoed.text.includes("\x1b"), echoed.text);
      assert.match(echoed.text, /^error: unknown query parameter "\\x1b\[2J"/);
      assert.equal(echoed.text.trimEnd().split("\n").length, 1, echoed.text);
      if (name !== "workerd") {
        // A Content-Length past the limit: 413 before a byte is read.
        const big = await postAll(server.url, model.subarray(0, 1024), 80 * MiB);
        assert.equal(big.status, 413);
        // A header past the server's budget: 413, before any output.
        const nested = join(dir, `nested-${name}.gguf`);
        writeHostile(nested, "nested", 200_000, 1000);
        const bytes = new Uint8Array(readFileSync(nested));
        rmSync(nested);
        const hostile = await duplexPost(server.url, chunksOf(bytes), bytes.length);
        assert.equal(hostile.status, 413, hostile.text);
        assert.match(hostile.text, /budget/);
      }
      // And the server still converts.
      const last = await duplexPost(server.url, chunksOf(model), model.length);
      assert.equal(last.sha256, want.sha256);
    } finally {
      await stop(server);
    }
  });
}

test("20 concurrent edge conversions: Deno's memory per request within 2× Bun's", {
  skip: serversSkip,
}, async () => {
  const { bytes, sha256 } = await syntheticModel();
  const perRequest = new Map<string, number>();
  for (const name of ["deno", "bun"]) {
    // All twenty at once: past the default cap (8) the others would be turned away.
    const server = await start(name, { GGUF_MAX_CONCURRENT: "20" });
    try {
      const warm = await duplexPost(server.url, chunksOf(bytes), bytes.length);
      assert.equal(warm.sha256, sha256);
      const base = peakOf(server.pid);
      const results = await Promise.all(
        Array.from({ length: 20 }, () => duplexPost(server.url, chunksOf(bytes), bytes.length)),
      );
      for (const result of results) assert.equal(result.sha256, sha256);
      const peak = peakOf(server.pid);
      perRequest.set(name, (peak - base) / 20);
      process.stderr.write(
        `${name}: 20 concurrent conversions of ${mib(bytes.length)}: peak ${mib(peak)} (${
          mib(base)
        } after one), ${((peak - base) / 20 / MiB).toFixed(1)} MiB per request\n`,
      );
    } finally {
      await stop(server);
    }
  }
  const deno = perRequest.get("deno")!;
  const bun = perRequest.get("bun")!;
  assert.ok(deno <= 2 * Math.max(bun, 2 * MiB), `Deno ${mib(deno)} vs Bun ${mib(bun)} per request`);
});
