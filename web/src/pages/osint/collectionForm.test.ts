import { describe, expect, it } from "vitest";

import { buildCollectionBody, EMPTY_FORM, fileToBase64, splitList, uploadBody, uploadPath, type CollectorInfo } from "./collectionForm";

const collector = (name: string, collector_type: string, isDefault = true): CollectorInfo => ({
  name,
  collector_type,
  default: isDefault,
  description: "",
  config_schema: {},
});
const COLLECTORS = [
  collector("domain_intel", "domain_intel"),
  collector("news", "news"),
  collector("custom", "custom"),
  collector("acme_dns", "domain_intel", false),
];

describe("buildCollectionBody", () => {
  it("puts the target into the collector's config field", () => {
    const result = buildCollectionBody({ ...EMPTY_FORM, name: " Acme ", collector: "domain_intel", target: "acme.com" }, COLLECTORS);
    expect(result.errors).toBeUndefined();
    expect(result.body).toEqual({
      name: "Acme",
      description: null,
      collector_type: "domain_intel",
      collector: null,
      config: { domain: "acme.com" },
      schedule: null,
    });
  });

  it("splits list targets and merges them with the config JSON", () => {
    const result = buildCollectionBody(
      { ...EMPTY_FORM, name: "n", collector: "news", target: "https://a.example/feed, https://b.example/rss\nhttps://c.example/x", config: '{"max_items": 5}', everyMinutes: "60" },
      COLLECTORS,
    );
    expect(result.body?.config).toEqual({ max_items: 5, feeds: ["https://a.example/feed", "https://b.example/rss", "https://c.example/x"] });
    expect(result.body?.schedule).toEqual({ every_minutes: 60 });
  });

  it("names a collector that is not its category's built-in", () => {
    const result = buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "acme_dns", target: "acme.com" }, COLLECTORS);
    expect(result.body?.collector).toBe("acme_dns");
    expect(result.body?.collector_type).toBe("domain_intel");
  });

  it("reports every mistake beside its field", () => {
    const result = buildCollectionBody({ ...EMPTY_FORM, config: "[1, 2]", everyMinutes: "1.5" }, COLLECTORS);
    expect(Object.keys(result.errors ?? {}).sort()).toEqual(["collector", "config", "everyMinutes", "name"]);
    expect(buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "news", config: "{oops" }, COLLECTORS).errors?.config).toMatch(/Not valid JSON/);
    expect(buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "domain_intel" }, COLLECTORS).errors?.target).toMatch(/Domain is needed/);
    expect(buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "news", target: "x", everyMinutes: "600000" }, COLLECTORS).errors?.everyMinutes).toBeDefined();
  });

  it("seeds a custom collection from a file, reading its text field", () => {
    const seed = { filename: "rows.json", base64: "W10=" };
    const result = buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "custom", seed, textFields: "body, title" }, COLLECTORS);
    expect(result.body?.config).toEqual({ upload: { filename: "rows.json", content_base64: "W10=" }, mapping: { text: ["body", "title"] } });
    // A mapping written in the config wins.
    const own = buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "custom", seed, config: '{"mapping": {"id": "id"}}' }, COLLECTORS);
    expect(own.body?.config?.mapping).toEqual({ id: "id" });
  });

  it("asks a custom collection for exactly one of an endpoint and a file", () => {
    const seed = { filename: "rows.json", base64: "W10=" };
    expect(buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "custom" }, COLLECTORS).errors?.target).toMatch(/endpoint URL, or choose a file/);
    expect(buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "custom", seed, target: "https://x.example/api" }, COLLECTORS).errors?.target).toMatch(/not both/);
    expect(buildCollectionBody({ ...EMPTY_FORM, name: "n", collector: "news", target: "https://x", seed }, COLLECTORS).errors?.seed).toBeDefined();
  });
});

describe("uploads", () => {
  it("splits lists on commas, spaces and lines", () => {
    expect(splitList(" a, b\nc  d,,")).toEqual(["a", "b", "c", "d"]);
  });

  it("encodes a file as base64", async () => {
    expect(await fileToBase64(new Blob(["hello 198.51.100.1"]))).toBe(btoa("hello 198.51.100.1"));
  });

  it("sends a file with a type the server can read, to an encoded path", () => {
    expect(uploadBody(new File(["x"], "report.txt", { type: "text/plain" })).type).toBe("text/plain");
    expect(uploadBody(new File(["x"], "mail.eml")).type).toBe("application/octet-stream");
    expect(uploadPath("a b", "my report?.pdf")).toBe("/api/v1/collections/a%20b/uploads?filename=my%20report%3F.pdf");
  });
});
