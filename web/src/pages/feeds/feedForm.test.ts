import { describe, expect, it } from "vitest";

import {
  checkCustom,
  checkParameter,
  checkTemplate,
  customBody,
  parseRules,
  runErrors,
  runStatistics,
  scheduleText,
  templateBody,
  updateBody,
  valuesOf,
  type CustomValues,
  type Feed,
  type FeedTemplate,
  type TemplateValues,
} from "./feedForm";

describe("parseRules", () => {
  it("takes an empty text as no rules", () => {
    expect(parseRules("  ")).toEqual({ ok: true, value: {} });
  });

  it("takes a JSON object", () => {
    expect(parseRules('{"header": true, "columns": {"value": "dst_ip"}}')).toEqual({
      ok: true,
      value: { header: true, columns: { value: "dst_ip" } },
    });
  });

  it("refuses text that is not JSON and says so", () => {
    const result = parseRules('{"header": true,');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatch(/^Not valid JSON/);
  });

  it("refuses arrays, strings and null", () => {
    for (const text of ["[1]", '"csv"', "null", "3"]) {
      const result = parseRules(text);
      expect(result.ok, text).toBe(false);
      expect(!result.ok && result.error).toMatch(/one JSON object/);
    }
  });

  it("wants a value in columns or fields", () => {
    const result = parseRules('{"columns": {"first_seen": 0}}');
    expect(!result.ok && result.error).toMatch(/"columns" must say where the "value" is/);
    expect(parseRules('{"fields": []}').ok).toBe(false);
  });

  it("wants one-character delimiters, allowing the tab spelling", () => {
    expect(parseRules('{"delimiter": ";;"}').ok).toBe(false);
    expect(parseRules('{"delimiter": "\\\\t"}').ok).toBe(true);
    expect(parseRules('{"delimiter": ";"}').ok).toBe(true);
  });
});

const custom: CustomValues = {
  name: " My feed ",
  url: "https://feeds.example/list.txt",
  format: "text",
  source: " Example ",
  minutes: 60,
  confidence: "",
  rules: '{"comment_prefix": "#"}',
  enabled: true,
};

describe("checkCustom", () => {
  it("passes a complete feed", () => {
    expect(checkCustom(custom, false)).toEqual({});
  });

  it("names every field in error", () => {
    const errors = checkCustom(
      { ...custom, name: "", url: "ftp://x", format: "", source: "", minutes: 2, confidence: 101, rules: "[" },
      false,
    );
    expect(Object.keys(errors).sort()).toEqual(["confidence", "format", "minutes", "name", "rules", "source", "url"]);
  });

  it("does not ask for the fields an edit cannot change", () => {
    expect(checkCustom({ ...custom, name: "", format: "", source: "" }, true)).toEqual({});
  });
});

describe("customBody", () => {
  it("trims, parses the rules and leaves confidence to the API when empty", () => {
    expect(customBody(custom)).toEqual({
      name: "My feed",
      url: "https://feeds.example/list.txt",
      format: "text",
      source: "Example",
      parsing_rules: { comment_prefix: "#" },
      update_frequency_minutes: 60,
      default_confidence: null,
    });
  });
});

const feed: Feed = {
  id: "0d6c5a5e-0000-4000-8000-000000000001",
  name: "My feed",
  url: "https://feeds.example/list.txt",
  format: "text",
  source_id: "0d6c5a5e-0000-4000-8000-000000000002",
  source: "Example",
  template: null,
  is_active: true,
  update_frequency_minutes: 60,
  default_confidence: null,
  parsing_rules: { comment_prefix: "#" },
  last_successful_update: null,
  next_scheduled_update: null,
  last_run: null,
};

describe("updateBody", () => {
  it("sends nothing when nothing changed", () => {
    expect(updateBody(feed, valuesOf(feed))).toEqual({});
  });

  it("sends only the changed fields", () => {
    const values = { ...valuesOf(feed), minutes: 120, enabled: false, rules: '{"comment_prefix": ";"}', confidence: 70 };
    expect(updateBody(feed, values)).toEqual({
      update_frequency_minutes: 120,
      is_active: false,
      parsing_rules: { comment_prefix: ";" },
      default_confidence: 70,
    });
  });
});

const template: FeedTemplate = {
  name: "maltrail",
  title: "Maltrail static trail",
  provider: "Maltrail",
  homepage: "https://example.org/",
  url: "https://example.org/{trail}",
  format: "text",
  update_frequency_minutes: 60,
  default_confidence: 70,
  source_reliability: 70,
  source_type: "open_source",
  kinds: ["domain"],
  tags: [],
  licence: "MIT",
  description: "",
  notes: null,
  parameters: [
    { name: "trail", description: "", kind: "str", required: true, default: null, pattern: "[a-z0-9_/-]+" },
    { name: "family", description: "", kind: "str", required: false, default: null, pattern: null },
  ],
  credential: { types: ["header"], name: "Auth-Key", required: false, description: "" },
};

const filled: TemplateValues = {
  name: "",
  parameters: { trail: "malware/emotet", family: " " },
  credentialType: "",
  credentialName: "",
  secret: "",
  username: "",
};

describe("checkParameter", () => {
  it("requires a required parameter without default and checks the pattern on the whole value", () => {
    const [trail] = template.parameters;
    expect(checkParameter(trail, "")).toBe("Required");
    expect(checkParameter(trail, "malware/emotet")).toBeNull();
    expect(checkParameter(trail, "Malware Emotet")).toMatch(/Does not match/);
    expect(checkParameter({ ...trail, default: "x" }, "")).toBeNull();
  });
});

describe("checkTemplate and templateBody", () => {
  it("sends the template, its given parameters and no empty credential", () => {
    expect(checkTemplate(template, filled)).toEqual({});
    expect(templateBody(template, filled)).toEqual({ template: "maltrail", parameters: { trail: "malware/emotet" } });
  });

  it("sends a renamed feed with the provider's header credential", () => {
    const body = templateBody(template, { ...filled, name: " Emotet trail ", secret: " s3cret " });
    expect(body).toEqual({
      template: "maltrail",
      name: "Emotet trail",
      parameters: { trail: "malware/emotet" },
      authentication_config: { type: "header", name: "Auth-Key", value: "s3cret" },
    });
  });

  it("reports a missing required parameter under its name", () => {
    expect(checkTemplate(template, { ...filled, parameters: {} })).toEqual({ "parameter.trail": "Required" });
  });

  it("needs a user name for basic credentials", () => {
    const basic = { ...template, credential: { types: ["basic"], name: null, required: true, description: "" } };
    expect(checkTemplate(basic, { ...filled, credentialType: "basic", secret: "pw" })).toEqual({ username: "Required" });
    expect(checkTemplate(basic, filled)).toEqual({ secret: "This provider needs a credential" });
  });
});

describe("scheduleText", () => {
  it("says how often in the largest whole unit", () => {
    expect(scheduleText(45)).toBe("every 45 min");
    expect(scheduleText(60)).toBe("every hour");
    expect(scheduleText(360)).toBe("every 6 h");
    expect(scheduleText(1440)).toBe("every day");
    expect(scheduleText(10080)).toBe("every 7 days");
    expect(scheduleText(null)).toBe("—");
  });
});

describe("runStatistics and runErrors", () => {
  const runs = [
    { run_id: "3", status: "failed", started_at: "2026-11-03T00:00:00Z", error: "no route to host", duration_s: 1 },
    { run_id: "2", status: "ok", started_at: "2026-11-02T00:00:00Z", parsed: 36, new: 30, updated: 6, rejected: 2,
      duration_s: 3, trigger: "upload", errors: [{ line: 12, reason: "not an address", value: "999.1.1.1" }] },
    { run_id: "1", status: "not_modified", started_at: "2026-11-01T00:00:00Z" },
  ];

  it("counts outcomes, rows and the mean duration", () => {
    expect(runStatistics(runs)).toEqual({
      runs: 3, ok: 2, failed: 1, uploads: 1, parsed: 36, stored: 36, rejected: 2, meanSeconds: 2,
      lastOk: "2026-11-02T00:00:00Z",
    });
  });

  it("writes each row error with its line and value", () => {
    expect(runErrors(runs[1])).toEqual(["line 12: not an address (999.1.1.1)"]);
    expect(runErrors(runs[0])).toEqual([]);
  });
});
