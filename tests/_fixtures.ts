/**
 * Finds the reference fixtures (`../shared/fixtures` beside the repository, or
 * `$GGUF_FIXTURES`) and loads their expected JSON. When they are missing, conformance
 * tests are skipped with a reason outside CI, and fail under CI (`CI=true`).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The fixtures directory, whether or not it exists. */
export const FIXTURES_DIR: string = process.env.GGUF_FIXTURES
  ? resolve(process.env.GGUF_FIXTURES)
  : join(REPO_ROOT, "..", "shared", "fixtures");

const IN_CI = process.env.CI === "true" || process.env.CI === "1";

/** `undefined` when the fixtures are present, else why conformance tests are skipped. */
export const FIXTURES_MISSING: string | undefined = existsSync(join(FIXTURES_DIR, "gen"))
  ? undefined
  : `reference fixtures not found at ${FIXTURES_DIR} (they are laid beside the checkout as ../shared/fixtures on the project's machines; elsewhere set GGUF_FIXTURES to a copy, or run without them: see CONTRIBUTING.md)`;

if (FIXTURES_MISSING !== undefined) {
  if (IN_CI) throw new Error(`CI=true but ${FIXTURES_MISSING}`);
  console.warn(`SKIPPING conformance tests: ${FIXTURES_MISSING}`);
}

/** Options for `node:test` that skip a conformance test when fixtures are missing. */
export const conformance: { skip: string | false } = { skip: FIXTURES_MISSING ?? false };

/** One fixture file and what the oracle says about it. */
export interface Fixture {
  /** `gen/all-types.gguf` etc. */
  id: string;
  path: string;
  /** The oracle's JSON (`NAME.expected.json`, or `NAME.expected-lenient.json` where gguf-py refused). */
  expected: ExpectedFile;
  /** Whether `expected` came from the lenient oracle. */
  lenientOracle: boolean;
}

/** The oracle's schema (see `shared/fixtures/gen/README.md`). */
export interface ExpectedFile {
  file: string;
  sha256: string;
  version: number;
  alignment: number;
  data_offset: number;
  metadata: Record<string, ExpectedEntry>;
  tensors: ExpectedTensor[];
  duplicate_keys?: { key: string; kv_offset: number; type: string; value: unknown }[];
  error?: string;
}

export interface ExpectedEntry {
  type: string;
  value?: unknown;
  elem?: string;
  len?: number;
  head?: unknown[];
  tail?: unknown[];
}

export interface ExpectedTensor {
  name: string;
  type: string;
  type_id: number;
  shape: number[];
  offset: number;
  nbytes: number;
  f32_sha256: string | null;
  head: (number | null)[] | null;
  nan: number | null;
  inf: number | null;
  /** ggml's own Q8_0/Q4_0 requantization of the float32 values, where rows allow. */
  requant_sha256?: { Q8_0: string; Q4_0: string };
}

function readJson(path: string): ExpectedFile {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** Every `.gguf` fixture in `gen/`, `real/` and `split/`, with its expectations. */
export function listFixtures(): Fixture[] {
  if (FIXTURES_MISSING !== undefined) return [];
  const out: Fixture[] = [];
  for (const group of ["gen", "real", "split"]) {
    const dir = join(FIXTURES_DIR, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith(".gguf")) continue;
      const base = join(dir, name.slice(0, -5));
      let expected = readJson(base + ".expected.json");
      let lenientOracle = false;
      if (expected.error !== undefined) {
        expected = readJson(base + ".expected-lenient.json");
        lenientOracle = true;
      }
      out.push({ id: `${group}/${name}`, path: join(dir, name), expected, lenientOracle });
    }
  }
  return out;
}

/** Fixtures ggml refuses, and the code our strict reader must give. */
export const STRICT_REFUSALS: Record<string, string> = {
  "real/gguf-rs-test-le-v3-dupkey.gguf": "DUPLICATE_KEY",
  "real/gguf-rs-test-be-v3.gguf": "DUPLICATE_KEY",
  "real/llama4j-stories260k-q8_0-v2.gguf": "BAD_BLOCK_SIZE",
};

/** Reads a fixture's bytes. */
export function fixtureBytes(fixture: Fixture): Uint8Array {
  return new Uint8Array(readFileSync(fixture.path));
}

/** A fixture by id, e.g. `gen/kquants.gguf`. */
export function fixture(id: string): Fixture {
  const found = listFixtures().find((f) => f.id === id);
  if (found === undefined) throw new Error(`fixture ${id} not found in ${FIXTURES_DIR}`);
  return found;
}

/**
 * ggml's requantization of a tensor of `f` (see the fixtures' README): from `f`'s own
 * oracle, or for the first part of a split model from the part that holds the tensor.
 * `undefined` where the oracle gives none (files only gguf-py could read).
 */
export function requantOracle(
  f: Fixture,
  name: string,
): { Q8_0: string; Q4_0: string } | undefined {
  const own = f.expected.tensors.find((t) => t.name === name);
  if (own?.requant_sha256 !== undefined) return own.requant_sha256;
  const split = f.id.match(/^(.*)-00001-of-(\d{5})\.gguf$/);
  if (split === null) return undefined;
  for (let part = 1; part <= Number(split[2]); part++) {
    const id = `${split[1]}-${String(part).padStart(5, "0")}-of-${split[2]}.gguf`;
    const found = fixture(id).expected.tensors.find((t) => t.name === name);
    if (found?.requant_sha256 !== undefined) return found.requant_sha256;
  }
  return undefined;
}
