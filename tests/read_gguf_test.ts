import assert from "node:assert/strict";
import { test } from "node:test";
import { GgufError, readGguf } from "../mod.ts";
import { ggufToJson } from "../src/cli/gguf_json.ts";
import { assertHeaderMatches, withFloat64Digits } from "./_compare.ts";
import { conformance, listFixtures, STRICT_REFUSALS } from "./_fixtures.ts";
import { SOURCE_KINDS } from "./_sources.ts";

const fixtures = listFixtures();

for (const kind of SOURCE_KINDS) {
  test(
    `readGguf() matches the oracle for every fixture through ${kind.name}`,
    { skip: conformance.skip || kind.skip },
    async () => {
      for (const fixture of fixtures) {
        const source = await kind.open(fixture.path);
        try {
          const refusal = STRICT_REFUSALS[fixture.id];
          if (refusal !== undefined) {
            await assert.rejects(
              readGguf(source),
              (e: unknown) => e instanceof GgufError && e.code === refusal,
              `${fixture.id} must be refused with ${refusal}`,
            );
          }
          const lenient = refusal !== undefined;
          const file = await readGguf(source, { lenient });
          const digits = fixture.id.startsWith("split/") ? 9 : 17;
          withFloat64Digits(digits, () => assertHeaderMatches(ggufToJson(file), fixture.expected));
          const duplicates = file.duplicateKeys.map((d) => ({ key: d.key, kv_offset: d.offset }));
          const expectedDuplicates = (fixture.expected.duplicate_keys ?? []).map((d) => ({
            key: d.key,
            kv_offset: d.kv_offset,
          }));
          assert.deepEqual(duplicates, expectedDuplicates, `${fixture.id} duplicate keys`);
        } catch (error) {
          if (error instanceof Error) error.message = `${fixture.id}: ${error.message}`;
          throw error;
        } finally {
          await source.close();
        }
      }
    },
  );
}

test("readGguf() reads a big-endian file like its little-endian twin", conformance, async () => {
  const be = fixtures.find((f) => f.id === "real/gguf-rs-test-be-v3.gguf")!;
  const le = fixtures.find((f) => f.id === "real/gguf-rs-test-le-v3-dupkey.gguf")!;
  const beFile = await readGguf(be.path, { lenient: true });
  const leFile = await readGguf(le.path, { lenient: true });
  assert.equal(beFile.littleEndian, false);
  assert.equal(leFile.littleEndian, true);
  const { byte_order: _a, ...beJson } = ggufToJson(beFile);
  const { byte_order: _b, ...leJson } = ggufToJson(leFile);
  assert.deepEqual(beJson, leJson);
});
