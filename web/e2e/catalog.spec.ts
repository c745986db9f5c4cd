// The intelligence catalogue: watchlists, correlation rules (with the dry run), IOC collections,
// threat actors and campaigns, the ATT&CK matrix and threat reports. Each test makes its own
// data with unique names and removes what it can afterwards.
import { createHash } from "node:crypto";

import { accounts, apiAs, expect, expectAccessible, screenshot, signIn, test } from "./fixtures";

const unique = () => `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

const PAGES: [string, string, string][] = [
  ["watchlists", "/watchlists", "Watchlists"],
  ["rules", "/rules", "Correlation rules"],
  ["ioc-collections", "/ioc-collections", "IOC collections"],
  ["actors", "/actors", "Threat actors"],
  ["campaigns", "/campaigns", "Campaigns"],
  ["attack", "/attack", "ATT&CK matrix"],
  ["reports", "/reports", "Threat reports"],
];

test("every catalogue page loads, is accessible and has its screenshot", async ({ watched: page }) => {
  test.setTimeout(180_000);
  await signIn(page, accounts.admin);
  for (const [name, path, title] of PAGES) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
    // Wait for the data: no skeleton rows or loading matrix left.
    await expect(page.getByTestId("skeleton-row")).toHaveCount(0);
    await expect(page.getByLabel("Loading the matrix")).toHaveCount(0);
    await expectAccessible(page, name);
    await screenshot(page, name);
  }
});

test("a watchlist is created, takes an item, and a value is checked against it", async ({ watched: page }) => {
  const name = `e2e watchlist ${unique()}`;
  const value = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
  await signIn(page, accounts.admin);
  await page.goto("/watchlists");
  await page.getByRole("button", { name: "New watchlist" }).click();
  const dialog = page.getByRole("dialog", { name: "New watchlist" });
  await dialog.getByRole("textbox", { name: "Name", exact: true }).fill(name);
  await dialog.getByLabel("Description").fill("Made by the browser test <b>not bold</b>");
  await dialog.getByRole("textbox", { name: "Name", exact: true }).press("Enter");
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: `Created the watchlist ${name}.` })).toBeVisible();
  await expect(page.getByText("Made by the browser test <b>not bold</b>")).toBeVisible();
  const id = new URL(page.url()).pathname.split("/").pop()!;

  await page.getByLabel("Values to add").fill(`# a comment\n${value}\n`);
  await page.getByRole("button", { name: "Add items" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Added 1; the list holds 1 item." })).toBeVisible();
  await expect(page.getByRole("table", { name: `Items of ${name}` }).getByText(value)).toBeVisible();
  await expectAccessible(page, "watchlist");
  await screenshot(page, "watchlist");

  // A file: one value a line; a value of the wrong type is refused with its line number.
  const second = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
  await page.getByRole("tab", { name: "Import a file" }).click();
  // The file picker is a button over a hidden file input, which is what takes the file.
  await page.locator('input[type="file"]').setInputFiles({ name: "iocs.txt", mimeType: "text/plain", buffer: Buffer.from(`${second}\nevil.example\n`) });
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: "Added 1, refused 1; the list holds 2 items." })).toBeVisible();
  await expect(page.getByText(/Line 2: evil\.example/)).toBeVisible();
  await expect(page.getByRole("table", { name: `Items of ${name}` }).getByText(second)).toBeVisible();

  // The value is now on the list: a check finds it, and the URL keeps the check.
  await page.goto(`/watchlists?check=${encodeURIComponent(value)}`);
  await expect(page.getByRole("table", { name: "Watchlists holding the value" }).getByRole("link", { name })).toBeVisible();

  // Removing the item asks first, in the page (never a browser dialog).
  await page.goto(`/watchlists/${id}`);
  await page.getByRole("button", { name: `Remove ${value}` }).click();
  await page.getByRole("dialog", { name: "Remove the item?" }).getByRole("button", { name: "Remove" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Removed ${value}.` })).toBeVisible();

  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: "Delete the watchlist?" }).getByRole("button", { name: "Delete watchlist" }).click();
  await expect(page).toHaveURL(/\/watchlists$/);
  await expect(page.getByRole("status").filter({ hasText: `Deleted ${name}.` })).toBeVisible();
});

test("a rule is written, dry-run before and after saving, switched on and deleted", async ({ watched: page }) => {
  test.setTimeout(120_000);
  // Set-up through the API: a sighting only this test's rule can match (a whitelisted hash
  // seen on a host of its own, so no alert is raised).
  const id = unique();
  const host = `e2e-rule-host-${id}`;
  const hash = createHash("sha256").update(host).digest("hex");
  const api = await apiAs(accounts.admin);
  const list = await api.post("/api/v1/watchlists", { name: `e2e rule data ${id}`, list_type: "hash_whitelist" });
  await api.post(`/api/v1/watchlists/${list.id}/items`, { items: [hash] });
  const report = await api.post("/api/v1/sightings", [{ value: hash, host }]);
  expect(report.stored).toBe(1);

  const name = `e2e rule ${id}`;
  await signIn(page, accounts.admin);
  await page.goto("/rules");
  await page.getByRole("link", { name: "New rule" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "New rule" })).toBeVisible();
  await page.getByRole("textbox", { name: "Name", exact: true }).fill(name);
  await page.getByLabel("Definition (JSON)").fill(
    JSON.stringify({ condition: { field: "host", op: "eq", value: host }, severity: "low", title: "{rule}: {value} on {host}" }),
  );
  // A short period: the replay reads every event in it, and the sighting is seconds old.
  await page.getByLabel("Since").fill("15m");
  await page.getByRole("button", { name: "Run dry run" }).click();
  const result = page.getByTestId("dry-run-result");
  await expect(result.getByRole("status")).toContainText("Would have fired 1 time for 1 key", { timeout: 30_000 });
  // The firing's value is the sighted hash (long values are shortened on screen).
  await expect(result.getByRole("table", { name: "Firings the rule would have raised" }).getByText(hash.slice(0, 40), { exact: false }).first()).toBeVisible();
  await expect(page).toHaveURL(/since=15m/);
  await expectAccessible(page, "rule dry run");

  await page.getByRole("switch", { name: "Active once created" }).uncheck();
  await page.getByRole("button", { name: "Create rule" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: `Created ${name}.` })).toBeVisible();
  await expect(page).toHaveURL(/since=15m/);

  // The saved rule runs as saved.
  await page.getByRole("button", { name: "Run dry run" }).click();
  await expect(page.getByTestId("dry-run-result").getByRole("status")).toContainText("Would have fired 1 time", { timeout: 30_000 });
  await screenshot(page, "rule");

  // A broken definition is refused by the form before the server sees it.
  await page.getByLabel("Definition (JSON)").fill("{ not json");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText(/Not valid JSON/).first()).toBeVisible();
  await page.getByRole("button", { name: "Discard changes" }).click();

  await page.getByRole("switch", { name: "Active" }).click();
  await expect(page.getByRole("status").filter({ hasText: `${name} is on` })).toBeVisible();
  await expect(page.getByRole("switch", { name: "Active" })).toBeChecked();
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: "Delete the rule?" }).getByRole("button", { name: "Delete rule" }).click();
  await expect(page).toHaveURL(/\/rules$/);
  await expect(page.getByRole("status").filter({ hasText: `Deleted ${name}.` })).toBeVisible();

  await api.call("DELETE", `/api/v1/watchlists/${list.id}`, undefined, 204);
  await api.dispose();
});

test("the ATT&CK matrix opens a technique in its side panel, kept in the URL", async ({ watched: page }) => {
  test.setTimeout(120_000);
  const api = await apiAs(accounts.admin);
  const found = await api.get("/api/v1/mitre-techniques?limit=50");
  type Row = { technique_id: string; technique_name: string; is_subtechnique: boolean; status: string; tactics: string[] };
  let technique: Row | undefined = (found.items as Row[]).find((row) => !row.is_subtechnique && row.status === "active" && row.tactics.length);
  if (!technique) {
    // No ATT&CK import in this database: a custom technique fills one cell.
    const id = `E2E${Date.now()}`;
    technique = await api.post("/api/v1/mitre-techniques", { technique_id: id, technique_name: `E2E technique ${id}`, tactics: ["execution"] });
  }
  await api.dispose();
  const { technique_id: id, technique_name: title } = technique!;

  await signIn(page, accounts.admin);
  await page.goto("/attack");
  const matrix = page.getByRole("region", { name: "ATT&CK matrix" });
  await expect(matrix.getByRole("group", { name: "Execution" })).toBeVisible();
  await matrix.getByRole("button", { name: new RegExp(`^${id} `) }).first().click();
  await expect(page).toHaveURL(new RegExp(`technique=${id}`));
  const panel = page.getByRole("complementary", { name: "Technique details" });
  await expect(panel.getByRole("heading", { level: 2, name: `${id} ${title}` })).toBeVisible();
  await expect(panel.getByRole("table", { name: "Mapped indicators" })).toBeVisible();
  await expectAccessible(page, "attack technique");
  await screenshot(page, "attack-technique");

  // The selection survives a reload; Escape closes the panel.
  await page.reload();
  await expect(page.getByRole("complementary", { name: "Technique details" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("complementary", { name: "Technique details" })).toHaveCount(0);
  await expect(page).not.toHaveURL(/technique=/);
});

test("an IOC collection is created and takes indicators by value", async ({ watched: page }) => {
  const api = await apiAs(accounts.admin);
  // An address: short enough to be shown whole (long values are cut in tables).
  const known = (await api.get("/api/v1/indicators?limit=1&type=ip")).items as { id: string; indicator_value: string }[];
  await api.dispose();
  const name = `e2e collection ${unique()}`;
  const missing = `missing-${Date.now()}.example`;
  await signIn(page, accounts.admin);
  await page.goto("/ioc-collections");
  await page.getByRole("button", { name: "New collection" }).click();
  const dialog = page.getByRole("dialog", { name: "New IOC collection" });
  await dialog.getByRole("textbox", { name: "Name", exact: true }).fill(name);
  await dialog.getByRole("button", { name: "Create collection" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();

  await page.getByLabel("Indicators to add").fill([missing, ...known.map((row) => row.indicator_value)].join("\n"));
  await page.getByRole("button", { name: /^Add / }).click();
  await expect(page.getByRole("status").filter({ hasText: `Added ${known.length} indicator` })).toBeVisible();
  await expect(page.getByText(`${missing}`, { exact: false }).first()).toBeVisible();
  if (known.length) {
    await expect(page.getByRole("table", { name: `Indicators of ${name}` }).getByText(known[0].indicator_value)).toBeVisible();
  }
  await expectAccessible(page, "ioc collection");
  await screenshot(page, "ioc-collection");
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: "Delete the collection?" }).getByRole("button", { name: "Delete collection" }).click();
  await expect(page).toHaveURL(/\/ioc-collections$/);
});

test("actors and campaigns are created and found by search", async ({ watched: page }) => {
  test.setTimeout(120_000);
  const id = unique();
  const actor = `E2E Actor ${id}`;
  const campaign = `E2E Campaign ${id}`;
  await signIn(page, accounts.admin);
  await page.goto("/actors");
  await page.getByRole("button", { name: "New actor" }).click();
  const dialog = page.getByRole("dialog", { name: "New threat actor" });
  await dialog.getByRole("textbox", { name: "Name", exact: true }).fill(actor);
  await dialog.getByLabel("Description").fill("Line one\n<script>window.__pwned = 1</script>");
  await dialog.getByRole("button", { name: "Add actor" }).click();
  await expect(page.getByRole("heading", { level: 1, name: actor })).toBeVisible();
  await expect(page.getByText("<script>window.__pwned = 1</script>", { exact: false })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  await expectAccessible(page, "actor");
  await screenshot(page, "actor");

  await page.goto(`/actors?q=${encodeURIComponent(id)}`);
  await expect(page.getByRole("table", { name: "Threat actors" }).getByRole("link", { name: actor })).toBeVisible();

  await page.goto("/campaigns");
  await page.getByRole("button", { name: "New campaign" }).click();
  const form = page.getByRole("dialog", { name: "New campaign" });
  await form.getByRole("textbox", { name: "Name", exact: true }).fill(campaign);
  await form.getByRole("button", { name: "Add campaign" }).click();
  await expect(page.getByRole("heading", { level: 1, name: campaign })).toBeVisible();
  await expectAccessible(page, "campaign");
  await screenshot(page, "campaign");
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: "Delete the campaign?" }).getByRole("button", { name: "Delete campaign" }).click();
  await expect(page).toHaveURL(/\/campaigns$/);

  await page.goto(`/actors?q=${encodeURIComponent(id)}`);
  await page.getByRole("link", { name: actor }).click();
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: "Delete the threat actor?" }).getByRole("button", { name: "Delete actor" }).click();
  await expect(page).toHaveURL(/\/actors$/);
});

test("a report is written as plain text, published and deleted", async ({ watched: page }) => {
  const title = `E2E report ${unique()}`;
  const payload = '<img src=x onerror="window.__pwned=1"> **not markdown**';
  await signIn(page, accounts.admin);
  await page.goto("/reports");
  await page.getByRole("link", { name: "New report" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "New report" })).toBeVisible();
  await page.getByRole("textbox", { name: "Title", exact: true }).fill(title);
  await page.getByLabel("Executive summary").fill("Short.");
  await page.getByLabel("Detailed analysis").fill(`First line\n${payload}`);
  await page.getByRole("button", { name: "Save draft" }).click();
  await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
  await expect(page.getByText(payload, { exact: false })).toBeVisible();
  await expect(page.locator("main img")).toHaveCount(0);
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Published ${title}.` })).toBeVisible();
  await expect(page.getByRole("button", { name: "Publish" })).toHaveCount(0);
  await expectAccessible(page, "report");
  await screenshot(page, "report");
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: "Delete the report?" }).getByRole("button", { name: "Delete report" }).click();
  await expect(page).toHaveURL(/\/reports$/);
});

test("a viewer sees the catalogue without any write control", async ({ watched: page }) => {
  const api = await apiAs(accounts.admin);
  const list = await api.post("/api/v1/watchlists", { name: `e2e viewer list ${unique()}`, list_type: "custom" });
  await signIn(page, accounts.viewer);
  await page.goto("/watchlists");
  await expect(page.getByRole("heading", { level: 1, name: "Watchlists" })).toBeVisible();
  await expect(page.getByRole("button", { name: "New watchlist" })).toHaveCount(0);
  await page.goto(`/watchlists/${list.id}`);
  await expect(page.getByRole("heading", { level: 1, name: list.name })).toBeVisible();
  for (const control of ["Edit", "Delete", "Add items"]) await expect(page.getByRole("button", { name: control })).toHaveCount(0);
  await expect(page.getByLabel("Values to add")).toHaveCount(0);
  await page.goto("/rules");
  await expect(page.getByRole("heading", { level: 1, name: "Correlation rules" })).toBeVisible();
  await expect(page.getByRole("link", { name: "New rule" })).toHaveCount(0);
  for (const path of ["/actors", "/campaigns", "/reports", "/ioc-collections"]) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await expect(page.getByRole("button", { name: /^New / })).toHaveCount(0);
    await expect(page.getByRole("link", { name: /^New / })).toHaveCount(0);
  }
  await api.call("DELETE", `/api/v1/watchlists/${list.id}`, undefined, 204);
  await api.dispose();
});
