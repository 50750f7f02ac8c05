/**
 * A model at an HTTP(S) URL as one stream: a single `GET`, read once, forward — how a
 * conversion reads a remote model (one request for the whole file instead of one per
 * chunk).
 *
 * @module
 */
import { GgufError } from "../model/errors.ts";
import { describeUrl, type FetchFunction, type HttpOptions } from "./http_range.ts";

/**
 * Fetches `url` and returns its body as a stream. Redirects are followed; the caller's
 * headers (tokens) go with the request.
 *
 * @param url An `http:` or `https:` URL.
 * @param options A `fetch` of your own, headers and a signal (`firstRequestBytes` is unused).
 * @returns The response body; cancel it to stop the download.
 * @throws {GgufError} `IO` when the request fails or the server answers with an error status.
 * @throws {TypeError} For a URL that is not `http:` or `https:`.
 *
 * @example
 * ```ts
 * import { openHttpStream } from "./http_stream.ts";
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
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new TypeError(`Cannot fetch ${target.href}: only http: and https: URLs can be fetched`);
  }
  const where = describeUrl(target);
  const fetchFn: FetchFunction = options.fetch ?? ((input, init) => fetch(input, init));
  let response: Response;
  try {
    response = await fetchFn(target, {
      headers: new Headers(options.headers),
      redirect: "follow",
      signal: options.signal,
    });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new GgufError("IO", `Cannot fetch ${where}: ${reason}`, undefined, { cause });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => {});
    throw new GgufError(
      "IO",
      `Cannot fetch ${where}: the server answered ${response.status} ${response.statusText}`
        .trimEnd() +
        (response.status === 401 || response.status === 403
          ? " (a gated model needs an Authorization header: pass it in the headers option)"
          : ""),
    );
  }
  return response.body as ReadableStream<Uint8Array>;
}
