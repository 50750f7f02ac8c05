/**
 * A forward-only buffer over a `ReadableStream<Uint8Array>` of any chunking: reads from the
 * stream only when asked (so a slow consumer slows the reading) and keeps only what was
 * asked for. A byte stream (a request body, stdin, a blob) is read with a BYOB reader into
 * buffers that are recycled once their bytes are consumed, so reading allocates nothing
 * per chunk — runtimes that collect garbage buffers late (workerd) would otherwise grow by
 * the size of many chunks. Each read fills the rest of the current buffer before another
 * is taken, so what is held takes memory in proportion to its bytes however little each
 * read brings (a pipe or a socket delivering a packet at a time).
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import { nextTurn } from "../runtime/current.ts";

/** Bytes per BYOB read, unless the stream asked for another size. */
const BYOB_CHUNK = 64 * 1024;
/**
 * The smallest read into the rest of the current buffer, as a fraction of the read size:
 * a buffer with less room left is set aside, at most this fraction of it unused.
 */
const MIN_READ_FRACTION = 16;
/** Streams that read best in larger pieces (standard input), with their read size. */
const READ_SIZES = new WeakMap<ReadableStream<Uint8Array>, number>();

/**
 * Asks that a byte stream be read `bytes` at a time (BYOB reads) instead of 64 KiB:
 * standard input reads 256 KiB, a quarter of the reads through a pipe. Other streams
 * (an edge request's body) keep 64 KiB, which keeps their runtime's buffers small.
 *
 * @param stream The stream.
 * @param bytes The read size.
 * @returns The stream.
 *
 * @example
 * ```ts
 * import { preferReadSize } from "./stream_buffer.ts";
 * const stream = preferReadSize(new Blob([new Uint8Array(8)]).stream(), 256 * 1024);
 * await stream.cancel();
 * ```
 */
export function preferReadSize(
  stream: ReadableStream<Uint8Array>,
  bytes: number,
): ReadableStream<Uint8Array> {
  READ_SIZES.set(stream, bytes);
  return stream;
}
/** Streams whose bytes may also be read by a blocking call, with that call. */
const BLOCKING_READS = new WeakMap<ReadableStream<Uint8Array>, (into: Uint8Array) => number>();

/**
 * Says that a stream's bytes may be had by a blocking call instead, for a thread that
 * may wait (a worker converting standard input): a buffer over it reads through `read`,
 * into its recycled buffers, with no promise per read and no turn of the event loop.
 *
 * @param stream The stream (locked, never read through, by a buffer over it).
 * @param read Reads up to `into.length` bytes into `into`, waiting until at least one
 *   arrives; returns how many, 0 at the end.
 * @returns The stream.
 *
 * @example
 * ```ts
 * import { readsBlocking, StreamBuffer } from "./stream_buffer.ts";
 * import assert from "node:assert/strict";
 * let left = 8;
 * const stream = readsBlocking(new ReadableStream<Uint8Array>(), (into) => {
 *   const count = Math.min(left, into.length);
 *   into.fill(7, 0, count);
 *   left -= count;
 *   return count;
 * });
 * const buffer = new StreamBuffer(stream);
 * assert.deepEqual([...await buffer.readExact(8)], [7, 7, 7, 7, 7, 7, 7, 7]);
 * await buffer.cancel();
 * ```
 */
export function readsBlocking(
  stream: ReadableStream<Uint8Array>,
  read: (into: Uint8Array) => number,
): ReadableStream<Uint8Array> {
  BLOCKING_READS.set(stream, read);
  return stream;
}

/** Streams that continue a file from a byte other than 0, with that byte. */
const STARTS = new WeakMap<ReadableStream<Uint8Array>, number>();

/**
 * Says that a stream's first byte is byte `offset` of the file (a body fetched from there):
 * a source over it takes reads at the file's offsets, and its errors name them.
 *
 * @param stream The stream.
 * @param offset The file offset of its first byte.
 * @returns The stream.
 *
 * @example
 * ```ts
 * import { startsAt, StreamBuffer } from "./stream_buffer.ts";
 * import assert from "node:assert/strict";
 * const buffer = new StreamBuffer(startsAt(new Blob([new Uint8Array(8)]).stream(), 4096));
 * assert.equal(buffer.position, 4096);
 * await buffer.cancel();
 * ```
 */
export function startsAt(
  stream: ReadableStream<Uint8Array>,
  offset: number,
): ReadableStream<Uint8Array> {
  STARTS.set(stream, offset);
  return stream;
}

/**
 * The error for a stream that ended at byte `at`, `short` bytes before what was wanted
 * ended.
 *
 * @param at The byte the stream ended at.
 * @param short How many more bytes were wanted.
 * @param wanted What they were, for the message.
 * @returns A `GgufError` `TRUNCATED` at `at`.
 *
 * @example
 * ```ts
 * import { streamEndedError } from "./stream_buffer.ts";
 * import assert from "node:assert/strict";
 * const error = streamEndedError(500_000, 613_952, "the data the header describes");
 * assert.equal(
 *   error.message,
 *   "Cannot read the stream: it ended at byte 500_000, 613_952 bytes short of the data the header describes",
 * );
 * ```
 */
export function streamEndedError(at: number, short: number, wanted: string): GgufError {
  return new GgufError(
    "TRUNCATED",
    `Cannot read the stream: it ended at byte ${formatInteger(at)}, ${
      formatInteger(short)
    } bytes short of ${wanted}`,
    at,
  );
}

/**
 * Reads between two turns of the event loop. A stream whose chunks are ready at once (an
 * endless run of empty chunks, say) would otherwise keep the reading in microtasks, where
 * no timer, I/O callback or abort listener ever runs.
 */
const READS_PER_TURN = 256;

/**
 * A blocking read goes straight into the caller's array when at least this much of it is
 * left to fill and nothing is buffered: one copy of the bytes less. Less than this is
 * read into the buffers, a whole read at a time.
 */
const DIRECT_READ_BYTES = 64 * 1024;

/** What a chunk that is not bytes is, for the error message. */
function describeChunk(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof ArrayBuffer) return "an ArrayBuffer (wrap it: new Uint8Array(buffer))";
  if (typeof value === "object") {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `an object (${name})` : "an object";
  }
  return typeof value === "string"
    ? `a string of length ${value.length}`
    : `${typeof value} ${String(value)}`;
}

/** Reads a byte stream forward, with the absolute position of the next unread byte. */
export class StreamBuffer {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  readonly #byob: boolean;
  /** Set once the stream is cancelled and the lock released (later cancels do nothing). */
  #released = false;
  /** Whole BYOB buffers whose bytes were all consumed, ready for the next read. */
  #free: ArrayBuffer[] = [];
  /** The BYOB buffer being filled (reads go into its rest), and how far it is filled. */
  #tail: ArrayBuffer | undefined;
  #tailFilled = 0;
  #chunks: Uint8Array[] = [];
  #available = 0;
  #ended = false;
  /** Whether a read of the stream failed (its error is then reported, not again on cancel). */
  #failed = false;
  /** Reads since the last turn of the event loop. */
  #reads = 0;
  /** Absolute offset of the first buffered (unread) byte. */
  position = 0;

  readonly #readSize: number;
  /** The blocking read the stream was given ({@linkcode readsBlocking}), if any. */
  readonly #readBlocking: ((into: Uint8Array) => number) | undefined;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#readSize = READ_SIZES.get(stream) ?? BYOB_CHUNK;
    this.#readBlocking = BLOCKING_READS.get(stream);
    this.position = STARTS.get(stream) ?? 0;
    try {
      this.#reader = stream.getReader({ mode: "byob" });
      this.#byob = true;
    } catch {
      this.#reader = stream.getReader(); // not a byte stream
      this.#byob = false;
    }
  }

  /**
   * A failed read of the stream as a `GgufError` `IO` at the byte it stopped at (the
   * stream's own error its `cause`): a caller's stream, or a `fetch()` body that broke,
   * may fail with anything, even a string. Our own errors pass as they are.
   */
  #readFailed(cause: unknown): never {
    this.#failed = true;
    if (cause instanceof GgufError) throw cause;
    const why = cause instanceof Error ? cause.message : String(cause);
    const at = this.position + this.#available;
    throw new GgufError(
      "IO",
      `Cannot read the stream at byte ${formatInteger(at)}: it failed (${why})`,
      at,
      { cause },
    );
  }

  /**
   * Reads once from the stream, adding what arrives to the buffered chunks; `false` at the
   * end of the stream. A chunk that is not bytes is a `TypeError`; any `ArrayBufferView`
   * is taken as its bytes, without a copy.
   */
  async #readMore(): Promise<boolean> {
    if (this.#readBlocking !== undefined) return this.#readBlockingInto(this.#readBlocking);
    if (++this.#reads >= READS_PER_TURN) {
      this.#reads = 0;
      await nextTurn();
      if (this.#ended) return false; // cancelled meanwhile
    }
    if (this.#byob) return await this.#readInto();
    const { value, done } = await (this.#reader as ReadableStreamDefaultReader<Uint8Array>).read()
      .catch((cause) => this.#readFailed(cause));
    if (done) return false;
    const chunk: unknown = value;
    let bytes: Uint8Array;
    if (chunk instanceof Uint8Array) bytes = chunk;
    else if (ArrayBuffer.isView(chunk)) {
      bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    } else {
      throw new TypeError(
        `Cannot read the stream at byte ${
          formatInteger(this.position + this.#available)
        }: its chunks must be Uint8Arrays (or other ArrayBufferViews), but one is ${
          describeChunk(chunk)
        }`,
      );
    }
    if (bytes.length > 0) {
      this.#chunks.push(bytes);
      this.#available += bytes.length;
    }
    return true;
  }

  /**
   * Where the next read goes: the rest of the current buffer; when too little room is
   * left, all of it again if every byte read into it is consumed (a reader that takes
   * each read's bytes at once fills one buffer over and over), else a recycled or new one.
   */
  #readTarget(): [ArrayBuffer, number] {
    const size = this.#readSize;
    const tail = this.#tail;
    if (tail !== undefined) {
      if (size - this.#tailFilled >= size / MIN_READ_FRACTION) return [tail, this.#tailFilled];
      // Only the last chunk can be in the buffer being filled.
      if (this.#chunks.at(-1)?.buffer !== tail) return [tail, 0];
    }
    return [this.#free.pop() ?? new ArrayBuffer(size), 0];
  }

  /**
   * One BYOB read into the rest of the current buffer (a recycled or new one when too
   * little room is left). The bytes join the chunk already held in that buffer.
   */
  async #readInto(): Promise<boolean> {
    const size = this.#readSize;
    const [buffer, at] = this.#readTarget();
    // The read transfers the whole buffer: the chunk held in its front (only ever the
    // last chunk) is made again over the buffer the read gives back.
    const last = this.#chunks.at(-1);
    const held = last !== undefined && last.buffer === buffer ? last : undefined;
    const heldStart = held?.byteOffset ?? at;
    const heldLength = held?.length ?? 0;
    this.#tail = undefined;
    const { value, done } = await (this.#reader as ReadableStreamBYOBReader).read(
      new Uint8Array(buffer, at, size - at),
    ).catch((cause) => this.#readFailed(cause));
    if (value === undefined) return false; // cancelled: nothing is held any more
    const returned = value.buffer as ArrayBuffer;
    const count = done ? 0 : value.byteLength;
    if (held !== undefined && this.#chunks.at(-1) === held) {
      this.#chunks[this.#chunks.length - 1] = new Uint8Array(
        returned,
        heldStart,
        heldLength + count,
      );
    } else if (count > 0) {
      this.#chunks.push(new Uint8Array(returned, at, count));
    }
    this.#available += count;
    this.#tail = returned;
    this.#tailFilled = at + count;
    return !done;
  }

  /**
   * One blocking read into the rest of the current buffer (a new or recycled one when
   * little is left): the buffer stays this thread's, so it is recycled as BYOB buffers are.
   */
  #readBlockingInto(read: (into: Uint8Array) => number): boolean {
    const size = this.#readSize;
    const [buffer, at] = this.#readTarget();
    const count = read(new Uint8Array(buffer, at, size - at));
    if (count === 0) return false;
    const last = this.#chunks.at(-1);
    if (last !== undefined && last.buffer === buffer && last.byteOffset + last.length === at) {
      this.#chunks[this.#chunks.length - 1] = new Uint8Array(
        buffer,
        last.byteOffset,
        last.length + count,
      );
    } else this.#chunks.push(new Uint8Array(buffer, at, count));
    this.#available += count;
    this.#tail = buffer;
    this.#tailFilled = at + count;
    return true;
  }

  /**
   * Returns a consumed chunk's buffer to the pool when it is a whole BYOB buffer no
   * longer being filled (a chunk never shares such a buffer with another).
   */
  #recycle(chunk: Uint8Array): void {
    if (
      (this.#byob || this.#readBlocking !== undefined) &&
      chunk.buffer.byteLength === this.#readSize && chunk.buffer !== this.#tail &&
      this.#free.length < 4
    ) {
      this.#free.push(chunk.buffer as ArrayBuffer);
    }
  }

  /** Bytes buffered and not yet consumed. */
  get available(): number {
    return this.#available;
  }

  /** Whether the stream has ended (no more bytes will arrive). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Reads from the stream until `count` bytes are buffered or it ends. A chunk that is not
   * bytes is a `TypeError`; any `ArrayBufferView` is taken as its bytes, without a copy.
   */
  async fill(count: number): Promise<void> {
    while (this.#available < count && !this.#ended) {
      if (!(await this.#readMore())) this.#ended = true;
    }
  }

  /**
   * The first `count` buffered bytes as one contiguous array (joining chunks if needed),
   * valid until the next read from the stream.
   */
  peek(count: number): Uint8Array {
    if (count > this.#available) throw new TypeError(`Only ${this.#available} bytes are buffered`);
    if (this.#chunks.length === 0) return new Uint8Array(0);
    if (this.#chunks[0].length < count) {
      const joined = new Uint8Array(this.#available);
      let at = 0;
      for (const chunk of this.#chunks) {
        joined.set(chunk, at);
        at += chunk.length;
      }
      this.#chunks = [joined];
    }
    return this.#chunks[0].subarray(0, count);
  }

  /** Drops `count` buffered bytes. */
  consume(count: number): void {
    let left = count;
    while (left > 0) {
      const first = this.#chunks[0];
      if (first.length <= left) {
        this.#chunks.shift();
        this.#recycle(first);
        left -= first.length;
      } else {
        this.#chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.#available -= count;
    this.position += count;
  }

  /**
   * Returns up to `max` bytes (at least 1) from the front, without copying; `undefined` at
   * the end of the stream. The bytes are valid only until the next call: copy them.
   */
  async next(max: number): Promise<Uint8Array | undefined> {
    await this.fill(1);
    if (this.#available === 0) return undefined;
    const first = this.#chunks[0];
    const piece = first.subarray(0, Math.min(max, first.length));
    this.consume(piece.length);
    return piece;
  }

  /** Reads exactly `length` bytes into `into` (or a new array); `TRUNCATED` if the stream ends. */
  async readExact(length: number, into?: Uint8Array): Promise<Uint8Array> {
    const target = into === undefined ? new Uint8Array(length) : into.subarray(0, length);
    let done = 0;
    while (done < length) {
      if (this.#readsDirectly(target, length - done)) {
        const count = this.#readBlocking!(target.subarray(done));
        if (count === 0) {
          this.#ended = true;
          throw this.#truncated(length - done);
        }
        done += count;
        this.position += count;
        continue;
      }
      const piece = await this.next(length - done);
      if (piece === undefined) throw this.#truncated(length - done);
      target.set(piece, done);
      done += piece.length;
    }
    return target;
  }

  /**
   * Whether the next `left` bytes of a read into `target` are read by a blocking read
   * straight into it: nothing buffered comes first, enough is left (see
   * {@linkcode DIRECT_READ_BYTES}), and `target` is this thread's own memory (a blocking
   * read may not take a view of shared memory).
   */
  #readsDirectly(target: Uint8Array, left: number): boolean {
    return this.#readBlocking !== undefined && this.#available === 0 && !this.#ended &&
      left >= DIRECT_READ_BYTES && target.buffer instanceof ArrayBuffer;
  }

  /** Skips forward to absolute `offset`; `TRUNCATED` if the stream ends first. */
  async skipTo(offset: number): Promise<void> {
    while (this.position < offset) {
      const piece = await this.next(offset - this.position);
      if (piece === undefined) throw this.#truncated(offset - this.position);
    }
  }

  /** Stops reading and cancels the stream. */
  async cancel(reason?: unknown): Promise<void> {
    this.#chunks = [];
    this.#tail = undefined;
    this.#available = 0;
    this.#ended = true;
    if (this.#released) return;
    this.#released = true;
    try {
      // Cancelling a stream that failed rejects with its error again: reported already.
      await this.#reader.cancel(reason).catch((error) => {
        if (!this.#failed) throw error;
      });
    } finally {
      // The caller's stream is cancelled and no longer locked by us.
      this.#reader.releaseLock();
    }
  }

  /** The stream ended `missing` bytes short of a read: the reader may know the whole shortfall. */
  #truncated(missing: number): GgufError {
    return streamEndedError(this.position, missing, "the bytes asked for");
  }
}
