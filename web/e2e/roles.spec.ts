// A viewer reads everything and changes nothing: no write control is shown, and forcing a
// change through the API (with a valid session and CSRF token) is refused with 403.
import { accounts, apiAs, expect, expectAccessible, signIn, test } from "./fixtures";

const WRITE_CONTROL = /^(add|create|new|delete|remove|run now|upload|save|edit|acknowledge|resolve|assign|mark|publish|rescore|merge|split|import|enable|disable|revoke)\b/i;

const PAGES = [
  "/",
  "/indicators",
  "/feeds",
  "/alerts",
  "/incidents",
  "/watchlists",
  "/rules",
  "/ioc-collections",
  "/actors",
  "/campaigns",
  "/reports",
  "/osint/collections",
  "/osint/entities",
];

test("a viewer sees no write controls on any page", async ({ watched: page }) => {
  await signIn(page, accounts.viewer);
  await expect(page.getByRole("link", { name: "Users" })).toHaveCount(0);
  for (const path of PAGES) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await page.waitForLoadState("networkidle");
    const names = await page.getByRole("button").evaluateAll((buttons) =>
      buttons.map((button) => (button.getAttribute("aria-label") ?? button.textContent ?? "").trim()),
    );
    const writes = names.filter((name) => WRITE_CONTROL.test(name));
    expect(writes, `write controls on ${path}`).toEqual([]);
    expect(await page.getByRole("checkbox", { name: /select/i }).count(), `row selection on ${path}`).toBe(0);
  }
  await expectAccessible(page, "viewer view");
});

test("a viewer who forces a change gets 403", async ({ watched: page }) => {
  const viewer = await apiAs(accounts.viewer);
  expect(await viewer.status("POST", "/api/v1/watchlists", { name: `forced-${Date.now()}`, list_type: "custom" })).toBe(403);
  expect(await viewer.status("POST", "/api/v1/feeds", { name: `forced-${Date.now()}` })).toBe(403);
  expect(await viewer.status("GET", "/api/v1/users")).toBe(403);
  const indicators = await viewer.get("/api/v1/indicators?limit=1");
  if (indicators.items.length > 0) {
    const id = indicators.items[0].id;
    expect(await viewer.status("PATCH", `/api/v1/indicators/${id}`, { false_positive: true })).toBe(403);
  }
  await viewer.dispose();

  // The same from the page itself, with the viewer's own cookie and CSRF token.
  await signIn(page, accounts.viewer);
  const status = await page.evaluate(async () => {
    const token = document.cookie.split("; ").find((part) => part.startsWith("krsn_csrf="))?.split("=")[1] ?? "";
    const response = await fetch("/api/v1/watchlists", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": decodeURIComponent(token) },
      body: JSON.stringify({ name: "forced from the page", list_type: "custom" }),
    });
    return response.status;
  });
  expect(status).toBe(403);
  await page.goto("/admin/users");
  await expect(page.getByText("Administrators only")).toBeVisible();
});
