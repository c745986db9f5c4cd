// OSINT: a collection seeded from a file runs to completion, a document upload creates entities,
// the entity page explains its risk, the graph explorer expands and finds a path, search finds it.
import type { Page } from "@playwright/test";

import { accounts, Api, apiAs, expect, expectAccessible, screenshot, signIn, test } from "./fixtures";

const stamp = Date.now();
const octet = (offset: number) => ((stamp + offset) % 250) + 1;
// Values of this run only, so that other specs and earlier runs do not change what is counted.
const data = {
  domain: `c2-${stamp}.com`,
  other: `drop-${stamp}.net`,
  hub: `hub-${stamp}.org`,
  email: `ops@c2-${stamp}.com`,
  ip: `203.0.113.${octet(0)}`,
  ip2: `192.0.2.${octet(7)}`,
};

interface Seeded {
  api: Api;
  collectionId: string;
  domainId: string;
}

async function seed(): Promise<Seeded> {
  const api = await apiAs(accounts.admin);
  const rows = Buffer.from(JSON.stringify([{ id: "1", text: `Seed row for ${data.domain}` }])).toString("base64");
  const collection = await api.post("/api/v1/collections", {
    name: `e2e graph ${stamp}`,
    collector_type: "custom",
    config: { upload: { filename: "seed.json", content_base64: rows }, mapping: { text: "text", id: "id" } },
  });
  const upload = async (filename: string, text: string) => {
    const response = await api.context.post(`/api/v1/collections/${collection.id}/uploads?filename=${filename}`, {
      headers: { "X-CSRF-Token": api.csrf, "Content-Type": "text/plain" },
      data: Buffer.from(text),
    });
    expect(response.status(), await response.text()).toBe(201);
  };
  await upload("incident.txt", `Host ${data.ip} beaconed to ${data.domain}. Phishing came from ${data.email}.`);
  await upload("followup.txt", `Later ${data.ip} served ${data.other}.`);
  const hosts = Array.from({ length: 60 }, (_, index) => `The host 198.51.100.${index + 100} contacted ${data.hub}.`);
  await upload("hub.txt", [`Hub report for ${data.hub}.`, ...hosts].join("\n"));
  const [node] = await api.get(`/api/v1/graph/nodes?node=domain:${data.domain}`);
  return { api, collectionId: collection.id, domainId: node.id };
}

let seeded: Seeded;

test.beforeAll(async () => {
  seeded = await seed();
});

test.afterAll(async () => {
  await seeded?.api.dispose();
});

/** A node's button in the graph's list: its label, then its type. */
function named(label: string): RegExp {
  return new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s`);
}

async function counts(page: Page): Promise<number> {
  const text = (await page.getByTestId("graph-counts").textContent()) ?? "";
  return Number(/(\d+) nodes/.exec(text)?.[1] ?? "0");
}

test("a collection seeded from a file runs to completion and a document upload extracts entities", async ({ watched: page }) => {
  await signIn(page, accounts.admin);
  await page.goto("/osint/collections");
  await expect(page.getByRole("heading", { level: 1, name: "Collections" })).toBeVisible();
  await expect(page.getByRole("table", { name: "OSINT collections" })).toBeVisible();
  await expectAccessible(page, "collections");
  await screenshot(page, "collections");

  await page.getByRole("button", { name: "New collection" }).click();
  const dialog = page.getByRole("dialog", { name: "New collection" });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("textbox", { name: "Name", exact: true }).fill(`e2e upload ${stamp}`);
  await dialog.getByRole("combobox", { name: "Collector", exact: true }).click();
  await page.getByRole("option", { name: "custom", exact: true }).click();
  // Neither an endpoint nor a file: the form says so before anything is sent.
  await dialog.getByRole("button", { name: "Create collection" }).click();
  await expect(dialog.getByText("Give an endpoint URL, or choose a file below.")).toBeVisible();
  await dialog.getByLabel("Seed file").setInputFiles({
    name: "rows.json",
    mimeType: "application/json",
    buffer: Buffer.from(JSON.stringify([{ text: `Row about ${data.domain} and ${data.ip2}` }])),
  });
  await expectAccessible(page, "new collection dialog");
  await dialog.getByRole("button", { name: "Create collection" }).click();

  await expect(page).toHaveURL(/\/osint\/collections\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { level: 1, name: `e2e upload ${stamp}` })).toBeVisible();
  await expect(page.getByTestId("run-status")).toContainText("completed", { timeout: 30_000 });
  await expect(page.getByRole("progressbar", { name: "Run progress" })).toHaveAttribute("aria-valuenow", "100");
  await expect(page.getByRole("table", { name: "Items of this collection" }).getByRole("row")).toHaveCount(2);

  await page.getByLabel("Document", { exact: true }).setInputFiles({
    name: "note.txt",
    mimeType: "text/plain",
    buffer: Buffer.from(`Analyst note: ${data.ip2} resolved ${data.domain}; contact ${data.email}.`),
  });
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.getByRole("status").filter({ hasText: "note.txt stored" })).toContainText(/entities found|entity found/);
  await expect(page.getByRole("table", { name: "Items of this collection" }).getByRole("row")).toHaveCount(3);
  // A second run is followed live too, to its end.
  await page.getByRole("button", { name: "Run now" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Run started." })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "The run completed." })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("run-status")).toContainText("completed");
  await expectAccessible(page, "collection");
  await screenshot(page, "collection");
});

test("the entity list filters by name and the entity page explains its risk", async ({ watched: page }) => {
  await signIn(page, accounts.admin);
  await page.goto(`/osint/entities?q=${encodeURIComponent(data.domain)}`);
  const table = page.getByRole("table", { name: "Entities" });
  await expect(table.getByRole("link", { name: data.domain, exact: true })).toBeVisible();
  await page.getByRole("combobox", { name: "Type" }).click();
  await page.getByRole("option", { name: "domain", exact: true }).click();
  await expect(page).toHaveURL(/type=domain/);
  await expect(table.getByRole("link", { name: data.domain, exact: true })).toBeVisible();
  await expectAccessible(page, "entities");
  await screenshot(page, "entities");

  await table.getByRole("link", { name: data.domain, exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: data.domain })).toBeVisible();
  const factors = page.getByRole("table", { name: "Risk factors of the latest computation" });
  await expect(factors.getByRole("row")).toHaveCount(6);
  await expect(factors).toContainText("indicator");
  await page.getByRole("button", { name: "Rescore" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Rescored" })).toBeVisible();
  await expect(page.getByRole("img", { name: /Neighbourhood of this entity: \d+ nodes/ })).toBeVisible();
  await expect(page.getByRole("table", { name: "Items this entity was found in" })).toBeVisible();
  await expectAccessible(page, "entity");
  await screenshot(page, "entity");

  await page.getByRole("link", { name: "Open in graph explorer" }).click();
  await expect(page).toHaveURL(new RegExp(`/osint/graph\\?node=entity%3A${seeded.domainId}`));
  await expect(page.getByRole("heading", { level: 1, name: "Graph explorer" })).toBeVisible();
});

test("the graph explorer expands a node, finds a path and colours by risk", async ({ watched: page }) => {
  await signIn(page, accounts.admin);
  await page.goto(`/osint/graph?node=${encodeURIComponent(`entity:${seeded.domainId}`)}`);
  const nodes = page.getByRole("region", { name: "Nodes of the graph" });
  await expect(nodes.getByRole("button", { name: named(data.ip) })).toBeVisible();
  await expect(page.getByRole("img", { name: /Investigation graph: \d+ nodes/ })).toBeVisible();
  const before = await counts(page);
  expect(before).toBeGreaterThanOrEqual(3);
  await expect(nodes.getByRole("button", { name: named(data.other) })).toHaveCount(0);

  // Select a neighbour from the keyboard list and expand it: its other domain joins the graph.
  await nodes.getByRole("button", { name: named(data.ip) }).click();
  await expect(page.getByTestId("selected-node")).toHaveText(data.ip);
  await page.getByRole("button", { name: "Expand neighbours" }).click();
  await expect(page).toHaveURL(/expand=/);
  await expect.poll(() => counts(page)).toBeGreaterThan(before);
  await expect(nodes.getByRole("button", { name: named(data.other) })).toBeVisible();

  // Path from the e-mail to the domain reached only through the expansion.
  await nodes.getByRole("button", { name: named(data.email) }).click();
  await page.getByRole("button", { name: "Path start" }).click();
  await nodes.getByRole("button", { name: named(data.other) }).click();
  await page.getByRole("button", { name: "Path end" }).click();
  await expect(page.getByTestId("path-from")).toHaveText(data.email);
  await expect(page.getByTestId("path-to")).toHaveText(data.other);
  await expect(page.getByRole("status").filter({ hasText: "Path found" })).toBeVisible();
  const path = page.getByRole("region", { name: "Shortest path" }).getByRole("listitem");
  await expect(path.first()).toHaveText(data.email);
  await expect(path.last()).toHaveText(data.other);

  await page.getByRole("radio", { name: "Risk" }).dispatchEvent("click");
  await expect(page).toHaveURL(/colour=risk/);
  await expect(page.getByRole("list", { name: "Legend: colour by risk" })).toBeVisible();

  // What is shown survives a reload: start, expansion, path and colours come from the URL.
  await page.reload();
  await expect(page.getByTestId("path-to")).toHaveText(data.other);
  await expect.poll(() => counts(page)).toBeGreaterThan(before);
  await expectAccessible(page, "graph");
  await screenshot(page, "graph");
});

test("a mid-size neighbourhood renders with WebGL", async ({ watched: page }) => {
  await signIn(page, accounts.admin);
  await page.goto(`/osint/graph?node=${encodeURIComponent(`domain:${data.hub}`)}`);
  await expect.poll(() => counts(page)).toBeGreaterThanOrEqual(15);
  const canvas = page.getByTestId("graph-canvas");
  await expect(canvas.locator("canvas").first()).toBeAttached();
  await expect(page.getByRole("note")).toHaveCount(0);
  // A drawn graph does not compress like an empty white box.
  await page.waitForTimeout(500);
  const picture = await canvas.screenshot();
  expect(picture.length).toBeGreaterThan(4000);
});

test("search finds the domain from the shell's search box, grouped by index", async ({ watched: page }) => {
  await signIn(page, accounts.admin);
  await page.goto("/search");
  await expect(page.getByRole("heading", { level: 1, name: "Search" })).toBeVisible();
  const box = page.getByRole("search", { name: "Search everything" }).getByRole("textbox");
  await box.fill(data.domain);
  await box.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/search\\?q=${data.domain.replace(/\./g, "\\.")}`));
  const entities = page.getByRole("region", { name: "Entities" });
  await expect(entities.getByRole("link", { name: data.domain, exact: true })).toBeVisible();
  await expect(entities.locator("mark").first()).toBeVisible();
  await expect(page.getByRole("region", { name: "Documents" })).toBeVisible();
  await page.getByRole("radio", { name: "Documents" }).dispatchEvent("click");
  await expect(page).toHaveURL(/index=documents/);
  await expect(page.getByRole("region", { name: "Entities" })).toHaveCount(0);
  await expectAccessible(page, "search");
  await screenshot(page, "search");
  await page.getByRole("radio", { name: "All" }).dispatchEvent("click");
  await page.getByRole("region", { name: "Entities" }).getByRole("link", { name: data.domain, exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: data.domain })).toBeVisible();
});

test("a viewer reads OSINT pages without any write control", async ({ watched: page }) => {
  await signIn(page, accounts.viewer);
  await page.goto("/osint/collections");
  await expect(page.getByRole("table", { name: "OSINT collections" })).toBeVisible();
  await expect(page.getByRole("button", { name: "New collection" })).toHaveCount(0);
  await page.goto(`/osint/collections/${seeded.collectionId}`);
  await expect(page.getByRole("heading", { level: 1, name: `e2e graph ${stamp}` })).toBeVisible();
  await expect(page.getByRole("button", { name: "Run now" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Upload" })).toHaveCount(0);
  await page.goto(`/osint/entities/${seeded.domainId}`);
  await expect(page.getByRole("heading", { level: 1, name: data.domain })).toBeVisible();
  await expect(page.getByRole("button", { name: "Rescore" })).toHaveCount(0);
  await page.goto("/search?q=x&index=audit_logs");
  await expect(page.getByRole("radio", { name: "Audit log" })).toHaveCount(0);
});
