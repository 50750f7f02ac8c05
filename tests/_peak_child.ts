/**
 * One conversion in a process of its own, reporting its peak memory as the last line on
 * stderr: `peak-rss-kib N status S`. Run by tests/hostile_input_test.ts.
 *
 *   deno run -A tests/_peak_child.ts cli ARGS...        the command line, as convert.ts
 *   deno run -A tests/_peak_child.ts edge MODEL [JSON]   the edge handler on MODEL's bytes
 *
 * In `edge` mode the status is the HTTP status; the response's text (for an error) goes
 * to stderr first.
 */
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { main } from "../convert.ts";
import { edgeConvert, type EdgeLimits } from "../examples/edge_convert.ts";

/** A request body over a file, read as the handler pulls it (a byte stream). */
async function fileBody(path: string): Promise<{ body: ReadableStream<Uint8Array>; size: number }> {
  const handle = await open(path, "r");
  const size = (await handle.stat()).size;
  let at = 0;
  const body = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 64 * 1024,
    async pull(controller) {
      const view = controller.byobRequest!.view!;
      const { bytesRead } = await handle.read(
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
        0,
        view.byteLength,
        at,
      );
      at += bytesRead;
      if (bytesRead === 0) {
        await handle.close();
        controller.close();
        controller.byobRequest!.respond(0);
      } else {
        controller.byobRequest!.respond(bytesRead);
      }
    },
    cancel: () => handle.close(),
  }) as ReadableStream<Uint8Array>;
  return { body, size };
}

async function edge(path: string, limits: EdgeLimits): Promise<number> {
  const { body, size } = await fileBody(path);
  const response = await edgeConvert(limits).fetch(
    new Request("http://localhost/", {
      method: "POST",
      body,
      headers: { "content-length": String(size) },
      // @ts-ignore: a stream body must say so in runtimes that follow the fetch spec
      duplex: "half",
    }),
  );
  if (response.status !== 200) {
    process.stderr.write(await response.text());
    return response.status;
  }
  const reader = response.body!.getReader();
  while (!(await reader.read()).done) {
    // The output is dropped: only the memory it took to make it counts.
  }
  return 200;
}

/**
 * This process's peak resident memory in KiB: VmHWM, which counts only this program. On
 * Linux `getrusage`'s maxRSS (`process.resourceUsage().maxRSS`) also covers the parent's
 * memory at the fork that started us, so under a large test runner it reports the runner.
 */
function peakKib(): number {
  try {
    return Number(readFileSync("/proc/self/status", "utf8").match(/^VmHWM:\s+(\d+) kB/m)![1]);
  } catch {
    return process.resourceUsage().maxRSS;
  }
}

const [mode, ...args] = process.argv.slice(2);
let status: number;
try {
  status = mode === "edge"
    ? await edge(args[0], args[1] === undefined ? {} : JSON.parse(args[1]))
    : await main(args);
} catch (error) {
  process.stderr.write(`threw: ${error instanceof Error ? error.stack : String(error)}\n`);
  status = 99;
}
process.stderr.write(`\npeak-rss-kib ${peakKib()} status ${status}\n`);
process.exit(0);
