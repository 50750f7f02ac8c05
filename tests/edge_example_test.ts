/**
 * The edge example (examples/edge_convert.ts) end to end on localhost under Deno (node:http),
 * Bun.serve and workerd: output byte-identical to the file path,
 * bad models answered with 400, and workerd's peak memory for the ~330 MB bench model.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureSyntheticModel } from "../bench/synthetic_model.ts";
import { duplexPost } from "./_duplex_http.ts";
import { convertedDigest } from "./_hash.ts";
import { conformance, listFixtures, STRICT_REFUSALS } from "./_fixtures.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const tools = ["deno", "bun", "workerd"].every((name) => existsSync(join(BIN, name)));
const skip = conformance.skip ||
  (tools ? false : "deno, bun and workerd are not installed in node_modules");

/** Starts a server and waits for its "listening on URL" line. */
async function start(
  command: string,
  args: string[],
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "listening on" from ${command}: ${output}`)),
      60_000,
    );
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
    child.on("exit", (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
  return { url, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function* fileChunks(path: string, size = 256 * 1024): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(path, { highWaterMark: size })) {
    yield chunk as Uint8Array;
  }
}

/** The process ids of `pid`'s descendants named `name`. */
function descendants(pid: number, name: string): number[] {
  const parents = new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      names.set(Number(entry), comm);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      if (names.get(child) === name) out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

function peakKb(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB/m)![1]);
}

const SERVERS: [string, () => Promise<{ url: string; child: ChildProcess }>][] = [
  // Deno serves through node:http: Deno.serve buffers whole uploads (see serve_deno.ts).
  ["Deno", () => start(join(BIN, "deno"), ["run", "-A", "examples/serve_deno.ts", "0"])],
  ["Bun.serve", () => start(join(BIN, "bun"), ["examples/serve_bun.ts", "0"])],
  ["workerd", () => {
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
    return start("node", ["examples/serve_workerd.mjs", "0"]);
  }],
];

for (const [name, launch] of SERVERS) {
  test(`the edge example converts byte-identically under ${name}`, { skip }, async () => {
    const { url, child } = await launch();
    try {
      for (const [i, f] of listFixtures().filter((f) => !f.id.startsWith("split/")).entries()) {
        const size = [4093, 65537, 1 << 20][i % 3]; // the client's write sizes vary
        if (STRICT_REFUSALS[f.id] !== undefined) {
          // Refused from the header alone. Only the header's first 64 KiB are sent: a server that
          // answers early and closes with request bytes unread resets the connection (TCP RST),
          // which can drop the response before the client reads it.
          const head = new Uint8Array(readFileSync(f.path).subarray(0, 65536));
          const refused = await duplexPost(
            url,
            (async function* () {
              yield head;
            })(),
            head.length,
          );
          assert.equal(refused.status, 400, f.id);
          assert.match(refused.text, /^error: /, f.id);
          continue;
        }
        const got = await duplexPost(url, fileChunks(f.path, size), statSync(f.path).size);
        const want = await convertedDigest(f.path);
        assert.equal(got.status, 200, `${f.id}: ${got.text}`);
        assert.equal(got.length, want.length, f.id);
        assert.equal(got.sha256, want.sha256, f.id);
      }
      const bad = readFileSync(join(ROOT, "README.md"));
      const refused = await duplexPost(
        url,
        (async function* () {
          yield new Uint8Array(bad);
        })(),
        bad.length,
      );
      assert.equal(refused.status, 400);
      assert.match(refused.text, /^error: Cannot read the header: expected the magic bytes "GGUF"/);
      // A model cut off in a tensor: the answer has begun, and must not end as a whole one.
      const cut = new Uint8Array(
        readFileSync(join(ROOT, "samples/tiny-llama.gguf")).subarray(0, 700_000),
      );
      const truncated = await duplexPost(
        url,
        (async function* () {
          yield cut;
        })(),
        cut.length,
      ).catch((error: Error) => ({ status: 200, complete: false, length: error.message }));
      assert.equal(truncated.status, 200);
      // Cut (a reset, under Bun) or short of its length: not a whole answer.
      assert.equal(truncated.complete, false, `${truncated.length} bytes ended as a whole answer`);
    } finally {
      await stop(child);
    }
  });
}

test("workerd converts the ~330 MB bench model under 128 MiB peak RSS", { skip }, async () => {
  // In a temporary folder, removed after: the test suite leaves no 322 MB file behind.
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-edge-"));
  const model = ensureSyntheticModel(330, dir);
  const want = await convertedDigest(model);
  const { url, child } = await SERVERS[2][1]();
  try {
    const [workerd] = descendants(child.pid!, "workerd");
    assert.ok(workerd !== undefined, "the workerd process");
    const got = await duplexPost(url, fileChunks(model), statSync(model).size);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.sha256, want.sha256);
    const peak = peakKb(workerd) / 1024;
    process.stderr.write(`workerd peak RSS converting ${model}: ${peak.toFixed(0)} MiB\n`);
    assert.ok(peak < 128, `workerd peaked at ${peak.toFixed(0)} MiB`);
  } finally {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the edge handler's every refusal is one error line; a defect after the header cuts the body", async () => {
  const { edgeConvert } = await import("../examples/edge_convert.ts");
  const handler = edgeConvert();
  const get = await handler.fetch(new Request("http://localhost/"));
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST, PUT");
  assert.match(await get.text(), /^error: [^\n]+\n$/);
  // The sample cut off in its last tensor: the header and plan are sound, so the answer
  // starts (200); the missing bytes then end the body with an error, not a clean end.
  const sample = readFileSync(join(ROOT, "samples", "tiny-llama.gguf"));
  const cut = await handler.fetch(
    new Request("http://localhost/", { method: "POST", body: sample.subarray(0, -1000) }),
  );
  assert.equal(cut.status, 200);
  await assert.rejects(cut.arrayBuffer());
});

test("the edge handler refuses a query parameter the CLI has no flag for, or one given twice", async () => {
  const { edgeConvert } = await import("../examples/edge_convert.ts");
  const handler = edgeConvert();
  const sample = readFileSync(join(ROOT, "samples", "tiny-llama.gguf"));
  const post = (query: string) =>
    handler.fetch(new Request(`http://localhost/${query}`, { method: "POST", body: sample }));
  const typo = await post("?requantise=Q8_0");
  assert.equal(typo.status, 400);
  assert.equal(
    await typo.text(),
    'error: unknown query parameter "requantise" (did you mean requantize or dequantize?); known: target, ' +
      "requantize, method, max-error, for, keep, dequantize, unsupported\n",
  );
  const twice = await post("?target=Q8_0,F32&target=F32");
  assert.equal(twice.status, 400);
  assert.match(await twice.text(), /^error: query parameter "target" is given twice\n$/);
  // A flag that would change nothing is refused here as on the command line.
  const idle = await post("?method=reference");
  assert.equal(idle.status, 400);
  assert.match(await idle.text(), /^error: method chooses how requantize converts/);
  const fine = await post("?requantize=Q8_0");
  assert.equal(fine.status, 200);
  await fine.arrayBuffer();
});

test("the launchers' limits take bytes as the CLI does, and refuse others in one line", async () => {
  const { limitsFromEnv } = await import("../examples/edge_convert.ts");
  const env = (values: Record<string, string>) => (name: string) => values[name];
  assert.deepEqual(
    limitsFromEnv(
      env({
        GGUF_MAX_HEADER_MEMORY: "256M",
        GGUF_MAX_BODY_BYTES: "1000",
        GGUF_BODY_IDLE_SECONDS: "2.5",
        GGUF_MAX_CONCURRENT: "3",
      }),
    ),
    {
      maxBodyBytes: 1000,
      maxHeaderMemory: 256 << 20,
      maxHeaderBytes: undefined,
      bodyIdleMs: 2500,
      maxConcurrent: 3,
    },
  );
  assert.throws(
    () => limitsFromEnv(env({ GGUF_MAX_CONCURRENT: "2.5" })),
    /^TypeError: GGUF_MAX_CONCURRENT must be a whole number from 1 to 100000, not "2\.5"$/,
  );
  assert.throws(() => limitsFromEnv(env({ GGUF_BODY_IDLE_SECONDS: "0" })), /from 0\.001 to 86400/);
  assert.throws(
    () => limitsFromEnv(env({ GGUF_MAX_HEADER_BYTES: "lots" })),
    /^TypeError: GGUF_MAX_HEADER_BYTES must be a positive number of bytes, such as 268435456 or 256M, not "lots"$/,
  );
});

test("an empty body is refused alike, whether its length was said or not", async () => {
  const { edgeConvert } = await import("../examples/edge_convert.ts");
  const handler = edgeConvert();
  const empty = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
  const answer = await handler.fetch(
    // @ts-ignore: duplex is needed for a stream body where the fetch spec is followed
    new Request("http://localhost/", { method: "POST", body: empty, duplex: "half" }),
  );
  assert.equal(answer.status, 400);
  assert.equal(await answer.text(), "error: the request has no body: send a GGUF model\n");
});

test("a body that sends nothing for bodyIdleMs is answered 408, or cut once the answer began", async () => {
  const { edgeConvert } = await import("../examples/edge_convert.ts");
  const handler = edgeConvert({ bodyIdleMs: 100 });
  const sample = readFileSync(join(ROOT, "samples", "tiny-llama.gguf"));
  let cancelled = 0;
  const stalling = (bytes: Uint8Array) =>
    new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(bytes.slice()),
      cancel: () => void cancelled++,
    });
  const post = (bytes: Uint8Array) =>
    handler.fetch(
      // @ts-ignore: duplex is needed for a stream body where the fetch spec is followed
      new Request("http://localhost/", { method: "POST", body: stalling(bytes), duplex: "half" }),
    );
  // In the header: 408 with one error line.
  const early = await post(sample.subarray(0, 100));
  assert.equal(early.status, 408);
  assert.equal(
    await early.text(),
    "error: Cannot read the request body: the client sent nothing for 0.1 s\n",
  );
  // In the tensors, after the answer began: the answer is cut.
  const late = await post(sample.subarray(0, 700_000));
  assert.equal(late.status, 200);
  await assert.rejects(late.arrayBuffer(), /the client sent nothing/);
  assert.equal(cancelled, 2, "the stalled bodies are cancelled");
});

test("past maxConcurrent a request is answered 503; every ending frees its place", async () => {
  const { edgeConvert } = await import("../examples/edge_convert.ts");
  const handler = edgeConvert({ maxConcurrent: 1 });
  const sample = new Uint8Array(readFileSync(join(ROOT, "samples", "tiny-llama.gguf")));
  const post = (body: ReadableStream<Uint8Array> | Uint8Array) =>
    handler.fetch(
      // @ts-ignore: duplex is needed for a stream body where the fetch spec is followed
      new Request("http://localhost/", { method: "POST", body, duplex: "half" }),
    );
  const whole = async () => {
    const answer = await post(sample.slice());
    assert.equal(answer.status, 200);
    return new Uint8Array(await answer.arrayBuffer());
  };
  const expected = await whole();

  // One conversion waits on its body: the next request is turned away, its body unread.
  let send!: ReadableStreamDefaultController<Uint8Array>;
  const slow = post(
    new ReadableStream({ start: (c) => void (send = c, c.enqueue(sample.slice(0, 100))) }),
  );
  let turnedAwayCancelled = false;
  const busy = await post(
    new ReadableStream({
      start: (c) => c.enqueue(sample.slice()),
      cancel: () => void (turnedAwayCancelled = true),
    }),
  );
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "5");
  assert.equal(
    await busy.text(),
    "error: this server is busy (1 conversions at once, its limit); try again in a few seconds\n",
  );
  assert.ok(turnedAwayCancelled, "the turned-away body is cancelled");
  // The first one ends: its place is free again.
  send.enqueue(sample.slice(100));
  send.close();
  const first = await slow;
  assert.deepEqual(new Uint8Array(await first.arrayBuffer()), expected);
  assert.deepEqual(await whole(), expected);

  // A refused model, and an answer its client cancels, free their places too.
  for (let i = 0; i < 3; i++) {
    const bad = await post(new TextEncoder().encode("not a model at all, just text"));
    assert.equal(bad.status, 400);
    await bad.text();
  }
  const dropped = await post(sample.slice());
  assert.equal(dropped.status, 200);
  await dropped.body!.cancel();
  assert.deepEqual(await whole(), expected);
});
