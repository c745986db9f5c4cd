// Data is attacker-controlled: no source file may hand a string to the browser as markup or code.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

function sources(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const full = path.join(folder, name);
    if (statSync(full).isDirectory()) return sources(full);
    return /\.(ts|tsx)$/.test(name) && !/\.(test|d)\.tsx?$/.test(name) ? [full] : [];
  });
}

const FORBIDDEN: [RegExp, string][] = [
  [/dangerouslySetInnerHTML/, "dangerouslySetInnerHTML"],
  [/\.(inner|outer)HTML\s*=/, "innerHTML/outerHTML assignment"],
  [/insertAdjacentHTML|document\.write\(/, "HTML insertion"],
  [/\beval\(|new Function\(/, "code from strings"],
  [/javascript:/i, "javascript: URLs"],
];

describe("the UI's sources", () => {
  const files = sources(path.resolve(__dirname));

  it("are found", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(FORBIDDEN)("never use %s", (pattern, what) => {
    const offenders = files.filter((file) => pattern.test(readFileSync(file, "utf8")));
    expect(offenders, `${what} in`).toEqual([]);
  });
});
