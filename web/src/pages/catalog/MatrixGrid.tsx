// The matrix itself: plain buttons in flex columns, so ~700 techniques draw at once without a
// virtualising library. Cells are memoised: selecting one redraws two.
import { memo, type CSSProperties } from "react";

import { cellMatches, coverageBucket, type Cell, type Column } from "./matrix";

/** Background and text of each coverage bucket; the text keeps a 4.5:1 contrast. */
export const BUCKET_STYLES: { background: string; color: string }[] = [
  { background: "var(--mantine-color-gray-0)", color: "var(--mantine-color-gray-9)" },
  { background: "var(--mantine-color-blue-1)", color: "var(--mantine-color-gray-9)" },
  { background: "var(--mantine-color-blue-3)", color: "var(--mantine-color-gray-9)" },
  { background: "var(--mantine-color-blue-5)", color: "#000" },
  { background: "var(--mantine-color-blue-9)", color: "#fff" },
];

const COLUMN_WIDTH = 150;

const cellButton: CSSProperties = {
  display: "flex",
  justifyContent: "space-between",
  alignItems: "flex-start",
  gap: 4,
  width: "100%",
  padding: "3px 5px",
  border: "1px solid var(--mantine-color-gray-3)",
  borderRadius: 3,
  font: "inherit",
  fontSize: 12,
  lineHeight: 1.25,
  textAlign: "left",
  cursor: "pointer",
};

interface CellProps {
  cell: Cell;
  max: number;
  selected: string | undefined;
  expanded: boolean;
  dimmed: boolean;
  unit: string;
  onSelect: (id: string) => void;
  onToggle: (id: string) => void;
}

function coverageText(count: number, unit: string): string {
  return count > 0 ? `, ${count} ${unit}` : ", no coverage";
}

const MatrixCell = memo(function MatrixCell({ cell, max, selected, expanded, dimmed, unit, onSelect, onToggle }: CellProps) {
  const bucket = BUCKET_STYLES[coverageBucket(cell.total, max)];
  const active = selected === cell.id;
  const subs = cell.subtechniques;
  return (
    <li style={{ listStyle: "none", opacity: dimmed ? 0.35 : 1 }}>
      <div style={{ display: "flex", gap: 2 }}>
        <button type="button" onClick={() => onSelect(cell.id)} aria-pressed={active}
          aria-label={`${cell.id} ${cell.name}${coverageText(cell.total, unit)}`} title={`${cell.id} ${cell.name}`}
          style={{ ...cellButton, ...bucket, outline: active ? "2px solid var(--mantine-color-gray-9)" : undefined, outlineOffset: 1,
            textDecoration: cell.status === "active" ? undefined : "line-through" }}>
          <span>{cell.name}</span>
          {cell.total > 0 && <span style={{ fontWeight: 700 }}>{cell.total}</span>}
        </button>
        {subs.length > 0 && (
          <button type="button" onClick={() => onToggle(cell.id)} aria-expanded={expanded}
            aria-label={`${expanded ? "Hide" : "Show"} ${subs.length} sub-techniques of ${cell.name}`}
            style={{ ...cellButton, width: 22, justifyContent: "center", padding: "3px 0", background: "var(--mantine-color-gray-1)", color: "var(--mantine-color-gray-9)" }}>
            {expanded ? "−" : subs.length}
          </button>
        )}
      </div>
      {expanded && subs.length > 0 && (
        <ul style={{ margin: "2px 0 0 10px", padding: 0, display: "flex", flexDirection: "column", gap: 2 }}>
          {subs.map((sub) => {
            const style = BUCKET_STYLES[coverageBucket(sub.own, max)];
            return (
              <li key={sub.id} style={{ listStyle: "none" }}>
                <button type="button" onClick={() => onSelect(sub.id)} aria-pressed={selected === sub.id}
                  aria-label={`${sub.id} ${sub.name}${coverageText(sub.own, unit)}`} title={`${sub.id} ${sub.name}`}
                  style={{ ...cellButton, ...style, fontSize: 11, outline: selected === sub.id ? "2px solid var(--mantine-color-gray-9)" : undefined,
                    outlineOffset: 1, textDecoration: sub.status === "active" ? undefined : "line-through" }}>
                  <span>{sub.name}</span>
                  {sub.own > 0 && <span style={{ fontWeight: 700 }}>{sub.own}</span>}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </li>
  );
});

export function MatrixGrid({
  columns,
  max,
  selected,
  expanded,
  allExpanded,
  query,
  unit,
  onSelect,
  onToggle,
}: {
  columns: Column[];
  max: number;
  selected?: string;
  expanded: ReadonlySet<string>;
  allExpanded: boolean;
  query: string;
  unit: string;
  onSelect: (id: string) => void;
  onToggle: (id: string) => void;
}) {
  return (
    <div role="region" aria-label="ATT&CK matrix" tabIndex={0}
      style={{ overflowX: "auto", border: "1px solid var(--mantine-color-gray-3)", borderRadius: 4, padding: 6 }}>
      <div style={{ display: "flex", gap: 6, alignItems: "flex-start", minWidth: columns.length * (COLUMN_WIDTH + 6) }}>
        {columns.map((column) => (
          <div role="group" key={column.tactic || "none"} aria-label={column.label} style={{ width: COLUMN_WIDTH, flex: `0 0 ${COLUMN_WIDTH}px` }}>
            <div style={{ borderBottom: "2px solid var(--mantine-color-gray-4)", marginBottom: 4, paddingBottom: 2, minHeight: 48 }}>
              <div style={{ fontWeight: 700, fontSize: 13, lineHeight: 1.2 }}>{column.label}</div>
              <div style={{ fontSize: 11, color: "var(--mantine-color-gray-7)" }}>
                {column.cells.length} techniques · {column.covered} covered
              </div>
            </div>
            <ul style={{ margin: 0, padding: 0, display: "flex", flexDirection: "column", gap: 3 }}>
              {column.cells.map((cell) => (
                <MatrixCell key={cell.id} cell={cell} max={max} unit={unit}
                  selected={selected === cell.id || cell.subtechniques.some((sub) => sub.id === selected) ? selected : undefined}
                  expanded={allExpanded || expanded.has(cell.id)} dimmed={!!query && !cellMatches(cell, query)}
                  onSelect={onSelect} onToggle={onToggle} />
              ))}
            </ul>
          </div>
        ))}
      </div>
    </div>
  );
}
