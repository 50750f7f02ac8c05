/**
 * Models read where they lie: over HTTP by Range requests (header reads touch only the
 * header's bytes), over HTTP as one stream (conversions), split models by URL, and a
 * `Blob`. Real local servers count every request and byte.
 */
import assert from "node:assert/strict";
import {
  closeSync,
  copyFileSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { convertFile, GgufError, readGguf } from "../mod.ts";
import {
  encodeGgufHeader,
  openGgufModel,
  openHttpRangeSource,
  readTensorRows,
} from "../advanced.ts";
import { main } from "../convert.ts";
import { ggufToJson } from "../src/cli/gguf_json.ts";
import { assertHeaderMatches } from "./_compare.ts";
import { conformance, fixture, FIXTURES_DIR, listFixtures } from "./_fixtures.ts";
import { startPlainServer, startStaticServer, type TestServer } from "./_http_servers.ts";

let server: TestServer;
let plain: TestServer;
let scratch: string;

before(async () => {
  if (conformance.skip) return;
  server = await startStaticServer(FIXTURES_DIR);
  plain = await startPlainServer(FIXTURES_DIR, server.url);
  scratch = mkdtempSync(join(tmpdir(), "gguf-http-"));
});

after(async () => {
  await server?.close();
  await plain?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs `body`, returning the requests and bytes `server` answered meanwhile. */
async function counted<T>(
  on: TestServer,
  body: () => Promise<T>,
): Promise<{ result: T; requests: number; bytes: number; ranges: (string | undefined)[] }> {
  const start = on.log.length;
  const result = await body();
  const entries = on.log.slice(start);
  return {
    result,
    requests: entries.length,
    bytes: entries.reduce((sum, e) => sum + e.bytes, 0),
    ranges: entries.map((e) => e.range),
  };
}

async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const status = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { status, stdout, stderr };
}

test(
  "readGguf() reads ggml-vocab-gpt-2's header by URL in two range requests",
  conformance,
  async () => {
    const f = fixture("real/ggml-vocab-gpt-2.gguf");
    const size = readFileSync(f.path).length;
    const { result, requests, bytes, ranges } = await counted(
      server,
      () => readGguf(`${server.url}/real/ggml-vocab-gpt-2.gguf`),
    );
    assertHeaderMatches(ggufToJson(result), f.expected);
    assert.equal(result.fileSize, size);
    // A vocab-only file is all header: the first MiB, then only the missing tail.
    assert.deepEqual(ranges, ["bytes=0-1048575", `bytes=1048576-${size - 1}`]);
    assert.equal(requests, 2);
    assert.equal(bytes, size);
  },
);

test(
  "a tensor-heavy model's header is read by URL without its tensor data",
  conformance,
  async () => {
    const f = fixture("gen/kquants.gguf");
    const size = readFileSync(f.path).length;
    const url = `${server.url}/gen/kquants.gguf`;
    const small = await counted(server, () => readGguf(url, { firstRequestBytes: 4096 }));
    assertHeaderMatches(ggufToJson(small.result), f.expected);
    assert.ok(small.requests <= 2, `${small.requests} requests`);
    // Only prefixes were fetched, each at most 4× what the header needed.
    assert.ok(small.ranges.every((r) => r !== undefined && /^bytes=\d+-\d+$/.test(r)));
    assert.ok(small.bytes <= 4 * f.expected.data_offset, `${small.bytes} bytes`);
    assert.ok(small.bytes < size / 20, `${small.bytes} of ${size} bytes`);

    // The same header at the start of a 5 GiB (sparse) file: one request, one MiB.
    const big = join(scratch, "big.gguf");
    copyFileSync(f.path, big);
    const fd = openSync(big, "r+");
    ftruncateSync(fd, 5 * 2 ** 30 + 7);
    closeSync(fd);
    const bigServer = await startStaticServer(scratch);
    try {
      const read = await counted(bigServer, () => readGguf(`${bigServer.url}/big.gguf`));
      assert.equal(read.result.fileSize, 5 * 2 ** 30 + 7);
      assertHeaderMatches(ggufToJson(read.result), f.expected);
      assert.deepEqual(read.ranges, ["bytes=0-1048575"]);
      assert.equal(read.bytes, 1 << 20);
    } finally {
      await bigServer.close();
    }
  },
);

test(
  "--plan --json, --key and --dump by URL equal those of the local file",
  conformance,
  async () => {
    const ids = [
      ...listFixtures().filter((f) => f.id.startsWith("gen/")).map((f) => f.id),
      "real/ollama-llama-2-tiny-random.gguf",
      "split/kquants-00001-of-00003.gguf",
    ];
    for (const id of ids) {
      const local = await run([join(FIXTURES_DIR, id), "--plan", "--json", "-q"]);
      const remote = await run([`${server.url}/${id}`, "--plan", "--json", "-q"]);
      assert.equal(remote.status, 0, `${id}: ${remote.stderr}`);
      const [a, b] = [JSON.parse(local.stdout), JSON.parse(remote.stdout)];
      delete a.file;
      delete b.file;
      assert.deepEqual(b, a, id);
    }
    // --key and --dump by URL print what they print for the file.
    for (
      const args of [
        ["--key", "general.name", "--key", "tokenizer.ggml.tokens"],
        ["--dump", "blk.0.attn_q.weight", "--rows", "0:3", "--json"],
        ["--dump", "output.weight"],
      ]
    ) {
      const id = "real/ollama-llama-2-tiny-random.gguf";
      const local = await run([join(FIXTURES_DIR, id), ...args]);
      const remote = await run([`${server.url}/${id}`, ...args]);
      assert.equal(remote.status, 0, remote.stderr);
      assert.equal(remote.stdout, local.stdout, args.join(" "));
    }
  },
);

test(
  "a split model opens by its first part's URL, the others derived by name",
  conformance,
  async () => {
    const merged = JSON.parse(
      readFileSync(join(FIXTURES_DIR, "split/kquants.merged.expected.json"), "utf8"),
    );
    const url = `${server.url}/split/kquants-00001-of-00003.gguf?revision=main`;
    const { result: model, ranges } = await counted(server, () => openGgufModel(url));
    try {
      assert.equal(model.parts.length, 3);
      assert.deepEqual(
        model.tensors.map((t) => t.name),
        merged.tensors.map((t: { name: string }) => t.name),
      );
      assert.equal(
        model.parts[2].url,
        `${server.url}/split/kquants-00003-of-00003.gguf?revision=main`,
      );
      assert.equal(model.parts[2].path, undefined);
      assert.equal(ranges.length, 3); // one range request per part
    } finally {
      await model.close();
    }
    const paths = server.log.slice(-3).map((e) => e.path);
    assert.deepEqual(paths, [1, 2, 3].map((n) => `/split/kquants-0000${n}-of-00003.gguf`));
  },
);

test(
  "converting a URL fetches it once, as a stream, and equals converting the file",
  conformance,
  async () => {
    for (const id of ["gen/legacy.gguf", "split/legacy-00001-of-00003.gguf"]) {
      const parts = id.startsWith("split/") ? 3 : 1;
      const fromFile = join(scratch, "from-file.gguf");
      const fromUrl = join(scratch, "from-url.gguf");
      await convertFile(join(FIXTURES_DIR, id), fromFile, { force: true });
      const { requests, ranges } = await counted(
        server,
        () => convertFile(`${server.url}/${id}`, fromUrl, { force: true }),
      );
      assert.equal(requests, parts, id);
      assert.ok(ranges.every((r) => r === undefined), `${id}: ${ranges}`);
      assert.deepEqual(readFileSync(fromUrl), readFileSync(fromFile), id);
    }
    // The CLI's -o does the same.
    const out = join(scratch, "cli.gguf");
    const cli = await counted(
      server,
      () => run([`${server.url}/gen/legacy.gguf`, "-o", out, "-q"]),
    );
    assert.equal(cli.result.status, 0, cli.result.stderr);
    assert.deepEqual(cli.ranges, [undefined]);
  },
);

test(
  "a server that ignores Range is refused with a clear error, and still converts in one pass",
  conformance,
  async () => {
    const url = `${plain.url}/gen/legacy.gguf`;
    await assert.rejects(readGguf(url), (error: unknown) => {
      assert.ok(error instanceof GgufError);
      assert.equal(error.code, "IO");
      assert.match(error.message, /does not honour Range requests/);
      assert.match(error.message, /200 OK, 338_080 bytes/);
      return true;
    });
    const refused = await run([url, "--plan"]);
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /^error: Cannot read http:\/\/127\.0\.0\.1:\d+\/gen\/legacy\.gguf by ranges/,
    );
    const out = join(scratch, "plain.gguf");
    const fromFile = join(scratch, "plain-file.gguf");
    await convertFile(url, out, { force: true });
    await convertFile(fixture("gen/legacy.gguf").path, fromFile, { force: true });
    assert.deepEqual(readFileSync(out), readFileSync(fromFile));
  },
);

test(
  "redirects are followed and the caller's headers go with every request",
  conformance,
  async () => {
    const f = fixture("real/ollama-llama-2-tiny-random.gguf");
    const headers = { Authorization: "Bearer test-token", "X-Trace": "gguf-stream-test" };
    const direct = await counted(
      server,
      () => readGguf(`${server.url}/real/ollama-llama-2-tiny-random.gguf`, { headers }),
    );
    assertHeaderMatches(ggufToJson(direct.result), f.expected);
    assert.equal(direct.requests, 1); // the header fits in the first MiB
    assert.equal(server.log.at(-1)!.headers.authorization, "Bearer test-token");
    const redirected = await counted(
      server,
      () =>
        readGguf(new URL(`${plain.url}/redirect/real/ollama-llama-2-tiny-random.gguf`), {
          headers,
        }),
    );
    assertHeaderMatches(ggufToJson(redirected.result), f.expected);
    assert.equal(redirected.requests, 1);
    // fetch drops Authorization on a redirect to another origin; other headers follow.
    assert.equal(server.log.at(-1)!.headers["x-trace"], "gguf-stream-test");
  },
);

test("a missing URL is an IO error naming the status, without the query", conformance, async () => {
  await assert.rejects(
    readGguf(`${server.url}/gen/nope.gguf?token=secret`),
    (error: unknown) => {
      assert.ok(error instanceof GgufError);
      assert.equal(error.code, "IO");
      assert.match(error.message, /answered 404/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    },
  );
});

test("a caller's fetch sees every request", conformance, async () => {
  const seen: string[] = [];
  const source = await openHttpRangeSource(`${server.url}/gen/kquants.gguf`, {
    firstRequestBytes: 1024,
    fetch: (url, init) => {
      seen.push(new Headers(init.headers).get("range")!);
      return fetch(url, init);
    },
  });
  assert.equal(source.kind, "http");
  const bytes = new Uint8Array(readFileSync(fixture("gen/kquants.gguf").path));
  assert.equal(source.size, bytes.length);
  assert.deepEqual(await source.read(0, 1024), bytes.subarray(0, 1024)); // from the prefix
  assert.deepEqual(await source.read(1000, 100), bytes.subarray(1000, 1100)); // across its end
  assert.deepEqual(await source.read(500_000, 10), bytes.subarray(500_000, 500_010));
  assert.deepEqual(seen, ["bytes=0-1023", "bytes=1024-1099", "bytes=500000-500009"]);
  await source.close();
});

test(
  "rows of a tensor by URL cost one range request of just their bytes",
  conformance,
  async () => {
    const f = fixture("gen/kquants.gguf");
    const model = await openGgufModel(`${server.url}/gen/kquants.gguf`, {
      firstRequestBytes: 4096,
    });
    try {
      // Tensors whose data lies past the header's prefix.
      const far = f.expected.tensors.filter((t) =>
        t.head !== null && f.expected.data_offset + t.offset >= 65536
      );
      assert.ok(far.length >= 6);
      for (const t of far.slice(0, 6)) {
        const rows = Math.ceil(8 / t.shape[0]);
        const info = model.tensors.find((i) => i.name === t.name)!;
        const { result, requests, bytes } = await counted(
          server,
          () => readTensorRows(model, t.name, { rowCount: rows }),
        );
        assert.equal(requests, 1, t.name);
        assert.equal(bytes, (info.nbytes / info.elements) * rows * info.shape[0], t.name);
        t.head!.forEach((want, i) =>
          assert.ok(Object.is(result[i], Math.fround(want as number)), `${t.name}[${i}]`)
        );
      }
    } finally {
      await model.close();
    }
  },
);

test("a Blob is read by slices, like a file", conformance, async () => {
  for (const id of ["gen/all-types.gguf", "real/ggml-vocab-gpt-2.gguf"]) {
    const f = fixture(id);
    const blob = new Blob([readFileSync(f.path)]);
    assertHeaderMatches(ggufToJson(await readGguf(blob)), f.expected);
    const model = await openGgufModel(blob);
    try {
      assert.equal(model.parts[0].source.kind, "blob");
      for (const t of f.expected.tensors.filter((t) => t.head !== null).slice(0, 5)) {
        const values = await readTensorRows(model, t.name, {
          rowCount: Math.ceil(8 / t.shape[0]),
        });
        t.head!.forEach((want, i) =>
          assert.ok(
            want === null ? !Number.isFinite(values[i]) : Object.is(values[i], Math.fround(want)),
            `${t.name}[${i}]`,
          )
        );
      }
    } finally {
      await model.close();
    }
  }
});

test(
  "a URL whose tensor data is out of index order converts by ranges instead of one pass",
  conformance,
  async () => {
    // Two F32 tensors of 8 values; their offsets swapped, so the index lists "a" first
    // but its data comes second.
    const header = encodeGgufHeader({
      alignment: 32,
      metadata: [{ key: "general.architecture", type: 8, value: "llama" }],
      tensors: ["a", "b"].map((name) => ({ name, shape: [8], type: 0, nbytes: 32 })),
    });
    const file = new Uint8Array(header.fileSize);
    file.set(header.bytes);
    const view = new DataView(file.buffer);
    const offsetField = (name: string) => {
      // The index entry: name length (u64 1), the name, n_dims, ne0, type, then the offset.
      const entry = [1, 0, 0, 0, 0, 0, 0, 0, name.charCodeAt(0), 1, 0, 0, 0];
      const at = file.findIndex((_, i) => entry.every((b, j) => file[i + j] === b));
      return at + 8 + 1 + 4 + 8 + 4;
    };
    view.setBigUint64(offsetField("a"), 32n, true);
    view.setBigUint64(offsetField("b"), 0n, true);
    const values = new Float32Array(file.buffer, header.dataOffset, 16);
    values.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const path = join(scratch, "unordered.gguf");
    writeFileSync(path, file);
    // ggml refuses such a layout; lenient reading accepts it.
    const local = await readGguf(path, { lenient: true });
    assert.deepEqual(local.tensors.map((t) => t.offset), [32, 0]);
    const out = join(scratch, "unordered.out.gguf");
    const scratchServer = await startStaticServer(scratch);
    try {
      const { ranges } = await counted(
        scratchServer,
        () =>
          convertFile(`${scratchServer.url}/unordered.gguf`, out, { force: true, lenient: true }),
      );
      assert.equal(ranges[0], undefined); // the one-pass attempt
      assert.ok(ranges.slice(1).every((r) => r !== undefined), String(ranges));
    } finally {
      await scratchServer.close();
    }
    const model = await openGgufModel(out);
    try {
      assert.deepEqual([...await readTensorRows(model, "a")], [9, 10, 11, 12, 13, 14, 15, 16]);
    } finally {
      await model.close();
    }
  },
);
