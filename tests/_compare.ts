/**
 * Compares our JSON description of a header with the oracle's, treating FLOAT32 values
 * as float32 (the oracle prints them with %.9g) and `null` as a non-finite float.
 */
import assert from "node:assert/strict";
import type { GgufJson } from "../src/cli/gguf_json.ts";
import type { ExpectedEntry, ExpectedFile } from "./_fixtures.ts";

/**
 * Significant digits the oracle printed FLOAT64 values with: 17 (exact) for ggml's
 * oracle; gguf-py's oracle for `split/` printed 9.
 */
let float64Digits = 17;

/** Runs `body` comparing FLOAT64 values at `digits` significant digits. */
export function withFloat64Digits<T>(digits: number, body: () => T): T {
  const saved = float64Digits;
  float64Digits = digits;
  try {
    return body();
  } finally {
    float64Digits = saved;
  }
}

function sameScalar(actual: unknown, expected: unknown, type: string, where: string): void {
  if (type === "FLOAT32" || type === "FLOAT64") {
    if (expected === null) {
      assert.ok(actual === null, `${where}: expected a non-finite float, found ${actual}`);
      return;
    }
    if (type === "FLOAT32") {
      // JSON gives a FLOAT32 as the shortest decimal that reads back as it.
      const got = typeof actual === "number" ? Math.fround(actual) : actual;
      const want = Math.fround(expected as number);
      assert.ok(Object.is(got, want), `${where}: expected ${want}, found ${actual}`);
      return;
    }
    let want = expected;
    if (type === "FLOAT64" && float64Digits < 17 && typeof actual === "number") {
      want = Number(actual.toPrecision(float64Digits)) === expected ? actual : expected;
    }
    assert.ok(Object.is(actual, want), `${where}: expected ${want}, found ${actual}`);
    return;
  }
  assert.deepEqual(actual, expected, where);
}

function sameList(actual: unknown[] | undefined, expected: unknown[], type: string, where: string) {
  assert.ok(actual !== undefined, `${where}: missing`);
  assert.equal(actual.length, expected.length, `${where}: length`);
  expected.forEach((e, i) => sameScalar(actual[i], e, type, `${where}[${i}]`));
}

/** Asserts one metadata entry equals the oracle's. */
export function assertEntryMatches(
  actual: GgufJson["metadata"][string] | undefined,
  expected: ExpectedEntry,
  key: string,
): void {
  assert.ok(actual !== undefined, `metadata "${key}" is missing`);
  assert.equal(actual.type, expected.type, `metadata "${key}" type`);
  if (expected.type !== "ARRAY") {
    sameScalar((actual as { value: unknown }).value, expected.value, expected.type, key);
    return;
  }
  const array = actual as {
    elem: string;
    len: number;
    value?: unknown[];
    head?: unknown[];
    tail?: unknown[];
  };
  assert.equal(array.elem, expected.elem, `metadata "${key}" elem`);
  assert.equal(array.len, expected.len, `metadata "${key}" len`);
  if (expected.value !== undefined) {
    sameList(array.value, expected.value as unknown[], expected.elem!, `${key}.value`);
  } else {
    sameList(array.head, expected.head!, expected.elem!, `${key}.head`);
    sameList(array.tail, expected.tail!, expected.elem!, `${key}.tail`);
  }
}

/** Asserts header, metadata (in order) and tensor index equal the oracle's. */
export function assertHeaderMatches(actual: GgufJson, expected: ExpectedFile): void {
  assert.equal(actual.version, expected.version, "version");
  assert.equal(actual.alignment, expected.alignment, "alignment");
  assert.equal(actual.data_offset, expected.data_offset, "data_offset");
  assert.deepEqual(Object.keys(actual.metadata), Object.keys(expected.metadata), "metadata keys");
  for (const [key, entry] of Object.entries(expected.metadata)) {
    assertEntryMatches(actual.metadata[key], entry, key);
  }
  assert.equal(actual.tensors.length, expected.tensors.length, "tensor count");
  expected.tensors.forEach((t, i) => {
    const { name, type, type_id, shape, offset, nbytes } = t;
    assert.deepEqual(
      actual.tensors[i],
      { name, type, type_id, shape, offset, nbytes },
      `tensor ${i}`,
    );
  });
}
