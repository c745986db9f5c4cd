import { describe, expect, it } from "vitest";

import {
  buildMatrix,
  cellMatches,
  coverageBucket,
  coverageOf,
  coverageFromCampaigns,
  coverageFromIndicators,
  legend,
  maxCoverage,
  NO_TACTIC,
  parentOf,
  TACTIC_ORDER,
  tacticLabel,
  type TechniqueLike,
} from "./matrix";

const t = (id: string, name: string, tactics: string[], extra: Partial<TechniqueLike> = {}): TechniqueLike => ({
  technique_id: id,
  technique_name: name,
  tactics,
  platforms: ["Windows"],
  is_subtechnique: id.includes("."),
  status: "active",
  ...extra,
});

const TECHNIQUES: TechniqueLike[] = [
  t("T1059", "Command and Scripting Interpreter", ["execution"]),
  t("T1059.001", "PowerShell", ["execution"]),
  t("T1059.003", "Windows Command Shell", ["execution"]),
  t("T1078", "Valid Accounts", ["initial-access", "persistence", "defense-evasion"]),
  t("T1078.004", "Cloud Accounts", ["initial-access", "persistence"]),
  t("T1001", "Data Obfuscation", ["command-and-control"], { platforms: ["Linux"] }),
  t("T1002", "Data Compressed", ["exfiltration"], { status: "revoked" }),
  t("T9999", "Custom thing", []),
  t("X100", "Odd tactic", ["ics-impair"]),
];

function column(columns: ReturnType<typeof buildMatrix>, tactic: string) {
  const found = columns.find((c) => c.tactic === tactic);
  if (!found) throw new Error(`no column ${tactic}`);
  return found;
}

describe("buildMatrix", () => {
  it("keeps every ATT&CK tactic as a column, in kill-chain order, then unknown tactics and 'No tactic'", () => {
    const columns = buildMatrix(TECHNIQUES, new Map());
    expect(columns.map((c) => c.tactic)).toEqual([...TACTIC_ORDER, "ics-impair", NO_TACTIC]);
    expect(column(columns, "reconnaissance").cells).toEqual([]);
    expect(column(columns, NO_TACTIC).label).toBe("No tactic");
  });

  it("puts a technique in each of its tactics, with its sub-techniques under it, not as cells", () => {
    const columns = buildMatrix(TECHNIQUES, new Map());
    expect(column(columns, "execution").cells.map((c) => c.id)).toEqual(["T1059"]);
    expect(column(columns, "execution").cells[0].subtechniques.map((s) => s.id)).toEqual(["T1059.001", "T1059.003"]);
    for (const tactic of ["initial-access", "persistence", "defense-evasion"]) {
      expect(column(columns, tactic).cells.map((c) => c.id)).toContain("T1078");
    }
    // The sub-technique is listed only under the tactics it has itself.
    expect(column(columns, "persistence").cells.find((c) => c.id === "T1078")!.subtechniques.map((s) => s.id)).toEqual(["T1078.004"]);
    expect(column(columns, "defense-evasion").cells.find((c) => c.id === "T1078")!.subtechniques).toEqual([]);
  });

  it("hides revoked techniques unless asked, and filters by platform", () => {
    expect(column(buildMatrix(TECHNIQUES, new Map()), "exfiltration").cells).toEqual([]);
    expect(column(buildMatrix(TECHNIQUES, new Map(), { showRevoked: true }), "exfiltration").cells.map((c) => c.id)).toEqual(["T1002"]);
    const linux = buildMatrix(TECHNIQUES, new Map(), { platform: "Linux" });
    expect(linux.flatMap((c) => c.cells.map((cell) => cell.id))).toEqual(["T1001"]);
  });

  it("lets a sub-technique whose parent is filtered out stand as its own cell", () => {
    const onlySub = buildMatrix([t("T1059", "Parent", ["execution"], { status: "revoked" }), t("T1059.001", "PowerShell", ["execution"])], new Map());
    expect(column(onlySub, "execution").cells.map((c) => c.id)).toEqual(["T1059.001"]);
  });

  it("sorts cells by name and adds the sub-techniques' coverage to the parent's", () => {
    const coverage = new Map([["T1059", 1], ["T1059.001", 3], ["T1059.003", 2], ["T1078", 5]]);
    const columns = buildMatrix(TECHNIQUES, coverage);
    const cell = column(columns, "execution").cells[0];
    expect(cell.own).toBe(1);
    expect(cell.total).toBe(6);
    expect(column(columns, "initial-access").covered).toBe(1);
    expect(coverageOf(columns, "t1059", coverage)).toBe(6);
    expect(coverageOf(columns, "T1059.001", coverage)).toBe(3);
    expect(coverageOf(columns, "T4242", coverage)).toBe(0);
    expect(maxCoverage(columns)).toBe(6);
    const names = column(buildMatrix([t("T2", "Zeta", ["impact"]), t("T1", "Alpha", ["impact"])], new Map()), "impact").cells.map((c) => c.name);
    expect(names).toEqual(["Alpha", "Zeta"]);
  });

  it("handles about 700 techniques quickly", () => {
    const many: TechniqueLike[] = [];
    for (let i = 0; i < 200; i++) {
      many.push(t(`T${1000 + i}`, `Technique ${i}`, [TACTIC_ORDER[i % TACTIC_ORDER.length], TACTIC_ORDER[(i + 3) % TACTIC_ORDER.length]]));
      for (let j = 1; j <= 3; j++) many.push(t(`T${1000 + i}.00${j}`, `Sub ${i}.${j}`, [TACTIC_ORDER[i % TACTIC_ORDER.length]]));
    }
    const started = performance.now();
    const columns = buildMatrix(many, new Map([["T1000.001", 4]]));
    expect(performance.now() - started).toBeLessThan(200);
    expect(columns.reduce((sum, c) => sum + c.cells.length, 0)).toBe(400);
  });
});

describe("coverage colours", () => {
  it("puts no coverage in bucket 0 and the rest in quarters of the highest", () => {
    expect(coverageBucket(0, 10)).toBe(0);
    expect(coverageBucket(5, 0)).toBe(0);
    expect(coverageBucket(1, 10)).toBe(1);
    expect(coverageBucket(3, 10)).toBe(2);
    expect(coverageBucket(6, 10)).toBe(3);
    expect(coverageBucket(10, 10)).toBe(4);
    expect(coverageBucket(1, 1)).toBe(4);
  });

  it("gives a legend whose ranges agree with the buckets and leave no count out", () => {
    for (const max of [1, 2, 3, 7, 10, 57, 1000]) {
      const entries = legend(max);
      expect(entries[0]).toEqual({ bucket: 0, from: 0, to: 0 });
      let next = 1;
      for (const entry of entries.slice(1)) {
        expect(entry.from).toBe(next);
        for (let count = entry.from; count <= entry.to; count++) expect(coverageBucket(count, max)).toBe(entry.bucket);
        next = entry.to + 1;
      }
      expect(next).toBe(max + 1);
    }
    expect(legend(0)).toEqual([{ bucket: 0, from: 0, to: 0 }]);
  });
});

describe("coverage sources", () => {
  it("counts each campaign once per technique", () => {
    const counts = coverageFromCampaigns([
      { techniques: [{ technique_id: "T1059" }, { technique_id: "t1059" }, { technique_id: "T1078" }] },
      { techniques: [{ technique_id: "T1059" }] },
    ]);
    expect(Object.fromEntries(counts)).toEqual({ T1059: 2, T1078: 1 });
  });

  it("reads indicator counts only when the API gives them", () => {
    expect(coverageFromIndicators(TECHNIQUES)).toBeNull();
    const counted = coverageFromIndicators([{ ...TECHNIQUES[0], indicator_count: 4 }, TECHNIQUES[1]]);
    expect(counted?.get("T1059")).toBe(4);
    expect(counted?.get("T1059.001")).toBe(0);
  });
});

describe("labels and search", () => {
  it("names tactics as ATT&CK does", () => {
    expect(tacticLabel("command-and-control")).toBe("Command and Control");
    expect(tacticLabel("resource-development")).toBe("Resource Development");
    expect(tacticLabel(NO_TACTIC)).toBe("No tactic");
  });

  it("matches a cell by its id or name or a sub-technique's", () => {
    const cell = buildMatrix(TECHNIQUES, new Map()).find((c) => c.tactic === "execution")!.cells[0];
    expect(cellMatches(cell, "")).toBe(true);
    expect(cellMatches(cell, "t1059")).toBe(true);
    expect(cellMatches(cell, "powershell")).toBe(true);
    expect(cellMatches(cell, "kerberos")).toBe(false);
    expect(parentOf("T1059.001")).toBe("T1059");
    expect(parentOf("T1059")).toBe("T1059");
  });
});
