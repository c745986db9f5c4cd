import { MantineProvider } from "@mantine/core";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { procedureOf } from "./CampaignPage";
import { campaignValues, isImported, type Campaign } from "./CampaignForm";
import { actorValues, type Actor } from "./ActorForm";
import { aliasSummary } from "./ActorsPage";
import { describeCollectionChange } from "./IocCollectionPage";
import { buildMatrix } from "./matrix";
import { MatrixGrid } from "./MatrixGrid";
import { resolveReferences, splitReferences } from "./reportForm";
import { changedFields, dateField, dateValue, isUuid, listOf, plural, valuesOf } from "./text";

describe("typed lists", () => {
  it("reads one value a line, skipping blanks, comments and repeats", () => {
    expect(valuesOf(" evil.example \n\n# a comment\n10.0.0.1\r\nevil.example\n  # indented comment\nhxxp://x[.]y ")).toEqual([
      "evil.example",
      "10.0.0.1",
      "hxxp://x[.]y",
    ]);
    expect(valuesOf("")).toEqual([]);
  });

  it("reads labels split by commas or lines", () => {
    expect(listOf("a, b\nc,,a")).toEqual(["a", "b", "c"]);
  });

  it("turns API times into date fields and back", () => {
    expect(dateField("2015-12-01T05:00:00Z")).toBe("2015-12-01");
    expect(dateField(null)).toBe("");
    expect(dateValue("2024-02-29")).toBe("2024-02-29T00:00:00Z");
    expect(dateValue(" ")).toBeNull();
    expect(dateValue("29/02/2024")).toBeNull();
  });

  it("sends only what changed", () => {
    type Values = { name: string; tags: string[]; tlp: string | null; active: boolean };
    const before: Values = { name: "a", tags: ["x"], tlp: null, active: true };
    expect(changedFields<Values>(before, { name: "a", tags: ["x"], tlp: null, active: true })).toEqual({});
    expect(changedFields<Values>(before, { name: "b", tags: ["x", "y"], tlp: "red", active: true })).toEqual({
      name: "b",
      tags: ["x", "y"],
      tlp: "red",
    });
  });

  it("words counts and recognises ids", () => {
    expect(plural(1, "item")).toBe("1 item");
    expect(plural(1200, "item")).toBe("1,200 items");
    expect(isUuid("01a21705-3c58-70d7-9b81-65e2ae4997b9")).toBe(true);
    expect(isUuid("evil.example")).toBe(false);
  });
});

describe("report references", () => {
  it("splits ids from values and resolves values to their first match", () => {
    const text = "01A21705-3C58-70D7-9B81-65E2AE4997B9\nevil[.]example\n203.0.113.7\nunknown.example";
    expect(splitReferences(text)).toEqual({
      ids: ["01a21705-3c58-70d7-9b81-65e2ae4997b9"],
      values: ["evil[.]example", "203.0.113.7", "unknown.example"],
    });
    const lookup = {
      matches: [
        { value: "evil[.]example", indicator: { id: "11111111-1111-1111-1111-111111111111" } },
        { value: "203.0.113.7", indicator: { id: "22222222-2222-2222-2222-222222222222" } },
        { value: "203.0.113.7", indicator: { id: "33333333-3333-3333-3333-333333333333" } },
      ],
      unreadable: [],
    };
    expect(resolveReferences(text, lookup)).toEqual({
      ids: ["01a21705-3c58-70d7-9b81-65e2ae4997b9", "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"],
      unresolved: ["unknown.example"],
    });
    expect(resolveReferences("a.example", null)).toEqual({ ids: [], unresolved: ["a.example"] });
  });
});

describe("knowledge objects", () => {
  it("edits only the analyst's part of an imported actor", () => {
    const actor = {
      id: "a", actor_name: "APT-X", aliases: ["APT-X", "Bear"], description: null, sophistication: null,
      motivations: ["espionage", { odd: 1 }], target_industries: [], target_countries: [],
      known_tools: [{ name: "Mimikatz", attack_id: "S0002", source: "attack" }, { name: "my tool", source: "analyst" }],
      techniques: [
        { technique_id: "T1059", sources: ["attack"] },
        { technique_id: "T1078", sources: ["attack", "analyst"] },
        { technique_id: "T1566", sources: ["indicators"] },
      ],
      campaigns: [], attribution_data: {}, attack_id: "G0001", first_observed: null, last_observed: null, tlp: null,
      created_at: null, updated_at: null, indicator_count: 0,
    } as unknown as Actor;
    const values = actorValues(actor);
    expect(values.known_tools).toEqual(["my tool"]);
    expect(values.techniques).toEqual(["T1078"]);
    expect(values.motivations).toEqual(["espionage"]);
    expect(values.aliases).toEqual(["APT-X", "Bear"]);
  });

  it("edits only the analyst's part of an imported campaign", () => {
    const campaign = {
      id: "c", campaign_name: "C0001", description: null, status: "active", first_observed: null, last_observed: null,
      tactics: ["execution"],
      techniques: [{ technique_id: "T1059", sources: ["attack"] }, { technique_id: "T1078", sources: ["analyst"] }],
      procedures: [{ attack_id: "T1059", name: "x", description: "y" }, "by hand"],
      attributed_actors: [{ actor_id: "1", name: "Imported", attack_id: "G1" }, { actor_id: "2", name: "Mine", attack_id: null }],
      analyst_id: null, tlp: "amber", created_at: null, updated_at: null, indicator_count: 0,
    } as unknown as Campaign;
    expect(isImported(campaign)).toBe(true);
    const values = campaignValues(campaign);
    expect(values.techniques).toEqual(["T1078"]);
    expect(values.procedures).toEqual(["by hand"]);
    expect(values.attributed_actors).toEqual(["2"]);
    expect(values.tactics).toEqual([]);
    const own = { ...campaign, techniques: [], procedures: [], attributed_actors: [] } as unknown as Campaign;
    expect(isImported(own)).toBe(false);
    expect(campaignValues(own).tactics).toEqual(["execution"]);
  });

  it("shows procedures typed by hand and imported ones", () => {
    expect(procedureOf("by hand", 0)).toEqual({ index: 0, name: "Analyst", description: "by hand" });
    expect(procedureOf({ attack_id: "T1059", name: "Visual Basic", description: "did it" }, 1)).toEqual({
      index: 1,
      name: "Visual Basic (T1059)",
      description: "did it",
    });
  });

  it("summarises aliases without repeating the name", () => {
    expect(aliasSummary(["APT-X", "Bear", "Fox", "Owl", "Yak"], "apt-x")).toBe("Bear, Fox, Owl +1");
    expect(aliasSummary(["APT-X"], "APT-X")).toBe("—");
  });

  it("says what adding to a collection did", () => {
    expect(
      describeCollectionChange({ changed: 2, unchanged: 1, not_found: ["x"], unreadable: [], indicator_count: 5 }),
    ).toBe("Added 2 indicators, 1 already there, 1 unknown; the collection holds 5 indicators.");
  });
});

describe("MatrixGrid", () => {
  afterEach(cleanup);
  const techniques = [
    { technique_id: "T1059", technique_name: "Command and Scripting Interpreter", tactics: ["execution"], platforms: [], is_subtechnique: false, status: "active" },
    { technique_id: "T1059.001", technique_name: "PowerShell", tactics: ["execution"], platforms: [], is_subtechnique: true, status: "active" },
    { technique_id: "T1204", technique_name: "User Execution <img src=x>", tactics: ["execution"], platforms: [], is_subtechnique: false, status: "active" },
  ];
  const columns = buildMatrix(techniques, new Map([["T1059.001", 2]]));
  const draw = (props: Partial<Parameters<typeof MatrixGrid>[0]> = {}) =>
    render(
      <MantineProvider>
        <MatrixGrid columns={columns} max={2} expanded={new Set()} allExpanded={false} query="" unit="campaigns"
          onSelect={() => {}} onToggle={() => {}} {...props} />
      </MantineProvider>,
    );

  it("folds sub-techniques until their parent is unfolded", () => {
    const onToggle = vi.fn();
    const { unmount } = draw({ onToggle });
    expect(screen.queryByRole("button", { name: /T1059\.001 PowerShell/ })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Show 1 sub-techniques of Command and Scripting Interpreter" }));
    expect(onToggle).toHaveBeenCalledWith("T1059");
    unmount();
    draw({ expanded: new Set(["T1059"]) });
    expect(screen.getByRole("button", { name: "T1059.001 PowerShell, 2 campaigns" })).toBeInTheDocument();
  });

  it("selects a technique, marks it pressed, and renders names as text", () => {
    const onSelect = vi.fn();
    draw({ onSelect, selected: "T1204" });
    const cell = screen.getByRole("button", { name: "T1204 User Execution <img src=x>, no coverage" });
    expect(cell).toHaveAttribute("aria-pressed", "true");
    expect(document.querySelector("img")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: /^T1059 Command and Scripting Interpreter, 2 campaigns$/ }));
    expect(onSelect).toHaveBeenCalledWith("T1059");
  });

  it("dims cells that do not match the search", () => {
    draw({ query: "powershell" });
    const parent = screen.getByRole("button", { name: /^T1059 / }).closest("li")!;
    const other = screen.getByRole("button", { name: /^T1204 / }).closest("li")!;
    expect(parent).toHaveStyle({ opacity: "1" });
    expect(other).toHaveStyle({ opacity: "0.35" });
  });
});
