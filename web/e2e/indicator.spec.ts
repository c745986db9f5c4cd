// The indicator page: an indicator imported for this test, with a hostile source name, a
// sighting and a technique; its tabs show them, an analyst tags and marks it, a viewer cannot.
import { accounts, apiAs, expect, expectAccessible, screenshot, signIn, test } from "./fixtures";

interface Seeded {
  id: string;
  value: string;
  source: string;
  technique: string;
}

/** One new indicator from a STIX bundle, seen once on a host and mapped to T1071. */
async function seedIndicator(): Promise<Seeded> {
  const stamp = Date.now();
  const value = `c2-${stamp}.e2e-indicator.ru`;
  const source = `e2e <img src=x onerror="window.__pwned=1"> ${stamp}`;
  const uuid = (n: number) => `6f1c3f5e-${String(n).padStart(4, "0")}-4a2b-9c3d-${String(stamp).slice(-12).padStart(12, "0")}`;
  const api = await apiAs(accounts.admin);
  const bundle = {
    type: "bundle",
    id: `bundle--${uuid(1)}`,
    objects: [
      {
        type: "indicator", spec_version: "2.1", id: `indicator--${uuid(2)}`,
        created: "2026-01-01T00:00:00.000Z", modified: "2026-01-01T00:00:00.000Z",
        name: "e2e C2 domain", pattern: `[domain-name:value = '${value}']`, pattern_type: "stix",
        valid_from: "2026-01-01T00:00:00Z", labels: ["malicious-activity"], confidence: 80,
      },
    ],
  };
  const imported = await api.post(`/api/v1/stix/bundles?source=${encodeURIComponent(source)}`, bundle);
  expect(imported.indicators.new).toBe(1);
  const detail = await api.get(`/api/v1/indicators/${encodeURIComponent(value)}`);
  const id: string = detail.indicator.id;
  await api.post("/api/v1/sightings", [
    { value, host: `ws-e2e-${stamp}`, sensor: "dns-1", log_source: "dns", context: { query: "<script>window.__pwned=2</script>" } },
  ]);
  // ATT&CK is imported when the shared data is there; otherwise a custom technique stands in.
  let technique = "T1071";
  if ((await api.status("GET", `/api/v1/mitre-techniques/${technique}`)) !== 200) {
    technique = `E2E${stamp}`;
    await api.post("/api/v1/mitre-techniques", {
      technique_id: technique, technique_name: "E2E application layer protocol", tactics: ["command-and-control"],
    });
  }
  await api.post(`/api/v1/mitre-techniques/${technique}/indicators`, { indicator: id, confidence_score: 70, evidence: "beacons" });
  await api.dispose();
  return { id, value, source, technique };
}

test("an indicator shows its score, sources, sightings and techniques, and an analyst edits it", async ({ watched: page }) => {
  test.setTimeout(120_000);
  const seeded = await seedIndicator();
  await signIn(page, accounts.admin);

  // From the list, by the start of its value, to its page.
  await page.goto(`/indicators?q=${encodeURIComponent(seeded.value)}`);
  await page.getByRole("link", { name: seeded.value }).click();
  await expect(page).toHaveURL(new RegExp(`/indicators/${seeded.id}`));
  await expect(page.getByRole("heading", { level: 1, name: seeded.value })).toBeVisible();

  // Why it scores what it does, with the source's name as text.
  const factors = page.getByRole("table", { name: /Why it scores/ });
  await expect(factors).toContainText(`Source confidence: ${seeded.source}`);
  await expect(factors).toContainText("Type weight");
  await expectAccessible(page, "indicator");
  await screenshot(page, "indicator");

  await page.getByRole("tab", { name: /Sources/ }).click();
  await expect(page).toHaveURL(/tab=sources/);
  await expect(page.getByRole("table", { name: /Intelligence records/ })).toContainText(seeded.source);

  await page.getByRole("tab", { name: "Sightings" }).click();
  const sightings = page.getByRole("table", { name: "Sightings of this indicator" });
  await expect(sightings).toContainText("ws-e2e-");
  await expect(sightings).toContainText("dns-1");

  await page.getByRole("tab", { name: "ATT&CK" }).click();
  await expect(page.getByRole("table", { name: /ATT&CK techniques/ })).toContainText(seeded.technique);

  await page.getByRole("tab", { name: "Alerts" }).click();
  await expect(page.getByRole("table", { name: "Alerts on this indicator" })).toBeVisible();
  await page.getByRole("tab", { name: "Correlations" }).click();
  await expect(page.getByRole("table", { name: "Correlations with other indicators" })).toBeVisible();
  await page.getByRole("tab", { name: "Enrichments" }).click();
  await expect(page.getByRole("table", { name: "Enrichments of this indicator" })).toBeVisible();

  await page.getByRole("tab", { name: "Graph" }).click();
  await expect(page.getByRole("link", { name: "Open in the graph explorer" })).toHaveAttribute(
    "href", `/osint/graph?node=${encodeURIComponent(`indicator:${seeded.id}`)}`,
  );
  await expect(page.getByRole("table", { name: "Nodes around this indicator" })).toContainText(seeded.technique);
  // The tab survives a reload.
  await page.reload();
  await expect(page.getByRole("tab", { name: "Graph" })).toHaveAttribute("aria-selected", "true");

  // Tag it (Enter submits), then remove the tag.
  const tag = `e2e-tag-${Date.now()}`;
  await page.getByRole("textbox", { name: "Tag" }).fill(tag);
  await page.getByRole("textbox", { name: "Tag" }).press("Enter");
  await expect(page.getByRole("status")).toContainText(`Tag ${tag} added.`);
  await expect(page.getByLabel("Tags")).toContainText(tag);
  const api = await apiAs(accounts.admin);
  expect((await api.get(`/api/v1/indicators/${seeded.id}`)).indicator.metadata.tags).toContain(tag);

  // TLP and false positive, each undone.
  await page.getByRole("combobox", { name: "TLP" }).click();
  await page.getByRole("option", { name: "TLP:AMBER", exact: true }).click();
  await expect(page.getByRole("status")).toContainText("Marked TLP:AMBER.");
  expect((await api.get(`/api/v1/indicators/${seeded.id}`)).indicator.tlp).toBe("amber");
  await page.getByRole("button", { name: "Mark false positive" }).click();
  await expect(page.getByRole("button", { name: "Undo false positive" })).toBeVisible();
  await expect(page.getByLabel("Summary")).toContainText("false positive");
  expect((await api.get(`/api/v1/indicators/${seeded.id}`)).indicator.is_active).toBe(false);
  await page.getByRole("button", { name: "Undo false positive" }).click();
  await expect(page.getByRole("button", { name: "Mark false positive" })).toBeVisible();

  await page.getByRole("button", { name: `Remove tag ${tag}` }).click();
  await expect(page.getByRole("status")).toContainText(`Tag ${tag} removed.`);
  await expect(page.getByLabel("Tags")).not.toContainText(tag);
  expect((await api.get(`/api/v1/indicators/${seeded.id}`)).indicator.metadata.tags).not.toContain(tag);
  await api.dispose();

  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});

test("a viewer reads an indicator but has no way to change it", async ({ watched: page }) => {
  const seeded = await seedIndicator();
  await signIn(page, accounts.viewer);
  await page.goto(`/indicators/${seeded.id}`);
  await expect(page.getByRole("heading", { level: 1, name: seeded.value })).toBeVisible();
  await expect(page.getByRole("table", { name: /Why it scores/ })).toBeVisible();
  await expect(page.getByRole("button", { name: "Add tag" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Mark false positive" })).toHaveCount(0);
  await expect(page.getByRole("combobox", { name: "TLP" })).toHaveCount(0);
  await expect(page.getByRole("region", { name: "Analyst actions" })).toHaveCount(0);
  await expectAccessible(page, "indicator as viewer");
});

test("an unknown indicator says so", async ({ watched: page }) => {
  await signIn(page, accounts.admin);
  await page.goto(`/indicators/${encodeURIComponent(`no-such-${Date.now()}.e2e-indicator.ru`)}`);
  await expect(page.getByText("No such indicator")).toBeVisible();
});
