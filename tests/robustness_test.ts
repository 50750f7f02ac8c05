/**
 * Nothing leaks, hangs or lies: output paths checked before any work, signals at any
 * moment, early exits from every iterator, cancellation with a stalled input, dropped
 * models, and messages a person can act on.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { convertFile, convertStream, convertTensors, GgufError, readGguf } from "../mod.ts";
import { encodeGgufHeader } from "../pipeline.ts";
import { cliArgv, runCli as run, runInBash } from "./_cli.ts";
import { ProgressBar } from "../src/cli/progress_bar.ts";
import { conformance, fixture } from "./_fixtures.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const RUNTIMES = [
  ["deno", [join(BIN, "deno"), "run", "-A"]],
  ["bun", [join(BIN, "bun")]],
] as const;
const silent = () => {};

function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), "gguf-stream-robust-"));
}

/** A stream over `bytes` that delivers `limit` bytes and then stalls, recording cancels. */
function stallingStream(bytes: Uint8Array, limit: number) {
  const state = { cancelled: false };
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller): Promise<void> {
      if (sent >= limit) return new Promise(() => {}); // stalls forever
      const end = Math.min(limit, sent + 4096);
      controller.enqueue(bytes.slice(sent, end));
      sent = end;
      return Promise.resolve();
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

test("output paths that cannot be a model file are refused before any input is read", async () => {
  const dir = scratchDir();
  try {
    const missingModel = join(dir, "no-such-model.gguf");
    const fifo = join(dir, "fifo");
    spawnSync("mkfifo", [fifo]);
    const dangling = join(dir, "dangling.gguf");
    symlinkSync(join(dir, "nowhere.gguf"), dangling);
    writeFileSync(join(dir, "afile"), "");
    const cases: [string[], RegExp][] = [
      [["-o", dir], /it is a directory; name a file inside it/],
      [["-o", dir, "--force"], /it is a directory/],
      [["-o", join(dir, "missing", "out.gguf")], /the directory .*missing does not exist/],
      [["-o", join(dir, "afile", "out.gguf")], /afile is a file, not a directory$/m],
      [["-o", ""], /empty output path/],
      [["-o", "/dev/null", "--force"], /it is a device; .*-o -/],
      [["-o", dangling], /symbolic link to a missing file/],
      ...(existsSync(fifo)
        ? [[["-o", fifo, "--force"], /it is a FIFO/]] as [string[], RegExp][]
        : []),
    ];
    for (const [flags, message] of cases) {
      const { status, stderr } = await run([missingModel, ...flags, "-q"]);
      assert.equal(status, 1, flags.join(" "));
      assert.match(stderr, /^error: Cannot write/, flags.join(" "));
      assert.match(stderr, message, flags.join(" "));
    }
    assert.ok(statSync("/dev/null").isCharacterDevice());
    assert.deepEqual(readdirSync(dir).sort(), [
      "afile",
      "dangling.gguf",
      ...(existsSync(fifo) ? ["fifo"] : []),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("-o /dev/stdout on a pipe is refused as the pipe it is, leaving nothing behind", {
  skip: existsSync("/proc/self/fd/1") ? false : "needs /proc",
}, async () => {
  const dir = scratchDir();
  try {
    const sample = join(ROOT, "samples", "tiny-llama.gguf");
    // Its link leads to "pipe:[N]", no path: followed, it once made a file of that name.
    const argv = cliArgv([sample, "-o", "/dev/stdout", "--force", "-q"])
      .map((arg) => arg === "convert.ts" ? join(ROOT, "convert.ts") : arg);
    const { status, stderr } = runInBash(
      `cd "${dir}" && "$@" | cat > /dev/null; exit "\${PIPESTATUS[0]}"`,
      argv,
    );
    assert.equal(status, 1, stderr);
    assert.match(stderr, /^error: Cannot write \/dev\/stdout: it is a FIFO; [^\n]*-o -[^\n]*\n$/);
    assert.deepEqual(readdirSync(dir), []);
    await assert.rejects(
      convertFile(sample, "/proc/self/fd/0", { force: true }),
      (e: unknown) => e instanceof GgufError && e.code === "BAD_OUTPUT",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("-o through a symbolic link replaces the file it points to and keeps the link", async () => {
  const dir = scratchDir();
  try {
    const target = join(dir, "real.gguf");
    writeFileSync(target, "old");
    const link = join(dir, "link.gguf");
    symlinkSync(target, link);
    const sample = join(ROOT, "samples", "tiny-llama.gguf");
    assert.equal((await run([sample, "-o", link, "-q"])).status, 1); // exists, no --force
    assert.equal((await run([sample, "-o", link, "-q", "--force"])).status, 0);
    assert.equal((await readGguf(target)).tensors.length, 21);
    assert.ok(readdirSync(dir).includes("link.gguf"));
    assert.equal(readdirSync(dir).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("temporaries left by dead processes are removed; live ones are kept", async () => {
  const dir = scratchDir();
  try {
    const out = join(dir, "out.gguf");
    const stale = join(dir, ".out.gguf.tmp-999999999-abcdefgh");
    const live = join(dir, `.out.gguf.tmp-${process.pid}-abcdefgh`);
    writeFileSync(stale, "left by a SIGKILL");
    writeFileSync(live, "being written");
    await convertFile(join(ROOT, "samples", "tiny-llama.gguf"), out, { onWarning: silent });
    assert.deepEqual(readdirSync(dir).sort(), [
      ".out.gguf.tmp-" + process.pid + "-abcdefgh",
      "out.gguf",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a throwing onWarning leaves no temporary and no output", conformance, async () => {
  const dir = scratchDir();
  try {
    await assert.rejects(
      convertFile(fixture("gen/inttypes.gguf").path, join(dir, "out.gguf"), {
        onWarning: (message) => {
          throw new Error(`treated as an error: ${message}`);
        },
      }),
      /treated as an error/,
    );
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A CLI child reading standard input: write to it, signal it, wait for its exit. */
interface Child {
  write(bytes: Uint8Array): Promise<void>;
  kill(signal: string): void;
  exit: Promise<{ code: number | null; stderr: string }>;
  close(): void;
}

/**
 * Starts the CLI in a child process reading standard input. Under Deno the child is made
 * with Deno.Command: Deno's node:child_process closes a child's standard input early and
 * reports an exit status of 128 + n as death by signal n.
 */
function startChild(command: readonly string[], args: string[]): Child {
  const argv = [...command.slice(1), join(ROOT, "convert.ts"), ...args];
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno !== undefined) {
    const child = new deno.Command(command[0], {
      args: argv,
      cwd: ROOT,
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    return {
      write: (bytes) => writer.write(bytes),
      kill: (signal) => child.kill(signal as Deno.Signal),
      exit: child.output().then((o) => ({
        code: o.signal === null ? o.code : null,
        stderr: new TextDecoder().decode(o.stderr),
      })),
      close: () => void writer.close().catch(() => {}),
    };
  }
  const child: ChildProcess = spawn(command[0], argv, {
    cwd: ROOT,
    stdio: ["pipe", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return {
    write: (bytes) => new Promise((resolve) => child.stdin!.write(bytes, () => resolve())),
    kill: (signal) => child.kill(signal as NodeJS.Signals),
    exit: new Promise((resolve) => child.on("exit", (code) => resolve({ code, stderr }))),
    close: () => child.stdin!.destroy(),
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const [name, command] of RUNTIMES) {
  test(
    `${name}: SIGHUP, SIGINT and SIGTERM interrupt a conversion at any moment, leaving OUT as it was and no temporary`,
    { ...conformance, skip: conformance.skip || (!existsSync(command[0]) && `${name} missing`) },
    async () => {
      const bytes = readFileSync(fixture("gen/kquants.gguf").path);
      const cases: [string, number, number][] = [
        ["SIGINT", 4, 130], // waiting on a silent pipe: only the magic has arrived
        ["SIGINT", 200_000, 130],
        ["SIGTERM", 700_000, 143],
        ["SIGHUP", 1_000_000, 129],
      ];
      for (const [signal, sent, status] of cases) {
        const dir = scratchDir();
        try {
          const out = join(dir, "out.gguf");
          writeFileSync(out, "previous contents");
          const child = startChild(command, ["-", "-o", out, "--force", "-q"]);
          await child.write(bytes.subarray(0, sent));
          await delay(2500); // started, and waiting on standard input
          child.kill(signal);
          const result = await Promise.race([child.exit, delay(15_000).then(() => undefined)]);
          if (result === undefined) child.kill("SIGKILL");
          assert.ok(result !== undefined, `${signal} after ${sent} bytes did not end the process`);
          assert.equal(
            result.code,
            status,
            `${signal} after ${sent} bytes: exit ${result.code}: ${result.stderr}`,
          );
          assert.match(result.stderr, new RegExp(`interrupted by ${signal}`));
          assert.equal(readFileSync(out, "utf8"), "previous contents");
          assert.deepEqual(readdirSync(dir), ["out.gguf"]);
          child.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  );

  test(
    `${name}: -o - appending to the input being read is refused`,
    { ...conformance, skip: conformance.skip || (!existsSync(command[0]) && `${name} missing`) },
    () => {
      const dir = scratchDir();
      try {
        const model = join(dir, "model.gguf");
        copyFileSync(fixture("gen/legacy.gguf").path, model);
        const size = statSync(model).size;
        const fd = openSync(model, "a");
        const result = spawnSync(
          command[0],
          [...command.slice(1), "convert.ts", model, "-o", "-"],
          {
            cwd: ROOT,
            stdio: ["ignore", fd, "pipe"],
            encoding: "utf8",
          },
        );
        assert.equal(result.status, 1, result.stderr);
        assert.match(result.stderr, /^error: Cannot write to standard output: it is the input/);
        assert.equal(statSync(model).size, size);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    `${name}: models and iterators dropped without close() are closed quietly when collected`,
    { skip: !existsSync(command[0]) && `${name} missing` },
    () => {
      const script = `
        import { convertTensors } from ${JSON.stringify(join(ROOT, "mod.ts"))};
        const sample = ${JSON.stringify(join(ROOT, "samples", "tiny-llama.gguf"))};
        for (let i = 0; i < 100; i++) {
          const tensors = convertTensors(sample, { access: "read" });
          await tensors.next(); // opened, never finished nor closed
        }
        const gc = globalThis.Bun?.gc ?? globalThis.gc;
        for (let i = 0; i < 10; i++) {
          gc(true);
          await new Promise((r) => setTimeout(r, 20));
        }
        const { readdirSync } = await import("node:fs");
        console.log(readdirSync("/proc/self/fd").length);
      `;
      const dir = scratchDir();
      try {
        const file = join(dir, "drop.mjs");
        writeFileSync(file, script);
        const args = name === "deno" ? ["--v8-flags=--expose-gc", file] : [file];
        const result = spawnSync(command[0], [...command.slice(1), ...args], {
          encoding: "utf8",
        });
        assert.equal(result.status, 0, result.stderr);
        assert.ok(Number(result.stdout.trim()) < 60, `open descriptors: ${result.stdout}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

/** A file the kernel lets us read but not map (sysfs attributes refuse mmap with ENODEV). */
const UNMAPPABLE = "/sys/kernel/mm/transparent_hugepage/enabled";

for (const [name, command] of RUNTIMES) {
  test(
    `${name}: a file that cannot be mapped is read by position instead, with a notice`,
    {
      skip: (!existsSync(command[0]) && `${name} missing`) ||
        (!existsSync(UNMAPPABLE) && "no sysfs"),
    },
    () => {
      const run = (flags: string[]) =>
        spawnSync(command[0], [...command.slice(1), "convert.ts", UNMAPPABLE, ...flags], {
          cwd: ROOT,
          encoding: "utf8",
        });
      const auto = run(["-v"]);
      assert.equal(auto.status, 1);
      assert.match(
        auto.stderr,
        /^note: cannot mmap on (Deno|Bun) \(.*\); reading the file by position instead\n/,
      );
      // Read, and found not to be a model: a clean error, not a crash.
      assert.match(auto.stderr, /\nerror: Cannot read [^\n]*\n$/);
      const forced = run(["--access", "mmap"]);
      assert.equal(forced.status, 1);
      assert.match(forced.stderr, /^error: Cannot map [^\n]*\n$/);
    },
  );
}

test("cancelling convertStream() with a stalled input settles and cancels the input", async () => {
  const bytes = new Uint8Array(readFileSync(join(ROOT, "samples", "tiny-llama.gguf")));
  const { stream, state } = stallingStream(bytes, 300_000);
  const reader = convertStream(stream, { onWarning: silent }).getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  // The next reads run into the stall; cancel must not wait for them.
  const pending = reader.read();
  await delay(50);
  const cancelled = await Promise.race([
    reader.cancel().then(() => true),
    delay(2000).then(() => false),
  ]);
  assert.ok(cancelled, "cancel() did not settle");
  assert.ok(state.cancelled, "the input was not cancelled");
  await pending; // settled (with what the encoder still held, or done)
});

test("leaving convertTensors() early releases and cancels a stream input", async () => {
  const bytes = new Uint8Array(readFileSync(join(ROOT, "samples", "tiny-llama.gguf")));
  const { stream, state } = stallingStream(bytes, bytes.length);
  for await (const _ of convertTensors(stream, { onWarning: silent })) break;
  assert.ok(state.cancelled);
  assert.equal(stream.locked, false);
});

test("an abort signal cancels a read pending on a stalled stream", async () => {
  const bytes = new Uint8Array(readFileSync(join(ROOT, "samples", "tiny-llama.gguf")));
  const { stream, state } = stallingStream(bytes, 100);
  const controller = new AbortController();
  const reading = readGguf(stream, { signal: controller.signal });
  await delay(50);
  controller.abort();
  await assert.rejects(reading, (e: unknown) => e instanceof GgufError && e.code === "ABORTED");
  assert.ok(state.cancelled);
});

test("encodeGgufHeader() writes general.alignment when it is not 32", async () => {
  const header = encodeGgufHeader({
    alignment: 64,
    metadata: [{ key: "general.name", type: 8, value: "x" }],
    tensors: [{ name: "a", shape: [3], type: 0, nbytes: 12 }, {
      name: "b",
      shape: [4],
      type: 0,
      nbytes: 16,
    }],
  });
  const file = new Uint8Array(header.fileSize);
  file.set(header.bytes);
  const parsed = await readGguf(file);
  assert.equal(parsed.alignment, 64);
  assert.equal(parsed.dataOffset, header.dataOffset);
  assert.deepEqual(parsed.tensors.map((t) => t.offset), header.offsets);
  assert.throws(
    () =>
      encodeGgufHeader({
        alignment: 64,
        metadata: [{ key: "general.alignment", type: 4, value: 32 }],
        tensors: [],
      }),
    TypeError,
  );
});

test(
  "a file named as part 1 of 3 whose metadata says otherwise is refused",
  conformance,
  async () => {
    const dir = scratchDir();
    try {
      const part = join(dir, "m-00001-of-00003.gguf");
      copyFileSync(fixture("gen/legacy.gguf").path, part);
      await assert.rejects(
        convertFile(part, join(dir, "out.gguf"), { onWarning: silent }),
        (e: unknown) =>
          e instanceof GgufError && e.code === "BAD_METADATA" &&
          /its name says 3 parts, but its split.count is missing/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("files that are not GGUF are named, with what to do", async () => {
  const dir = scratchDir();
  try {
    const cases: [string, Uint8Array, RegExp][] = [
      ["empty", new Uint8Array(0), /the file is empty/],
      [
        "lfs",
        new TextEncoder().encode("version https://git-lfs.github.com/spec/v1\noid sha256:ab\n"),
        /Git LFS pointer file.*git lfs pull/,
      ],
      [
        "safetensors",
        new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 0x20, 0x20]),
        /safetensors file .*convert_hf_to_gguf.py/,
      ],
      ["png", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10]), /a PNG image/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const { status, stderr } = await run([path]);
      assert.equal(status, 1, name);
      assert.match(stderr, message, name);
      assert.equal(stderr.split("\n").length, 2, name);
    }
    // Nothing on standard input (or a closed one) is an empty stream, not a file.
    await assert.rejects(
      readGguf(new Blob([]).stream()),
      (e: unknown) =>
        e instanceof GgufError && e.code === "TRUNCATED" &&
        e.message === "Cannot read the header: the stream is empty (0 bytes)",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a mistyped flag suggests the right one", async () => {
  const { status, stderr } = await run(["model.gguf", "--paln"]);
  assert.equal(status, 2);
  assert.match(stderr, /^error: unknown option --paln \(did you mean --plan\?\)\n/);
  const missing = await run(["model.gguf", "--requantize"]);
  assert.match(missing.stderr, /^error: --requantize needs a value\n/);
});

test("the progress bar fits narrow terminals and says when it is finishing", () => {
  for (const columns of [40, 60, 120]) {
    let text = "";
    const bar = new ProgressBar((t) => (text += t), () => columns);
    bar.update(0, 10_000_000);
    bar.update(10_000_000, 10_000_000);
    for (const line of text.split("\r").filter((l) => l !== "")) {
      const visible = line.replaceAll("\x1b[2K", "");
      assert.ok(visible.length < columns, `${columns} columns: ${JSON.stringify(visible)}`);
    }
    assert.match(text, /finishing/);
    assert.doesNotMatch(text, /ETA \d+m/); // no estimate before there is a rate
  }
});

for (
  const [name, command] of [
    ...RUNTIMES,
    ["node", [join(ROOT, "node_modules", "node", "bin", "node")]] as const,
  ]
) {
  test(
    `${name}: a signal ends a run writing into a pipe that no one reads`,
    { skip: !existsSync(command[0]) && `${name} missing` },
    () => {
      // The FIFO is held open here and never read: the CLI's writes into it block once it is
      // full, and only the signal can end the run (Node's exit() would wait on the write).
      const script = `
        dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
        mkfifo "$dir/f"; exec 3<>"$dir/f"
        "$@" samples/tiny-llama.gguf -o - --target F32 -q > "$dir/f" 2> "$dir/err" &
        pid=$!; sleep 2; kill -TERM $pid
        for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
        if kill -0 $pid 2>/dev/null; then kill -KILL $pid; echo "still running 10 s after SIGTERM" >&2; fi
        wait $pid; status=$?; cat "$dir/err" >&2; exit $status`;
      const { status, stderr } = runInBash(script, [...command, join(ROOT, "convert.ts")]);
      assert.equal(status, 143, stderr);
      assert.match(stderr, /interrupted by SIGTERM; standard output is incomplete/);
      assert.doesNotMatch(stderr, /still running/);
    },
  );
}
