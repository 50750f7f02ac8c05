/// <reference lib="dom" />
/**
 * The inspector page (`examples/inspect.html`) in headless Chromium: the page and its
 * bundle are served from 127.0.0.1, a fixture is set into the file input, and what the
 * page shows must equal the fixture's expected JSON — metadata values, tensor count, the
 * first values of dequantized tensors — with no request made for the file.
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`, or `CHROMIUM_PATH`); skipped
 * with a reason without it, except under CI where its absence fails the test.
 * `INSPECT_SCREENSHOT=/path.png` saves a screenshot of the page.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium, type Page } from "playwright-core";
import { formatInteger } from "../src/model/errors.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { conformance, type ExpectedEntry, type Fixture, fixture } from "./_fixtures.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const IN_CI = process.env.CI === "true" || process.env.CI === "1";
const BUN = "bun" in process.versions ? process.execPath : join(ROOT, "node_modules/.bin/bun");

function skipReason(): string | false {
  if (conformance.skip) return conformance.skip;
  if (existsSync(CHROMIUM)) return false;
  // Under CI a missing browser is a failure of .ci/run, not a reason to skip.
  if (IN_CI) return false;
  return `chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
}

/** Bundles the page's script for the browser into a fresh directory. */
function buildBundle(dir: string): string {
  const out = join(dir, "inspect.js");
  const build = spawnSync(BUN, [
    "build",
    "examples/inspect.ts",
    "--target",
    "browser",
    "--format",
    "iife",
    "--outfile",
    out,
  ], { cwd: ROOT, encoding: "utf8" });
  assert.equal(build.status, 0, `bun build failed: ${build.stderr}`);
  return out;
}

/** Serves the page and its bundle (and nothing else) on 127.0.0.1. */
async function servePage(bundle: string): Promise<{ url: string; close(): Promise<void> }> {
  const files: Record<string, [string, string]> = {
    "/examples/inspect.html": [join(ROOT, "examples/inspect.html"), "text/html; charset=utf-8"],
    "/out/inspect.js": [bundle, "text/javascript; charset=utf-8"],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? "/", "http://x").pathname];
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file[1] }).end(readFileSync(file[0]));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/examples/inspect.html`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections?.();
        server.close(() => done());
      }),
  };
}

/**
 * Significant digits the oracle printed FLOAT64 values with: 17 (exact), but 9 for the
 * `split/` fixtures (gguf-py's oracle; see tests/_compare.ts).
 */
let float64Digits = 17;

/** Whether the page's text for a scalar equals the oracle's value. */
function sameScalar(text: string, expected: unknown, type: string): boolean {
  if (type === "FLOAT32" || type === "FLOAT64") {
    if (expected === null) return !Number.isFinite(Number(text));
    const value = Number(text);
    return type === "FLOAT32"
      ? Math.fround(value) === Math.fround(expected as number)
      : value === expected || Number(value.toPrecision(float64Digits)) === expected;
  }
  if (type === "STRING") return JSON.parse(text) === expected;
  if (type === "BOOL") return text === String(expected);
  return text === String(expected); // integers, 64-bit ones as decimal strings
}

function assertShownEntry(text: string, expected: ExpectedEntry, key: string): void {
  if (expected.type !== "ARRAY") {
    if (expected.type === "STRING" && JSON.stringify(expected.value).length > 300) {
      assert.ok(text.startsWith(JSON.stringify(expected.value).slice(0, 200)), key);
      return;
    }
    assert.ok(sameScalar(text, expected.value, expected.type), `${key}: shows ${text}`);
    return;
  }
  const prefix = `[${expected.elem} x ${formatInteger(expected.len!)}] [`;
  assert.ok(text.startsWith(prefix), `${key}: shows ${text}`);
  const first = ((expected.value ?? expected.head) as unknown[])[0];
  if (first === undefined || expected.elem === "ARRAY") return;
  const shown = text.slice(prefix.length).split(", ")[0].replace(/[\]…]+$/, "");
  if (expected.elem === "STRING" && JSON.stringify(first).length > 38) return;
  assert.ok(sameScalar(shown, first, expected.elem!), `${key}[0]: shows ${shown}`);
}

/** Opens `f` in the page and checks the header, metadata and tensor table. */
async function openAndCheck(page: Page, f: Fixture): Promise<void> {
  float64Digits = f.id.startsWith("split/") ? 9 : 17;
  await page.setInputFiles("#file", f.path);
  await page.waitForSelector('#status:is([data-state="ready"], [data-state="error"])');
  assert.equal(
    await page.getAttribute("#status", "data-state"),
    "ready",
    await page.textContent("#status") ?? "",
  );
  const field = (name: string) => page.textContent(`#summary dd[data-field="${name}"]`);
  assert.equal(await field("tensors"), String(f.expected.tensors.length));
  assert.equal(await field("version"), String(f.expected.version));
  assert.equal(await field("alignment"), String(f.expected.alignment));
  assert.equal(await field("data-offset"), formatInteger(f.expected.data_offset));
  const rows = await page.$$eval(
    "#metadata tbody tr",
    (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.key!, tr.children[2].textContent!]),
  );
  assert.deepEqual(rows.map(([key]) => key), Object.keys(f.expected.metadata));
  for (const [key, text] of rows) {
    // general.file_type is followed by its name: `1 (MOSTLY_F16)`.
    const value = key === "general.file_type" ? text.replace(/ \([A-Z0-9_]+\)$/, "") : text;
    assertShownEntry(value, f.expected.metadata[key], key);
  }
  const tensors = await page.$$eval(
    "#tensors tbody tr",
    (trs) => trs.map((tr) => [tr.children[0].textContent, tr.children[1].textContent]),
  );
  assert.deepEqual(tensors, f.expected.tensors.map((t) => [t.name, t.type]));
}

test("the inspector page shows a local file's header, metadata, plan and values", {
  skip: skipReason(),
  timeout: 180_000,
}, async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `CI=true but ${CHROMIUM} is missing: .ci/run must install it (apt-get install -y chromium)`,
  );
  const dir = mkdtempSync(join(tmpdir(), "gguf-inspect-"));
  const server = await servePage(buildBundle(dir));
  const context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    const requests: string[] = [];
    page.on("request", (request) => requests.push(`${request.method()} ${request.url()}`));
    await page.goto(server.url);
    const pageRequests = requests.length;

    // Every type's tensor: header, metadata, plan, then the first values of each tensor.
    const f = fixture("gen/all-types.gguf");
    await openAndCheck(page, f);
    let checked = 0;
    for (const t of f.expected.tensors) {
      if (t.head === null) continue;
      const rowCount = String(Math.ceil(t.head.length / t.shape[0]));
      await page.fill("#row-count", rowCount);
      await page.selectOption("#tensor-select", t.name);
      await page.dispatchEvent("#row-count", "change");
      await page.waitForFunction(
        ([name, rows]) => {
          const view = document.querySelector<HTMLElement>("#rows")!;
          return view.dataset.tensor === name && view.dataset.state === "ready" &&
            view.querySelectorAll(".values").length === Number(rows);
        },
        [t.name, rowCount],
      );
      const shown = await page.$$eval(
        "#rows .values span",
        (spans) => spans.map((s) => s.textContent!),
      );
      t.head.forEach((want, i) => {
        const value = Number(shown[i]);
        if (want === null) assert.ok(!Number.isFinite(value), `${t.name}[${i}]: ${shown[i]}`);
        else assert.ok(Math.fround(value) === Math.fround(want), `${t.name}[${i}]: ${shown[i]}`);
      });
      checked++;
    }
    assert.ok(checked >= 40, `${checked} tensors checked`);

    // A real model with a 32 000-token vocabulary, for the eye too.
    await openAndCheck(page, fixture("real/ollama-llama-2-tiny-random.gguf"));
    assert.equal(
      await page.textContent('#summary dd[data-field="file-type"]'),
      "MOSTLY_F16 (1)",
    );
    assert.equal(
      await page.textContent('#summary dd[data-field="parameters"]'),
      "513 K (513_048)",
    );
    assert.match(
      await page.textContent('#metadata tr[data-key="general.file_type"] td.value') ?? "",
      /^1 \(MOSTLY_F16\)$/,
    );
    await page.fill("#row-count", "3");
    await page.selectOption("#tensor-select", "blk.0.attn_q.weight");
    await page.waitForFunction(() =>
      document.querySelector<HTMLElement>("#rows")!.dataset.tensor === "blk.0.attn_q.weight" &&
      document.querySelectorAll("#rows .values").length === 3
    );
    // A part of a split model is shown alone, and said to be one.
    await openAndCheck(page, fixture("split/kquants-00002-of-00003.gguf"));
    assert.match(
      await page.textContent("#status") ?? "",
      /It is part 2 of a 3-part split model, shown alone: its own 7 tensors\. Pick all 3 parts together to see the model whole\.$/,
    );
    await openAndCheck(page, fixture("split/kquants-00001-of-00003.gguf"));
    assert.match(
      await page.textContent("#status") ?? "",
      /part 1 of a 3-part .* and the model's metadata\./,
    );
    // All three picked together, in any order: the model whole, as the merged file's oracle says.
    const part = (k: number) => fixture(`split/kquants-0000${k}-of-00003.gguf`).path;
    await page.setInputFiles("#file", [part(3), part(1), part(2)]);
    await page.waitForSelector('#status:is([data-state="ready"], [data-state="error"])');
    assert.match(
      await page.textContent("#status") ?? "",
      /^kquants-00001-of-00003\.gguf and 2 more parts: [\d_]+ bytes, read in place \(nothing uploaded\)\. The 3 parts of a split model, shown as one\.$/,
    );
    const merged = JSON.parse(
      readFileSync(join(dirname(part(1)), "kquants.merged.expected.json"), "utf8"),
    ) as { metadata: Record<string, unknown>; tensors: { name: string; type: string }[] };
    assert.deepEqual(
      await page.$$eval(
        "#metadata tbody tr",
        (trs) => trs.map((tr) => (tr as HTMLElement).dataset.key),
      ),
      Object.keys(merged.metadata),
    );
    assert.deepEqual(
      await page.$$eval(
        "#tensors tbody tr",
        (trs) => trs.map((tr) => [tr.children[0].textContent, tr.children[1].textContent]),
      ),
      merged.tensors.map((t) => [t.name, t.type]),
    );
    // A tensor of the last part shows its values.
    const last = merged.tensors.at(-1)!.name;
    await page.selectOption("#tensor-select", last);
    await page.waitForFunction((name) => {
      const view = document.querySelector<HTMLElement>("#rows")!;
      return view.dataset.tensor === name && view.dataset.state === "ready";
    }, last);

    // Names that would display as others are escaped as the CLI prints them; an empty
    // tensor says so; a row count past the page's maximum shows the maximum.
    const crafted = join(dir, "crafted.gguf");
    const header = encodeGgufHeader({
      alignment: 32,
      metadata: [{ key: "evil\u202etxt.yek", type: 8, value: "a\u0085b" }],
      tensors: [
        { name: "tok\u202ethgiew.nekot", shape: [4, 200], type: 0, nbytes: 3200 },
        { name: "empty", shape: [0, 4], type: 0, nbytes: 0 },
      ],
    });
    const bytes = new Uint8Array(header.fileSize);
    bytes.set(header.bytes);
    writeFileSync(crafted, bytes);
    await page.setInputFiles("#file", crafted);
    await page.waitForSelector('#status[data-state="ready"]');
    const cells = await page.$$eval(
      "#tensors tbody tr td:first-child",
      (tds) => tds.map((td) => td.textContent),
    );
    assert.deepEqual(cells, ["tok\\u202ethgiew.nekot", "empty"]);
    assert.equal(await page.textContent("#metadata tbody tr td:first-child"), "evil\\u202etxt.yek");
    assert.equal(await page.textContent("#metadata tbody tr td.value"), '"a\\u0085b"');
    await page.fill("#row-count", "150");
    await page.dispatchEvent("#row-count", "change");
    await page.waitForFunction(() => document.querySelectorAll("#rows .values").length === 100);
    assert.match(await page.textContent("#rows p.note") ?? "", /The first 100 rows are shown/);
    await page.selectOption("#tensor-select", "empty");
    await page.waitForFunction(() =>
      document.querySelector<HTMLElement>("#rows")!.dataset.tensor === "empty"
    );
    assert.match(await page.textContent("#rows") ?? "", /empty holds no values \(shape 0 × 4\)/);

    if (process.env.INSPECT_SCREENSHOT) {
      await page.screenshot({ path: process.env.INSPECT_SCREENSHOT, fullPage: true });
    }

    // Nothing was fetched or sent once the page was up: the files were read in place.
    assert.deepEqual(requests.slice(pageRequests), []);
    assert.deepEqual(errors, []);

    // Opened from disk (file:), where browsers refuse module scripts: the page works too,
    // and without its bundle it says how to build it instead of doing nothing.
    const site = join(dir, "site");
    mkdirSync(join(site, "examples"), { recursive: true });
    copyFileSync(join(ROOT, "examples/inspect.html"), join(site, "examples/inspect.html"));
    const fromDisk = pathToFileURL(join(site, "examples/inspect.html")).href;
    await page.goto(fromDisk);
    assert.match(await page.textContent("#status") ?? "", /did not load: build it first/);
    mkdirSync(join(site, "out"));
    copyFileSync(join(dir, "inspect.js"), join(site, "out/inspect.js"));
    await page.goto(fromDisk);
    assert.equal(await page.textContent("#status"), "No file chosen.");
    await openAndCheck(page, fixture("gen/kquants.gguf"));
  } finally {
    await context.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
