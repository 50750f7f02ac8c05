/**
 * Worker threads change nothing but the time: on a model whose tensors are big enough to
 * be split between threads (fixture tensors tiled row-wise), every path gives ggml's bytes
 * (each tile is checked against the fixture's oracle digests) and the bytes of one thread.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  type ConversionPolicy,
  convertFile,
  convertGguf,
  convertStream,
  ggmlType,
  GgufError,
} from "../mod.ts";
import { encodeGgufHeader, type TensorLayoutInput } from "../src/format/encode_header.ts";
import { ConvertThreads } from "../src/convert/convert_threads.ts";
import { canStartWorkers } from "../src/runtime/current.ts";
import { RUNTIME } from "../src/runtime/current.ts";
import { conformance, type ExpectedTensor, fixtureBytes, listFixtures } from "./_fixtures.ts";
import { sha256 } from "./_hash.ts";

const noWorkers = canStartWorkers() ? false : "this runtime has no worker threads";
/** Small steps, so that each tensor takes several (each split between the threads). */
const CHUNK_BYTES = 64 * 1024;

interface Tile {
  /** The fixture tensor repeated. */
  tensor: ExpectedTensor;
  /** Its bytes. */
  bytes: Uint8Array;
  /** How many times. */
  count: number;
}

/**
 * One tensor per type with an oracle digest, each repeated to span a few steps (and to
 * hold at least `minElements` values).
 */
function tiledModel(dir: string, minElements = 0): { path: string; tiles: Tile[] } {
  const tiles: Tile[] = [];
  const seen = new Set<number>();
  for (const f of listFixtures()) {
    const bytes = fixtureBytes(f);
    if (bytes[4] === 0 || !f.id.startsWith("gen/")) continue; // little-endian oracle files
    for (const tensor of f.expected.tensors) {
      const traits = ggmlType(tensor.type_id);
      if (tensor.f32_sha256 === null || traits === undefined || seen.has(tensor.type_id)) continue;
      if (tensor.shape.length !== 2 || tensor.type === "F32") continue;
      seen.add(tensor.type_id);
      const start = f.expected.data_offset + tensor.offset;
      const elements = tensor.shape[0] * tensor.shape[1];
      const perElement = traits.bytesPerBlock / traits.blockSize;
      // About five full steps of input, and at least two.
      const count = Math.max(
        2,
        Math.ceil((5 * CHUNK_BYTES) / perElement / elements),
        Math.ceil(minElements / elements),
      );
      tiles.push({ tensor, bytes: bytes.slice(start, start + tensor.nbytes), count });
    }
  }
  const tensors: TensorLayoutInput[] = tiles.map(({ tensor, count }, i) => ({
    name: `t${i}.${tensor.type}`,
    shape: [tensor.shape[0], tensor.shape[1] * count],
    type: tensor.type_id,
    nbytes: tensor.nbytes * count,
  }));
  const header = encodeGgufHeader({ alignment: 32, metadata: [], tensors });
  const path = join(dir, minElements === 0 ? "tiled.gguf" : `tiled-${minElements}.gguf`);
  const fd = openSync(path, "w");
  try {
    writeSync(fd, header.bytes);
    let written = header.dataOffset;
    tiles.forEach(({ bytes, count }, i) => {
      const start = header.dataOffset + header.offsets[i];
      if (start > written) writeSync(fd, new Uint8Array(start - written));
      for (let k = 0; k < count; k++) writeSync(fd, bytes);
      written = start + bytes.length * count;
    });
    if (header.fileSize > written) writeSync(fd, new Uint8Array(header.fileSize - written));
  } finally {
    closeSync(fd);
  }
  return { path, tiles };
}

/** Checks every tile of a converted tensor against the oracle's digest for its output type. */
function assertTiles(tile: Tile, typeName: string, data: Uint8Array, where: string): void {
  const { tensor, count } = tile;
  const expected = typeName === "F32"
    ? tensor.f32_sha256
    : typeName === tensor.type
    ? sha256(tile.bytes)
    : tensor.requant_sha256?.[typeName as "Q8_0" | "Q4_0"];
  assert.ok(expected !== undefined && expected !== null, `${where}: no oracle for ${typeName}`);
  assert.equal(data.length % count, 0);
  const size = data.length / count;
  for (let k = 0; k < count; k++) {
    assert.equal(sha256(data.subarray(k * size, (k + 1) * size)), expected, `${where}, tile ${k}`);
  }
}

const POLICIES: [string, ConversionPolicy][] = [
  ["F32", {}],
  // ggml's quantizers (the oracle's bytes), not the transcoders `best` may use.
  ["Q8_0", { requantize: "Q8_0", method: "reference" }],
  ["Q4_0", { requantize: "Q4_0", method: "reference" }],
];

test("three threads give ggml's bytes and one thread's, in memory, to a file and as a stream", {
  skip: conformance.skip || noWorkers,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-threads-"));
  try {
    const { path, tiles } = tiledModel(dir);
    assert.ok(tiles.length >= 20, `only ${tiles.length} types tiled`);
    for (const [label, policy] of POLICIES) {
      const options = { policy, chunkBytes: CHUNK_BYTES, onWarning: () => {} };
      // In memory: every tile of every tensor.
      const model = await convertGguf(path, { ...options, threads: 3 });
      let checked = 0;
      for (const [i, tile] of tiles.entries()) {
        const tensor = model.tensors.get(`t${i}.${tile.tensor.type}`)!;
        const data = new Uint8Array(
          tensor.data.buffer,
          tensor.data.byteOffset,
          tensor.data.byteLength,
        );
        if (!tensor.zeroCopy) {
          // Ordinary memory whatever the thread count: digests, decoders and Blobs take it.
          assert.ok(data.buffer instanceof ArrayBuffer, "converted by threads into an ArrayBuffer");
          if (i === 0) await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
        }
        if (
          tensor.typeName === "F32" || tensor.typeName !== tile.tensor.type ||
          tile.tensor.requant_sha256
        ) {
          assertTiles(tile, tensor.typeName, data, `${label} in memory: ${tile.tensor.type}`);
          checked++;
        }
      }
      assert.ok(checked >= 20, `${label}: ${checked} tensors checked`);
      // To files and as a stream: the same bytes as one thread.
      const one = join(dir, `one-${label}.gguf`);
      const three = join(dir, `three-${label}.gguf`);
      await convertFile(path, one, { ...options, threads: 1 });
      await convertFile(path, three, { ...options, threads: 3 });
      const expected = sha256(readFileSync(one));
      assert.equal(sha256(readFileSync(three)), expected, `${label}: file, 3 threads`);
      const input = new Blob([readFileSync(path)]).stream();
      const streamed = new Uint8Array(
        await new Response(convertStream(input, { ...options, threads: 2 })).arrayBuffer(),
      );
      assert.equal(sha256(streamed), expected, `${label}: stream, 2 threads`);
      // And the file's tensors are ggml's too.
      const reread = await convertGguf(three, {
        policy: { target: ["F32", "Q8_0", "Q4_0"] },
        threads: 1,
      });
      for (const [i, tile] of tiles.entries()) {
        const tensor = reread.tensors.get(`t${i}.${tile.tensor.type}`)!;
        if (tensor.typeName === tile.tensor.type && !tile.tensor.requant_sha256) continue;
        const data = new Uint8Array(
          tensor.data.buffer,
          tensor.data.byteOffset,
          tensor.data.byteLength,
        );
        assertTiles(tile, tensor.typeName, data, `${label} file: ${tile.tensor.type}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Counts the runs posted to workers whole (`ConvertThreads.convertOwned`), calling `each`
 * with the count so far; `restore()` puts the method back.
 */
function countOwned(each: (count: number) => void = () => {}) {
  const counted = ConvertThreads.prototype as { convertOwned: ConvertThreads["convertOwned"] };
  const original = counted.convertOwned;
  const counter = { count: 0, restore: () => (counted.convertOwned = original) };
  counted.convertOwned = function (this: ConvertThreads, ...args) {
    each(++counter.count);
    return original.apply(this, args);
  };
  return counter;
}

test("whole tensors on workers give ggml's bytes and one thread's, in ordinary buffers", {
  skip: conformance.skip || noWorkers,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-threads-"));
  const owned = countOwned();
  try {
    // Every tensor large enough to be converted whole on a worker.
    const { path, tiles } = tiledModel(dir, 1 << 20);
    for (const [label, policy] of POLICIES) {
      const options = { policy, onWarning: () => {} };
      owned.count = 0;
      const three = await convertGguf(path, { ...options, threads: 3 });
      assert.ok(
        owned.count >= tiles.length / 3,
        `${label}: ${owned.count} tensors went to workers`,
      );
      const one = await convertGguf(path, { ...options, threads: 1 });
      for (const [i, tile] of tiles.entries()) {
        const name = `t${i}.${tile.tensor.type}`;
        const tensor = three.tensors.get(name)!;
        const data = new Uint8Array(
          tensor.data.buffer,
          tensor.data.byteOffset,
          tensor.data.byteLength,
        );
        assert.ok(data.buffer instanceof ArrayBuffer && data.byteLength > 0, name);
        if (
          tensor.typeName === "F32" || tensor.typeName !== tile.tensor.type ||
          tile.tensor.requant_sha256
        ) {
          assertTiles(tile, tensor.typeName, data, `${label}, whole on workers: ${name}`);
        }
        const single = one.tensors.get(name)!.data;
        assert.equal(sha256(single), sha256(data), `${label}: ${name}, 1 and 3 threads`);
      }
      // The error measured is the same whoever converted a tensor (up to the order of sums).
      const [e3, e1] = [three.summary.relativeError, one.summary.relativeError];
      assert.ok(Math.abs(e3 - e1) <= 1e-9 * e1, `${label}: error ${e3} vs ${e1}`);
    }
  } finally {
    owned.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("aborting while workers convert whole tensors posts nothing more and fails as ABORTED", {
  skip: conformance.skip || noWorkers,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-threads-"));
  const controller = new AbortController();
  const owned = countOwned((count) => count === 2 && controller.abort(new Error("enough")));
  try {
    const { path, tiles } = tiledModel(dir, 1 << 20);
    await assert.rejects(
      convertGguf(path, { threads: 2, signal: controller.signal }),
      (error: GgufError) => error.code === "ABORTED",
    );
    assert.ok(owned.count <= 3, `${owned.count} of ${tiles.length} tensors posted after the abort`);
  } finally {
    owned.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a worker that fails a whole run rejects it as a worker failure, for this thread to redo", {
  skip: noWorkers,
}, async () => {
  const broken = new URL(`data:text/javascript,${encodeURIComponent("throw new Error('no');")}`);
  const pool = new ConvertThreads(2, broken);
  const src = new Uint8Array(34);
  src.set([0x00, 0x3c, 7]);
  try {
    await assert.rejects(
      pool.convertOwned(0, {
        from: 8,
        to: 0,
        littleEndian: true,
        src,
        dst: new Uint8Array(128),
        elements: 32,
      }),
      (error: Error) => error.constructor.name === "WorkerFailure",
    );
    assert.equal(pool.parallel, false, "no more runs go to workers");
  } finally {
    pool.close();
  }
  // A working pool converts runs posted to one worker in order, into buffers moved back.
  const good = new ConvertThreads(2);
  try {
    const runs = [1, 2, 3].map((first) => {
      const block = new Uint8Array(34);
      block.set([0x00, 0x3c, first]);
      return good.convertOwned(0, {
        from: 8,
        to: 0,
        littleEndian: true,
        src: block,
        dst: new Uint8Array(128),
        elements: 32,
      });
    });
    const results = await Promise.all(runs);
    assert.deepEqual(results.map(({ dst }) => new Float32Array(dst.buffer)[0]), [1, 2, 3]);
  } finally {
    good.close();
  }
});

test(
  "a worker that fails is not fatal: its part is redone on this thread",
  { skip: noWorkers },
  async () => {
    const broken = new URL(`data:text/javascript,${encodeURIComponent("throw new Error('no');")}`);
    const src = new Uint8Array(new SharedArrayBuffer(64 * 34));
    for (let b = 0; b < 64; b++) src.set([0x00, 0x3c, b + 1], b * 34); // scale 1, first value b + 1
    const dst = new Uint8Array(new SharedArrayBuffer(64 * 32 * 4));
    const pool = new ConvertThreads(3, broken);
    const job = (from: number, to: number) => ({
      from: 8,
      to: 0,
      littleEndian: true,
      src: src.subarray(from * 34, to * 34),
      dst: dst.subarray(from * 128, to * 128),
      elements: (to - from) * 32,
    });
    try {
      await pool.run([job(0, 20), job(20, 40), job(40, 64)], {});
      assert.equal(pool.parallel, false);
      await pool.run([job(0, 32), job(32, 64)], {}); // all here now
    } finally {
      pool.close();
    }
    const values = new Float32Array(dst.buffer);
    for (let b = 0; b < 64; b++) assert.equal(values[b * 32], b + 1);
  },
);

test("threads must be an integer from 1 to 1024", async () => {
  // (A billion once sized an array by it: a RangeError, or Node out of memory.)
  for (const threads of [0, -1, 1.5, Number.NaN, 1025, 1e9]) {
    await assert.rejects(
      convertGguf(new URL("../samples/tiny-llama.gguf", import.meta.url), { threads }),
      TypeError,
    );
  }
});

test("a conversion left early stops its workers: the process exits", { skip: noWorkers }, () => {
  const script = `
    import { convertTensors } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
    const sample = new URL("../samples/tiny-llama.gguf", ${JSON.stringify(import.meta.url)});
    let converted = 0;
    for await (const tensor of convertTensors(sample, { threads: 2, onWarning() {} })) {
      if (tensor.action !== "keep" && ++converted === 3) break;
    }
    console.log("done");
  `;
  const dir = mkdtempSync(join(tmpdir(), "gguf-threads-"));
  try {
    const file = join(dir, "early.ts");
    writeSync(openSync(file, "w"), script);
    const command = RUNTIME === "deno"
      ? [process.execPath, ["run", "-A", file]]
      : [process.execPath, [file]];
    const run = spawnSync(command[0] as string, command[1] as string[], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.stdout.trim(), "done", run.stderr);
    assert.equal(run.status, 0, `exit ${run.status} ${run.signal ?? ""}: ${run.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--threads: the CLI writes the same bytes with any number, and refuses a bad one", async () => {
  const { main } = await import("../convert.ts");
  const dir = mkdtempSync(join(tmpdir(), "gguf-threads-"));
  const quiet = { stdout: () => {}, stderr: () => {} };
  try {
    const sample = new URL("../samples/tiny-llama.gguf", import.meta.url).pathname;
    const digests = [];
    for (const threads of ["1", "2", "3"]) {
      const out = join(dir, `t${threads}.gguf`);
      const args = [sample, "-o", out, "-q", "--threads", threads, "--requantize", "Q8_0"];
      assert.equal(await main(args, quiet), 0);
      digests.push(sha256(readFileSync(out)));
    }
    assert.deepEqual(new Set(digests).size, 1);
    for (const bad of ["0", "1.5", "x", "2000", "=-1"]) {
      let err = "";
      const flags = bad.startsWith("=") ? [`--threads${bad}`] : ["--threads", bad];
      const status = await main([sample, "-o", join(dir, "never.gguf"), ...flags], {
        stdout: () => {},
        stderr: (t) => (err += t),
      });
      assert.equal(status, 2, bad);
      assert.match(err, /--threads takes a number of threads/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "aborting a threaded conversion midway leaves no file and no temporary, and fails as ABORTED",
  {
    skip: conformance.skip || noWorkers,
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-threads-"));
    try {
      const { path } = tiledModel(dir);
      const out = join(dir, "out.gguf");
      const controller = new AbortController();
      let chunks = 0;
      await assert.rejects(
        convertFile(path, out, {
          threads: 3,
          chunkBytes: CHUNK_BYTES,
          signal: controller.signal,
          onWarning: () => {},
          onProgress: () => {
            if (++chunks === 20) controller.abort();
          },
        }),
        (e: unknown) => e instanceof GgufError && e.code === "ABORTED",
      );
      assert.ok(chunks >= 20);
      assert.equal(existsSync(out), false);
      assert.deepEqual(readdirSync(dir).sort(), ["tiled.gguf"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
