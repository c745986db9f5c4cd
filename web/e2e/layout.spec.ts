// The console fits a 1280 px window and a laptop screen: no page scrolls sideways (wide
// tables scroll inside their own frame), and the navigation stays reachable.
import { accounts, expect, signIn, test } from "./fixtures";

const PAGES = [
  "/",
  "/indicators",
  "/feeds",
  "/feeds?tab=templates",
  "/alerts",
  "/incidents",
  "/watchlists",
  "/rules",
  "/ioc-collections",
  "/actors",
  "/campaigns",
  "/attack",
  "/reports",
  "/osint/collections",
  "/osint/entities",
  "/osint/graph",
  "/search?q=example",
  "/admin/users",
  "/admin/audit",
  "/profile",
];

for (const size of [
  { width: 1280, height: 800 },
  { width: 1366, height: 768 },
]) {
  test(`no page scrolls sideways at ${size.width}×${size.height}`, async ({ watched: page }) => {
    test.setTimeout(180_000);
    await page.setViewportSize(size);
    await signIn(page, accounts.admin);
    const overflowing: string[] = [];
    for (const path of PAGES) {
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      await page.waitForLoadState("networkidle");
      const excess = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (excess > 1) overflowing.push(`${path} (+${excess}px)`);
    }
    expect(overflowing).toEqual([]);
    await expect(page.getByRole("navigation", { name: "Main navigation" })).toBeVisible();
  });
}
