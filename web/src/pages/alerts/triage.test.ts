import { describe, expect, it } from "vitest";

import {
  actionForKey,
  afterAction,
  assigneeQuery,
  blockedReason,
  liveState,
  prettyJson,
  shortcutsFor,
  statusesOf,
  step,
  STALE_AFTER_MS,
} from "./triage";

const ids = ["a1", "a2", "a3"];

describe("actionForKey", () => {
  it("maps every documented key to its action for a writer", () => {
    expect(["j", "k", "a", "s", "r", "f", "i"].map((key) => actionForKey(key, true))).toEqual([
      "next", "previous", "acknowledge", "assign", "resolve", "false_positive", "incident",
    ]);
  });

  it("gives a viewer only the moves", () => {
    expect(actionForKey("j", false)).toBe("next");
    expect(actionForKey("k", false)).toBe("previous");
    for (const key of ["a", "s", "r", "f", "i"]) expect(actionForKey(key, false)).toBeNull();
  });

  it("ignores keys that mean nothing and reads capitals as the same key", () => {
    expect(actionForKey("x", true)).toBeNull();
    expect(actionForKey("Enter", true)).toBeNull();
    expect(actionForKey("J", true)).toBe("next");
  });

  it("lists the help line's shortcuts by permission", () => {
    expect(shortcutsFor(false).map((s) => s.key)).toEqual(["j", "k"]);
    expect(shortcutsFor(true)).toHaveLength(7);
  });
});

describe("step", () => {
  it("moves forward and back and stops at the ends", () => {
    expect(step(ids, "a1", 1)).toBe("a2");
    expect(step(ids, "a2", -1)).toBe("a1");
    expect(step(ids, "a3", 1)).toBe("a3");
    expect(step(ids, "a1", -1)).toBe("a1");
  });

  it("starts at the top (or the bottom going back) without a selection or with one off the page", () => {
    expect(step(ids, undefined, 1)).toBe("a1");
    expect(step(ids, undefined, -1)).toBe("a3");
    expect(step(ids, "elsewhere", 1)).toBe("a1");
  });

  it("keeps the selection on an empty list", () => {
    expect(step([], "a1", 1)).toBe("a1");
    expect(step([], undefined, 1)).toBeUndefined();
  });
});

describe("afterAction", () => {
  it("moves on to the next alert", () => {
    expect(afterAction(ids, "a1")).toBe("a2");
    expect(afterAction(ids, "a2")).toBe("a3");
  });

  it("stays on the last alert, and on one that is not in the list", () => {
    expect(afterAction(ids, "a3")).toBe("a3");
    expect(afterAction(ids, "gone")).toBe("gone");
  });
});

describe("blockedReason", () => {
  const open = { status: "open" as const, assigned_user_id: null, acknowledged_at: null };

  it("allows every action on a fresh open alert", () => {
    for (const action of ["acknowledge", "assign", "resolve", "false_positive", "incident"] as const) {
      expect(blockedReason(open, action, "me")).toBeNull();
    }
  });

  it("refuses to acknowledge a closed alert, as the API does", () => {
    expect(blockedReason({ ...open, status: "resolved" }, "acknowledge", "me")).toMatch(/closed/);
    expect(blockedReason({ ...open, status: "false_positive" }, "acknowledge", "me")).toMatch(/closed/);
  });

  it("says when there is nothing left to do", () => {
    const taken = { status: "investigating" as const, assigned_user_id: "me", acknowledged_at: "2026-01-01T00:00:00Z" };
    expect(blockedReason(taken, "acknowledge", "me")).toMatch(/already acknowledged/);
    expect(blockedReason(taken, "assign", "me")).toMatch(/already assigned/);
    expect(blockedReason(taken, "assign", "someone-else")).toBeNull();
    expect(blockedReason({ ...open, status: "resolved" }, "resolve", "me")).toMatch(/already resolved/);
    expect(blockedReason({ ...open, status: "false_positive" }, "false_positive", "me")).toMatch(/false positive/);
    expect(blockedReason(open, "assign", undefined)).not.toBeNull();
  });
});

describe("URL filters", () => {
  it("reads the status filter, the active queue by default", () => {
    expect(statusesOf(undefined)).toEqual(["open", "investigating"]);
    expect(statusesOf("active")).toEqual(["open", "investigating"]);
    expect(statusesOf("resolved")).toEqual(["resolved"]);
    expect(statusesOf("all")).toBeUndefined();
    expect(statusesOf("<bogus>")).toEqual(["open", "investigating"]);
  });

  it("reads the assignee filter", () => {
    expect(assigneeQuery(undefined, "u1")).toEqual({});
    expect(assigneeQuery("me", "u1")).toEqual({ assigned_user_id: "u1" });
    expect(assigneeQuery("none", "u1")).toEqual({ unassigned: true });
    expect(assigneeQuery("u2", "u1")).toEqual({ assigned_user_id: "u2" });
  });
});

describe("liveState", () => {
  it("connects, lives while the beats come, and goes stale without them", () => {
    expect(liveState(undefined, 1000)).toBe("connecting");
    expect(liveState(1000, 1000 + STALE_AFTER_MS)).toBe("live");
    expect(liveState(1000, 1001 + STALE_AFTER_MS)).toBe("stale");
  });
});

describe("prettyJson", () => {
  it("indents the context and keeps markup as text", () => {
    expect(prettyJson({ proc: "<script>x</script>" })).toBe('{\n  "proc": "<script>x</script>"\n}');
    expect(prettyJson(null)).toBe("");
  });
});
