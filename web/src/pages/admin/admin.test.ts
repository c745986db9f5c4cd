import { describe, expect, it } from "vitest";

import type { Schemas } from "../../api/client";
import { auditQuery, changes, localToIso, rangeError } from "./auditQuery";
import { formatSize, keyError, parseJsonValue, previewJson } from "./configValue";
import { roleMatrix } from "./roleMatrix";
import { draftOf, EMPTY_USER, isLocked, userCreateBody, userErrors, userUpdateBody } from "./userForm";

const USER: Schemas["UserRead"] = {
  id: "u1", username: "ana", email: "ana@example.org", full_name: "Ana", first_name: null, last_name: null,
  role: "analyst", organization_id: null, is_active: true, is_verified: false, mfa_enabled: false,
  must_change_password: false, locked_until: null, last_login: null, preferences: null, created_at: null, updated_at: null,
};

describe("user forms", () => {
  it("checks the username only when creating, and the e-mail always", () => {
    expect(userErrors({ ...EMPTY_USER, username: "x", email: "nope" }, true)).toEqual({
      username: expect.any(String),
      email: expect.any(String),
    });
    expect(userErrors({ ...EMPTY_USER, username: "x", email: "a@b.org" }, false)).toEqual({});
    expect(userErrors({ ...EMPTY_USER, username: "new.user-1", email: "a@b.org" }, true)).toEqual({});
  });

  it("sends no password when the box is empty, so the server makes a one-time one", () => {
    const body = userCreateBody({ ...EMPTY_USER, username: " bob ", email: "bob@example.org ", fullName: "  " });
    expect(body).toEqual({ username: "bob", email: "bob@example.org", role: "user", full_name: null, organization_id: null, password: null });
    expect(userCreateBody({ ...EMPTY_USER, password: "secret phrase" }).password).toBe("secret phrase");
  });

  it("updates only the fields that changed", () => {
    expect(userUpdateBody(draftOf(USER), USER)).toEqual({});
    expect(userUpdateBody({ ...draftOf(USER), role: "viewer", fullName: "" }, USER)).toEqual({ role: "viewer", full_name: null });
  });

  it("is locked only while locked_until is in the future", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(isLocked({ locked_until: "2026-01-01T00:10:00Z" }, now)).toBe(true);
    expect(isLocked({ locked_until: "2025-12-31T23:00:00Z" }, now)).toBe(false);
    expect(isLocked({ locked_until: null }, now)).toBe(false);
  });
});

describe("role matrix", () => {
  it("has one column per permission, least powerful first, and a check where the role has it", () => {
    const matrix = roleMatrix([
      { role: "admin", actions: ["admin", "read", "account", "write_own", "write_intel"], description: "All" },
      { role: "viewer", actions: ["account", "read"], description: "Reads" },
    ]);
    expect(matrix.actions).toEqual(["read", "account", "write_own", "write_intel", "admin"]);
    expect(matrix.rows[1]).toEqual({
      role: "viewer",
      description: "Reads",
      allowed: { read: true, account: true, write_own: false, write_intel: false, admin: false },
    });
    expect(matrix.rows[0].allowed.admin).toBe(true);
  });
});

describe("audit filters", () => {
  const now = Date.parse("2026-06-01T12:00:00Z");

  it("turns a preset range into a start relative to now", () => {
    expect(auditQuery({ range: "24h" }, now)).toEqual({ limit: 50, since: "2026-05-31T12:00:00.000Z" });
    expect(auditQuery({ range: "7d", since: "2020-01-01T00:00" }, now).since).toBe("2026-05-25T12:00:00.000Z");
  });

  it("passes the other filters under the API's names, trimmed", () => {
    expect(auditQuery({ user: "u1", action: " auth.* ", resource: "user", resource_id: "42", severity: "warning", cursor: "c" }, now))
      .toEqual({ limit: 50, user_id: "u1", action: "auth.*", resource_type: "user", resource_id: "42", severity: "warning", cursor: "c" });
    expect(auditQuery({ severity: "fatal" }, now).severity).toBeUndefined();
  });

  it("reads a custom range as local time and refuses an empty or reversed one", () => {
    const query = auditQuery({ range: "custom", since: "2026-05-01T08:00", until: "2026-05-02T08:00" }, now);
    expect(query.since).toBe(new Date("2026-05-01T08:00").toISOString());
    expect(query.until).toBe(new Date("2026-05-02T08:00").toISOString());
    expect(rangeError({ range: "custom", since: "2026-05-02T08:00", until: "2026-05-01T08:00" })).toMatch(/before/);
    expect(rangeError({ range: "custom", since: "garbage" })).toMatch(/not a date/);
    expect(rangeError({ range: "24h", since: "garbage" })).toBeNull();
    expect(localToIso("")).toBeUndefined();
  });

  it("lists the changed fields of an audited edit as JSON text", () => {
    expect(changes({ role: "user", email: "a@b", tags: ["x"] }, { role: "admin", email: "a@b", tags: ["x", "y"], mfa: true })).toEqual([
      { field: "mfa", before: "—", after: "true" },
      { field: "role", before: '"user"', after: '"admin"' },
      { field: "tags", before: '["x"]', after: '["x","y"]' },
    ]);
    expect(changes(null, null)).toEqual([]);
  });
});

describe("configuration values", () => {
  it("accepts any JSON and explains what is not", () => {
    expect(parseJsonValue('{"a": [1, true, null]}')).toEqual({ ok: true, value: { a: [1, true, null] } });
    expect(parseJsonValue("30")).toEqual({ ok: true, value: 30 });
    expect(parseJsonValue("null")).toEqual({ ok: true, value: null });
    const bad = parseJsonValue("{a: 1}");
    expect(bad.ok).toBe(false);
    expect(parseJsonValue("   ").ok).toBe(false);
  });

  it("checks key names and previews long values on one line", () => {
    expect(keyError("alerts.retention_days-v2")).toBeNull();
    expect(keyError("has space")).not.toBeNull();
    expect(keyError("")).not.toBeNull();
    expect(previewJson({ long: "x".repeat(500) }, 20)).toHaveLength(20);
    expect(previewJson("<b>")).toBe('"<b>"');
    expect(formatSize("x".repeat(2048))).toBe("2 KB");
  });
});
