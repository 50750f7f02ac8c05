/**
 * Split models (llama.cpp's `NAME-0000K-of-0000N.gguf`): one part is never converted as if
 * it were the model; one part's own header and tensors still read.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  convertGguf,
  convertStream,
  convertTensors,
  GgufError,
  type GgufInput,
  readGguf,
  readGgufStream,
} from "../mod.ts";
import { openByteSource, openGgufModel } from "../sources.ts";
import { conformance, fixture } from "./_fixtures.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const silent = () => {};

function part(k: number) {
  return fixture(`split/kquants-0000${k}-of-00003.gguf`);
}

/** The refusal of part `k` of 3 read without its name. */
function refusesPart(k: number, kind: string) {
  return (e: unknown) => {
    assert.ok(e instanceof GgufError, `${kind}: ${e}`);
    assert.equal(e.code, "BAD_METADATA", kind);
    assert.match(e.message, new RegExp(`part ${k} of a 3-part split model from ${kind}`));
    assert.match(e.message, /give the first part's path or URL \(NAME-00001-of-00003\.gguf\)/);
    return true;
  };
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  const reader = stream.getReader();
  while (!(await reader.read()).done);
}

test(
  "one part of a split model without its name is refused by every input kind and every conversion",
  conformance,
  async () => {
    for (const k of [1, 2, 3]) {
      const bytes = new Uint8Array(readFileSync(part(k).path));
      const kinds: [string, () => Promise<GgufInput>][] = [
        ["a Uint8Array", () => Promise.resolve(bytes)],
        ["a Blob", () => Promise.resolve(new Blob([bytes]))],
        ["a stream", () => Promise.resolve(new Blob([bytes]).stream())],
        ["a ByteSource", () => openByteSource(part(k).path, { access: "read" })],
      ];
      for (const [kind, input] of kinds) {
        const ways: [string, (input: GgufInput) => Promise<unknown>][] = [
          ["openGgufModel", (i) => openGgufModel(i)],
          ["convertGguf", (i) => convertGguf(i, { onWarning: silent })],
          ["convertTensors", async (i) => {
            for await (const _ of convertTensors(i, { onWarning: silent }));
          }],
        ];
        if (kind === "a stream") {
          ways.push(["convertStream", (i) => drain(convertStream(i as ReadableStream))]);
        }
        for (const [way, run] of ways) {
          const given = await input();
          try {
            await assert.rejects(run(given), refusesPart(k, kind), `${way}(${kind}), part ${k}`);
          } finally {
            if (kind === "a ByteSource") await (given as { close(): Promise<void> }).close();
          }
        }
      }
    }
  },
);

test(
  "one part's own header and tensors still read: readGguf() and readGgufStream()",
  conformance,
  async () => {
    for (const k of [1, 2, 3]) {
      const f = part(k);
      const bytes = new Uint8Array(readFileSync(f.path));
      const header = await readGguf(bytes);
      assert.equal(header.metadata.get("split.no")?.value, k - 1);
      assert.equal(header.metadata.get("split.count")?.value, 3);
      assert.deepEqual(header.tensors.map((t) => t.name), f.expected.tensors.map((t) => t.name));
      const stream = await readGgufStream(new Blob([bytes]).stream());
      assert.equal(stream.header.metadata.get("split.no")?.value, k - 1);
      const names: string[] = [];
      for await (const tensor of stream) {
        let length = 0;
        for await (const chunk of tensor.data) length += chunk.length;
        assert.equal(length, tensor.info.nbytes);
        names.push(tensor.info.name);
      }
      assert.deepEqual(names, f.expected.tensors.map((t) => t.name));
    }
  },
);

const RUNTIMES = [
  ["deno", `'${join(BIN, "deno")}' run -A convert.ts`],
  ["bun", `'${join(BIN, "bun")}' convert.ts`],
  ["node", `'${join(BIN, "node")}' convert.ts`],
] as const;

test(
  "the CLI refuses a split model's part on standard input, with one line, leaving nothing",
  conformance,
  () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-stream-split-"));
    try {
      for (const [name, command] of RUNTIMES) {
        if (!existsSync(join(BIN, name))) continue;
        for (const args of ["-o out.gguf", "--plan", "-o -"]) {
          const run = spawnSync("bash", [
            "-c",
            `cd '${dir}' && cat '${part(1).path}' | ${
              command.replace("convert.ts", join(ROOT, "convert.ts"))
            } - ${args} > stdout.bin`,
          ], { cwd: ROOT, encoding: "utf8" });
          assert.equal(run.status, 1, `${name} ${args}: ${run.stderr}`);
          assert.match(
            run.stderr,
            /^error: Cannot open part 1 of a 3-part split model from a stream: .*give the first part's path or URL .*\n$/,
            `${name} ${args}`,
          );
          assert.deepEqual(readdirSync(dir), ["stdout.bin"], `${name} ${args}`);
          assert.equal(readFileSync(join(dir, "stdout.bin")).length, 0, `${name} ${args}`);
          rmSync(join(dir, "stdout.bin"));
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
