// What every browser test shares: the seeded accounts, signing in, TOTP codes, the axe scan,
// a watch for CSP violations and page errors, screenshots, and an API session for set-up.
import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, request, type APIRequestContext, type Page } from "@playwright/test";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";

export interface Account {
  username: string;
  password: string;
  id: string;
  totp_secret?: string;
}

export const accounts: Record<"admin" | "analyst" | "viewer" | "newcomer", Account> = JSON.parse(
  process.env.E2E_ACCOUNTS ?? "{}",
);
export const baseURL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:8000";
export const sharedData = process.env.E2E_SHARED_DATA ?? "";

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret. */
export function totp(secret: string, at: number = Date.now()): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "").toUpperCase()) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  }
  const bytes = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const digest = createHmac("sha1", bytes).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const code = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, "0");
}

/** Sign in through the form (with the TOTP step for an account that has MFA). */
export async function signIn(page: Page, who: Account): Promise<void> {
  await page.goto("/");
  await page.getByLabel("Username or e-mail").fill(who.username);
  // A required field's label ends in " *".
  await page.getByLabel(/^Password\b/).fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  if (who.totp_secret) {
    const code = page.getByLabel("Authenticator code");
    await expect(code).toBeVisible();
    await code.fill(totp(who.totp_secret));
    await page.getByRole("button", { name: "Verify and sign in" }).click();
  }
  await expect(page.getByRole("navigation", { name: "Main navigation" })).toBeVisible();
}

/** A REST session signed in as the account (cookie, plus the CSRF header on changes). */
export class Api {
  constructor(
    readonly context: APIRequestContext,
    readonly csrf: string,
  ) {}

  async call(method: string, url: string, data?: unknown, expected = 0): Promise<any> {
    const response = await this.context.fetch(url, {
      method,
      data,
      headers: method === "GET" ? {} : { "X-CSRF-Token": this.csrf },
    });
    const text = await response.text();
    if (expected && response.status() !== expected) {
      throw new Error(`${method} ${url}: ${response.status()} ${text}`);
    }
    if (!expected && !response.ok()) throw new Error(`${method} ${url}: ${response.status()} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  get = (url: string) => this.call("GET", url);
  post = (url: string, data?: unknown) => this.call("POST", url, data);
  patch = (url: string, data?: unknown) => this.call("PATCH", url, data);

  async status(method: string, url: string, data?: unknown): Promise<number> {
    const response = await this.context.fetch(url, { method, data, headers: { "X-CSRF-Token": this.csrf } });
    return response.status();
  }

  dispose = () => this.context.dispose();
}

export async function apiAs(who: Account): Promise<Api> {
  const context = await request.newContext({ baseURL });
  const body: Record<string, string> = { username: who.username, password: who.password };
  if (who.totp_secret) body.otp = totp(who.totp_secret);
  const response = await context.post("/api/v1/auth/login", { data: body });
  if (!response.ok()) throw new Error(`login ${who.username}: ${response.status()} ${await response.text()}`);
  const { csrf_token } = (await response.json()) as { csrf_token: string };
  return new Api(context, csrf_token);
}

/** No serious or critical accessibility violation on the page as it is now. */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const summary = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  expect(summary, `accessibility of ${name}`).toEqual([]);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  const folder = path.join("test-results", "screenshots");
  mkdirSync(folder, { recursive: true });
  await page.screenshot({ path: path.join(folder, `${name}.png`), fullPage: true });
}

/** A page that fails the test on any CSP violation, uncaught error or executed payload. */
export const test = base.extend<{ watched: Page }>({
  watched: async ({ page }, use) => {
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      const text = message.text();
      if (/Content Security Policy|Refused to (apply|execute|load)/i.test(text)) problems.push(`CSP: ${text}`);
    });
    page.on("dialog", (dialog) => {
      problems.push(`a dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await use(page);
    expect(problems, "CSP violations, page errors or dialogs").toEqual([]);
  },
});

export { expect };
