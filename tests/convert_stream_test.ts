import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  convertGguf,
  convertStream,
  convertTensors,
  GgufError,
  readGguf,
  readGgufStream,
} from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { ggufToJson } from "../src/cli/gguf_json.ts";
import { conformance, fixture, listFixtures, STRICT_REFUSALS } from "./_fixtures.ts";
import { concat, convertedDigest, sha256 } from "./_hash.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const silent = () => {};

/** A pull-based stream over `bytes` in chunks of `size`, counting what it delivered. */
function chunked(bytes: Uint8Array, size: number) {
  const state = { delivered: 0, cancelled: false as unknown };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.delivered >= bytes.length) return controller.close();
      const end = Math.min(bytes.length, state.delivered + size);
      controller.enqueue(bytes.slice(state.delivered, end));
      state.delivered = end;
    },
    cancel(reason) {
      state.cancelled = reason ?? true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

test(
  "convertStream() output is byte-identical to the file path under many chunkings",
  conformance,
  async () => {
    for (const f of listFixtures().filter((f) => !f.id.startsWith("split/"))) {
      const lenient = STRICT_REFUSALS[f.id] !== undefined;
      const bytes = new Uint8Array(readFileSync(f.path));
      const expected = (await convertedDigest(f.path, lenient)).sha256;
      const sizes = [bytes.length, 65537, 4093, 7, ...(bytes.length <= 64 * 1024 ? [1] : [])];
      for (const size of sizes) {
        const { stream } = chunked(bytes, size);
        const out = await collect(convertStream(stream, { lenient, onWarning: silent }));
        assert.equal(sha256(out), expected, `${f.id} in chunks of ${size}`);
      }
    }
  },
);

test(
  "convertStream() requantizes to the same bytes as the file path",
  conformance,
  async () => {
    for (const id of ["gen/all-types.gguf", "gen/kquants.gguf", "gen/iq-imatrix.gguf"]) {
      for (const policy of [{ requantize: "Q8_0" as const }, { requantize: "Q4_0" as const }]) {
        const bytes = new Uint8Array(readFileSync(fixture(id).path));
        const expected = (await convertedDigest(fixture(id).path, false, policy)).sha256;
        const { stream } = chunked(bytes, 4093);
        const out = await collect(convertStream(stream, { policy, onWarning: silent }));
        assert.equal(sha256(out), expected, `${id} ${policy.requantize}`);
      }
    }
  },
);

test("readGgufStream() yields every tensor's bytes in file order", conformance, async () => {
  const f = fixture("gen/all-types.gguf");
  const bytes = new Uint8Array(readFileSync(f.path));
  const { stream } = chunked(bytes, 1000);
  const model = await readGgufStream(stream, { windowBytes: 777 });
  let i = 0;
  for await (const tensor of model) {
    const pieces: Uint8Array[] = [];
    for await (const chunk of tensor.data) {
      assert.ok(chunk.length <= 777);
      pieces.push(chunk.slice());
    }
    const data = concat(pieces);
    const start = tensor.info.fileOffset;
    assert.deepEqual(data, bytes.subarray(start, start + tensor.info.nbytes), tensor.info.name);
    i++;
  }
  assert.equal(i, f.expected.tensors.length);
});

test("truncated and bad streams give a GgufError", conformance, async () => {
  const bytes = new Uint8Array(readFileSync(fixture("gen/kquants.gguf").path));
  for (const cut of [0, 3, 100, 2000, bytes.length - 1]) {
    const { stream } = chunked(bytes.subarray(0, cut), 4096);
    await assert.rejects(
      collect(convertStream(stream, { onWarning: silent })),
      // Cut inside the header, counts no longer fit the bytes left: LIMIT_EXCEEDED, as from a file.
      (e: unknown) => e instanceof GgufError && ["TRUNCATED", "LIMIT_EXCEEDED"].includes(e.code),
      `cut at ${cut}`,
    );
  }
  const bad = bytes.slice();
  bad[0] = 0;
  await assert.rejects(
    collect(convertStream(chunked(bad, 4096).stream)),
    (e: unknown) => e instanceof GgufError && e.code === "BAD_MAGIC",
  );
});

test("a stream cut in its data says how much of the data is missing, on every path", async () => {
  const bytes = new Uint8Array(readFileSync(join(ROOT, "samples", "tiny-llama.gguf")));
  assert.equal(bytes.length, 1_035_904); // its data runs to its last byte
  // Where the stream ends, and what the whole file lacks from there (not what the tensor
  // being read lacks).
  const cuts: [number, string, string][] = [
    [500_000, "500_000", "535_904"],
    [900_000, "900_000", "135_904"],
    [1_035_903, "1_035_903", "1"],
  ];
  for (const [cut, at, short] of cuts) {
    const told = (e: unknown) => {
      assert.ok(e instanceof GgufError, String(e));
      assert.equal(e.code, "TRUNCATED");
      assert.equal(e.offset, cut);
      assert.equal(
        e.message,
        `Cannot read the stream: it ended at byte ${at}, ${short} bytes short of the data the header describes`,
      );
      return true;
    };
    const input = () => chunked(bytes.subarray(0, cut), 4093).stream;
    await assert.rejects(collect(convertStream(input(), { onWarning: silent })), told);
    await assert.rejects(convertGguf(input(), { onWarning: silent }), told);
    await assert.rejects(async () => {
      for await (const tensor of await readGgufStream(input())) {
        for await (const _ of tensor.data) { /* read it all */ }
      }
    }, told);
  }
});

test("a slow consumer does not make the input run ahead", conformance, async () => {
  const bytes = new Uint8Array(readFileSync(fixture("gen/kquants.gguf").path));
  const { stream, state } = chunked(bytes, 16 * 1024);
  const reader = convertStream(stream, { onWarning: silent, chunkBytes: 64 * 1024 }).getReader();
  await reader.read();
  await reader.read();
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
  // Header (64 KiB read) plus at most a couple of 64 KiB input chunks, not the whole file.
  assert.ok(state.delivered < 300 * 1024, `input ran ahead: ${state.delivered} of ${bytes.length}`);
  await reader.cancel("enough");
  assert.ok(state.cancelled, "cancelling the output cancels the input");
});

test("tensors out of offset order are refused before any output", async () => {
  const header = encodeGgufHeader({
    alignment: 32,
    metadata: [],
    tensors: [
      { name: "a", shape: [8], type: 0, nbytes: 32 },
      { name: "b", shape: [8], type: 0, nbytes: 32 },
    ],
  });
  const bytes = new Uint8Array(header.fileSize);
  bytes.set(header.bytes);
  // Each index entry: name length (8), name (1), n_dims (4), one dim (8), type (4), offset (8).
  const entry = 8 + 1 + 4 + 8 + 4 + 8;
  const offsetOf = (i: number) => 24 + i * entry + entry - 8;
  const view = new DataView(bytes.buffer);
  view.setBigUint64(offsetOf(0), 32n, true); // the index says a, b; the data says b, a
  view.setBigUint64(offsetOf(1), 0n, true);
  // ggml refuses data out of index order (BAD_LAYOUT); read leniently, one pass cannot.
  await assert.rejects(readGgufStream(new Blob([bytes]).stream()), { code: "BAD_LAYOUT" });
  const lenient = true;
  let emitted = 0;
  await assert.rejects(
    (async () => {
      const stream = convertStream(new Blob([bytes]).stream(), { lenient });
      for await (const chunk of stream) emitted += chunk.length;
    })(),
    (e: unknown) => e instanceof GgufError && e.code === "NOT_SEQUENTIAL",
  );
  assert.equal(emitted, 0);
  await assert.rejects(
    readGgufStream(new Blob([bytes]).stream(), { lenient }),
    (e: unknown) => e instanceof GgufError && e.code === "NOT_SEQUENTIAL",
  );
});

const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUN = join(ROOT, "node_modules", ".bin", "bun");

test(
  "CLI - -o - pipes are byte-identical to -o FILE on Deno and Bun",
  {
    skip: conformance.skip ||
      (existsSync(DENO) && existsSync(BUN) ? false : "deno and bun are not installed"),
  },
  async () => {
    // Through the shell with files on both ends, as a user would pipe: spawnSync's own
    // `input` can deadlock on Deno when stdin and stdout pipes both fill.
    const dir = mkdtempSync(join(tmpdir(), "gguf-stream-pipe-"));
    try {
      for (const id of ["gen/kquants.gguf", "real/ollama-llama-2-tiny-random.gguf"]) {
        const expected = (await convertedDigest(fixture(id).path)).sha256;
        for (const command of [`'${DENO}' run -A convert.ts`, `'${BUN}' convert.ts`]) {
          const out = join(dir, "out.gguf");
          const run = spawnSync("bash", [
            "-c",
            `cat '${fixture(id).path}' | ${command} - -o - -q > '${out}'`,
          ], {
            cwd: ROOT,
            encoding: "utf8",
          });
          assert.equal(run.status, 0, run.stderr);
          assert.equal(sha256(readFileSync(out)), expected, `${id} via ${command}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "readGguf(), convertGguf() and convertTensors() take a ReadableStream too",
  conformance,
  async () => {
    for (const id of ["gen/all-types.gguf", "gen/kquants.gguf", "real/ggml-vocab-bert-bge.gguf"]) {
      const bytes = new Uint8Array(readFileSync(fixture(id).path));
      const fromBytes = await convertGguf(bytes, { onWarning: silent });
      const header = await readGguf(chunked(bytes, 5000).stream);
      assert.deepEqual(ggufToJson(header).tensors, ggufToJson(fromBytes.header).tensors, id);
      const fromStream = await convertGguf(chunked(bytes, 3001).stream, { onWarning: silent });
      assert.deepEqual([...fromStream.tensors.keys()], [...fromBytes.tensors.keys()], id);
      for (const [name, tensor] of fromBytes.tensors) {
        const streamed = fromStream.tensors.get(name)!;
        assert.equal(streamed.typeName, tensor.typeName, `${id} ${name}`);
        assert.equal(streamed.zeroCopy, false);
        assert.deepEqual(streamed.data, tensor.data, `${id} ${name}`);
      }
      let count = 0;
      for await (
        const _ of convertTensors(chunked(bytes, 65537).stream, { onWarning: silent })
      ) count++;
      assert.equal(count, fromBytes.tensors.size);
    }
  },
);

test("a caller's stream that fails is a GgufError IO at the byte it stopped, whatever it threw", async () => {
  const sample = readFileSync(join(ROOT, "samples", "tiny-llama.gguf"));
  /** The sample in 64 KiB chunks, failing with `reason` once `after` bytes are sent. */
  const failing = (after: number, reason: unknown) => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= after) return controller.error(reason);
        controller.enqueue(sample.slice(sent, sent + 65536));
        sent += 65536;
      },
    });
  };
  const io = (at: number, why: string) => (e: unknown) =>
    e instanceof GgufError && e.code === "IO" && e.offset === at &&
    e.message ===
      `Cannot read the stream at byte ${
        at.toLocaleString("en").replaceAll(",", "_")
      }: it failed (${why})`;
  // In the header (a RangeError of the caller's must not pass for one of ours), and as a
  // string, which is not an Error at all.
  await assert.rejects(readGguf(failing(0, new RangeError("boom"))), io(0, "boom"));
  await assert.rejects(readGguf(failing(0, "reset")), io(0, "reset"));
  // Among the tensors: a fetch() body that broke, say.
  const converted = convertStream(failing(327_680, new TypeError("network reset")));
  await assert.rejects(
    (async () => {
      for await (const _ of converted) { /* drained */ }
    })(),
    io(327_680, "network reset"),
  );
});

test(
  "outputs dropped part-way and collected stop their conversions, worker threads and all",
  { skip: existsSync("/proc/self/status") ? false : "threads are counted in /proc" },
  () => {
    const child = join(ROOT, "tests/_abandon_child.ts");
    const args = "Deno" in globalThis
      ? ["run", "-A", "--v8-flags=--expose-gc", child]
      : "Bun" in globalThis
      ? [child]
      : ["--expose-gc", child];
    const run = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const { before, after } = JSON.parse(run.stdout.trim().split("\n").pop()!);
    // Each of the four would leave a worker: one thread of slack for the runtime's own.
    assert.ok(
      after <= before + 1,
      `threads: ${before} after one dropped output, ${after} after five`,
    );
  },
);
