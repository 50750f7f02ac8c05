/**
 * How a URL is shown in messages and listings: without what may hold a secret.
 *
 * @module
 */

/**
 * A URL as error messages show it: without credentials, query or fragment, which may
 * hold tokens.
 *
 * @param url The URL.
 * @returns Its origin and path.
 *
 * @example
 * ```ts
 * import { describeUrl } from "./describe_url.ts";
 * import assert from "node:assert/strict";
 * const url = new URL("https://user:secret@example.com/m.gguf?token=abc");
 * assert.equal(describeUrl(url), "https://example.com/m.gguf");
 * ```
 */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
