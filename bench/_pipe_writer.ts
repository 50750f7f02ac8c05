/**
 * One run of convert_file_bench.ts's `write` way, in a fresh process:
 *   <runtime> bench/_pipe_writer.ts BYTES | cat > OUT
 * writes BYTES bytes to standard output through the blocking standard-output sink that
 * `convert.ts - -o -` writes a pipe with (on its worker thread), in the chunks that sink
 * asks for, from one ordinary buffer: the same bytes through the same path, converting
 * nothing. Beside the CLI's own pipe run, it tells how much of a gap to `cat | cat` is
 * the runtime writing into a pipe at all and how much is the conversion.
 */
import { stdoutSyncSink } from "../src/source/stdio.ts";

const total = Number(process.argv[2]);
if (!Number.isSafeInteger(total) || total < 0) throw new Error("usage: _pipe_writer.ts BYTES");
const sink = stdoutSyncSink();
if (sink === undefined) throw new Error("this runtime has no blocking standard output");
const chunk = new Uint8Array(sink.chunkBytes ?? 4 << 20).fill(0x5a);
for (let done = 0; done < total; done += chunk.length) {
  await sink.write(chunk.subarray(0, Math.min(chunk.length, total - done)));
}
await sink.commit();
