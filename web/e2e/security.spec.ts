// Attacker-controlled strings (indicator values from a feed, entity names from a public list,
// alert titles built from them) are shown as inert text: nothing they carry ever runs.
import { accounts, apiAs, baseURL, expect, signIn, test, type Api } from "./fixtures";

const stamp = Date.now();
// Not under a reserved name (example.com is on a warninglist, which would keep it quiet).
const DOMAIN = `xss-${stamp}.hostile-e2e.ru`;
const FAMILY = "<script>window.__xss=4</script>";
const TAG = "<img src=x onerror=window.__xss=5>";
// Stored percent-encoded where a URL needs it; the javascript: part stays as it came.
const URL_VALUE = `http://${DOMAIN}/"><img src=x onerror="window.__xss=6">?next=javascript:window.__xss=7`;

function csvCell(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

async function upload(api: Api, feed: string, text: string): Promise<void> {
  const response = await api.context.post(`/api/v1/feeds/${feed}/upload`, {
    headers: { "X-CSRF-Token": api.csrf },
    multipart: { file: { name: "hostile.csv", mimeType: "text/csv", buffer: Buffer.from(text) } },
  });
  expect(response.status(), await response.text()).toBe(200);
}

async function waitForCollection(api: Api, id: string): Promise<string> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const status = await api.get(`/api/v1/collections/${id}/status`);
    if (["completed", "failed", "cancelled"].includes(status.status)) return status.status;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return "timed out";
}

async function expectNothingRan(page: import("@playwright/test").Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  // No element built from a payload: no injected script, image or javascript: link.
  expect(await page.locator("main script, main img[src='x'], a[href^='javascript:' i]").count()).toBe(0);
}

test.beforeAll(async () => {
  const admin = await apiAs(accounts.admin);
  // Watched, so that the feed's rows raise alerts whose titles carry the values.
  const watchlist = await admin.post("/api/v1/watchlists", { name: `hostile-${stamp}`, list_type: "domain_blacklist" });
  await admin.post(`/api/v1/watchlists/${watchlist.id}/items`, { items: [DOMAIN, URL_VALUE] });
  const feed = await admin.post("/api/v1/feeds", {
    name: `hostile-feed-${stamp}`,
    url: `https://feeds-${stamp}.example.org/list.csv`,
    format: "csv",
    source: `Hostile source ${stamp}`,
    parsing_rules: { header: true, columns: { value: "value", malware_family: "family", tags: "tags" } },
  });
  await upload(
    admin,
    feed.id,
    `value,family,tags\n${csvCell(DOMAIN)},${csvCell(FAMILY)},${csvCell(TAG)}\n${csvCell(URL_VALUE)},,\n`,
  );
  const collection = await admin.post("/api/v1/collections", {
    name: `hostile-list-${stamp}`,
    collector: "public_db",
    config: { path: "hostile-sanctions.csv" },
  });
  await admin.post(`/api/v1/collections/${collection.id}/run`);
  expect(await waitForCollection(admin, collection.id)).toBe("completed");
  await admin.dispose();
});

test("hostile indicator values, alert titles and entity names are shown as text", async ({ watched: page }) => {
  await signIn(page, accounts.admin);

  // The feed's malware family and tag: markup, shown as text in the list and on the page.
  await page.goto(`/indicators?q=${encodeURIComponent(DOMAIN)}`);
  await page.getByRole("link", { name: DOMAIN }).click();
  await expect(page.getByRole("heading", { level: 1, name: DOMAIN })).toBeVisible();
  await expect(page.getByText(FAMILY).first()).toBeVisible();
  await expect(page.getByText(TAG).first()).toBeVisible();
  await expectNothingRan(page);

  // Full-text search, from the table, finds the domain by one of its labels.
  await page.goto("/indicators");
  await page.getByLabel("Value starts with").fill(String(stamp));
  await page.getByRole("link", { name: "Full-text search" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Search" })).toBeVisible();
  await expect(page).toHaveURL(/index=indicators/);
  await expect(page.getByRole("link", { name: DOMAIN }).first()).toBeVisible();
  await expectNothingRan(page);

  // A URL that ends in a javascript: address is text, never a link.
  await page.goto(`/indicators?q=${encodeURIComponent(`http://${DOMAIN}/`)}`);
  // Long values are cut in the table, and whole in the cell's tooltip text.
  await expect(page.locator('[title*="javascript:window.__xss=7"]').first()).toBeVisible();
  await expectNothingRan(page);

  // The alerts the watchlist raised carry the values in their titles.
  await page.goto(`/alerts?q=${encodeURIComponent(DOMAIN)}`);
  await expect(page.getByText(DOMAIN, { exact: false }).first()).toBeVisible();
  await expectNothingRan(page);

  await page.goto(`/osint/entities?q=${encodeURIComponent("<script>window")}`);
  await expect(page.getByText("<script>window.__xss=1</script> Holdings").first()).toBeVisible();
  await expectNothingRan(page);

  await page.goto(`/search?q=${encodeURIComponent("Holdings")}`);
  await expect(page.getByText("window.__xss=1", { exact: false }).first()).toBeVisible();
  await expectNothingRan(page);

  await page.goto(`/search?q=${encodeURIComponent('"><img src=x onerror=alert(1)>')}`);
  await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  await expectNothingRan(page);
  expect(baseURL).toBeTruthy();
});
