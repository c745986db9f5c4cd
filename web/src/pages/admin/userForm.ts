// What the user forms send: only filled-in fields, trimmed, so that an empty box means "none"
// rather than an empty string the API would refuse or store.
import type { Schemas } from "../../api/client";

export type Role = Schemas["Role"];
export const ROLES: Role[] = ["admin", "analyst", "user", "viewer"];

export interface UserDraft {
  username: string;
  email: string;
  role: Role;
  fullName: string;
  organizationId: string;
  password: string;
}

export const EMPTY_USER: UserDraft = { username: "", email: "", role: "user", fullName: "", organizationId: "", password: "" };

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,99}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Field errors the form can tell before asking the server. */
export function userErrors(draft: UserDraft, creating: boolean): Partial<Record<keyof UserDraft, string>> {
  const errors: Partial<Record<keyof UserDraft, string>> = {};
  if (creating && !USERNAME.test(draft.username.trim())) {
    errors.username = "2 to 100 letters, digits, _ . or -, starting with a letter or digit.";
  }
  if (!EMAIL.test(draft.email.trim())) errors.email = "An e-mail address such as name@example.org.";
  return errors;
}

export function userCreateBody(draft: UserDraft): Schemas["UserCreate"] {
  return {
    username: draft.username.trim(),
    email: draft.email.trim(),
    role: draft.role,
    full_name: draft.fullName.trim() || null,
    organization_id: draft.organizationId || null,
    // Left empty, the server makes a one-time password the user must change at first login.
    password: draft.password || null,
  };
}

export function userUpdateBody(draft: UserDraft, before: Schemas["UserRead"]): Schemas["UserUpdate"] {
  const body: Schemas["UserUpdate"] = {};
  if (draft.email.trim() !== before.email) body.email = draft.email.trim();
  if (draft.role !== before.role) body.role = draft.role;
  if ((draft.fullName.trim() || null) !== before.full_name) body.full_name = draft.fullName.trim() || null;
  if ((draft.organizationId || null) !== before.organization_id) body.organization_id = draft.organizationId || null;
  return body;
}

export function draftOf(user: Schemas["UserRead"]): UserDraft {
  return {
    username: user.username,
    email: user.email,
    role: user.role,
    fullName: user.full_name ?? "",
    organizationId: user.organization_id ?? "",
    password: "",
  };
}

export function isLocked(user: Pick<Schemas["UserRead"], "locked_until">, now: number = Date.now()): boolean {
  return !!user.locked_until && new Date(user.locked_until).getTime() > now;
}
