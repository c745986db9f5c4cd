import { describe, expect, it } from "vitest";

import { summarise, type DryRunResult } from "./DryRun";
import { emptyRule, EXAMPLES, fromRule, toRuleBody, toTestBody, type RuleRead } from "./ruleForm";
import { windowLabel } from "./RulesPage";

describe("the rule form", () => {
  it("builds the API body of a valid form", () => {
    const values = { ...emptyRule("threshold"), name: "  Beaconing ", confidence: "60", parameters: '{"playbook": "isolate"}' };
    const { body, errors } = toRuleBody(values);
    expect(errors).toEqual({});
    expect(body).toEqual({
      name: "Beaconing",
      description: null,
      rule_type: "threshold",
      rule_definition: EXAMPLES.threshold,
      is_active: true,
      confidence_threshold: 60,
      time_window_minutes: 10,
      parameters: { playbook: "isolate" },
    });
  });

  it("names every field to fix", () => {
    const { body, errors } = toRuleBody({
      ...emptyRule("time_based"),
      name: " ",
      definition: "{ not json",
      confidence: "101",
      window: "",
      parameters: "[1, 2]",
    });
    expect(body).toBeUndefined();
    expect(errors.name).toMatch(/name/);
    expect(errors.definition).toMatch(/Not valid JSON/);
    expect(errors.confidence).toMatch(/0 to 100/);
    expect(errors.window).toMatch(/window/);
    expect(errors.parameters).toMatch(/JSON object/);
  });

  it("refuses a fractional or too long window but lets a pattern rule go without one", () => {
    expect(toRuleBody({ ...emptyRule("pattern"), name: "x", window: "1.5" }).errors.window).toBeDefined();
    expect(toRuleBody({ ...emptyRule("pattern"), name: "x", window: "44641" }).errors.window).toBeDefined();
    expect(toRuleBody({ ...emptyRule("pattern"), name: "x", window: "" }).body?.time_window_minutes).toBeNull();
    expect(toRuleBody({ ...emptyRule("pattern"), name: "x", definition: "null" }).errors.definition).toBeDefined();
  });

  it("tests an unnamed rule, without its description or status", () => {
    const { body } = toTestBody({ ...emptyRule("pattern"), description: "notes" });
    expect(body?.name).toBe("unsaved rule");
    expect(body).not.toHaveProperty("description");
    expect(body).not.toHaveProperty("is_active");
    expect(toTestBody({ ...emptyRule("pattern"), definition: "" }).body).toBeUndefined();
  });

  it("round-trips a saved rule through the form unchanged", () => {
    const rule = {
      id: "r", name: "C2 seen", description: null, rule_type: "pattern",
      rule_definition: { condition: { field: "origin", op: "eq", value: "sighting" } },
      is_active: false, confidence_threshold: 50, time_window_minutes: 60, parameters: null,
      created_at: null, updated_at: null, created_by: null,
    } as unknown as RuleRead;
    const { body } = toRuleBody(fromRule(rule));
    expect(body).toMatchObject({
      name: "C2 seen",
      rule_definition: rule.rule_definition,
      is_active: false,
      confidence_threshold: 50,
      time_window_minutes: 60,
      parameters: null,
    });
  });
});

describe("labels", () => {
  it("writes windows in the largest whole unit", () => {
    expect(windowLabel(null)).toBe("—");
    expect(windowLabel(45)).toBe("45 min");
    expect(windowLabel(120)).toBe("2 h");
    expect(windowLabel(2880)).toBe("2 d");
  });

  it("summarises a dry run", () => {
    const result = {
      rule_id: null, rule_name: "x", rule_type: "pattern", since: "2026-01-01T00:00:00Z", until: "2026-01-08T00:00:00Z",
      events_total: 1200, events_scanned: 1200, sightings_scanned: 200, ingests_scanned: 1000, firings: 3, distinct_keys: 1,
      capped: false, scanned_until: null, keys: [], samples: [],
    } as DryRunResult;
    expect(summarise(result)).toBe(
      "Would have fired 3 times for 1 key: 1,200 of 1,200 events replayed (200 sightings, 1,000 ingested) from 2026-01-01 00:00Z to 2026-01-08 00:00Z.",
    );
    expect(summarise({ ...result, firings: 0 })).toMatch(/^Would not have fired:/);
  });
});
