/**
 * Split models (llama.cpp's `NAME-0000K-of-0000N.gguf`): one part is never converted as if
 * it were the model, and split keys that contradict each other are refused; one part's
 * own header and tensors still read.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
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
  type GgufMetadataEntry,
  GgufValueType,
  readGguf,
  readGgufStream,
} from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { openByteSource, openGgufModel } from "../sources.ts";
import { main } from "../convert.ts";
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
  "a split model's first part under another name is refused, naming the form",
  conformance,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-stream-split-"));
    try {
      const renamed = join(dir, "model.gguf");
      copyFileSync(part(1).path, renamed);
      await assert.rejects(openGgufModel(renamed), (e: unknown) => {
        assert.ok(e instanceof GgufError && e.code === "BAD_METADATA", String(e));
        assert.match(e.message, /this one is not named NAME-00001-of-00003\.gguf; give the parts/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
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

type Entry = Pick<GgufMetadataEntry, "key" | "type" | "value">;
const { UINT16, UINT32, INT32, FLOAT32, STRING } = GgufValueType;

/** gen/kquants.gguf (20 tensors, unsplit) with `split` entries added after its metadata. */
async function withSplitKeys(split: Entry[]): Promise<Uint8Array> {
  const bytes = new Uint8Array(readFileSync(fixture("gen/kquants.gguf").path));
  const file = await readGguf(bytes);
  const header = encodeGgufHeader({
    alignment: file.alignment,
    metadata: [...file.metadata.values(), ...split],
    tensors: file.tensors.map(({ name, shape, type, nbytes }) => ({ name, shape, type, nbytes })),
  });
  const out = new Uint8Array(header.fileSize);
  out.set(header.bytes);
  for (const [i, tensor] of file.tensors.entries()) {
    out.set(
      bytes.subarray(tensor.fileOffset, tensor.fileOffset + tensor.nbytes),
      header.dataOffset + header.offsets[i],
    );
  }
  return out;
}

const no = (value: number, type: GgufValueType = UINT16): Entry => ({
  key: "split.no",
  type,
  value,
});
const count = (value: number | string, type: GgufValueType = UINT16): Entry => ({
  key: "split.count",
  type,
  value,
});
const total = (value: number, type: GgufValueType = INT32): Entry => ({
  key: "split.tensors.count",
  type,
  value,
});

test(
  "a whole model's split keys as llama.cpp writes them are accepted and left out of the output",
  conformance,
  async () => {
    const tensors = fixture("gen/kquants.gguf").expected.tensors.length;
    const cases: [string, Entry[]][] = [
      ["1 of 1 (llama-gguf-split with one part)", [no(0), count(1), total(tensors)]],
      // llama-gguf-split --merge keeps the keys and sets split.count to 0.
      ["merged (split.count 0)", [no(0), count(0), total(tensors)]],
      ["split.no 0 alone", [no(0)]],
    ];
    for (const [label, split] of cases) {
      const bytes = await withSplitKeys(split);
      const model = await convertGguf(bytes, { onWarning: silent });
      assert.equal(model.tensors.size, tensors, label);
      assert.deepEqual(
        [...model.metadata.keys()].filter((key) => key.startsWith("split.")),
        [],
        label,
      );
      assert.equal((await readGguf(bytes)).metadata.get("split.no")?.value, 0, label);
    }
  },
);

test(
  "contradictory or mistyped split keys are BAD_METADATA, whatever the input",
  conformance,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "gguf-stream-split-"));
    try {
      const tensors = fixture("gen/kquants.gguf").expected.tensors.length;
      const cases: [string, Entry[], RegExp, boolean][] = [
        // [label, split keys, message, accepted when lenient]
        [
          "split.no 5 of split.count 1",
          [no(5), count(1)],
          /split\.no 5 \(part 6\) is not below its split\.count 1/,
          false,
        ],
        [
          "split.no 1 of split.count 0",
          [no(1), count(0), total(tensors)],
          /split\.no 1 \(part 2\) is not below its split\.count 0/,
          false,
        ],
        [
          "split.no 1 without split.count",
          [no(1)],
          /split\.no 1 \(part 2\) is not below its split\.count \(missing: 0\)/,
          false,
        ],
        [
          "split.count as a UINT32",
          [no(0), count(1, UINT32), total(tensors)],
          /split\.count at byte [\d_]+ is UINT32 1, but llama\.cpp reads it as a UINT16/,
          true,
        ],
        [
          "split.tensors.count as a UINT16",
          [no(0), count(1), total(tensors, UINT16)],
          /split\.tensors\.count .* reads it as a INT32/,
          true,
        ],
        [
          "split.count as a string",
          [no(0), count("1", STRING)],
          /split\.count at byte [\d_]+ must be a UINT16 count, found STRING 1/,
          false,
        ],
        [
          "split.count as a float",
          [no(0), count(1, FLOAT32)],
          /must be a UINT16 count, found FLOAT32 1/,
          false,
        ],
        [
          "a negative split.tensors.count",
          [no(0), count(1), total(-1)],
          /must be a INT32 count, found INT32 -1/,
          false,
        ],
        [
          "split.tensors.count not the tensors held",
          [no(0), count(1), total(7)],
          /split\.tensors\.count says the model has 7 tensors, but it holds 20; if it is one part/,
          false,
        ],
      ];
      for (const [label, split, message, lenientAccepts] of cases) {
        const bytes = await withSplitKeys(split);
        const path = join(dir, "model.gguf");
        writeFileSync(path, bytes);
        for (const input of [bytes, path]) {
          const what = `${label} (${typeof input === "string" ? "path" : "bytes"})`;
          await assert.rejects(openGgufModel(input), (e: unknown) => {
            assert.ok(e instanceof GgufError, `${what}: ${e}`);
            assert.equal(e.code, "BAD_METADATA", what);
            assert.match(e.message, message, what);
            return true;
          });
          if (lenientAccepts) {
            const model = await openGgufModel(input, { lenient: true });
            assert.equal(model.tensors.length, tensors, what);
            await model.close();
          } else {
            await assert.rejects(openGgufModel(input, { lenient: true }), { code: "BAD_METADATA" });
          }
        }
        // Its own header still reads: only a model made of it is refused.
        assert.equal((await readGguf(bytes)).tensors.length, tensors, label);
        let stderr = "";
        const io = { stdout: () => {}, stderr: (t: string) => void (stderr += t) };
        assert.equal(await main([path, "-o", join(dir, "out.gguf")], io), 1, label);
        assert.match(stderr, /^error: Cannot open .*\n$/, label);
        assert.deepEqual(readdirSync(dir), ["model.gguf"], label);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("a part after the first with a bad header is named in the error", conformance, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-split-part-"));
  try {
    for (const no of [1, 2, 3]) {
      const name = `kquants-0000${no}-of-00003.gguf`;
      copyFileSync(fixture(`split/${name}`).path, join(dir, name));
    }
    // Part 2 cut inside its tensor index.
    const second = join(dir, "kquants-00002-of-00003.gguf");
    writeFileSync(second, readFileSync(second).subarray(0, 100));
    await assert.rejects(
      convertGguf(join(dir, "kquants-00001-of-00003.gguf")),
      (e: unknown) =>
        e instanceof GgufError &&
        e.message.startsWith(`In part 2 of 3, ${second}: Cannot read the tensor index`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "a split model's parts given as the option parts, in any order, join as by name",
  conformance,
  async () => {
    for (const name of ["kquants", "legacy"]) {
      const path = (k: number) => fixture(`split/${name}-0000${k}-of-00003.gguf`).path;
      const file = (k: number) =>
        new File([readFileSync(path(k))], `${name}-0000${k}-of-00003.gguf`);
      const policy = { target: ["F32" as const] };
      const byName = await convertGguf(path(1), { policy });
      // Bytes for the first part, picked Files for the others, in reverse order.
      const given = await convertGguf(new Uint8Array(readFileSync(path(1))), {
        policy,
        parts: [file(3), file(2)],
      });
      // One-pass streams, each read once: its header at open, its data in its turn.
      const stream = (k: number) => file(k).stream();
      const streamed = await convertGguf(stream(1), { policy, parts: [stream(2), stream(3)] });
      try {
        for (const model of [given, streamed]) {
          assert.deepEqual([...model.metadata.keys()], [...byName.metadata.keys()]);
          assert.ok(![...model.metadata.keys()].some((key) => key.startsWith("split.")));
          assert.deepEqual([...model.tensors.keys()], [...byName.tensors.keys()]);
          for (const [tensorName, tensor] of byName.tensors) {
            assert.deepEqual(model.tensors.get(tensorName)!.data, tensor.data, tensorName);
          }
        }
      } finally {
        await streamed.close();
        await given.close();
        await byName.close();
      }
    }

    const bytes = (k: number) => new Uint8Array(readFileSync(part(k).path));
    const named = (k: number) => new File([bytes(k)], `m-0000${k}-of-00003.gguf`);
    const refused = (pattern: RegExp) => (e: unknown) => {
      assert.ok(e instanceof GgufError, String(e));
      assert.equal(e.code, "BAD_METADATA", e.message);
      assert.match(e.message, pattern);
      return true;
    };
    await assert.rejects(
      openGgufModel(bytes(1), { parts: [bytes(2)] }),
      refused(/split\.count 3, so 2 more parts are needed, but 1 was given/),
    );
    await assert.rejects(
      openGgufModel(bytes(1), { parts: [named(2), named(2)] }),
      refused(
        /^Cannot use "m-00002-of-00003\.gguf" \(parts\[1\]\) as one of the 3 parts: it says split\.no 1 of split\.count 3, as another part given does$/,
      ),
    );
    await assert.rejects(
      openGgufModel(bytes(1), { parts: [bytes(1), bytes(2)] }),
      refused(
        /^Cannot use parts\[0\] as one of the 3 parts: it says split\.no 0 of split\.count 3$/,
      ),
    );
    const whole = new Uint8Array(readFileSync(fixture("gen/kquants.gguf").path));
    await assert.rejects(
      openGgufModel(bytes(1), { parts: [bytes(2), whole] }),
      refused(/parts\[1\] as one of the 3 parts: it says nothing of split parts/),
    );
    await assert.rejects(
      openGgufModel(bytes(2), { parts: [bytes(1), bytes(3)] }),
      refused(/it is part 2 of 3; give the first part as the input and the others as parts/),
    );
    await assert.rejects(
      openGgufModel(whole, { parts: [bytes(2)] }),
      refused(
        /^Cannot join 1 more parts to a Uint8Array: it is not the first part of a split model/,
      ),
    );
    await assert.rejects(
      // @ts-expect-error: one part, not an array of them
      openGgufModel(bytes(1), { parts: bytes(2) }),
      /^TypeError: parts must be an array of the other parts' inputs, not object$/,
    );
    // Streams given as parts are cancelled when the model cannot be opened, reached or not.
    const states: string[] = [];
    const tracked = (k: number) => {
      const index = states.push("untouched") - 1;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (states[index] === "read") return new Promise<void>(() => {}); // then silent
          states[index] = "read";
          controller.enqueue(bytes(k));
          return Promise.resolve();
        },
        cancel() {
          states[index] = "cancelled";
        },
      }, { highWaterMark: 0 });
    };
    await assert.rejects(
      openGgufModel(bytes(1), { parts: [join(ROOT, "no-such-part.gguf"), tracked(3)] }),
      (e: unknown) => e instanceof GgufError && e.code === "IO",
    );
    await assert.rejects(openGgufModel(bytes(1), { parts: [tracked(2)] }), refused(/1 was given/));
    await assert.rejects(
      openGgufModel(tracked(1), { parts: [tracked(2), whole] }),
      refused(/says nothing of split parts/),
    );
    assert.deepEqual(states, ["cancelled", "cancelled", "cancelled", "cancelled"]);
    // No other parts is what a whole model has.
    const alone = await openGgufModel(whole, { parts: [] });
    assert.equal(alone.parts.length, 1);
    await alone.close();
    // Without them, a part given as bytes is still refused, now naming the option.
    await assert.rejects(openGgufModel(bytes(1)), refused(/the other parts as the option parts/));
  },
);
