// The triage queue's keyboard model, kept free of React so it can be tested on its own:
// which key does what, where the selection goes, and when an action makes no sense.
import type { Schemas } from "../../api/client";

type Alert = Schemas["AlertRead"];
export type AlertStatus = Schemas["AlertStatus"];

export type TriageAction = "next" | "previous" | "acknowledge" | "assign" | "resolve" | "false_positive" | "incident";

export interface Shortcut {
  key: string;
  action: TriageAction;
  label: string;
  /** Changes the alert, so it needs the write_intel permission like the API route does. */
  writes: boolean;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { key: "j", action: "next", label: "next", writes: false },
  { key: "k", action: "previous", label: "previous", writes: false },
  { key: "a", action: "acknowledge", label: "acknowledge", writes: true },
  { key: "s", action: "assign", label: "assign to me", writes: true },
  { key: "r", action: "resolve", label: "resolve", writes: true },
  { key: "f", action: "false_positive", label: "false positive", writes: true },
  { key: "i", action: "incident", label: "incident", writes: true },
];

/** The shortcuts a person may use: a viewer only moves through the queue. */
export function shortcutsFor(canWrite: boolean): Shortcut[] {
  return SHORTCUTS.filter((shortcut) => canWrite || !shortcut.writes);
}

/** The action a key press stands for, or null when the key means nothing (or is not allowed). */
export function actionForKey(key: string, canWrite: boolean): TriageAction | null {
  const found = shortcutsFor(canWrite).find((shortcut) => shortcut.key === key.toLowerCase());
  return found ? found.action : null;
}

/** One step through the list; without a selection, the first (or the last going back). */
export function step(ids: readonly string[], current: string | undefined, delta: 1 | -1): string | undefined {
  if (ids.length === 0) return current;
  const index = current === undefined ? -1 : ids.indexOf(current);
  if (index === -1) return delta === 1 ? ids[0] : ids[ids.length - 1];
  const next = Math.min(ids.length - 1, Math.max(0, index + delta));
  return ids[next];
}

/** Where the selection goes once an action on `current` is done: on to the next alert, so a
 * run of key presses works down the queue; the last alert stays selected to show its result. */
export function afterAction(ids: readonly string[], current: string): string {
  const index = ids.indexOf(current);
  if (index === -1 || index === ids.length - 1) return current;
  return ids[index + 1];
}

const CLOSED: readonly AlertStatus[] = ["resolved", "false_positive"];

export function isClosed(status: AlertStatus): boolean {
  return CLOSED.includes(status);
}

/** Why an action cannot apply to this alert now, or null when it can. */
export function blockedReason(
  alert: Pick<Alert, "status" | "assigned_user_id" | "acknowledged_at">,
  action: TriageAction,
  myId: string | undefined,
): string | null {
  switch (action) {
    case "acknowledge":
      if (isClosed(alert.status)) return "This alert is closed; reopen it first.";
      if (alert.status === "investigating" && alert.acknowledged_at && alert.assigned_user_id) {
        return "This alert is already acknowledged.";
      }
      return null;
    case "assign":
      if (!myId) return "Your account has no user to assign to.";
      return alert.assigned_user_id === myId ? "This alert is already assigned to you." : null;
    case "resolve":
      return alert.status === "resolved" ? "This alert is already resolved." : null;
    case "false_positive":
      return alert.status === "false_positive" ? "This alert is already a false positive." : null;
    default:
      return null;
  }
}

/** The statuses a status filter in the URL stands for; "active" (the default) is the queue. */
export function statusesOf(filter: string | undefined): AlertStatus[] | undefined {
  switch (filter) {
    case undefined:
    case "":
    case "active":
      return ["open", "investigating"];
    case "all":
      return undefined;
    case "open":
    case "investigating":
    case "resolved":
    case "false_positive":
      return [filter];
    default:
      return ["open", "investigating"];
  }
}

/** The assignee filter of the URL ("me", "none" or a user id) as the list's query. */
export function assigneeQuery(
  filter: string | undefined,
  myId: string | undefined,
): { assigned_user_id?: string; unassigned?: boolean } {
  if (!filter) return {};
  if (filter === "none") return { unassigned: true };
  if (filter === "me") return myId ? { assigned_user_id: myId } : {};
  return { assigned_user_id: filter };
}

/** An alert's context as indented JSON text (rendered as text, never as markup). */
export function prettyJson(value: unknown): string {
  if (value === null || value === undefined) return "";
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** The stream beats every 15 s; three missed beats mean the connection is gone for now. */
export const STALE_AFTER_MS = 45_000;

export type LiveState = "connecting" | "live" | "stale";

/** How the live marker reads, from when the stream last said anything. */
export function liveState(lastHeardAt: number | undefined, now: number): LiveState {
  if (lastHeardAt === undefined) return "connecting";
  return now - lastHeardAt > STALE_AFTER_MS ? "stale" : "live";
}
