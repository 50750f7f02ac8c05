/**
 * Network failures that another attempt would only repeat — a certificate the runtime
 * does not trust, a host name that does not resolve, a port the runtime blocks — are
 * reported after one attempt, with advice, on every runtime; failures that may pass (a
 * refused connection, a name server that did not answer) are still retried.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { convertFile, readGguf } from "../mod.ts";
import { ioError } from "./_http_servers.ts";
import { networkAdvice } from "../src/source/http_request.ts";

// A self-signed certificate for 127.0.0.1 and localhost (P-256, CA:FALSE, valid until
// 2126), made for this test with `openssl req -x509`; its key protects nothing.
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUiz05Z2HWMqjPukH
9S8fHRKFu/UD02uKBjjQeSub+5ChRANCAASMRFBC2FJ1wbt3VGSmlf92bdar2LMM
aSJhZqEDxqgUXCEGPdTsf/DhjtQzIi/1kue3h6Sp4g+6s1q12I+zyCvW
-----END PRIVATE KEY-----
`;
const CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBpjCCAUygAwIBAgIUbb0OyH8JZwSJ8ScbdO0jy5lSslswCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQZ2d1Zi1zdHJlYW0tdGVzdDAgFw0yNjEyMDgwMjM3NTlaGA8y
MTI2MTExNDAyMzc1OVowGzEZMBcGA1UEAwwQZ2d1Zi1zdHJlYW0tdGVzdDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABIxEUELYUnXBu3dUZKaV/3Zt1qvYswxpImFm
oQPGqBRcIQY91Ox/8OGO1DMiL/WS57eHpKniD7qzWrXYj7PIK9ajbDBqMB0GA1Ud
DgQWBBSTjJfqzpCeScUG87MtIys98IOmsTAfBgNVHSMEGDAWgBSTjJfqzpCeScUG
87MtIys98IOmsTAMBgNVHRMBAf8EAjAAMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcE
fwAAATAKBggqhkjOPQQDAgNIADBFAiEA993GdbfN4YBAPoamIJxxNxx3pRe9Haeg
5J8D/eEBDHsCIGkByB1IoAsCZ2hzyIZewcmt2+t3Lhk5jM9RJCgaYYxy
-----END CERTIFICATE-----
`;

/** Short retries, so that a failure retried by mistake still ends the test quickly. */
const FAST = { retry: { baseDelay: 1, maxDelay: 20 } };

test("an untrusted certificate is reported after one attempt, with advice", async () => {
  const server: Server = createServer({ key: KEY, cert: CERTIFICATE }, (_, response) => {
    response.end("never reached");
  });
  let attempts = 0;
  const counting = (url: URL | RequestInfo, init?: RequestInit) => (attempts++, fetch(url, init));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    for (const host of ["127.0.0.1", "localhost"]) {
      const before = attempts;
      const url = `https://${host}:${port}/m.gguf?token=secret`;
      await assert.rejects(
        readGguf(url, { ...FAST, fetch: counting }),
        ioError(
          new RegExp(`^Cannot fetch https://${host}:${port}/m\\.gguf: `),
          /^(?!.*secret)/, // the query may hold a token: never shown
          /certificate/,
          /not signed by an authority this runtime trusts.*NODE_EXTRA_CA_CERTS/,
        ),
      );
      const out = join(tmpdir(), `gguf-stream-tls-${process.pid}.gguf`);
      await assert.rejects(
        convertFile(url, out, { force: true, ...FAST, fetch: counting }),
        ioError(/NODE_EXTRA_CA_CERTS/, /^(?!.*after \d+ attempts)/),
      );
      assert.equal(existsSync(out), false);
      // One attempt for each of the two: none is retried.
      assert.equal(attempts - before, 2);
    }
  } finally {
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("each runtime's words for a lasting failure are recognised", () => {
  const node = (message: string, code: string) =>
    new TypeError("fetch failed", { cause: Object.assign(new Error(message), { code }) });
  const bun = (message: string, code: string) => Object.assign(new TypeError(message), { code });
  const deno = (detail: string) =>
    new TypeError("fetch failed", {
      cause: new Error(
        `error sending request for url (https://h/m.gguf): client error (Connect): ${detail}`,
      ),
    });
  // Each runtime's error, the advice expected (none: unknown, retried as before), lasting.
  const cases: [unknown, RegExp | undefined, boolean?][] = [
    [node("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"), /not signed by/, true],
    [
      node("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
      /not signed by/,
      true,
    ],
    [node("certificate has expired", "CERT_HAS_EXPIRED"), /not valid for this address/, true],
    [
      node("Hostname/IP does not match certificate's altnames", "ERR_TLS_CERT_ALTNAME_INVALID"),
      /not valid for this address/,
      true,
    ],
    [bun("self signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"), /not signed by/, true],
    [deno("invalid peer certificate: UnknownIssuer"), /not signed by/, true],
    [deno("invalid peer certificate: Expired"), /not valid for this address/, true],
    [deno("invalid peer certificate: NotValidForName"), /not valid for this address/, true],
    [node("getaddrinfo ENOTFOUND models.invalid", "ENOTFOUND"), /does not resolve/, false],
    [bun("getaddrinfo ENOTFOUND models.invalid", "ENOTFOUND"), /does not resolve/, false],
    [
      deno("dns error: failed to lookup address information: Name or service not known"),
      /does not resolve/,
      false,
    ],
    [new TypeError("Fetch failed: Requests to port 6000 are blocked"), /port/, true],
    [node("bad port", "ERR_INVALID_ARG_VALUE"), /port/, true],
    // Offline on macOS and Windows (Deno's words): may pass, so retried, with the advice.
    [deno("dns error: nodename nor servname provided, or not known"), /does not resolve/, false],
    [deno("dns error: No such host is known. (os error 11001)"), /does not resolve/, false],
    // These may pass: retried as before.
    [node("getaddrinfo EAI_AGAIN models.example", "EAI_AGAIN"), undefined],
    [
      deno("dns error: failed to lookup address information: Temporary failure in name resolution"),
      undefined,
    ],
    [node("connect ECONNREFUSED 127.0.0.1:9", "ECONNREFUSED"), undefined],
    [
      bun(
        "ECONNREFUSED: Unable to connect. Is the computer able to access the url?",
        "ECONNREFUSED",
      ),
      undefined,
    ],
    [new Error("socket hang up"), undefined],
    ["not an error", undefined],
  ];
  for (const [error, expected, lasting] of cases) {
    const known = networkAdvice(error);
    const what = String((error as Error).cause ?? error);
    if (expected === undefined) assert.equal(known, undefined, what);
    else {
      assert.match(known?.advice ?? "(none)", expected, what);
      assert.equal(known?.lasting, lasting, what);
    }
  }
});

test("a host name that does not resolve is retried, then named with advice", async () => {
  let attempts = 0;
  const offline = () => {
    attempts++;
    const cause = Object.assign(new Error("getaddrinfo ENOTFOUND models.example"), {
      code: "ENOTFOUND",
    });
    return Promise.reject(new TypeError("fetch failed", { cause }));
  };
  await assert.rejects(
    readGguf("https://models.example/m.gguf", { ...FAST, fetch: offline }),
    ioError(
      /^Cannot fetch https:\/\/models\.example\/m\.gguf: ENOTFOUND .*: the host name does not resolve; check the URL and the network \(after 4 attempts\)$/,
    ),
  );
  assert.equal(attempts, 4);
});
