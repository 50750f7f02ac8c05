/**
 * A misspelt option or policy key is a TypeError naming it, from every entry point: from
 * plain JavaScript it would otherwise run the defaults without a word.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  convertFile,
  convertGguf,
  convertStream,
  convertTensors,
  planConversion,
  readGguf,
  readGgufStream,
} from "../mod.ts";

const SAMPLE = join(
  resolve(dirname(fileURLToPath(import.meta.url)), ".."),
  "samples",
  "tiny-llama.gguf",
);
// deno-lint-ignore no-explicit-any
const loose = (options: Record<string, unknown>): any => options;

function typeError(message: string) {
  return (error: unknown) => error instanceof TypeError && error.message === message;
}

test("an unknown option key is a TypeError naming it and the closest known ones", async () => {
  await assert.rejects(
    convertGguf(SAMPLE, loose({ polcy: { requantize: "Q8_0" } })),
    typeError('convertGguf(): unknown option "polcy" (did you mean policy?)'),
  );
  await assert.rejects(
    readGguf(SAMPLE, loose({ lenent: true })),
    typeError('readGguf(): unknown option "lenent" (did you mean lenient?)'),
  );
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-keys-"));
  try {
    await assert.rejects(
      convertFile(SAMPLE, join(dir, "out.gguf"), loose({ forced: true })),
      typeError('convertFile(): unknown option "forced" (did you mean force?)'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bytes = readFileSync(SAMPLE);
  const stream = () => new Blob([bytes]).stream();
  assert.throws(
    () => convertStream(stream(), loose({ thread: 2 })),
    typeError('convertStream(): unknown option "thread" (did you mean threads?)'),
  );
  await assert.rejects(
    readGgufStream(stream(), loose({ window: 4096 })),
    /readGgufStream\(\): unknown option "window" \(did you mean windowBytes\?\)/,
  );
  await assert.rejects(
    convertTensors(SAMPLE, loose({ chunk: 1 })).next(),
    /convertTensors\(\): unknown option "chunk"/,
  );
  // A key that is known but set to undefined is fine (an options object built by spreading).
  const model = await convertGguf(SAMPLE, { policy: undefined, threads: undefined });
  assert.ok(model.tensors.size > 0);
});

test("an unknown policy key is a TypeError, wherever the policy is used", async () => {
  const header = await readGguf(SAMPLE);
  assert.throws(
    () => planConversion(header, loose({ requantise: "Q8_0" })),
    typeError('policy: unknown option "requantise" (did you mean requantize?)'),
  );
  await assert.rejects(
    convertGguf(SAMPLE, { policy: loose({ target: ["Q8_0", "F32"], maxErr: 0.1 }) }),
    /policy: unknown option "maxErr" \(did you mean maxError\?\)/,
  );
});

test("option values of the wrong kind are TypeErrors too", async () => {
  await assert.rejects(
    readGguf(SAMPLE, loose({ access: "bogus" })),
    typeError('access must be "auto", "mmap" or "read", not "bogus"'),
  );
  await assert.rejects(
    readGguf(SAMPLE, loose({ lenient: "yes" })),
    typeError('lenient must be true or false, not "yes"'),
  );
  await assert.rejects(
    convertGguf(SAMPLE, { policy: loose({ target: "F32" }) }),
    typeError('policy.target must be an array of type names (e.g. ["Q8_0", "F32"]), not "F32"'),
  );
});
