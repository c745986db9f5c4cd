import { describe, expect, it } from "vitest";

import { count, describeEntry, nextStatuses, parseAssets, validateIncident, type IncidentForm } from "./incidents";

describe("nextStatuses", () => {
  it("moves forward, skipping steps, and reopens a resolved incident to investigating only", () => {
    expect(nextStatuses("open")).toEqual(["investigating", "contained", "resolved"]);
    expect(nextStatuses("investigating")).toEqual(["contained", "resolved"]);
    expect(nextStatuses("contained")).toEqual(["resolved"]);
    expect(nextStatuses("resolved")).toEqual(["investigating"]);
  });
});

describe("describeEntry", () => {
  it("reads a note as its text, line breaks and markup kept as they are", () => {
    expect(describeEntry({ kind: "note", details: { text: "one\n<b>two</b>" } })).toEqual({
      title: "Note",
      body: "one\n<b>two</b>",
    });
  });

  it("reads status, severity and assignment changes", () => {
    expect(describeEntry({ kind: "status", details: { old: "open", new: "resolved", resolution_summary: "Blocked." } }))
      .toEqual({ title: "Status open → resolved", body: "Blocked." });
    expect(describeEntry({ kind: "severity", details: { old: "low", new: "high" } }).title).toBe("Severity low → high");
    expect(describeEntry({ kind: "assigned", details: { old: null, new: { user_id: "u", username: "ana" } } }))
      .toEqual({ title: "Assigned to ana", detail: undefined });
    expect(describeEntry({ kind: "assigned", details: { old: { username: "ana" }, new: null } }))
      .toEqual({ title: "Unassigned", detail: "was ana" });
  });

  it("reads creation, promotion, links and field changes", () => {
    expect(describeEntry({ kind: "created", details: { incident_number: "INC-2026-0007", severity: "high", assigned: null } }))
      .toEqual({ title: "Opened INC-2026-0007", detail: "severity high" });
    expect(describeEntry({ kind: "promoted", details: { incident_number: "INC-1", alert_title: "x seen" } }))
      .toEqual({ title: "Opened INC-1 from an alert", detail: "x seen" });
    expect(describeEntry({ kind: "indicator_linked", details: { value: "evil.example", relationship_type: "root_cause" } }))
      .toMatchObject({ title: "Indicator linked (root cause)", detail: "evil.example" });
    expect(describeEntry({ kind: "alert_unlinked", details: { title: "An alert" } }))
      .toEqual({ title: "Alert unlinked", detail: "An alert" });
    expect(describeEntry({ kind: "updated", details: { changes: { title: {}, affected_assets: {} } } }).title)
      .toBe("Changed title, affected assets");
  });

  it("survives details of an unexpected shape", () => {
    expect(describeEntry({ kind: "status", details: { old: 3, new: { x: 1 } } }).title).toBe("Status — → —");
    expect(describeEntry({ kind: "note", details: {} })).toEqual({ title: "Note", body: "" });
  });
});

describe("parseAssets", () => {
  it("splits on lines and commas, trims, drops blanks and repeats", () => {
    expect(parseAssets(" ws-1 \n\n10.0.0.1, ws-1,\nmail.example.org ")).toEqual(["ws-1", "10.0.0.1", "mail.example.org"]);
    expect(parseAssets("   ")).toEqual([]);
  });
});

describe("validateIncident", () => {
  const form: IncidentForm = { title: "Phishing wave", description: "", severity: "medium", assets: "", assignToMe: true };

  it("accepts a titled incident", () => {
    expect(validateIncident(form)).toEqual({});
  });

  it("needs a title within the API's limit", () => {
    expect(validateIncident({ ...form, title: "   " }).title).toMatch(/title/);
    expect(validateIncident({ ...form, title: "x".repeat(501) }).title).toMatch(/500/);
  });

  it("checks the assets against the API's limits", () => {
    expect(validateIncident({ ...form, assets: "a".repeat(501) }).assets).toMatch(/500/);
    const many = Array.from({ length: 1001 }, (_, i) => `host-${i}`).join("\n");
    expect(validateIncident({ ...form, assets: many }).assets).toMatch(/1,000/);
  });
});

describe("count", () => {
  it("pluralises", () => {
    expect(count(1, "alert")).toBe("1 alert");
    expect(count(0, "alert")).toBe("0 alerts");
  });
});
