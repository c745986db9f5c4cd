// Times page loads in Debian's chromium against a served production build; prints JSON.
// Run by bench/ui.py, which serves the app and passes BASE, USERNAME, PASSWORD, RUNS, PREFIX.
import { chromium } from "@playwright/test";

const base = process.env.BASE;
const runs = Number(process.env.RUNS ?? "7");
const prefix = process.env.PREFIX ?? "10.";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function signedInContext() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const response = await context.request.post(`${base}/api/v1/auth/login`, {
    data: { username: process.env.USERNAME, password: process.env.PASSWORD },
  });
  if (!response.ok()) throw new Error(`login: ${response.status()}`);
  return context;
}

async function timed(page, url, ready) {
  const start = Date.now();
  await page.goto(url);
  await ready(page);
  return Date.now() - start;
}

const results = { floor: [], dashboard: [], dashboard_dom: [], indicators: [], filter: [] };
for (let run = 0; run < runs; run++) {
  // A new context each run: an empty cache, as a first visit.
  const context = await signedInContext();
  const page = await context.newPage();
  results.floor.push(await timed(page, `${base}/healthz`, async () => {}));
  results.dashboard.push(
    await timed(page, `${base}/`, async (p) => {
      // The figures are in and the lazily loaded chart has drawn its bars.
      await p.getByTestId("dashboard-ready").waitFor({ timeout: 30_000 });
      await p.locator(".recharts-surface").first().waitFor({ timeout: 30_000 });
    }),
  );
  results.dashboard_dom.push(
    await page.evaluate(() => {
      const [navigation] = performance.getEntriesByType("navigation");
      return Math.round(navigation.domContentLoadedEventEnd - navigation.startTime);
    }),
  );
  results.indicators.push(
    await timed(page, `${base}/indicators`, (p) => p.locator("tbody tr td a").first().waitFor({ timeout: 30_000 })),
  );
  const start = Date.now();
  await page.getByLabel("Value starts with").fill(prefix);
  await page.waitForFunction(
    (wanted) => {
      const cells = [...document.querySelectorAll("tbody tr td a")];
      return cells.length > 0 && cells.every((cell) => (cell.textContent ?? "").startsWith(wanted));
    },
    prefix,
    { timeout: 30_000 },
  );
  results.filter.push(Date.now() - start);
  await context.close();
}
await browser.close();
console.log(JSON.stringify(results));
