/**
 * A model at an HTTP(S) URL as one stream: a single `GET`, read once, forward — how a
 * conversion reads a remote model (one request for the whole file instead of one per
 * chunk). A connection reset mid-body is resumed by a `Range` request from the byte it
 * stopped at, when the server can prove it is the same file (`ETag`, `Last-Modified`).
 *
 * @module
 */
import { formatInteger, GgufError } from "../model/errors.ts";
import {
  DEFAULT_FIRST_REQUEST_BYTES,
  describeUrl,
  type HttpOptions,
  type HttpPin,
  ignoresRanges,
  openHttpRange,
} from "./http_range.ts";
import {
  describeNetworkError,
  type Fetched,
  httpUrl,
  isTransientStatus,
  type RequestSettings,
  requestSettings,
  send,
  transientStatus,
  withRetries,
} from "./http_request.ts";
import {
  byteRange,
  changedError,
  htmlPageError,
  isHtmlResponse,
  looksLikeHtml,
  parseContentRange,
  statusError,
  validatorsDiffer,
  validatorsOf,
} from "./http_response.ts";
import { startsAt } from "./stream_buffer.ts";
import { openStreamSource, type StreamSource } from "./stream_source.ts";

/** Resumptions of one stream after resets, at most (each itself retried). */
const MAX_RESUMES = 16;

/**
 * Fetches `url` and returns its body as a stream. Redirects are followed (up to
 * `maxRedirects`); the caller's headers (tokens) go with the request. A failed request, a
 * `5xx` or a `429` is retried (`retry`); a connection reset mid-body is resumed where it
 * stopped by a `Range` request, if the server sent an `ETag` or `Last-Modified` that the
 * resumed response matches — otherwise the stream fails with a `GgufError`, never with
 * bytes of another file. A server that sends nothing for `idleTimeout` (30 s) — no
 * response, or no byte of a body being read — counts as a failed request or a reset one;
 * time the reader takes between reads does not count.
 *
 * @param url An `http:` or `https:` URL.
 * @param options A `fetch` of your own, headers, retries, redirects, the idle timeout and
 *   a signal (`firstRequestBytes` is unused).
 * @returns The response body; cancel it to stop the download. It fails with a
 *   `GgufError` `IO` naming the URL and the byte when the network fails for good or the
 *   server falls silent and the stream cannot be resumed.
 * @throws {GgufError} `IO` when the request fails (after its retries), the server answers
 *   with an error status, or it sends an HTML page.
 * @throws {TypeError} For a URL that is not `http:` or `https:`.
 *
 * @example
 * ```ts
 * import { openHttpStream } from "gguf-stream/sources";
 * import assert from "node:assert/strict";
 * const fetch = () => Promise.resolve(new Response(new Uint8Array([71, 71, 85, 70])));
 * const stream = await openHttpStream("https://example.com/m.gguf", { fetch });
 * assert.deepEqual([...new Uint8Array(await new Response(stream).arrayBuffer())], [71, 71, 85, 70]);
 * ```
 */
export async function openHttpStream(
  url: string | URL,
  options: HttpOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const target = httpUrl(url);
  const where = describeUrl(target);
  const settings = requestSettings(options);
  const headers = new Headers(options.headers);
  // Byte positions must be the stored file's, for a resumption to continue where it stopped.
  headers.set("accept-encoding", "identity");
  const sent = await withRetries(`Cannot fetch ${where}`, settings, async () => {
    const sent = await send(target, headers, settings);
    const response = sent.response;
    if (isTransientStatus(response.status)) throw await transientStatus(response);
    if (!response.ok || response.body === null) {
      await response.body?.cancel().catch(() => {});
      throw statusError(where, response);
    }
    if (isHtmlResponse(response)) {
      await response.body.cancel().catch(() => {});
      throw htmlPageError(where);
    }
    return sent;
  });
  const response = sent.response;
  const length = response.headers.get("content-length");
  const identity = (response.headers.get("content-encoding") ?? "identity") === "identity";
  const pin: HttpPin | undefined = identity && length !== null && /^\d+$/.test(length.trim())
    ? {
      url: sent.url,
      headers: sent.headers,
      size: Number(length),
      validators: validatorsOf(response),
    }
    : undefined;
  return resumingBody(sent, 0, pin, where, settings);
}

/**
 * A response body that resumes after a reset: on a failed read (a reset, a silent
 * server, or a body that ends before the file's size), a `Range: bytes=N-` request for
 * the rest, checked against the pin; the stream pulls only when read. It fails once
 * `settings.attempts` reads in a row end without a byte, or after `MAX_RESUMES`
 * resumptions in all.
 */
function resumingBody(
  first: Fetched,
  start: number,
  pin: HttpPin | undefined,
  where: string,
  settings: RequestSettings,
): ReadableStream<Uint8Array> {
  let reader = first.response.body!.getReader();
  let position = start;
  let sniffed = start > 0;
  let resumes = 0;
  // Failures in a row at one byte: a server that fails there each time is given up on
  // after `attempts`, as a request is, rather than after MAX_RESUMES.
  let stuck = 0;
  const canResume = pin !== undefined &&
    (pin.validators.etag !== null || pin.validators.lastModified !== null);

  const resume = async (cause: unknown): Promise<typeof reader> => {
    const reason = describeNetworkError(cause);
    const at = `Cannot read ${where} at byte ${formatInteger(position)}`;
    if (!canResume) {
      throw new GgufError(
        "IO",
        `${at}: ${reason} (the server gave no ETag or Last-Modified to resume by)`,
        position,
        { cause },
      );
    }
    if (++resumes > MAX_RESUMES) {
      throw new GgufError(
        "IO",
        `${at}: ${reason} (the connection failed ${MAX_RESUMES + 1} times)`,
        position,
        { cause },
      );
    }
    if (++stuck >= settings.attempts) {
      throw new GgufError(
        "IO",
        `${at}: ${reason} (after ${stuck} attempts)`,
        position,
        { cause },
      );
    }
    await reader.cancel().catch(() => {});
    return await withRetries(`${at}: ${reason}; resuming failed`, settings, async () => {
      const headers = new Headers(pin.headers);
      headers.set("range", `bytes=${position}-`);
      const { etag, lastModified } = pin.validators;
      const strong = etag !== null && !etag.startsWith("W/") ? etag : null;
      if (strong !== null || lastModified !== null) {
        headers.set("if-range", strong ?? lastModified!);
      }
      const { response } = await send(pin.url, headers, settings);
      if (isTransientStatus(response.status)) throw await transientStatus(response);
      if (response.status === 200) {
        // If-Range failed (the file changed) or the server ignores Range: either way the
        // bytes would not continue the ones already read.
        await response.body?.cancel().catch(() => {});
        throw new GgufError(
          "IO",
          `${at}: ${reason}, and the server cannot resume there (it sent the whole file again: the file changed, or it ignores Range)`,
          position,
          { cause },
        );
      }
      if (response.status !== 206 || response.body === null) {
        await response.body?.cancel().catch(() => {});
        throw statusError(where, response, ` (${byteRange(position)})`);
      }
      const range = parseContentRange(response.headers.get("content-range"));
      if (
        range === undefined || range.start !== position || range.total !== pin.size ||
        validatorsDiffer(pin.validators, validatorsOf(response))
      ) {
        await response.body.cancel().catch(() => {});
        throw changedError(where, position);
      }
      return response.body.getReader();
    });
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (cause) {
          if (settings.signal?.aborted) throw cause;
          reader = await resume(cause);
          continue;
        }
        if (result.done) {
          if (pin !== undefined && position < pin.size) {
            reader = await resume(
              new Error(`the body ended early (${formatInteger(pin.size)} bytes were announced)`),
            );
            continue;
          }
          controller.close();
          return;
        }
        if (!sniffed && result.value.length > 0) {
          sniffed = true;
          if (looksLikeHtml(result.value)) {
            await reader.cancel().catch(() => {});
            throw htmlPageError(where);
          }
        }
        position += result.value.length;
        if (result.value.length > 0) stuck = 0;
        controller.enqueue(result.value);
        return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Opens a model at a URL as a forward-only source whose body is fetched only when it is
 * first read: the header is read by `Range` requests (usually one), and the `GET` for the
 * rest (`Range: bytes=N-`, from the end of what the header read fetched) is sent at the
 * first `read()`. This is how the parts after the first of a split model wait their turn:
 * an idle open response would be closed by the server's timeout (nginx's `send_timeout`)
 * while the parts before it convert. A server that ignores `Range` gets one `GET` at once,
 * as {@linkcode openHttpStream}.
 *
 * @param url An `http:` or `https:` URL.
 * @param options As for {@linkcode openHttpStream}, with `firstRequestBytes`.
 * @returns A source whose `kind` is `"stream"`.
 * @throws {GgufError} `IO` when the header's request fails.
 * @throws {TypeError} For a URL that is not `http:` or `https:`.
 *
 * @example
 * ```ts
 * import { openDeferredHttpStream } from "./http_stream.ts";
 * import assert from "node:assert/strict";
 * const file = new Uint8Array([71, 71, 85, 70, 3, 0, 0, 0]);
 * const ranges: string[] = [];
 * const fetch = (_url: URL, init: RequestInit) => {
 *   const [, start, end] = new Headers(init.headers).get("range")!.match(/(\d+)-(\d*)/)!;
 *   ranges.push(`${start}-${end}`);
 *   const last = end === "" ? file.length - 1 : Math.min(Number(end), file.length - 1);
 *   return Promise.resolve(new Response(file.slice(Number(start), last + 1), {
 *     status: 206,
 *     headers: { "content-range": `bytes ${start}-${last}/${file.length}`, etag: '"1"' },
 *   }));
 * };
 * const source = await openDeferredHttpStream("https://example.com/m.gguf", {
 *   fetch,
 *   firstRequestBytes: 4,
 * });
 * assert.deepEqual([...(await source.prefix(4)).bytes], [71, 71, 85, 70]);
 * assert.deepEqual(ranges, ["0-3"]); // the body is not fetched yet
 * assert.deepEqual([...await source.read(2, 4)], [85, 70, 3, 0]);
 * assert.deepEqual(ranges, ["0-3", "4-"]);
 * await source.close();
 * ```
 */
export async function openDeferredHttpStream(
  url: string | URL,
  options: HttpOptions = {},
): Promise<StreamSource> {
  const target = httpUrl(url);
  const where = describeUrl(target);
  const settings = requestSettings(options);
  let opened: Awaited<ReturnType<typeof openHttpRange>>;
  try {
    opened = await openHttpRange(target, options);
  } catch (error) {
    if (!ignoresRanges(error)) throw error;
    return openStreamSource(await openHttpStream(target, options), options.signal);
  }
  const { source: range, pin } = opened;
  // What the range source keeps from byte 0: its first request, grown by longer headers.
  let held = Math.min(options.firstRequestBytes ?? DEFAULT_FIRST_REQUEST_BYTES, pin.size);
  let body: StreamSource | undefined;

  const openBody = async (): Promise<StreamSource> => {
    // The body's stream starts at byte `held`: it takes reads at the file's offsets.
    if (held >= pin.size) return openStreamSource(startsAt(new Blob([]).stream(), held));
    const headers = new Headers(pin.headers);
    headers.set("range", `bytes=${held}-`);
    const sent = await withRetries(`Cannot fetch ${where}`, settings, async () => {
      const sent = await send(pin.url, headers, settings);
      const response = sent.response;
      if (isTransientStatus(response.status)) throw await transientStatus(response);
      const range = parseContentRange(response.headers.get("content-range"));
      if (response.status !== 206 || response.body === null) {
        await response.body?.cancel().catch(() => {});
        throw statusError(where, response, ` (${byteRange(held)})`);
      }
      if (
        range === undefined || range.start !== held || range.total !== pin.size ||
        validatorsDiffer(pin.validators, validatorsOf(response))
      ) {
        await response.body.cancel().catch(() => {});
        throw changedError(where, held);
      }
      return sent;
    });
    return openStreamSource(
      startsAt(resumingBody(sent, held, pin, where, settings), held),
      options.signal,
    );
  };

  return {
    kind: "stream",
    size: Number.MAX_SAFE_INTEGER,
    view: () => undefined,
    async prefix(length) {
      if (body !== undefined) throw new TypeError("prefix() cannot follow read()");
      const count = Math.min(length, pin.size);
      const bytes = await range.read(0, count);
      held = Math.max(held, count);
      return { bytes, complete: count === pin.size };
    },
    async read(offset, length, into) {
      body ??= await openBody();
      const end = offset + length;
      if (end <= held) return await range.read(offset, length, into);
      if (offset >= held) return await body.read(offset, length, into);
      const out = into?.subarray(0, length) ?? new Uint8Array(length);
      out.set(await range.read(offset, held - offset));
      await body.read(held, end - held, out.subarray(held - offset));
      return out;
    },
    async close(reason?: unknown) {
      await body?.close(reason);
      await range.close();
    },
  };
}
