/**
 * `--dump` a piece at a time: a row of any length prints in bounded memory, as text and as
 * JSON (a sparse file with one long F16 row, dumped by the CLI in a child process of each
 * runtime, its peak measured by tests/_peak_child.ts), each exactly as the format says; a
 * normal tensor's dump is what it was before dumps were streamed, for any piece size; and
 * a text dump too long to read twice from a stream is refused before it prints anything.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { GgufError, GgufValueType } from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { openGgufModel } from "../sources.ts";
import { main } from "../convert.ts";
import { dumpTensor } from "../src/cli/dump_tensor.ts";
import { readTensorRows } from "../kernels.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHILD = join(ROOT, "tests", "_peak_child.ts");
const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const IS_DENO = "Deno" in globalThis;
const MiB = 1 << 20;
/**
 * What a long dump may take beyond a dump of 256 values in the same runtime: a piece of
 * values and bytes (6 MiB here) and the collector's slack. Printing the row whole took
 * 460 to 920 MiB more.
 */
const SLACK = 96 * MiB;

/**
 * SHA-256 of what the CLI printed for the sample before dumps were streamed (commit
 * 13e6ca7, the same on Deno, Bun and Node): the format must not change.
 */
const BEFORE: [string[], string][] = [
  [
    ["--dump", "blk.0.attn_q.weight"],
    "74b1bae9c53b97681d5aff1d3d1387bc523fb661e955f0f8f9887ca24caf0cc8",
  ],
  [
    ["--dump", "blk.0.attn_q.weight", "--json"],
    "371c63d72dacad6eb4e6126608874356e027c1bcac8095986972e2dcba9b3aa4",
  ],
  [
    ["--dump", "token_embd.weight", "--rows", "0:"],
    "a55baa396591825a84856e9647bcb1b48897a8ee7a5d8dce5698d67acf98e6b4",
  ],
  [
    ["--dump", "token_embd.weight", "--rows", "0:", "--json"],
    "5c0661feb34b65ecebf2a561383d43dd920df6725279e6627fc61f939be87b0b",
  ],
  [
    ["--dump", "output.weight", "--rows", "100:103", "--json"],
    "4d0281b71ecd922aa8aef01b9ecd45e694f8d64191d00b538dbc0d965a00fc13",
  ],
  [
    ["--dump", "blk.0.attn_norm.weight"],
    "9284919768a3ca7f4f3ba54473bb22ce70f0219d6b068abb24c5887519b91929",
  ],
  [
    ["--dump", "blk.0.ffn_down.weight", "--rows", "7"],
    "341f37b6833dbf623a2af7c39d5290ce80db9e21d5459661ceeff2e142507d13",
  ],
];

const hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** The whole text of a dump made a piece at a time. */
async function collect(pieces: AsyncIterable<string>): Promise<string> {
  let text = "";
  for await (const piece of pieces) text += piece;
  return text;
}

test("--dump prints what it printed before dumps were streamed", async () => {
  for (const [args, digest] of BEFORE) {
    let out = "";
    const status = await main([SAMPLE, ...args], { stdout: (t) => (out += t), stderr: () => {} });
    assert.equal(status, 0, args.join(" "));
    assert.equal(hex(out), digest, args.join(" "));
  }
});

test("--dump prints the same text whatever the size of the pieces it reads", async () => {
  const model = await openGgufModel(SAMPLE);
  try {
    for (const { name } of model.tensors) {
      for (const json of [false, true]) {
        const options = { rows: { start: 0, end: 5 }, json };
        const whole = await collect(dumpTensor(model, name, options));
        // One value, one block, a block and a bit: pieces ending mid-line and mid-row.
        for (const pieceValues of [1, 256, 300]) {
          const pieces = dumpTensor(model, name, { ...options, pieceValues });
          assert.equal(await collect(pieces), whole, `${name} ${json} ${pieceValues}`);
        }
      }
    }
  } finally {
    await model.close();
  }
});

test("a text dump of a stream longer than a piece is refused before it prints", async () => {
  const bytes = new Uint8Array(readFileSync(SAMPLE));
  const open = () => openGgufModel(new Blob([bytes]).stream());
  const rows = { start: 0, end: undefined };
  const model = await open();
  try {
    const printed: string[] = [];
    await assert.rejects(
      async () => {
        for await (
          const piece of dumpTensor(model, "token_embd.weight", { rows, pieceValues: 4096 })
        ) {
          printed.push(piece);
        }
      },
      (error: unknown) =>
        error instanceof GgufError && error.code === "LIMIT_EXCEEDED" &&
        /131_072 values .* at most 4_096 values \(fewer --rows\), add --json/.test(error.message),
    );
    assert.deepEqual(printed, []);
  } finally {
    await model.close();
  }
  // As JSON it is read once: a piece at a time from the stream.
  const again = await open();
  try {
    const json = await collect(
      dumpTensor(again, "token_embd.weight", { rows, json: true, pieceValues: 4096 }),
    );
    assert.equal(hex(json), BEFORE[3][1]);
  } finally {
    await again.close();
  }
});

/** A row of 2^24 + 64 F16 values: zeros but for three, one of them past the first piece. */
const LONG_ROW = 2 ** 24 + 64;
const MARKS = new Map([[0, ["1", 0x3c00]], [2 ** 20 + 3, ["-2.5", 0xc100]], [
  LONG_ROW - 1,
  ["0.5", 0x3800],
]] as [number, [string, number]][]);

let dir = "";
let longRow = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-stream-dump-"));
  longRow = join(dir, "long_row.gguf");
  const header = encodeGgufHeader({
    alignment: 32,
    metadata: [{ key: "general.architecture", type: GgufValueType.STRING, value: "llama" }],
    tensors: [{ name: "a", shape: [LONG_ROW], type: 1, nbytes: 2 * LONG_ROW }],
  });
  const fd = openSync(longRow, "w");
  writeSync(fd, header.bytes, 0, header.bytes.length, 0);
  for (const [at, [, half]] of MARKS) {
    writeSync(fd, new Uint8Array([half & 0xff, half >> 8]), 0, 2, header.dataOffset + 2 * at);
  }
  closeSync(fd); // holes elsewhere: 32 MiB of zeros that take no disk
});
after(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** The long row's dump as the format says it is, a chunk of lines at a time. */
function* expectedDump(json: boolean): Generator<string> {
  const text = (i: number) => MARKS.get(i)?.[0] ?? "0";
  if (json) {
    yield `{"name": "a", "type": "F16", "shape": [${LONG_ROW}], "rows": [0, 1], "values": [\n  [`;
    for (let i = 0; i < LONG_ROW; i += 65536) {
      const values = [];
      for (let j = i; j < Math.min(LONG_ROW, i + 65536); j++) values.push(text(j));
      yield (i === 0 ? "" : ", ") + values.join(", ");
    }
    yield "]\n]}\n";
    return;
  }
  const width = 4; // "-2.5"
  const indexWidth = String(LONG_ROW - 1).length;
  yield `a: F16, shape ${LONG_ROW}, rows 0:1 of 1 (16_777_280 values each), as float32\nrow 0:\n`;
  let lines: string[] = [];
  for (let i = 0; i < LONG_ROW; i += 8) {
    const cells = [];
    for (let j = i; j < Math.min(LONG_ROW, i + 8); j++) cells.push(text(j).padStart(width));
    lines.push(`  ${String(i).padStart(indexWidth)}  ${cells.join("  ")}\n`);
    if (lines.length === 8192) {
      yield lines.join("");
      lines = [];
    }
  }
  yield lines.join("");
}

/** Runs the CLI in tests/_peak_child.ts: its status, peak memory and stdout's digest. */
function dumpInChild(args: string[]): Promise<{ status: number; peak: number; sha256: string }> {
  const runtime = IS_DENO ? ["run", "-A", CHILD] : [CHILD];
  const child = spawn(process.execPath, [...runtime, "cli", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const hash = createHash("sha256");
  let stderr = "";
  child.stdout!.on("data", (data: Uint8Array) => hash.update(data));
  child.stderr!.on("data", (data: Uint8Array) => (stderr += new TextDecoder().decode(data)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`timed out: ${args.join(" ")}\n${stderr}`));
    }, 300_000);
    child.on("close", () => {
      clearTimeout(timer);
      const match = stderr.match(/peak-rss-kib (\d+) status (\d+)\s*$/);
      if (match === null) return reject(new Error(`no report from ${args.join(" ")}: ${stderr}`));
      resolve({
        status: Number(match[2]),
        peak: Number(match[1]) * 1024,
        sha256: hash.digest("hex"),
      });
    });
  });
}

test("--dump prints a row of 2^24 values in bounded memory, as text and as JSON", {
  timeout: 120_000,
}, async () => {
  const small = await dumpInChild([SAMPLE, "--dump", "blk.0.attn_norm.weight"]);
  assert.equal(small.status, 0);
  for (const json of [false, true]) {
    const run = await dumpInChild([longRow, "--dump", "a", ...(json ? ["--json"] : [])]);
    assert.equal(run.status, 0);
    const expected = createHash("sha256");
    for (const chunk of expectedDump(json)) expected.update(chunk);
    assert.equal(run.sha256, expected.digest("hex"), json ? "JSON" : "text");
    const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
    console.log(
      `--dump of ${LONG_ROW} values${json ? " --json" : ""}: peak ${mib(run.peak)} (${
        mib(small.peak)
      } for 256 values)`,
    );
    assert.ok(
      run.peak <= small.peak + SLACK,
      `peak ${mib(run.peak)}, ${mib(small.peak)} + ${mib(SLACK)} allowed`,
    );
  }
});

test("readTensorRows() asked for more than the runtime can hold is LIMIT_EXCEEDED, not a RangeError", async () => {
  // A 4 TiB F32 tensor in a source that serves its header and zeros: nothing is stored.
  const header = encodeGgufHeader({
    alignment: 32,
    metadata: [{ key: "general.architecture", type: GgufValueType.STRING, value: "llama" }],
    tensors: [{ name: "huge", shape: [2 ** 40], type: 0, nbytes: 2 ** 42 }],
  });
  const serve = (offset: number, length: number, into?: Uint8Array) => {
    const out = into ?? new Uint8Array(length);
    out.fill(0, 0, length);
    if (offset < header.bytes.length) {
      out.set(header.bytes.subarray(offset, Math.min(header.bytes.length, offset + length)));
    }
    return Promise.resolve(out.subarray(0, length));
  };
  const model = await openGgufModel({
    kind: "bytes",
    size: header.fileSize,
    read: serve,
    view: () => undefined,
    close: () => Promise.resolve(),
  });
  try {
    await assert.rejects(readTensorRows(model, "huge"), (error: unknown) => {
      assert.ok(error instanceof GgufError, String(error));
      assert.equal(error.code, "LIMIT_EXCEEDED");
      assert.match(error.message, /tensor "huge" at once .*read fewer rows at a time/);
      return true;
    });
  } finally {
    await model.close();
  }
});
