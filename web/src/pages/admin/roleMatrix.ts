// The role → permission matrix from GET /roles: one row per role, one column per permission,
// columns in the order the API lists them (least to most powerful), roles as the API orders them.
import type { Schemas } from "../../api/client";

export type Action = Schemas["Action"];

export const ACTION_HELP: Record<Action, string> = {
  read: "Read every resource the account may see",
  account: "Manage its own account: password, MFA, API keys",
  write_own: "Create and change what it owns: collections, workflows, dashboards",
  write_intel: "Change intelligence: indicators, feeds, alerts, incidents, sharing",
  admin: "Manage users, organizations, the audit log and configuration",
};

export interface MatrixRow {
  role: Schemas["Role"];
  description: string;
  allowed: Record<string, boolean>;
}

export function roleMatrix(roles: Schemas["RoleRead"][]): { actions: Action[]; rows: MatrixRow[] } {
  const actions: Action[] = [];
  for (const role of roles) {
    for (const action of role.actions) if (!actions.includes(action)) actions.push(action);
  }
  const known = Object.keys(ACTION_HELP) as Action[];
  actions.sort((a, b) => rank(known, a) - rank(known, b));
  const rows = roles.map((role) => ({
    role: role.role,
    description: role.description,
    allowed: Object.fromEntries(actions.map((action) => [action, role.actions.includes(action)])),
  }));
  return { actions, rows };
}

function rank(known: Action[], action: Action): number {
  const index = known.indexOf(action);
  return index === -1 ? known.length : index;
}
