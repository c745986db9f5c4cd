import { describe, expect, it } from "vitest";

import { describeChange, importBody } from "./AddItems";
import { typeLabel } from "./WatchlistForm";

describe("adding items", () => {
  it("says what an add did", () => {
    expect(describeChange({ added: 2, updated: 0, unchanged: 1, rejected: 1, rejections: [], item_count: 13 })).toBe(
      "Added 2, 1 already there, refused 1; the list holds 13 items.",
    );
    expect(describeChange({ added: 1, updated: 1, unchanged: 0, rejected: 0, rejections: [], item_count: 1 })).toBe(
      "Added 1, updated 1; the list holds 1 item.",
    );
  });

  it("sends a CSV file as CSV and anything else as plain text", () => {
    expect(importBody(new File(["a"], "list.CSV"), "a").type).toBe("text/csv");
    expect(importBody(new File(["a"], "export", { type: "text/csv" }), "a").type).toBe("text/csv");
    expect(importBody(new File(["a"], "iocs.txt", { type: "application/octet-stream" }), "a").type).toBe("text/plain");
  });

  it("names list types briefly", () => {
    expect(typeLabel("hash_whitelist")).toBe("Hash whitelist");
    expect(typeLabel("unknown_kind")).toBe("unknown_kind");
  });
});
