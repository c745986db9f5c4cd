// Administration and the profile: every page passes the accessibility scan; one-time
// passwords and API keys are shown once; a new user enrols MFA and signs in with it.
import { accounts, apiAs, expect, expectAccessible, screenshot, signIn, test, totp } from "./fixtures";

const PAGES = [
  { path: "/admin/users", heading: "Users", shot: "users" },
  { path: "/admin/organizations", heading: "Organizations", shot: "organizations" },
  { path: "/admin/roles", heading: "Roles", shot: "roles" },
  { path: "/admin/audit", heading: "Audit log", shot: "audit" },
  { path: "/admin/config", heading: "Configuration", shot: "config" },
  { path: "/profile", heading: "Profile", shot: "profile" },
];

test("every admin page and the profile are accessible", async ({ watched: page }) => {
  await signIn(page, accounts.admin);
  for (const item of PAGES) {
    await page.goto(item.path);
    await expect(page.getByRole("heading", { level: 1, name: item.heading })).toBeVisible();
    await expect(page.locator("[aria-busy='true']")).toHaveCount(0);
    await expectAccessible(page, item.shot);
    await screenshot(page, item.shot);
  }
  // The matrix shows what the server enforces: a viewer may read but not change intelligence.
  await page.goto("/admin/roles");
  await expect(page.getByTestId("viewer-read")).toHaveText("✓allowed");
  await expect(page.getByTestId("viewer-write_intel")).toContainText("not allowed");
});

test("a new user's one-time password is shown once", async ({ watched: page }) => {
  const username = `e2e-user-${Date.now()}`;
  await signIn(page, accounts.admin);
  await page.goto("/admin/users");
  await page.getByRole("button", { name: "New user" }).click();
  const form = page.getByRole("dialog", { name: "New user" });
  await form.getByLabel("Username").fill(username);
  await form.getByLabel("E-mail").fill(`${username}@e2e.example.org`);
  await form.getByRole("button", { name: "Create user" }).click();

  const shown = page.getByRole("dialog", { name: `One-time password for ${username}` });
  await expect(shown).toBeVisible();
  const password = (await shown.getByTestId("secret-once").innerText()).trim();
  expect(password.length).toBeGreaterThan(8);
  await expectAccessible(page, "one-time password");
  await shown.getByRole("button", { name: "I have stored it" }).click();
  await expect(shown).toBeHidden();
  await expect(page.getByText(password)).toHaveCount(0);
  await expect(page.getByRole("status")).toContainText(`${username} created.`);

  // It works once, and must be changed at first sign-in.
  const fresh = await apiAs({ username, password, id: "" });
  expect((await fresh.get("/api/v1/auth/me")).user.must_change_password).toBe(true);
  await fresh.dispose();

  // The filter lives in the URL; after a reload the password is nowhere.
  await page.getByRole("textbox", { name: "Search", exact: true }).fill(username);
  await expect(page).toHaveURL(new RegExp(`q=${username}`));
  await page.reload();
  await expect(page.getByRole("cell", { name: username, exact: true })).toBeVisible();
  await expect(page.getByText(password)).toHaveCount(0);

  // Edit the role, then delete the user behind a confirmation.
  await page.getByRole("button", { name: `Edit ${username}` }).click();
  const edit = page.getByRole("dialog", { name: `Edit ${username}` });
  await edit.getByRole("combobox", { name: "Role" }).click();
  await page.getByRole("option", { name: "viewer" }).click();
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(edit).toBeHidden();
  await expect(page.getByRole("row", { name: new RegExp(username) })).toContainText("viewer");
  await page.getByRole("button", { name: `Delete ${username}` }).click();
  await page.getByRole("dialog", { name: "Delete user" }).getByRole("button", { name: "Delete user" }).click();
  await expect(page.getByRole("status")).toContainText(`${username} deleted.`);
  await expect(page.getByRole("cell", { name: username, exact: true })).toHaveCount(0);
});

test("an organization is created, edited and deleted", async ({ watched: page }) => {
  const name = `E2E Org ${Date.now()}`;
  await signIn(page, accounts.admin);
  await page.goto("/admin/organizations");
  await page.getByRole("button", { name: "New organization" }).click();
  const form = page.getByRole("dialog", { name: "New organization" });
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Domain").fill("org.e2e.example");
  await form.getByLabel("Domain").press("Enter");
  await expect(page.getByRole("status")).toContainText(`${name} created.`);
  await page.getByRole("textbox", { name: "Search", exact: true }).fill(name);
  await expect(page).toHaveURL(/q=E2E/);
  await page.getByRole("button", { name: `Edit ${name}` }).click();
  const edit = page.getByRole("dialog", { name: `Edit ${name}` });
  await edit.getByLabel("Industry").fill("Energy");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("row", { name: new RegExp(name) })).toContainText("Energy");
  await page.getByRole("button", { name: `Delete ${name}` }).click();
  await page.getByRole("dialog", { name: "Delete organization" }).getByRole("button", { name: "Delete organization" }).click();
  await expect(page.getByRole("status")).toContainText(`${name} deleted.`);
});

test("a configuration value is edited as JSON and refused when it is not JSON", async ({ watched: page }) => {
  const key = `e2e.setting-${Date.now()}`;
  await signIn(page, accounts.admin);
  await page.goto("/admin/config");
  await page.getByRole("button", { name: "New key" }).click();
  const form = page.getByRole("dialog", { name: "New configuration key" });
  await form.getByRole("textbox", { name: "Key" }).fill(key);
  await form.getByLabel("Value (JSON)").fill("{not json");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(form.getByText(/Not JSON/)).toBeVisible();
  await form.getByLabel("Value (JSON)").fill('{"days": 30, "note": "<b>kept as text</b>"}');
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status")).toContainText(`${key} saved.`);
  await expect(page.getByRole("row", { name: new RegExp(key.replace(/\./g, "\\.")) })).toContainText('"<b>kept as text</b>"');
  await page.getByRole("button", { name: `Delete ${key}` }).click();
  await page.getByRole("dialog", { name: "Delete configuration key" }).getByRole("button", { name: "Delete key" }).click();
  await expect(page.getByRole("status")).toContainText(`${key} deleted.`);
});

test("the audit log filters by action in the URL and shows an entry's values as text", async ({ watched: page }) => {
  await signIn(page, accounts.admin);
  await page.goto("/admin/audit");
  await page.getByLabel("Action").fill("auth.*");
  await page.getByLabel("Action").press("Enter");
  await expect(page).toHaveURL(/action=auth\.\*/);
  await page.getByRole("combobox", { name: "Time" }).click();
  await page.getByRole("option", { name: "Last 24 hours" }).click();
  await expect(page).toHaveURL(/range=24h/);
  const first = page.getByRole("button", { name: /^Details of auth\./ }).first();
  await first.click();
  await expect(page).toHaveURL(/entry=/);
  const details = page.getByRole("region", { name: "Audit entry details" });
  await expect(details).toBeVisible();
  await page.reload();
  await expect(details).toBeVisible();
  await expect(details.getByRole("heading", { level: 2 })).toContainText("auth.");
  await expectAccessible(page, "audit entry");
});

test("an API key is shown once, works, and can be revoked", async ({ watched: page, playwright }) => {
  const name = `e2e-key-${Date.now()}`;
  await signIn(page, accounts.admin);
  await page.goto("/profile");
  const form = page.getByRole("form", { name: "New API key" });
  await form.getByLabel("Name").fill(name);
  await form.getByRole("button", { name: "Create API key" }).click();
  const shown = page.getByRole("dialog", { name: `API key ${name}` });
  await expect(shown).toBeVisible();
  await expect(shown).toContainText("cannot be shown again");
  const key = (await shown.getByTestId("secret-once").innerText()).trim();
  expect(key.length).toBeGreaterThan(20);
  await shown.getByRole("button", { name: "I have stored it" }).click();
  await expect(shown).toBeHidden();
  await expect(page.getByText(key)).toHaveCount(0);

  const client = await playwright.request.newContext({ baseURL: page.url() });
  const me = await client.get("/api/v1/auth/me", { headers: { Authorization: `Bearer ${key}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).authenticated_via).not.toBe("session");

  await page.getByRole("button", { name: `Revoke ${name}` }).click();
  await page.getByRole("dialog", { name: "Revoke API key" }).getByRole("button", { name: "Revoke key" }).click();
  await expect(page.getByRole("status").first()).toContainText("revoked");
  await expect(page.getByRole("row", { name: new RegExp(name) })).toContainText("revoked");
  expect((await client.get("/api/v1/auth/me", { headers: { Authorization: `Bearer ${key}` } })).status()).toBe(401);
  await client.dispose();
});

test("a new user enrols MFA, sees the recovery codes once and signs in with a code", async ({ watched: page }) => {
  test.setTimeout(120_000);
  const username = `e2e-mfa-${Date.now()}`;
  const password = `Known-e2e-Passphrase-${Date.now()}`;
  const admin = await apiAs(accounts.admin);
  await admin.post("/api/v1/users", { username, email: `${username}@e2e.example.org`, role: "analyst", password });
  await admin.dispose();

  await signIn(page, { username, password, id: "" });
  await page.goto("/profile");
  await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  const qr = page.getByRole("img", { name: /QR code/ });
  await expect(qr).toBeVisible();
  expect(await qr.getAttribute("src")).toMatch(/^data:image\/svg\+xml/);
  const secret = (await page.getByTestId("mfa-secret").innerText()).trim();
  expect(secret).toMatch(/^[A-Z2-7]+=*$/);
  await expectAccessible(page, "MFA enrolment");
  await page.getByLabel("2. Code from the app").fill(totp(secret));
  await page.getByRole("button", { name: "Verify and turn on" }).click();

  const codes = page.getByRole("dialog", { name: "Recovery codes" });
  await expect(codes).toBeVisible();
  const recovery = (await codes.getByTestId("secret-once").innerText()).trim().split(/\s+/);
  expect(recovery.length).toBeGreaterThan(3);
  await codes.getByRole("button", { name: "I have stored it" }).click();
  await expect(codes).toBeHidden();
  await expect(page.getByText(recovery[0])).toHaveCount(0);
  await expect(page.getByRole("status")).toContainText("Two-factor sign-in is on.");

  await page.getByRole("button", { name: "Account menu" }).click();
  const loggedOut = page.waitForResponse((response) => response.url().endsWith("/api/v1/auth/logout"));
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  expect((await loggedOut).status()).toBe(204);
  await page.goto("/");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  // A code is good once: wait for the authenticator's next one.
  await page.waitForTimeout(30_000 - (Date.now() % 30_000) + 1_000);
  await signIn(page, { username, password, id: "", totp_secret: secret });
  await expect(page.getByRole("button", { name: "Account menu" })).toContainText(username);
});
