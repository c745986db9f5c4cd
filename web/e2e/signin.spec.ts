import { accounts, apiAs, expect, expectAccessible, screenshot, signIn, test } from "./fixtures";

test("the sign-in page is accessible and refuses a wrong password with the API's message", async ({ watched: page }) => {
  await page.goto("/");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await expectAccessible(page, "sign-in");
  await screenshot(page, "signin");
  await page.getByLabel("Username or e-mail").fill(accounts.admin.username);
  await page.getByLabel(/^Password\b/).fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("problem")).toContainText("Cannot sign in");
});

test("an account with MFA signs in with its authenticator code", async ({ watched: page }) => {
  await signIn(page, accounts.analyst);
  await expect(page.getByRole("button", { name: "Account menu" })).toContainText("e2e-analyst");
});

test("a one-time password must be changed before anything else", async ({ watched: page }) => {
  const who = accounts.newcomer;
  await page.goto("/");
  await page.getByLabel("Username or e-mail").fill(who.username);
  await page.getByLabel(/^Password\b/).fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Choose your password" })).toBeVisible();
  await expectAccessible(page, "first-login password");
  await page.getByLabel(/^Current password/).fill(who.password);
  await page.getByLabel(/^New password\s*\*?$/).fill("A-new-and-long-passphrase-7");
  await page.getByLabel(/^New password again/).fill("A-new-and-long-passphrase-7");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("navigation", { name: "Main navigation" })).toBeVisible();
  const api = await apiAs({ ...who, password: "A-new-and-long-passphrase-7" });
  const me = await api.get("/api/v1/auth/me");
  expect(me.user.must_change_password).toBe(false);
  await api.dispose();
});

test("every response carries a strict content security policy", async ({ page }) => {
  const response = await page.goto("/");
  const csp = response?.headers()["content-security-policy"] ?? "";
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain("unsafe-inline");
  expect(csp).not.toContain("unsafe-eval");
});
