/**
 * An edge function that converts a GGUF model as it streams through: POST the model as the
 * request body, read the converted GGUF from the response. Memory stays bounded by a few
 * chunks whatever the model's size, and the request is read only as fast as the response
 * is taken. The same `export default { fetch }` runs under Deno (serve_deno.ts, through
 * `node:http`), Bun.serve (serve_bun.ts) and Cloudflare's workerd (serve_workerd.mjs,
 * bundled first).
 *
 * Query parameters set the policy, as the CLI's flags do:
 * `?target=Q8_0,F32&requantize=Q8_0&keep=F16&dequantize=Q6_K&unsupported=error`, and
 * `?for=candle`, `?requantize=auto&max-error=0.02`, `?for=mlx&method=reference`. The body is one
 * pass: `auto` follows its rule per source type there (nothing is measured before the
 * header is sent).
 * A bad model is answered with status 400 and a one-line `error: …` body, before any byte
 * of output; a body or header past the limits (`EdgeLimits`) with 413, a compressed body or
 * a form upload with 415, a method other than POST or PUT with 405, a request past
 * `maxConcurrent` conversions at once with 503 and `Retry-After`. A defect found once the
 * output has begun (a model cut off mid-tensor) cuts the connection: the client sees a
 * transfer error, never a short answer that looks whole. Once the last tensor is read the
 * request body is cancelled: whatever the client still sends is not converted.
 *
 * ```sh
 * curl -sS -T model.gguf -o converted.gguf http://127.0.0.1:8787/
 * ```
 *
 * @module
 */
import { type ConversionPolicy, convertStream, GgufError } from "../mod.ts";
import { policyFromFlags } from "../src/cli/policy_from_flags.ts";
import { POLICY_FLAG_NAMES } from "../src/cli/policy_flag_names.ts";
import { messageLine } from "../src/cli/cli_message.ts";
import { parseByteCount } from "../src/cli/byte_count.ts";
import { similarNames } from "../src/model/similar_names.ts";

/** Input bytes per conversion step, and bytes per output read. */
const CHUNK_BYTES = 256 * 1024;
const READ_BYTES = 64 * 1024;
/**
 * Bytes per read of the request body, and per write into workerd's response pipe. workerd
 * keeps memory per stream operation that it gives back only late: converting the bench
 * model, its process peaked at 106–109 MiB with 64 KiB operations, 87–92 MiB with 1 MiB.
 */
const BODY_READ_BYTES = 1 << 20;
const PIPE_WRITE_BYTES = 1 << 20;
const OCTETS = { headers: { "content-type": "application/octet-stream", "connection": "close" } };

/** The query parameters a request may give: the CLI's policy flags. */
const PARAMETERS = POLICY_FLAG_NAMES;

/**
 * The policy from the query: the same flags, checks and messages as the CLI's. A name it
 * does not know, or one given twice, is refused as the CLI refuses an unknown flag: a
 * misspelt `requantise=Q8_0` must not quietly give the default conversion.
 */
function policyFrom(url: URL): ConversionPolicy {
  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (name === "") {
      throw new TypeError(`a query parameter has no name; known: ${PARAMETERS.join(", ")}`);
    }
    if (!PARAMETERS.includes(name)) {
      const near = similarNames(name, PARAMETERS);
      throw new TypeError(
        `unknown query parameter "${name}"${
          near.length ? ` (did you mean ${near.join(" or ")}?)` : ""
        }; known: ${PARAMETERS.join(", ")}`,
      );
    }
    if (seen.has(name)) throw new TypeError(`query parameter "${name}" is given twice`);
    seen.add(name);
  }
  const flag = (name: string) => url.searchParams.get(name) ?? undefined;
  return policyFromFlags({
    target: flag("target"),
    requantize: flag("requantize"),
    method: flag("method"),
    maxError: flag("max-error"),
    for: flag("for"),
    keep: flag("keep"),
    dequantize: flag("dequantize"),
    unsupported: flag("unsupported"),
  }, "");
}

/** Limits on one request; every one has a default. */
export interface EdgeLimits {
  /**
   * The largest request body, in bytes (default 16 GiB): a `Content-Length` past it is
   * answered with 413 before anything is read; a body without one is counted as it arrives.
   */
  maxBodyBytes?: number;
  /** The memory the parsed header may take (default 48 MiB; see `maxHeaderMemory`). */
  maxHeaderMemory?: number;
  /** The most bytes the header may span (default 32 MiB; see `maxHeaderBytes`). */
  maxHeaderBytes?: number;
  /**
   * How long the body may send nothing while the conversion waits on it, in milliseconds
   * (default 60 s): a client that stalls or leaves mid-upload, which some servers (workerd)
   * never report, is answered 408 or cut off, and its memory freed. Under workerd, an
   * answer the client takes nothing of for as long is cut off too.
   */
  bodyIdleMs?: number;
  /**
   * How many conversions may run at once (default 8): each holds its header (up to
   * `maxHeaderMemory`) and a few chunks, so the cap bounds the server's memory as a
   * whole. A request past it is answered 503 with `Retry-After`, its body unread.
   */
  maxConcurrent?: number;
}

const DEFAULT_LIMITS: Required<EdgeLimits> = {
  maxBodyBytes: 16 * 1024 ** 3,
  maxHeaderMemory: 48 << 20,
  maxHeaderBytes: 32 << 20,
  bodyIdleMs: 60_000,
  maxConcurrent: 8,
};

/** Seconds a client turned away by `maxConcurrent` is asked to wait. */
const BUSY_RETRY_SECONDS = 5;

/**
 * Limits from environment variables `GGUF_MAX_BODY_BYTES`, `GGUF_MAX_HEADER_MEMORY` and
 * `GGUF_MAX_HEADER_BYTES`, for the serve_*.ts scripts: bytes as the CLI's
 * `--max-header-memory` takes them (`268435456`, `256M`, `16GiB`);
 * `GGUF_BODY_IDLE_SECONDS` (`bodyIdleMs`, in seconds); and `GGUF_MAX_CONCURRENT`
 * (`maxConcurrent`, conversions at once).
 */
export function limitsFromEnv(env: (name: string) => string | undefined): EdgeLimits {
  const read = (name: string) => {
    const text = env(name);
    if (text === undefined || text === "") return undefined;
    const value = parseByteCount(text);
    if (Number.isNaN(value)) {
      throw new TypeError(
        `${name} must be a positive number of bytes, such as 268435456 or 256M, not "${text}"`,
      );
    }
    return value;
  };
  const seconds = (name: string) => {
    const text = env(name);
    if (text === undefined || text === "") return undefined;
    const value = Number(text);
    if (!(value > 0 && value <= 86_400)) {
      throw new TypeError(`${name} must be a number of seconds from 0.001 to 86400, not "${text}"`);
    }
    return Math.ceil(value * 1000);
  };
  const count = (name: string) => {
    const text = env(name);
    if (text === undefined || text === "") return undefined;
    const value = Number(text);
    if (!(Number.isInteger(value) && value >= 1 && value <= 100_000)) {
      throw new TypeError(`${name} must be a whole number from 1 to 100000, not "${text}"`);
    }
    return value;
  };
  return {
    maxBodyBytes: read("GGUF_MAX_BODY_BYTES"),
    maxHeaderMemory: read("GGUF_MAX_HEADER_MEMORY"),
    maxHeaderBytes: read("GGUF_MAX_HEADER_BYTES"),
    bodyIdleMs: seconds("GGUF_BODY_IDLE_SECONDS"),
    maxConcurrent: count("GGUF_MAX_CONCURRENT"),
  };
}

function textResponse(status: number, text: string, headers: Record<string, string> = {}) {
  return new Response(text, { status, headers: { "content-type": "text/plain", ...headers } });
}

/** Options named in the library's messages, and what they are at this service. */
const SERVER_TERMS: readonly [string, string][] = [
  ["option maxHeaderMemory", "this server's GGUF_MAX_HEADER_MEMORY"],
  ["raise maxHeaderBytes", "raise this server's GGUF_MAX_HEADER_BYTES"],
  ["option lenient: true", "a lenient reader (gguf-stream --lenient; this service reads strictly)"],
];

/**
 * The `LIMIT_EXCEEDED` messages that are the model's own fault, not a limit of ours: a
 * count larger than the bytes that follow can hold (a cut-off or corrupt header), a number
 * past 2^53 - 1.
 */
const MODEL_FAULT = /but only [\d_]+ bytes remain|is larger than 2\^53 - 1/;

/**
 * 413 for a limit of this server or of the library (the body's size, the header's bytes
 * or memory, arrays longer or deeper than it reads), 400 for any other fault of the input
 * (a count larger than the bytes that follow is one, though the library calls it a limit
 * too); 500 only for our own bugs. The message is one line, its control characters
 * escaped as the CLI prints them (a query's text comes back in it), with this server's
 * settings for the library's options.
 */
function errorResponse(error: unknown): Response {
  const message = error instanceof Error ? error.message : String(error);
  const serverLimit = error instanceof GgufError && error.code === "LIMIT_EXCEEDED" &&
    !MODEL_FAULT.test(message);
  const status = serverLimit
    ? 413
    : error instanceof GgufError && error.code === "IO" && /the client sent nothing/.test(message)
    ? 408
    : error instanceof GgufError || error instanceof TypeError
    ? 400
    : 500;
  let text = message;
  for (const [term, here] of SERVER_TERMS) text = text.replaceAll(term, here);
  return textResponse(status, `error: ${messageLine(text)}\n`);
}

/**
 * Why a request cannot be converted from its method and headers alone, as a response;
 * `undefined` if it can be tried.
 */
function refuse(request: Request, limits: Required<EdgeLimits>): Response | undefined {
  if (request.method !== "POST" && request.method !== "PUT") {
    return textResponse(405, "error: POST or PUT a GGUF model as the request body\n", {
      allow: "POST, PUT",
    });
  }
  const encoding = request.headers.get("content-encoding");
  if (encoding !== null && encoding.trim().toLowerCase() !== "identity") {
    return textResponse(
      415,
      `error: Content-Encoding ${encoding} is not read: send the model as it is\n`,
    );
  }
  const type = request.headers.get("content-type") ?? "";
  if (/^\s*multipart\//i.test(type)) {
    return textResponse(
      415,
      "error: a form upload wraps the model: send its bytes as the body (curl -T model.gguf)\n",
    );
  }
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > limits.maxBodyBytes) {
    return textResponse(
      413,
      `error: the body is ${length} bytes, more than the ${limits.maxBodyBytes} this server takes\n`,
    );
  }
  if (request.body === null) {
    return textResponse(400, NO_BODY);
  }
  return undefined;
}

const NO_BODY = "error: the request has no body: send a GGUF model\n";

/** Trailing bytes read and dropped after the model before the answer ends (then cut off). */
const MAX_DISCARD = 64 << 20;

/** The request body as the converter reads it, and what to do with the rest. */
interface RequestInput {
  /** The body; cancelling it (the converter is done) leaves the rest for `finish()`. */
  stream: ReadableStream<Uint8Array>;
  /**
   * Reads and drops what the client still sends, up to 64 MiB, then cancels the body: the
   * answer ends only once the client has sent everything, so no server resets the
   * connection over unread bytes (workerd would, dropping the end of the answer).
   */
  finish(): Promise<void>;
  /** Cancels the body now (the answer is an error, or the client went away). */
  abort(reason?: unknown): Promise<void>;
  /** Bytes read from the body so far. */
  received(): number;
}

/** `promise`, or a `GgufError` `IO` saying `what` once `ms` milliseconds pass without it. */
async function withinIdle<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GgufError("IO", `${what} for ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, idle]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wraps the body: counted against `max` (`LIMIT_EXCEEDED` past it), and read with a BYOB
 * reader into one reused buffer where the body allows it, so it allocates nothing per chunk.
 */
function requestInput(
  body: ReadableStream<Uint8Array>,
  max: number,
  idleMs: number,
): RequestInput {
  let byob: ReadableStreamBYOBReader | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    reader = body.getReader();
  }
  let scratch = new ArrayBuffer(BODY_READ_BYTES);
  let left: Uint8Array | undefined;
  let seen = 0;
  let ended = false;
  const next = async (): Promise<Uint8Array | undefined> => {
    const read = byob !== undefined ? byob.read(new Uint8Array(scratch)) : reader!.read();
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await withinIdle(
        read,
        idleMs,
        "Cannot read the request body: the client sent nothing",
      );
    } catch (error) {
      await abort(error);
      throw error;
    }
    if (byob !== undefined && result.value !== undefined) {
      scratch = result.value.buffer as ArrayBuffer; // the read took the buffer; it is back
    }
    if (result.done) {
      ended = true;
      return undefined;
    }
    seen += result.value!.length;
    return result.value!;
  };
  const abort = async (reason?: unknown) => {
    if (ended) return;
    ended = true;
    await (byob ?? reader!).cancel(reason).catch(() => {});
  };
  const stream = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: READ_BYTES,
    async pull(controller) {
      if (left === undefined || left.length === 0) {
        left = await next();
        if (left === undefined) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        if (seen > max) {
          await abort();
          throw new GgufError(
            "LIMIT_EXCEEDED",
            `Cannot read the request body: it is longer than the ${max} bytes this server takes`,
            max,
          );
        }
      }
      const view = controller.byobRequest!.view!;
      const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      const count = Math.min(target.length, left.length);
      target.set(left.subarray(0, count));
      left = left.subarray(count);
      controller.byobRequest!.respond(count);
    },
    cancel() {
      left = undefined; // the rest waits for finish() or abort()
    },
  }) as ReadableStream<Uint8Array>;
  return {
    stream,
    abort,
    received: () => seen,
    async finish() {
      const stop = seen + MAX_DISCARD;
      while (!ended && seen <= stop) await next();
      await abort();
    },
  };
}

/** workerd's pipe whose writes are taken by the response as they come (see pumpThrough). */
type IdentityPipe = new () => TransformStream<Uint8Array, Uint8Array>;
/** workerd's pipe of a known length: the response gets it as its Content-Length. */
type FixedLengthPipe = new (length: number) => TransformStream<Uint8Array, Uint8Array>;

/**
 * workerd: writes the converted bytes into an IdentityTransformStream from one reused
 * buffer, refilling it only once the previous write has been taken, so the conversion
 * leaves no garbage behind for workerd's collector (which runs late).
 */
function pumpThrough(
  pipe: TransformStream<Uint8Array, Uint8Array>,
  reader: ReadableStreamBYOBReader,
  first: Uint8Array,
  input: RequestInput,
  idleMs: number,
  release: () => void,
): ReadableStream<Uint8Array> {
  const writer = pipe.writable.getWriter();
  (async () => {
    let value = first;
    for (;;) {
      // workerd does not fail the write of a client that has gone: a write that takes
      // nothing for idleMs ends the answer, so that the request's memory is freed.
      await withinIdle(writer.write(value), idleMs, "the client took nothing");
      const next = await reader.read(new Uint8Array(value.buffer, 0, PIPE_WRITE_BYTES));
      if (next.done) break;
      value = next.value;
    }
    await input.finish();
    await writer.close();
  })().catch((error) => {
    input.abort(error);
    writer.abort(error).catch(() => {});
    reader.cancel(error).catch(() => {});
  }).finally(release);
  return pipe.readable;
}

/**
 * The edge function with its limits: `{ fetch(request) }` for `Deno.serve`, `Bun.serve`,
 * workerd or `node:http` (_serve_node_http.ts).
 *
 * @param options Limits on each request (see {@linkcode EdgeLimits}).
 * @returns The handler.
 */
export function edgeConvert(options: EdgeLimits = {}): {
  fetch(request: Request): Promise<Response>;
} {
  const limits: Required<EdgeLimits> = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) limits[key as keyof EdgeLimits] = value;
  }
  let running = 0;
  return {
    /** Converts the request body; see the module documentation. */
    fetch: async (request) => {
      const refused = refuse(request, limits);
      if (refused !== undefined) return refused;
      if (running >= limits.maxConcurrent) {
        // Unread, the body is the server's to drop with the connection.
        await request.body?.cancel().catch(() => {});
        return textResponse(
          503,
          `error: this server is busy (${running} conversions at once, its limit); try again in a few seconds\n`,
          { "retry-after": String(BUSY_RETRY_SECONDS) },
        );
      }
      running++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        running--;
      };
      try {
        return await convertRequest(request, limits, release);
      } catch (error) {
        release();
        throw error;
      }
    },
  };
}

/** The handler with the default limits. */
export default edgeConvert();

/**
 * Converts one request's body into its answer; `release` is called once, when the
 * conversion's work has ended (answered, failed, cut off or cancelled).
 */
async function convertRequest(
  request: Request,
  limits: Required<EdgeLimits>,
  release: () => void,
): Promise<Response> {
  const { IdentityTransformStream: Pipe, FixedLengthStream: FixedLength } = globalThis as {
    IdentityTransformStream?: IdentityPipe;
    FixedLengthStream?: FixedLengthPipe;
  };
  let outputBytes: number | undefined;
  // Counted as it comes (a body without a Content-Length has not been checked yet).
  const input = requestInput(request.body!, limits.maxBodyBytes, limits.bodyIdleMs);
  let reader: ReadableStreamBYOBReader;
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    const policy = policyFrom(new URL(request.url));
    const converted = convertStream(input.stream, {
      policy,
      onWarning: () => {},
      chunkBytes: CHUNK_BYTES,
      // One thread per request: an edge isolate has no workers, and a server's other
      // cores serve the other requests.
      threads: 1,
      maxHeaderMemory: limits.maxHeaderMemory,
      maxHeaderBytes: limits.maxHeaderBytes,
      onOutputSize: (bytes) => outputBytes = bytes,
    });
    reader = converted.getReader({ mode: "byob" });
    // The first bytes are the output header: reading them validates the model and the plan.
    first = await reader.read(new Uint8Array(Pipe !== undefined ? PIPE_WRITE_BYTES : READ_BYTES));
  } catch (error) {
    await input.abort(error);
    release();
    // A body that turns out empty (no Content-Length said so) is answered as one refused
    // from its headers is, on every server.
    if (input.received() === 0 && error instanceof GgufError && error.code === "TRUNCATED") {
      return textResponse(400, NO_BODY);
    }
    return errorResponse(error);
  }
  if (first.done) {
    try {
      await input.finish();
    } finally {
      release();
    }
    return new Response(new Uint8Array(0), OCTETS);
  }
  if (Pipe !== undefined) {
    // With its length known, an answer cut short by a failure cannot end as a whole one:
    // workerd closes an IdentityTransformStream's chunked answer cleanly even when aborted.
    const pipe = FixedLength !== undefined && outputBytes !== undefined
      ? new FixedLength(outputBytes)
      : new Pipe();
    return new Response(
      pumpThrough(pipe, reader, first.value, input, limits.bodyIdleMs, release),
      OCTETS,
    );
  }
  let pending: Uint8Array | undefined = first.value;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending !== undefined) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      // A fresh buffer each time (the server may still hold the chunks it was given), filled
      // by as many reads as it takes: a model of many tiny tensors would otherwise leave a
      // mostly empty 64 KiB buffer per tensor for the collector.
      let buffer = new ArrayBuffer(READ_BYTES);
      let filled = 0;
      try {
        while (filled < READ_BYTES) {
          const { value, done } = await reader.read(new Uint8Array(buffer, filled));
          if (value === undefined) break; // cancelled
          buffer = value.buffer as ArrayBuffer; // the read took the buffer and hands it back
          if (done) break;
          filled += value.length;
        }
      } catch (error) {
        await input.abort(error); // the answer is cut off: stop reading the body at once
        release();
        throw error;
      }
      if (filled > 0) controller.enqueue(new Uint8Array(buffer, 0, filled));
      if (filled < READ_BYTES) {
        try {
          await input.finish(); // the client has sent everything before the answer ends
        } finally {
          release();
        }
        controller.close();
      }
    },
    cancel: async (reason) => {
      await input.abort(reason);
      release();
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(body, OCTETS);
}
