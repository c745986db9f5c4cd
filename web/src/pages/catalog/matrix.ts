// The ATT&CK matrix as data: techniques into tactic columns (sub-techniques under their
// parent), and a coverage count per technique into a colour bucket. Pure, so it is tested
// alone and computed once per change of data or filter.

export interface TechniqueLike {
  technique_id: string;
  technique_name: string;
  tactics: string[];
  platforms: string[];
  is_subtechnique: boolean;
  status: string;
  /** Indicators mapped to it, when the API reports it. */
  indicator_count?: number | null;
}

export interface SubCell {
  id: string;
  name: string;
  status: string;
  own: number;
}

export interface Cell {
  id: string;
  name: string;
  status: string;
  /** Coverage of the technique itself. */
  own: number;
  /** What the cell is coloured by: its own coverage and its sub-techniques'. */
  total: number;
  subtechniques: SubCell[];
}

export interface Column {
  tactic: string;
  label: string;
  cells: Cell[];
  /** Cells with any coverage. */
  covered: number;
}

export interface MatrixOptions {
  /** Keep revoked and deprecated techniques (hidden by default, as ATT&CK's own matrix does). */
  showRevoked?: boolean;
  /** Only techniques for this platform. */
  platform?: string | null;
}

/** Enterprise ATT&CK's tactics in kill-chain order: the matrix's columns. */
export const TACTIC_ORDER = [
  "reconnaissance",
  "resource-development",
  "initial-access",
  "execution",
  "persistence",
  "privilege-escalation",
  "defense-evasion",
  "credential-access",
  "discovery",
  "lateral-movement",
  "collection",
  "command-and-control",
  "exfiltration",
  "impact",
] as const;

export const NO_TACTIC = "";

const SMALL_WORDS = new Set(["and", "or", "of", "the", "to"]);

/** "command-and-control" → "Command and Control". */
export function tacticLabel(tactic: string): string {
  if (tactic === NO_TACTIC) return "No tactic";
  return tactic
    .split(/[-_\s]+/)
    .filter(Boolean)
    .map((word, index) => (index > 0 && SMALL_WORDS.has(word.toLowerCase()) ? word.toLowerCase() : word[0].toUpperCase() + word.slice(1)))
    .join(" ");
}

function parentId(technique: TechniqueLike): string | null {
  const dot = technique.technique_id.indexOf(".");
  if (!technique.is_subtechnique && dot < 0) return null;
  return dot > 0 ? technique.technique_id.slice(0, dot) : null;
}

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name) || 0;

/** Columns of cells, every known tactic present (empty or not) and unknown ones after them. */
export function buildMatrix(
  techniques: readonly TechniqueLike[],
  coverage: ReadonlyMap<string, number>,
  options: MatrixOptions = {},
): Column[] {
  const kept = techniques.filter(
    (t) => (options.showRevoked || t.status === "active") && (!options.platform || t.platforms.includes(options.platform)),
  );
  const parents = new Map<string, TechniqueLike>();
  const children = new Map<string, TechniqueLike[]>();
  for (const technique of kept) {
    const parent = parentId(technique);
    if (parent === null) parents.set(technique.technique_id, technique);
    else children.set(parent, [...(children.get(parent) ?? []), technique]);
  }
  // A sub-technique whose parent is filtered out (or unknown) stands on its own.
  for (const [parent, subs] of children) {
    if (!parents.has(parent)) {
      for (const sub of subs) parents.set(sub.technique_id, sub);
      children.delete(parent);
    }
  }
  const columns = new Map<string, Cell[]>();
  for (const tactic of TACTIC_ORDER) columns.set(tactic, []);
  for (const technique of parents.values()) {
    const tactics = technique.tactics.length ? [...new Set(technique.tactics)] : [NO_TACTIC];
    for (const tactic of tactics) {
      const subs = (children.get(technique.technique_id) ?? [])
        .filter((sub) => sub.tactics.length === 0 || sub.tactics.includes(tactic) || tactic === NO_TACTIC)
        .map((sub) => ({ id: sub.technique_id, name: sub.technique_name, status: sub.status, own: coverage.get(sub.technique_id) ?? 0 }))
        .sort((a, b) => a.id.localeCompare(b.id));
      const own = coverage.get(technique.technique_id) ?? 0;
      const cell: Cell = {
        id: technique.technique_id,
        name: technique.technique_name,
        status: technique.status,
        own,
        total: own + subs.reduce((sum, sub) => sum + sub.own, 0),
        subtechniques: subs,
      };
      columns.set(tactic, [...(columns.get(tactic) ?? []), cell]);
    }
  }
  const known = new Set<string>(TACTIC_ORDER);
  const extra = [...columns.keys()].filter((tactic) => !known.has(tactic) && tactic !== NO_TACTIC).sort();
  const order = [...TACTIC_ORDER, ...extra, ...(columns.has(NO_TACTIC) ? [NO_TACTIC] : [])];
  return order.map((tactic) => {
    const cells = (columns.get(tactic) ?? []).sort(byName);
    return { tactic, label: tacticLabel(tactic), cells, covered: cells.filter((cell) => cell.total > 0).length };
  });
}

/** The highest coverage of any cell: the top of the colour scale. */
export function maxCoverage(columns: readonly Column[]): number {
  let max = 0;
  for (const column of columns) for (const cell of column.cells) max = Math.max(max, cell.total);
  return max;
}

export const BUCKETS = 5;

/** 0 for no coverage, then 1–4 by quarter of the highest coverage. */
export function coverageBucket(count: number, max: number): number {
  if (count <= 0 || max <= 0) return 0;
  return Math.min(4, Math.max(1, Math.ceil((count / max) * 4)));
}

export interface LegendEntry {
  bucket: number;
  from: number;
  to: number;
}

/** The counts each colour stands for, at this highest coverage; empty ranges left out. */
export function legend(max: number): LegendEntry[] {
  const entries: LegendEntry[] = [{ bucket: 0, from: 0, to: 0 }];
  let from = 1;
  for (let bucket = 1; bucket <= 4 && max > 0; bucket++) {
    const to = Math.floor((max * bucket) / 4);
    if (to >= from && coverageBucket(to, max) === bucket) {
      entries.push({ bucket, from, to });
      from = to + 1;
    }
  }
  return entries;
}

/** How many campaigns name each technique (each campaign once per technique). */
export function coverageFromCampaigns(campaigns: readonly { techniques: readonly { technique_id: string }[] }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const campaign of campaigns) {
    for (const id of new Set(campaign.techniques.map((use) => use.technique_id.toUpperCase()))) {
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

/** The indicators mapped to each technique, when the API lists them; null when it does not. */
export function coverageFromIndicators(techniques: readonly TechniqueLike[]): Map<string, number> | null {
  if (!techniques.some((technique) => typeof technique.indicator_count === "number")) return null;
  return new Map(techniques.map((technique) => [technique.technique_id, technique.indicator_count ?? 0]));
}

/** Whether a technique (or one of its sub-techniques) matches a search by id or name. */
export function cellMatches(cell: Cell, query: string): boolean {
  const wanted = query.trim().toLowerCase();
  if (!wanted) return true;
  const hit = (id: string, name: string) => id.toLowerCase().includes(wanted) || name.toLowerCase().includes(wanted);
  return hit(cell.id, cell.name) || cell.subtechniques.some((sub) => hit(sub.id, sub.name));
}

/** The parent of a technique id (T1059.001 → T1059), or the id itself. */
export function parentOf(id: string): string {
  const dot = id.indexOf(".");
  return dot > 0 ? id.slice(0, dot) : id;
}

/** A technique's coverage as its cell shows it (a parent with its sub-techniques'). */
export function coverageOf(columns: readonly Column[], id: string, coverage: ReadonlyMap<string, number>): number {
  const wanted = id.toUpperCase();
  for (const column of columns) {
    for (const cell of column.cells) if (cell.id === wanted) return cell.total;
  }
  return coverage.get(wanted) ?? 0;
}
