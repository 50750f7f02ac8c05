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
import { encodeGgufHeader } from "../pipeline.ts";
import { openGgufModel, openHttpRangeSource } from "../sources.ts";
import { readTensorRows } from "../kernels.ts";
import { runCli as run } from "./_cli.ts";
import { ggufToJson } from "../src/cli/gguf_json.ts";
import { assertHeaderMatches } from "./_compare.ts";
import { conformance, fixture, FIXTURES_DIR, listFixtures } from "./_fixtures.ts";
import {
  closedPort,
  ioError,
  serveBytes,
  startPlainServer,
  startScriptedServer,
  startStaticServer,
  type TestServer,
} from "./_http_servers.ts";

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
      // One GET for a file, or for a split model's first part; the others' headers by one
      // range request each (these parts fit in it whole, so no body GET follows).
      assert.equal(requests, parts, id);
      // The log is in the order responses finish: part 1's streamed body may end after a
      // later part's header range, so the requests are compared as a set.
      const sorted = (list: (string | undefined)[]) => list.map(String).sort();
      assert.deepEqual(
        sorted(ranges),
        sorted([undefined, ...Array(parts - 1).fill("bytes=0-1048575")]),
        `${id}: ${ranges}`,
      );
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
      assert.match(error.message, /asked for bytes 0-1048575, the server sent the whole file/);
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
    // A split model too: its later parts, which would be read by ranges, are streamed whole.
    const split = "split/legacy-00001-of-00003.gguf";
    await convertFile(`${plain.url}/${split}`, out, { force: true });
    await convertFile(join(FIXTURES_DIR, split), fromFile, { force: true });
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

// ---- Servers that misbehave: lengths, retries, resets, changes, redirects, pages. ----

/** Retries with waits of a millisecond or so: the tests stay fast. */
const FAST = { retry: { baseDelay: 1, maxDelay: 50 } };

/** Runs `body` against a scripted server, closing it afterwards. */
async function withServer<T>(
  handler: Parameters<typeof startScriptedServer>[0],
  body: (on: TestServer) => Promise<T>,
): Promise<T> {
  const on = await startScriptedServer(handler);
  try {
    return await body(on);
  } finally {
    await on.close();
  }
}

test(
  "a range answered with far more bytes than asked is refused without reading them all",
  conformance,
  async () => {
    let sent = 0;
    // An endless 206 (no Content-Length): chunks while the client takes them, at most 256 MiB.
    await withServer((req, res) => {
      res.writeHead(206, { "content-range": `bytes 0-1048575/${5 * 2 ** 30}` });
      const chunk = new Uint8Array(64 * 1024);
      const pump = () => {
        while (sent < 256 << 20 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      req.socket.on("close", () => res.destroy());
      pump();
    }, async (on) => {
      await assert.rejects(
        readGguf(`${on.url}/m.gguf`, FAST),
        ioError(/more than 1_048_576 bytes/),
      );
      assert.ok(sent < 32 << 20, `the server sent ${sent} bytes before the refusal`);
    });
    // A Content-Length of 3 GiB for a 1 MiB range: refused before its body is read.
    await withServer((_req, res) => {
      res.writeHead(206, {
        "content-range": `bytes 0-1048575/${5 * 2 ** 30}`,
        "content-length": String(3 * 2 ** 30),
      });
      res.write(new Uint8Array(1024));
    }, async (on) => {
      await assert.rejects(
        readGguf(`${on.url}/m.gguf`, FAST),
        ioError(/3_221_225_472 bytes \(its Content-Length\), 1_048_576 were asked for/),
      );
    });
    // A Content-Range wider than the range asked for: refused before its body is read.
    await withServer((_req, res) => {
      res.writeHead(206, { "content-range": `bytes 0-${3 * 2 ** 30 - 1}/${3 * 2 ** 30}` });
      res.write(new Uint8Array(1024));
    }, async (on) => {
      await assert.rejects(readGguf(`${on.url}/m.gguf`, FAST), ioError(/Content-Range/));
    });
  },
);

test(
  "503 and 429 are retried with backoff and Retry-After, a bounded number of times",
  conformance,
  async () => {
    const f = fixture("gen/legacy.gguf");
    const file = readFileSync(f.path);
    await withServer((req, res, count) => {
      if (count === 1) res.writeHead(503, { "retry-after": "1" }).end();
      else if (count === 2) res.writeHead(429).end();
      else serveBytes(req, res, file);
    }, async (on) => {
      const started = performance.now();
      const header = await readGguf(`${on.url}/m.gguf`, FAST);
      assertHeaderMatches(ggufToJson(header), f.expected);
      assert.deepEqual(on.log.map((e) => e.status), [503, 429, 206]);
      // Retry-After (1 s, capped by maxDelay at 50 ms) was waited for, not the 1 ms backoff.
      assert.ok(performance.now() - started >= 45, `${performance.now() - started} ms`);
    });
    await withServer((_req, res) => res.writeHead(503).end(), async (on) => {
      await assert.rejects(
        readGguf(`${on.url}/m.gguf`, FAST),
        ioError(/answered 503 Service Unavailable \(after 4 attempts\)/),
      );
      assert.equal(on.log.length, 4);
    });
  },
);

test(
  "a connection reset mid-body is retried for a range and resumed for a stream",
  conformance,
  async () => {
    const id = "gen/legacy.gguf";
    const file = readFileSync(fixture(id).path);
    const validators = { etag: '"v1"', "last-modified": "Mon, 07 Dec 2026 06:00:00 GMT" };
    // A range read: the first response is cut after 1000 bytes, the second is whole.
    await withServer((req, res, count) => {
      serveBytes(req, res, file, {
        headers: validators,
        resetAfter: count === 1 ? 1000 : undefined,
      });
    }, async (on) => {
      const header = await readGguf(`${on.url}/m.gguf`, FAST);
      assert.equal(header.tensors.length, fixture(id).expected.tensors.length);
      assert.equal(on.log.length, 2);
    });
    // A conversion: the one GET is cut at 100_000 bytes and resumed there.
    const fromFile = join(scratch, "reset-file.gguf");
    const fromUrl = join(scratch, "reset-url.gguf");
    await convertFile(fixture(id).path, fromFile, { force: true });
    await withServer((req, res, count) => {
      serveBytes(req, res, file, {
        headers: validators,
        resetAfter: count === 1 ? 100_000 : undefined,
      });
    }, async (on) => {
      await convertFile(`${on.url}/m.gguf`, fromUrl, { force: true, ...FAST });
      assert.deepEqual(on.log.map((e) => e.range), [undefined, "bytes=100000-"]);
      assert.equal(on.log[1].headers["if-range"], '"v1"');
    });
    assert.deepEqual(readFileSync(fromUrl), readFileSync(fromFile));
    // Without validators a reset cannot be resumed safely: the CLI names the URL and byte,
    // as an error in the input, not as an internal failure.
    await withServer(
      (req, res) => serveBytes(req, res, file, { resetAfter: 100_000 }),
      async (on) => {
        const cli = await run([`${on.url}/m.gguf`, "-o", join(scratch, "reset-cli.gguf"), "-q"]);
        assert.equal(cli.status, 1);
        assert.match(
          cli.stderr,
          /^error: Cannot read http:\/\/127\.0\.0\.1:\d+\/m\.gguf at byte 100_000: .*no ETag or Last-Modified/,
        );
        assert.doesNotMatch(cli.stderr, /unexpected failure/);
      },
    );
  },
);

test(
  "a file that changes on the server between requests is an error, never mixed bytes",
  conformance,
  async () => {
    const file = readFileSync(fixture("gen/legacy.gguf").path);
    for (
      const changing of [
        (n: number) => ({ etag: `"v${n}"` }),
        (n: number) => ({ "last-modified": new Date(Date.UTC(2026, 0, n)).toUTCString() }),
      ]
    ) {
      await withServer((req, res, count) => {
        serveBytes(req, res, file, { headers: changing(count) });
      }, async (on) => {
        // A header longer than the first request: the second request sees another version.
        await assert.rejects(
          readGguf(`${on.url}/m.gguf`, { firstRequestBytes: 64, ...FAST }),
          ioError(/changed on the server while being read/),
        );
      });
    }
    // A stream reset mid-body whose file changed meanwhile is not resumed with new bytes.
    await withServer((req, res, count) => {
      serveBytes(req, res, file, {
        headers: { etag: `"v${count}"` },
        resetAfter: count === 1 ? 100_000 : undefined,
      });
    }, async (on) => {
      await assert.rejects(
        convertFile(`${on.url}/m.gguf`, join(scratch, "changed.gguf"), { force: true, ...FAST }),
        ioError(/at byte 100_000: .*cannot resume there/),
      );
    });
  },
);

test(
  "redirect chains are followed to a bounded depth and the final URL is pinned",
  conformance,
  async () => {
    const file = readFileSync(fixture("gen/legacy.gguf").path);
    await withServer((req, res) => {
      const path = new URL(req.url!, "http://x").pathname;
      const hops = path.match(/^\/r\/(\d+)$/);
      if (path === "/loop") res.writeHead(302, { location: "/loop" }).end();
      else if (hops) {
        const next = Number(hops[1]) - 1;
        res.writeHead(302, { location: next === 0 ? "/m.gguf" : `/r/${next}` }).end();
      } else serveBytes(req, res, file, { headers: { etag: '"v1"' } });
    }, async (on) => {
      const header = await readGguf(`${on.url}/r/3`, { firstRequestBytes: 64, ...FAST });
      assert.equal(header.fileSize, file.length);
      // Three redirects, the first range; later ranges go straight to the final URL.
      const paths = on.log.map((e) => e.path);
      assert.deepEqual(paths.slice(0, 4), ["/r/3", "/r/2", "/r/1", "/m.gguf"]);
      assert.ok(paths.slice(4).length >= 1 && paths.slice(4).every((p) => p === "/m.gguf"));
      const before = on.log.length;
      await assert.rejects(readGguf(`${on.url}/loop`, FAST), ioError(/more than 10 redirects/));
      assert.equal(on.log.length - before, 11);
      await assert.rejects(
        readGguf(`${on.url}/r/3`, { maxRedirects: 2, ...FAST }),
        ioError(/more than 2 redirects/),
      );
    });
  },
);

test(
  "a split model by URL opens each later part's body only when the conversion reaches it",
  conformance,
  async () => {
    const first = "split/kquants-00001-of-00003.gguf";
    const local = await readGguf(join(FIXTURES_DIR, first));
    const dataEnd = Math.max(...local.tensors.map((t) => t.fileOffset + t.nbytes));
    const delivered = new Map<string, number>();
    const opened: { path: string; range: string | null; firstPartRead: number }[] = [];
    // A fetch that records each request and how much of part 1 the conversion had read by
    // then; bodies come in 4 KiB chunks, so "read" is close to "consumed".
    const counting = async (url: URL, init: RequestInit) => {
      opened.push({
        path: url.pathname,
        range: new Headers(init.headers).get("range"),
        firstPartRead: delivered.get(`/${first}`) ?? 0,
      });
      const response = await fetch(url, init);
      if (response.body === null) return response;
      const reader = response.body.getReader();
      let pending = new Uint8Array(0);
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (pending.length === 0) {
            const { value, done } = await reader.read();
            if (done) return controller.close();
            pending = value;
          }
          const chunk = pending.subarray(0, 4096);
          pending = pending.subarray(chunk.length);
          delivered.set(url.pathname, (delivered.get(url.pathname) ?? 0) + chunk.length);
          controller.enqueue(chunk);
        },
        cancel: (reason) => reader.cancel(reason),
      }, { highWaterMark: 0 });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const out = join(scratch, "split-deferred.gguf");
    await convertFile(`${server.url}/${first}`, out, {
      force: true,
      fetch: counting,
      firstRequestBytes: 4096,
    });
    // A later part's header is read by ranges (its first 4 KiB, then up to the 64 KiB a
    // stream's header read asks for); its body continues from there.
    const bodies = opened.filter((o) => o.range === null || /^bytes=\d+-$/.test(o.range));
    assert.deepEqual(bodies.map((o) => [o.path, o.range]), [
      [`/${first}`, null],
      ["/split/kquants-00002-of-00003.gguf", "bytes=65536-"],
      ["/split/kquants-00003-of-00003.gguf", "bytes=65536-"],
    ]);
    // Part 2's GET waited until part 1's data was read.
    assert.ok(bodies[1].firstPartRead >= dataEnd, `${bodies[1].firstPartRead} < ${dataEnd}`);
    const fromFile = join(scratch, "split-deferred-file.gguf");
    await convertFile(join(FIXTURES_DIR, first), fromFile, { force: true });
    assert.deepEqual(readFileSync(out), readFileSync(fromFile));
  },
);

test("a refused connection is named by its cause on every runtime", conformance, async () => {
  const url = `http://127.0.0.1:${await closedPort()}/m.gguf`;
  await assert.rejects(readGguf(url, FAST), ioError(/^Cannot fetch http:\/\/127.*ECONNREFUSED/));
  await assert.rejects(
    convertFile(url, join(scratch, "refused.gguf"), { force: true, ...FAST }),
    ioError(/^Cannot fetch http:\/\/127.*ECONNREFUSED/),
  );
});

test("a URL that serves an HTML page is named as such", conformance, async () => {
  const page = "<!DOCTYPE html>\n<html><body>Index of /models</body></html>\n";
  for (
    const headers of [{ "content-type": "text/html; charset=utf-8" }, {
      "content-type": "application/octet-stream",
    }]
  ) {
    for (const ignoreRange of [true, false]) {
      await withServer((req, res) => {
        serveBytes(req, res, new TextEncoder().encode(page), { headers, ignoreRange });
      }, async (on) => {
        const url = `${on.url}/models/`;
        await assert.rejects(readGguf(url, FAST), ioError(/sent an HTML page, not a GGUF file/));
        await assert.rejects(
          convertFile(url, join(scratch, "page.gguf"), { force: true, ...FAST }),
          ioError(/sent an HTML page, not a GGUF file/),
        );
      });
    }
  }
});

test(
  "a server that compresses although asked not to is read as the web's fetch reads it",
  conformance,
  async () => {
    // Asked for Accept-Encoding: identity, it gzips anyway, whole files and ranges alike.
    // Bun's and Node's fetch decode that; Deno's leaves it compressed once the request names
    // an encoding, and got "this is a gzip-compressed file" (or, by ranges, a short body).
    const { gzipSync } = await import("node:zlib");
    const f = fixture("real/ollama-llama-2-tiny-random.gguf");
    const bytes = readFileSync(f.path);
    await withServer((req, res) => {
      const match = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
      const end = match && match[2] !== ""
        ? Math.min(Number(match[2]), bytes.length - 1)
        : bytes.length - 1;
      const part = match ? bytes.subarray(Number(match[1]), end + 1) : bytes;
      const body = gzipSync(part);
      res.writeHead(match ? 206 : 200, {
        "content-encoding": "gzip",
        "content-length": String(body.length),
        ...(match ? { "content-range": `bytes ${match[1]}-${end}/${bytes.length}` } : {}),
      });
      res.end(body);
    }, async (on) => {
      const url = `${on.url}/model.gguf`;
      const out = join(scratch, "gzip.gguf");
      await convertFile(url, out, { force: true, ...FAST });
      const direct = join(scratch, "direct.gguf");
      await convertFile(f.path, direct, { force: true });
      assert.deepEqual(readFileSync(out), readFileSync(direct));
      const header = await readGguf(url, FAST);
      assert.equal(header.tensors.length, f.expected.tensors.length);
    });
  },
);

test(
  "a URL's credentials are sent as Authorization and never printed, nor its query",
  conformance,
  async () => {
    const bytes = readFileSync(new URL("../samples/tiny-llama.gguf", import.meta.url));
    await withServer((req, res) => serveBytes(req, res, bytes), async (on) => {
      const url = on.url.replace("http://", "http://user:pw@") + "/m.gguf?token=SECRET#frag";
      const shown = `${on.url}/m.gguf`;
      for (
        const args of [
          [url, "--plan"],
          [url, "--plan", "--json"],
          [url, "-o", join(scratch, "token.gguf"), "--force", "--json", "-q"],
        ]
      ) {
        const { status, stdout, stderr } = await run(args);
        assert.equal(status, 0, stderr);
        assert.ok(stdout.includes(shown), args.join(" "));
        assert.ok(!/SECRET|pw@|frag/.test(stdout + stderr), args.join(" "));
      }
      // The URL's credentials went as the header they stand for (Node's fetch refuses a URL
      // that holds them), on every request.
      assert.ok(on.log.length > 0);
      for (const request of on.log) {
        assert.equal(request.headers.authorization, `Basic ${btoa("user:pw")}`);
      }
    });
  },
);
