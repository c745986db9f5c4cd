// Triage end to end: an alert raised by a sighting of a watched address, worked with the
// keyboard, promoted to an incident, and the incident's notes, status, links and list.
import { accounts, apiAs, expect, expectAccessible, screenshot, signIn, test, type Api } from "./fixtures";

// One long flow per test on a shared server: give each room when the machine is busy.
test.describe.configure({ timeout: 180_000 });

interface Raised {
  watchlist: string;
  ips: string[];
  ids: Record<string, string>;
}

const octet = () => 1 + Math.floor(Math.random() * 253);

/** A watchlist of its own with fresh addresses, each seen once (oldest first): one alert each. */
async function raiseAlerts(api: Api, count: number): Promise<Raised> {
  const watchlist = `triage-${Date.now()}-${octet()}`;
  const ips = Array.from({ length: count }, (_, index) => `198.18.${octet()}.${index + 1}`);
  const list = await api.post("/api/v1/watchlists", { name: watchlist, list_type: "ip_blacklist" });
  await api.post(`/api/v1/watchlists/${list.id}/items`, { items: ips });
  const start = Date.now() - 60_000 * count;
  for (const [index, ip] of ips.entries()) {
    const report = await api.post("/api/v1/sightings", [
      {
        value: ip,
        observed_at: new Date(start + index * 60_000).toISOString(),
        host: "ws-e2e",
        // Markup in the context must come back as text.
        context: { process: "<img src=x onerror=alert(1)>", line: "<script>alert(2)</script>" },
      },
    ]);
    expect(report.alerts_created, `an alert for ${ip}`).toBe(1);
  }
  const page = await api.get(`/api/v1/alerts?q=${encodeURIComponent(watchlist)}&limit=10`);
  const ids: Record<string, string> = {};
  for (const item of page.items as { id: string; title: string }[]) {
    const ip = ips.find((candidate) => item.title.startsWith(`${candidate} `));
    if (ip) ids[ip] = item.id;
  }
  expect(Object.keys(ids)).toHaveLength(count);
  return { watchlist, ips, ids };
}

const titleOf = (ip: string, watchlist: string) => `${ip} seen: on watchlist ${watchlist}`;

test("an alert is worked with the keyboard, promoted to an incident, and noted", async ({ watched: page }) => {
  const api = await apiAs(accounts.admin);
  const { watchlist, ips, ids } = await raiseAlerts(api, 2);
  const [older, newer] = ips;

  await signIn(page, accounts.admin);
  await page.goto(`/alerts?q=${encodeURIComponent(watchlist)}`);
  const queue = page.getByRole("table", { name: "Alert queue" });
  await expect(queue.getByRole("link")).toHaveCount(2);
  // Newest first: the later sighting heads the queue.
  await expect(queue.getByRole("link").first()).toHaveText(titleOf(newer, watchlist));

  await queue.getByRole("link", { name: titleOf(newer, watchlist) }).click();
  const detail = page.getByRole("region", { name: "Selected alert" });
  await expect(detail.getByRole("heading", { level: 2 })).toHaveText(titleOf(newer, watchlist));
  await expect(page).toHaveURL(new RegExp(`alert=${ids[newer]}`));
  await expect(detail.getByText("<script>alert(2)</script>", { exact: false })).toBeVisible();
  await expectAccessible(page, "alerts");
  await screenshot(page, "alerts");

  // j and k move through the queue; the selection is in the URL.
  await page.keyboard.press("j");
  await expect(page).toHaveURL(new RegExp(`alert=${ids[older]}`));
  await expect(detail.getByRole("heading", { level: 2 })).toHaveText(titleOf(older, watchlist));
  await page.keyboard.press("k");
  await expect(page).toHaveURL(new RegExp(`alert=${ids[newer]}`));
  await expect(detail.getByRole("heading", { level: 2 })).toHaveText(titleOf(newer, watchlist));

  // a acknowledges (investigating, assigned to me) and moves on to the next alert.
  await page.keyboard.press("a");
  await expect(page.getByRole("status")).toHaveText(`Acknowledged: ${titleOf(newer, watchlist)}`);
  await expect(page).toHaveURL(new RegExp(`alert=${ids[older]}`));
  await expect(detail.getByRole("heading", { level: 2 })).toHaveText(titleOf(older, watchlist));
  const acknowledged = await api.get(`/api/v1/alerts/${ids[newer]}`);
  expect(acknowledged.status).toBe("investigating");
  expect(acknowledged.assigned_user_id).toBe(accounts.admin.id);
  await expect(queue.getByRole("row", { name: new RegExp(newer.replace(/\./g, "\\.")) })).toContainText("investigating");

  // The selection survives a reload.
  await page.reload();
  await expect(detail.getByRole("heading", { level: 2 })).toHaveText(titleOf(older, watchlist));

  // Back to the acknowledged alert; i opens an incident from it and goes there.
  await page.keyboard.press("k");
  await expect(detail.getByRole("heading", { level: 2 })).toHaveText(titleOf(newer, watchlist));
  await page.keyboard.press("i");
  await page.waitForURL(/\/incidents\/[0-9a-f-]{36}$/);
  const heading = page.getByRole("heading", { level: 1 });
  await expect(heading).toContainText(titleOf(newer, watchlist));
  await expect(heading).toContainText(/INC-\d{4}-\d{4}/);
  const incidentId = page.url().split("/").pop()!;
  const timeline = page.getByRole("region", { name: "Timeline" });
  await expect(timeline).toContainText("from an alert");
  await expect(timeline).toContainText("Alert linked");
  await expect(page.getByRole("region", { name: /^Alerts/ }).getByRole("link", { name: titleOf(newer, watchlist) })).toBeVisible();
  await expectAccessible(page, "incident");

  // A note keeps its line breaks and its markup as text.
  const note = `First line ${watchlist}\nsecond <b>line</b> <img src=x onerror=alert(3)>`;
  await page.getByLabel("Add a note").fill(note);
  await page.getByRole("button", { name: "Add note" }).click();
  await expect(page.getByRole("status")).toHaveText("Note added.");
  const written = timeline.getByTestId("timeline-text").filter({ hasText: `First line ${watchlist}` });
  await expect(written).toHaveText(note);
  expect(await written.evaluate((element) => getComputedStyle(element).whiteSpace)).toBe("pre-wrap");
  expect(await written.evaluate((element) => element.querySelector("b, img"))).toBeNull();

  // Status moves on through the header; the timeline records it.
  await page.getByRole("combobox", { name: "Status" }).click();
  await page.getByRole("option", { name: "contained" }).click();
  await expect(page.getByRole("status")).toHaveText("Status changed to contained.");
  await expect(timeline).toContainText("Status open → contained");
  const incident = await api.get(`/api/v1/incidents/${incidentId}`);
  expect(incident.status).toBe("contained");

  // Another alert is linked from the incident page, then unlinked again.
  await page.getByRole("combobox", { name: "Link an active alert" }).fill(older);
  await page.getByRole("option", { name: titleOf(older, watchlist) }).click();
  await page.getByRole("button", { name: "Link alert", exact: true }).click();
  await expect(page.getByRole("status")).toHaveText(`Alert linked: ${titleOf(older, watchlist)}`);
  await page.getByRole("button", { name: `Unlink alert ${titleOf(older, watchlist)}` }).click();
  await expect(page.getByRole("status")).toHaveText("Alert unlinked.");
  await expect(timeline).toContainText("Alert unlinked");

  // The incident's own indicator list takes a value as pasted, when the database has one.
  const known = await api.get("/api/v1/indicators?limit=1&type=ip");
  if (known.items.length > 0) {
    const value: string = known.items[0].indicator_value;
    await page.getByLabel("Indicator value or id").fill(value);
    await page.getByRole("button", { name: "Link indicator", exact: true }).click();
    await expect(page.getByRole("status")).toHaveText(`Indicator linked: ${value}`);
    await expect(page.getByRole("region", { name: /^Indicators/ }).getByRole("link", { name: value })).toBeVisible();
  }
  await screenshot(page, "incident");
  await api.dispose();
});

test("incidents are listed with their filters in the URL and opened from the form", async ({ watched: page }) => {
  const title = `Manual incident ${Date.now()}`;
  await signIn(page, accounts.admin);
  await page.goto("/incidents");
  await expect(page.getByRole("heading", { level: 1, name: "Incidents" })).toBeVisible();
  await page.getByRole("button", { name: "New incident" }).click();
  await expect(page).toHaveURL(/new=1/);
  await expectAccessible(page, "incidents with the form");

  // The form says what is missing rather than sending it.
  await page.getByRole("button", { name: "Open incident" }).click();
  await expect(page.getByText("Give the incident a title.")).toBeVisible();
  await page.getByRole("textbox", { name: "Title", exact: true }).fill(title);
  await page.getByLabel("Affected assets (one a line)").fill("ws-042\nmail.example.org");
  await page.getByRole("button", { name: "Open incident" }).click();
  await page.waitForURL(/\/incidents\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(title);
  await expect(page.getByText("mail.example.org")).toBeVisible();

  await page.goto(`/incidents?q=${encodeURIComponent(title)}`);
  const table = page.getByRole("table", { name: "Incidents" });
  await expect(table.getByRole("link", { name: title })).toBeVisible();
  await page.getByRole("combobox", { name: "Status" }).click();
  await page.getByRole("option", { name: "resolved" }).click();
  await expect(page).toHaveURL(/status=resolved/);
  await expect(page.getByTestId("empty")).toContainText("No incident matches these filters.");
  await page.reload();
  await expect(page.getByRole("combobox", { name: "Status" })).toHaveValue("resolved");
  await page.getByRole("button", { name: "Clear filters" }).click();
  await expect(table.getByRole("link", { name: "INC-" }).first()).toBeVisible();
  await expectAccessible(page, "incidents");
  await screenshot(page, "incidents");
});

test("a viewer reads the queue and the incident but has no way to change them", async ({ watched: page }) => {
  const api = await apiAs(accounts.admin);
  const { watchlist, ips, ids } = await raiseAlerts(api, 1);
  const incident = await api.post(`/api/v1/alerts/${ids[ips[0]]}/incident`);

  await signIn(page, accounts.viewer);
  await page.goto(`/alerts?q=${encodeURIComponent(watchlist)}&status=all`);
  await expect(page.getByRole("table", { name: "Alert queue" }).getByRole("link")).toHaveCount(1);
  await page.keyboard.press("j");
  const detail = page.getByRole("region", { name: "Selected alert" });
  await expect(detail.getByRole("heading", { level: 2 })).toHaveText(titleOf(ips[0], watchlist));
  await expect(detail.getByRole("button")).toHaveCount(0);
  await expect(page.getByText("acknowledge", { exact: true })).toHaveCount(0);
  await page.keyboard.press("a");
  await page.keyboard.press("r");
  expect((await api.get(`/api/v1/alerts/${ids[ips[0]]}`)).status).toBe("investigating");

  await page.goto(`/incidents/${incident.id}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(incident.incident_number);
  await expect(page.getByLabel("Add a note")).toHaveCount(0);
  await expect(page.getByRole("button", { name: /Unlink/ })).toHaveCount(0);
  await expectAccessible(page, "incident as a viewer");
  await api.dispose();
});
