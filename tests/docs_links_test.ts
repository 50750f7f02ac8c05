/**
 * The documentation's relative links lead somewhere: every `[text](target)` in README.md,
 * CONTRIBUTING.md and docs/*.md that is not a web address names a file of the repository,
 * and a `#fragment` into a Markdown file names one of its headings (as GitHub makes their
 * anchors). Links inside code blocks are not links and are skipped.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const DOCS = [
  "README.md",
  "CONTRIBUTING.md",
  ...readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) =>
    `docs/${name}`
  ),
];

/** The lines of a Markdown file outside fenced code blocks. */
function proseLines(text: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

/** The anchors GitHub gives a Markdown file's headings. */
function anchors(text: string): Set<string> {
  const found = new Set<string>();
  for (const line of proseLines(text)) {
    const heading = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (heading === null) continue;
    const slug = heading[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    let anchor = slug;
    for (let n = 1; found.has(anchor); n++) anchor = `${slug}-${n}`;
    found.add(anchor);
  }
  return found;
}

/** Every link target of a Markdown file's prose, without inline code spans. */
function links(text: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, "");
    for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) targets.push(match[1]);
  }
  return targets;
}

for (const doc of DOCS) {
  test(`${doc}'s relative links name files and headings that exist`, () => {
    const text = readFileSync(join(ROOT, doc), "utf8");
    const broken: string[] = [];
    for (const target of links(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …
      const [path, fragment] = target.split("#", 2);
      const file = path === "" ? join(ROOT, doc) : resolve(ROOT, dirname(doc), path);
      if (!existsSync(file)) {
        broken.push(`${target} (no ${relative(ROOT, file)})`);
      } else if (fragment !== undefined && file.endsWith(".md")) {
        if (!anchors(readFileSync(file, "utf8")).has(fragment)) {
          broken.push(`${target} (no heading #${fragment} in ${relative(ROOT, file)})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });
}
