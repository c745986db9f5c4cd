// The techniques an actor or a campaign uses, each opening the ATT&CK matrix on it.
import { Anchor, Badge, Group } from "@mantine/core";
import { Link } from "react-router-dom";

import type { Schemas } from "../../api/client";
import { DataTable, type Column } from "../../components/DataTable";

type Use = Schemas["TechniqueUse"];

const SOURCE_LABELS: Record<string, string> = { attack: "ATT&CK", analyst: "analyst", indicators: "indicators" };

const COLUMNS: Column<Use>[] = [
  {
    key: "id",
    header: "Technique",
    width: 120,
    render: (row) => (
      <Anchor component={Link} to={`/attack?technique=${encodeURIComponent(row.technique_id)}`} size="sm">
        {row.technique_id}
      </Anchor>
    ),
  },
  { key: "name", header: "Name", render: (row) => row.name ?? "—" },
  {
    key: "sources",
    header: "Says who",
    width: 220,
    render: (row) => (
      <Group gap={4}>
        {row.sources.map((source) => (
          <Badge key={source} size="xs" variant="light" c="gray.9" color={source === "attack" ? "gray" : "blue"} autoContrast>
            {SOURCE_LABELS[source] ?? source}
          </Badge>
        ))}
      </Group>
    ),
  },
];

export function TechniqueUses({ uses, caption }: { uses: Use[]; caption: string }) {
  return (
    <DataTable caption={caption} columns={COLUMNS} rows={uses} rowKey={(row) => row.technique_id}
      empty="No technique is known for it yet." />
  );
}
