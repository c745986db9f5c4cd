// What the profile page decides on its own: which key scopes a person may ask for, the body of
// a new key, and whether the MFA QR code from the API may be shown as an image.
import type { Schemas } from "../../api/client";

export type Scope = "read" | "account" | "write" | "admin";

const SCOPE_NEEDS: Record<Scope, string[]> = {
  read: ["read"],
  account: ["account"],
  write: ["write_own", "write_intel"],
  admin: ["admin"],
};

export const SCOPE_HELP: Record<Scope, string> = {
  read: "Read what you can read",
  account: "Manage your account",
  write: "Change what your role may change",
  admin: "Administration",
};

/** The scopes a key of someone with these permissions may hold (the server refuses others). */
export function scopesFor(permissions: string[]): Scope[] {
  return (Object.keys(SCOPE_NEEDS) as Scope[]).filter((scope) =>
    SCOPE_NEEDS[scope].some((permission) => permissions.includes(permission)),
  );
}

export interface KeyDraft {
  name: string;
  scopes: Scope[];
  /** Days until it expires; "" never. */
  expiresInDays: string;
  rateLimit: number;
}

export function keyErrors(draft: KeyDraft): Partial<Record<keyof KeyDraft, string>> {
  const errors: Partial<Record<keyof KeyDraft, string>> = {};
  if (!draft.name.trim()) errors.name = "Name the key after what uses it.";
  if (draft.scopes.length === 0) errors.scopes = "Choose at least one scope.";
  if (!Number.isInteger(draft.rateLimit) || draft.rateLimit < 1 || draft.rateLimit > 1_000_000) {
    errors.rateLimit = "Between 1 and 1,000,000 requests a minute.";
  }
  return errors;
}

export function keyBody(draft: KeyDraft): Schemas["ApiKeyCreate"] {
  return {
    name: draft.name.trim(),
    scopes: draft.scopes,
    expires_in_days: draft.expiresInDays ? Number(draft.expiresInDays) : null,
    rate_limit: draft.rateLimit,
  };
}

const QR_PREFIX = "data:image/svg+xml";

/** The QR code's address if it is the SVG data URI the API promises, else null (never shown). */
export function safeQr(value: string | null | undefined): string | null {
  return typeof value === "string" && value.startsWith(QR_PREFIX) ? value : null;
}

/** A TOTP or recovery code as typed: spaces dropped. */
export function cleanCode(code: string): string {
  return code.replace(/\s+/g, "");
}
