import { describe, expect, it } from "vitest";

import { evidenceText, itemSummary, label, progressText, scheduleText } from "./format";
import { groupHits, hitHref } from "./SearchPage";
import { outcomeText } from "./UploadDocument";

describe("collection text", () => {
  it("writes schedules in the largest whole unit", () => {
    expect(scheduleText(null)).toBe("On demand");
    expect(scheduleText({ every_minutes: 45 })).toBe("Every 45 min");
    expect(scheduleText({ every_minutes: 120 })).toBe("Every 2 h");
    expect(scheduleText({ every_minutes: 2880 })).toBe("Every 2 d");
  });

  it("rounds progress, which the API sends as a decimal string", () => {
    expect(progressText({ progress: "42.50" })).toBe("43%");
    expect(progressText({ progress: null })).toBe("—");
  });

  it("summarises an item by its most telling field, as text", () => {
    expect(itemSummary({ filename: "report.pdf", size: 3 })).toBe("report.pdf");
    expect(itemSummary({ text: "  <b>hello</b> " })).toBe("<b>hello</b>");
    expect(itemSummary({ other: 1 })).toBe('{"other":1}');
    expect(itemSummary(null)).toBe("—");
  });

  it("writes any evidence as one line", () => {
    expect(evidenceText(null)).toBe("—");
    expect(evidenceText({ watchlist: "Known C2" })).toBe('{"watchlist":"Known C2"}');
    expect(evidenceText(0.5)).toBe("0.5");
    expect(label("ip_address")).toBe("ip address");
  });

  it("says what an upload stored", () => {
    const file = { filename: "note.txt", mime_type: "text/plain", size: 10, title: null, item_id: "i", duplicate: false };
    expect(outcomeText({ collection_id: "c", files: [file], items_collected: 1, entities: 3, documents: 1 })).toBe(
      "note.txt stored: 1 new item, 3 entities found.",
    );
    expect(outcomeText({ collection_id: "c", files: [{ ...file, duplicate: true, item_id: null }], items_collected: 0, entities: 0, documents: 0 })).toBe(
      "note.txt was already stored; nothing new.",
    );
  });
});

describe("search results", () => {
  const hit = (index: "entities" | "indicators" | "documents" | "audit_logs", id: string) => ({
    index, id, title: id, match: "words" as const, score: 1, field: "name", snippet: "", fragments: [], tags: [],
  });

  it("links entities and indicators to their pages, encoded, and nothing else", () => {
    expect(hitHref(hit("entities", "a/b"))).toBe("/osint/entities/a%2Fb");
    expect(hitHref(hit("indicators", "9"))).toBe("/indicators/9");
    expect(hitHref(hit("documents", "9"))).toBeNull();
    expect(hitHref(hit("audit_logs", "9"))).toBeNull();
  });

  it("groups hits by index in a fixed order, keeping their rank inside a group", () => {
    const grouped = groupHits([hit("documents", "d1"), hit("entities", "e1"), hit("documents", "d2"), hit("indicators", "i1")]);
    expect(grouped.map(([index, hits]) => [index, hits.map((h) => h.id)])).toEqual([
      ["entities", ["e1"]],
      ["indicators", ["i1"]],
      ["documents", ["d1", "d2"]],
    ]);
  });
});
