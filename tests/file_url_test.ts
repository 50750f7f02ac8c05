/**
 * `file:` URLs become paths as Node's `fileURLToPath` makes them: an encoded separator
 * (`%2F`; `%5C` on Windows) is refused, never decoded into a separator that climbs out of
 * the directory the URL names.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { readGguf } from "../mod.ts";
import { toPath } from "../src/source/open_source.ts";

const URLS = [
  "file:///tmp/a%2F..%2F..%2Fetc%2Fpasswd",
  "file:///tmp/a%2f..%2fb.gguf",
  "file:///tmp/a%5C..%5Cb.gguf",
  "file:///tmp/a%5c%2Fb.gguf",
  "file:///tmp/a%20b.gguf",
  "file:///tmp/%252F.gguf",
  "file:///C:/m/a%2Fb.gguf",
  "file:///C:/m/a%5Cb.gguf",
  "file:///C:/m/a%25b.gguf",
  "file:///C:/m/a%5c%2fb.gguf",
];

/** What Node's `fileURLToPath` gives, or `TypeError` when it throws. */
function nodePath(url: string, windows: boolean): string | typeof TypeError {
  try {
    return fileURLToPath(url, { windows });
  } catch (error) {
    assert.ok(error instanceof TypeError, String(error));
    return TypeError;
  }
}

// Node's `windows` option (Node 22.1+, Deno, Bun) chooses the rules; without it only this
// system's rules can be compared.
const hasWindowsOption = nodePath("file:///C:/x", true) === "C:\\x";

for (const windows of [false, true]) {
  const system = windows ? "Windows" : "POSIX";
  test(`toPath() refuses an encoded separator as fileURLToPath() does (${system})`, (t) => {
    if (!hasWindowsOption && windows !== (process.platform === "win32")) {
      t.skip("fileURLToPath() here has no windows option");
      return;
    }
    // On Windows, Node also refuses a path with no drive letter (toPath() leaves that to
    // the file system): compared only where the URL names a drive.
    for (const url of URLS.filter((u) => !windows || /^file:\/\/\/[A-Z]:/.test(u))) {
      const expected = nodePath(url, windows);
      if (expected === TypeError) {
        assert.throws(() => toPath(new URL(url), windows), TypeError, url);
      } else {
        assert.equal(toPath(new URL(url), windows), expected, url);
      }
    }
  });
}

test("toPath() names the URL it refuses", () => {
  assert.throws(
    () => toPath(new URL("file:///tmp/a%2F..%2F..%2Fetc%2Fpasswd"), false),
    { name: "TypeError", message: /file:\/\/\/tmp\/a%2F\.\.%2F\.\.%2Fetc%2Fpasswd.*%2F/ },
  );
});

test("readGguf() refuses a file: URL with an encoded / before opening anything", async () => {
  await assert.rejects(
    readGguf(new URL("file:///tmp/a%2F..%2F..%2Fetc%2Fpasswd")),
    TypeError,
  );
});
