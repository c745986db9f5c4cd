// The dashboard: figures from one summary request, the chart loaded after the page paints,
// the window and the stacking in the URL, and feed health that names the failing feed.
import { accounts, apiAs, expect, expectAccessible, screenshot, signIn, test } from "./fixtures";

/** A disabled text feed of our own, with one upload that stores a fresh address. */
async function feedWithIndicator(stamp: number): Promise<{ name: string; address: string }> {
  const admin = await apiAs(accounts.admin);
  const name = `e2e-dashboard-${stamp}`;
  const address = `45.${(stamp >> 16) & 255}.${(stamp >> 8) & 255}.${(stamp & 254) + 1}`;
  const feed = await admin.post("/api/v1/feeds", {
    name, url: "https://feeds.invalid/dashboard.txt", format: "text", source: `e2e-dashboard-src-${stamp}`,
  });
  await admin.patch(`/api/v1/feeds/${feed.id}`, { is_active: false });
  const response = await admin.context.fetch(`/api/v1/feeds/${feed.id}/upload`, {
    method: "POST",
    headers: { "X-CSRF-Token": admin.csrf },
    multipart: { file: { name: "dashboard.txt", mimeType: "text/plain", buffer: Buffer.from(`# e2e\n${address}\n`) } },
  });
  expect(response.status(), await response.text()).toBe(200);
  await admin.dispose();
  return { name, address };
}

test("the dashboard shows totals, the chart, counts and feed health, with its view in the URL", async ({ watched: page }) => {
  const { name } = await feedWithIndicator(Date.now());
  await signIn(page, accounts.admin);
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await expect(page.getByText(/^Live\. Alerts and incidents update as they happen/)).toBeVisible();

  const totals = page.getByRole("region", { name: "Totals" });
  for (const label of ["Indicators", "Open alerts", "Open incidents", "Feeds", "OSINT entities"]) {
    await expect(totals.getByRole("link", { name: new RegExp(`^${label}: [\\d,]+\\.`) })).toBeVisible();
  }
  const indicators = await totals.getByRole("link", { name: /^Indicators: / }).getAttribute("aria-label");
  expect(Number(/^Indicators: ([\d,]+)/.exec(indicators ?? "")?.[1].replace(/,/g, ""))).toBeGreaterThan(0);

  const chart = page.getByRole("img", { name: /^New indicators per day, stacked by type\. / });
  await expect(chart).toBeVisible();
  // The chart's own code arrives after the figures; the bars are drawn once it has.
  await expect(chart.locator("svg").first()).toBeVisible();
  await expect(page.getByTestId("chart-summary")).toContainText(/new indicators in the last 14 days: .*\d/);

  await expect(page.getByRole("list", { name: "Open alerts by severity" }).getByRole("listitem")).toHaveCount(5);
  await expect(page.getByRole("list", { name: "Incidents by status" }).getByRole("listitem")).toHaveCount(4);
  const health = page.getByRole("table", { name: /^Feed health/ });
  await expect(health.getByRole("row").filter({ hasText: name })).toContainText("ok");
  await expectAccessible(page, "dashboard");
  await screenshot(page, "dashboard");

  // By source and a 30-day window: both in the URL, both survive a reload.
  await page.getByText("By source", { exact: true }).click();
  await expect(page).toHaveURL(/[?&]by=source/);
  await page.getByText("30 days", { exact: true }).click();
  await expect(page).toHaveURL(/[?&]days=30/);
  await page.reload();
  await expect(page.getByRole("heading", { level: 2, name: "New indicators per day, by source" })).toBeVisible();
  await expect(page.getByRole("img", { name: /stacked by source\. / })).toBeVisible();
  await expect(page.getByTestId("chart-summary")).toContainText("in the last 30 days");
  // Sources beyond the largest few are summed as "other"; another spec's may outnumber ours.
  await expect(page.getByTestId("chart-summary")).toContainText(/first reports by a source in the last 30 days: \S.* \d/);
  await expect(page.getByRole("radio", { name: "30 days" })).toBeChecked();
  await expectAccessible(page, "dashboard by source");

  // A card leads to its list with the matching filter, and a feed row to its feed.
  await totals.getByRole("link", { name: /^Open alerts: / }).click();
  await expect(page).toHaveURL(/\/alerts$/);
  await page.goBack();
  await health.getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { level: 1, name: `Feed ${name}` })).toBeVisible();
});

test("a viewer sees the same figures", async ({ watched: page }) => {
  await signIn(page, accounts.viewer);
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Totals" }).getByRole("link")).toHaveCount(5);
  await expect(page.getByRole("table", { name: /^Feed health/ })).toBeVisible();
  await expectAccessible(page, "dashboard as a viewer");
});
