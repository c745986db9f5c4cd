import { describe, expect, it } from "vitest";

import {
  addDays,
  describeStack,
  feedsByHealth,
  OTHER,
  orderedCounts,
  stackByDay,
  windowDays,
  type FeedHealth,
} from "./chartData";

describe("windowDays", () => {
  it("keeps an offered window and falls back to 14 days", () => {
    expect(windowDays("30")).toBe("30");
    expect(windowDays("31")).toBe("14");
    expect(windowDays(undefined)).toBe("14");
  });
});

describe("addDays", () => {
  it("crosses month and year ends in UTC", () => {
    expect(addDays("2026-11-30", 1)).toBe("2026-12-01");
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(addDays("2024-02-28", 1)).toBe("2024-02-29");
  });
});

describe("stackByDay", () => {
  const rows = [
    { day: "2026-11-02", type: "ip", count: 5 },
    { day: "2026-11-02", type: "domain", count: 2 },
    { day: "2026-11-03", type: "ip", count: 1 },
  ];

  it("gives every day of the window a row, zero where the API sent nothing", () => {
    const stacked = stackByDay(rows, (row) => row.type, "2026-11-01", 3);
    expect(stacked.rows).toEqual([
      { day: "2026-11-01", values: { ip: 0, domain: 0 } },
      { day: "2026-11-02", values: { ip: 5, domain: 2 } },
      { day: "2026-11-03", values: { ip: 1, domain: 0 } },
    ]);
    expect(stacked.keys).toEqual(["ip", "domain"]);
    expect(stacked.totals).toEqual({ ip: 6, domain: 2 });
    expect(stacked.total).toBe(8);
  });

  it("folds the smallest series into other past the limit", () => {
    const many = ["a", "b", "c", "d"].map((source, index) => ({ day: "2026-11-01", source, count: 10 - index }));
    const stacked = stackByDay(many, (row) => row.source, "2026-11-01", 1, 3);
    expect(stacked.keys).toEqual(["a", "b", OTHER]);
    expect(stacked.rows[0]).toEqual({ day: "2026-11-01", values: { a: 10, b: 9, [OTHER]: 8 + 7 } });
    expect(stacked.total).toBe(34);
  });

  it("leaves out days outside the window", () => {
    const stacked = stackByDay([{ day: "2026-10-31", type: "ip", count: 4 }], (row) => row.type, "2026-11-01", 2);
    expect(stacked.total).toBe(0);
    expect(stacked.rows.map((row) => row.values.ip)).toEqual([0, 0]);
  });

  it("keeps series named like the day field or an object's prototype apart", () => {
    const stacked = stackByDay(
      [
        { day: "2026-11-01", source: "day", count: 2 },
        { day: "2026-11-01", source: "__proto__", count: 3 },
      ],
      (row) => row.source,
      "2026-11-01",
      1,
    );
    expect(stacked.rows[0].day).toBe("2026-11-01");
    expect(Object.keys(stacked.rows[0].values).sort()).toEqual(["__proto__", "day"]);
    expect(stacked.totals.__proto__).toBe(3);
    expect(stacked.total).toBe(5);
  });
});

describe("describeStack", () => {
  it("says the total, each series and the busiest day", () => {
    const stacked = stackByDay(
      [
        { day: "2026-11-01", type: "ip", count: 1200 },
        { day: "2026-11-02", type: "url", count: 3 },
      ],
      (row) => row.type,
      "2026-11-01",
      2,
    );
    expect(describeStack(stacked, "new indicators", 2)).toBe(
      "1,203 new indicators in the last 2 days: ip 1,200, url 3. Busiest day 2026-11-01 with 1,200.",
    );
  });

  it("says when there is nothing", () => {
    expect(describeStack(stackByDay([], () => "", "2026-11-01", 7), "new indicators", 7)).toBe(
      "No new indicators in the last 7 days.",
    );
  });
});

describe("orderedCounts", () => {
  it("keeps the severity order, adds unknown names last and scales to the largest", () => {
    expect(orderedCounts({ low: 2, critical: 4, extra: 1 }, ["critical", "high", "low"])).toEqual([
      { name: "critical", count: 4, share: 1 },
      { name: "high", count: 0, share: 0 },
      { name: "low", count: 2, share: 0.5 },
      { name: "extra", count: 1, share: 0.25 },
    ]);
  });

  it("has no share when everything is zero", () => {
    expect(orderedCounts({ open: 0 }, ["open"])).toEqual([{ name: "open", count: 0, share: 0 }]);
  });
});

describe("feedsByHealth", () => {
  const feed = (name: string, last_status: string | null, last_run: string | null): FeedHealth => ({
    id: name, name, enabled: true, last_run, last_status, last_error: null, last_indicators: null, next_run: null,
  });

  it("puts failing feeds first, then never-run ones, then the rest by name", () => {
    const sorted = feedsByHealth([
      feed("b-ok", "ok", "2026-11-01T00:00:00Z"),
      feed("a-ok", "ok", "2026-11-01T00:00:00Z"),
      feed("new", null, null),
      feed("z-broken", "failed", "2026-11-01T00:00:00Z"),
    ]);
    expect(sorted.map((row) => row.name)).toEqual(["z-broken", "new", "a-ok", "b-ok"]);
  });
});
