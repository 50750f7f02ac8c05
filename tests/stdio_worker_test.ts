/**
 * `convert.ts - -o -` into a pipe runs on a worker thread with blocking reads and writes
 * (`src/output/stdio_conversion.ts`): the same bytes as a conversion into a file, its
 * failures one `error:` line and exit 1, and a signal still ends it at once while the
 * worker waits on a reader that takes nothing. Run in child processes of the runtime
 * running the test, through bash's pipes and a FIFO, as a user meets them.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { convertFile } from "../mod.ts";
import { cliArgv, cliEnv, ROOT, runCliInBash, runInBash, scriptArgv } from "./_cli.ts";

const SAMPLE = join(ROOT, "samples", "tiny-llama.gguf");
const SKIP = process.platform === "win32" || !existsSync("/bin/bash")
  ? "needs bash and FIFOs"
  : false;

test("a pipe into a pipe converts on a worker thread, byte for byte as into a file", {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-stdio-worker-"));
  try {
    for (const flags of [[], ["--requantize", "Q8_0"], ["--requantize", "Q4_0"]]) {
      const reference = join(dir, "reference.gguf");
      rmSync(reference, { force: true });
      const policy = flags.length === 0 ? {} : { requantize: flags[1] as "Q8_0" };
      await convertFile(SAMPLE, reference, { policy });
      const out = join(dir, "out.gguf");
      const run = runCliInBash(
        `"$@" < "${SAMPLE}" | cat > "${out}"; exit "\${PIPESTATUS[0]}"`,
        ["-", "-o", "-", "-v", ...flags],
      );
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /converting on a worker thread/);
      assert.ok(readFileSync(out).equals(readFileSync(reference)), `differs with ${flags}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("standard output stays a blocking pipe while the worker converts into it", {
  skip: SKIP || (existsSync("/proc/self/fdinfo") ? false : "needs /proc/PID/fdinfo"),
  timeout: 120_000,
}, () => {
  // Node pipes a worker's own output into process.stdout and process.stderr by default,
  // and touching them sets O_NONBLOCK on the pipe: every blocking write of the worker then
  // met EAGAIN and waited (20 s instead of 2 for the bench model). The CLI has written
  // its first bytes (the worker exists by then) and is held on the full FIFO (the sample
  // converts to ~4.5 MB) while its descriptor 1's flags are read.
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-stdio-flags-"));
  try {
    const fifo = join(dir, "out.fifo");
    const run = runCliInBash(
      `mkfifo "${fifo}"
"$@" < "${SAMPLE}" > "${fifo}" & pid=$!
exec 3< "${fifo}"
head -c 64 <&3 > /dev/null
echo "flags $(awk '/^flags:/ { print $2 }' /proc/$pid/fdinfo/1)" >&2
cat <&3 > /dev/null
wait "$pid"`,
      ["-", "-o", "-", "-q"],
    );
    assert.equal(run.status, 0, run.stderr);
    const flags = run.stderr.match(/^flags (\d+)$/m);
    assert.ok(flags !== null, run.stderr);
    assert.equal(parseInt(flags[1], 8) & 0o4000, 0, `O_NONBLOCK set: flags ${flags[1]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("from the worker, a model cut short or a reader gone is one error line and exit 1", {
  skip: SKIP,
  timeout: 120_000,
}, () => {
  const short = runCliInBash(
    `head -c 300000 "${SAMPLE}" | "$@" | cat > /dev/null; exit "\${PIPESTATUS[1]}"`,
    ["-", "-o", "-", "-q"],
  );
  assert.equal(short.status, 1, short.stderr);
  assert.match(short.stderr, /^error: [^\n]+\n$/);
  assert.match(short.stderr, /ended|short|truncated/i);
  const gone = runCliInBash(
    `"$@" < "${SAMPLE}" | head -c 10 > /dev/null; exit "\${PIPESTATUS[0]}"`,
    ["-", "-o", "-", "-q"],
  );
  assert.equal(gone.status, 1, gone.stderr);
  assert.match(gone.stderr, /^error: Cannot write to standard output: [^\n]+\n$/);
  assert.match(gone.stderr, /EPIPE|Broken pipe/i);
});

test("a worker started ahead and left unused ends with the run", {
  skip: SKIP,
  timeout: 120_000,
}, () => {
  // `- -o -` into a pipe starts the worker before the other flags are read; each of these
  // is refused after that, and the run must still end at once with its usage error.
  for (
    const flags of [
      ["--requantize", "NOPE"],
      ["--json"],
      ["--key", "general.name"],
      ["--threads", "0"],
    ]
  ) {
    const run = runCliInBash(
      `"$@" < "${SAMPLE}" | cat > /dev/null; exit "\${PIPESTATUS[0]}"`,
      ["-", "-o", "-", ...flags],
    );
    assert.equal(run.status, 2, `${flags}: ${run.stderr}`);
    assert.match(run.stderr, /^error: [^\n]+\nRun with --help for usage\.\n$/);
  }
});

test("a started worker converts once; cancelled, it converts nothing and the process ends", {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-stdio-worker-"));
  try {
    const script = join(dir, "started.ts");
    const module = new URL("../src/output/stdio_conversion.ts", import.meta.url).href;
    writeFileSync(
      script,
      `import assert from "node:assert/strict";
import { convertStdioInWorker, startStdioWorker } from "${module}";
const cancelled = startStdioWorker();
assert.ok(cancelled, "standard output is a pipe: a worker can start");
cancelled.cancel();
await assert.rejects(convertStdioInWorker({}, cancelled), /cancelled or has converted/);
const started = startStdioWorker();
const result = await convertStdioInWorker({ policy: { requantize: "Q8_0" } }, started);
started.cancel(); // converted already: nothing to end
await assert.rejects(convertStdioInWorker({}, started), /cancelled or has converted/);
process.stderr.write("converted " + result.outputBytes + "\\n");
`,
    );
    const out = join(dir, "out.gguf");
    const run = runInBash(
      `"$@" < "${SAMPLE}" | cat > "${out}"; exit "\${PIPESTATUS[0]}"`,
      scriptArgv(script),
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^converted \d+\n$/);
    const reference = join(dir, "reference.gguf");
    await convertFile(SAMPLE, reference, { policy: { requantize: "Q8_0" } });
    assert.ok(readFileSync(out).equals(readFileSync(reference)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIGTERM ends the run at once while the worker waits on a reader that takes nothing", {
  skip: SKIP,
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gguf-stream-stdio-worker-"));
  // Standard output a FIFO this side holds open and never reads: once its buffer is full,
  // the worker's write waits for good.
  const fifo = join(dir, "stdout.fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  const stdout = openSync(fifo, "r+");
  try {
    const [command, ...argv] = cliArgv(["-", "-o", "-", "-v"]);
    const child = spawn(command, argv, {
      cwd: ROOT,
      env: cliEnv(),
      stdio: [openSync(SAMPLE, "r"), stdout, "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (text: string) => stderr += text);
    const exited = new Promise<number | string | null>((done) => {
      child.on("exit", (code, signal) => done(code ?? signal));
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = (ms: number, what: string) =>
      new Promise<string>((done) => timer = setTimeout(() => done(what), ms));
    // The notice comes once the worker is started; the sample's 5.9 MB of output then
    // fill the FIFO's buffer at once.
    const started = Date.now();
    while (!/worker thread/.test(stderr) && Date.now() - started < 20_000) {
      await new Promise((done) => setTimeout(done, 50));
    }
    assert.match(stderr, /worker thread/);
    await Promise.race([exited, timeout(1_000, "")]);
    clearTimeout(timer);
    child.kill("SIGTERM");
    const status = await Promise.race([exited, timeout(10_000, "still running after 10 s")]);
    clearTimeout(timer);
    if (status === "still running after 10 s") child.kill("SIGKILL");
    // Deno's child_process reports an exit status of 128 + n as the signal n; under Node
    // the CLI ends by the signal itself (its exit() would wait on the worker's blocked
    // write). A shell sees 143 either way.
    const interrupted = status === "SIGTERM" ? 143 : status;
    assert.equal(interrupted, 143, stderr);
    assert.match(stderr, /interrupted by SIGTERM; standard output is incomplete/);
  } finally {
    closeSync(stdout);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a sink's chunkBytes bounds its chunks, changes no byte and no read of the input", async () => {
  const { openGgufModel } = await import("../sources.ts");
  const { writeConvertedModel } = await import("../pipeline.ts");
  const collect = async (policy: { requantize?: "Q8_0" }, chunkBytes?: number) => {
    const chunks: Uint8Array[] = [];
    const model = await openGgufModel(SAMPLE, { access: "read" });
    const source = model.parts[0].source;
    const read = source.read.bind(source);
    let reads = 0;
    source.read = (offset, length, into) => (reads++, read(offset, length, into));
    try {
      await writeConvertedModel(model, () =>
        Promise.resolve({
          write: (bytes: Uint8Array) => Promise.resolve(void chunks.push(bytes.slice())),
          commit: () => Promise.resolve(),
          abort: () => Promise.resolve(),
          chunkBytes,
        }), { policy });
    } finally {
      await model.close();
    }
    return { chunks, reads };
  };
  for (const policy of [{}, { requantize: "Q8_0" as const }]) {
    const whole = await collect(policy);
    const small = await collect(policy, 8192);
    assert.ok(Buffer.concat(small.chunks).equals(Buffer.concat(whole.chunks)));
    // The header comes whole; every later chunk is at most 8 KiB (of float32 values, of
    // blocks, or of a tensor kept as it is).
    assert.ok(small.chunks.slice(1).every((chunk) => chunk.length <= 8192));
    assert.ok(small.chunks.length > Buffer.concat(whole.chunks).length / 8192);
    // Small chunks share the reads of large ones: not a read of the file per chunk.
    assert.equal(small.reads, whole.reads);
  }
});
