// The indicators linked to an actor, a campaign or a technique: paged, linked by value or id
// (several at once, one a line), unlinked after a confirmation.
import { Anchor, Button, Group, NumberInput, Paper, Select, Stack, Text, Textarea, Title } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, ApiError, unwrap, type Schemas } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { usePaging } from "../../app/urlState";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable, type Column } from "../../components/DataTable";
import { formatScore, Time, Value } from "../../components/format";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { Notice } from "./common";
import { plural, valuesOf } from "./text";

export type LinkOwner = "actor" | "campaign" | "technique";

interface LinkRow {
  id: string;
  indicator: Schemas["IndicatorRef"];
  confidence_score: number | null;
  linked_at: string | null;
  relationship_type?: string | null;
  evidence?: string | null;
  notes?: string | null;
}

interface LinkPage {
  items: LinkRow[];
  total?: number | null;
  next_cursor?: string | null;
}

interface NewLink {
  indicator: string;
  confidence_score: number | null;
  relationship_type: string | null;
  note: string | null;
}

const RELATIONSHIPS: Record<LinkOwner, string[]> = {
  actor: ["infrastructure", "tool", "technique", "victim"],
  campaign: ["infrastructure", "payload", "communication", "victim"],
  technique: [],
};

/** The query key family of each owner, so a change refreshes the owner's page too. */
export const OWNER_FAMILY: Record<LinkOwner, string> = { actor: "actors", campaign: "campaigns", technique: "techniques" };

async function listLinks(owner: LinkOwner, id: string, cursor?: string): Promise<LinkPage> {
  const query = { limit: 25, cursor };
  if (owner === "actor") {
    return unwrap(api.GET("/api/v1/threat-actors/{actor_id}/indicators", { params: { path: { actor_id: id }, query } }));
  }
  if (owner === "campaign") {
    return unwrap(
      api.GET("/api/v1/threat-campaigns/{campaign_id}/indicators", { params: { path: { campaign_id: id }, query } }),
    );
  }
  return unwrap(
    api.GET("/api/v1/mitre-techniques/{technique_id}/indicators", { params: { path: { technique_id: id }, query } }),
  );
}

async function addLink(owner: LinkOwner, id: string, link: NewLink): Promise<void> {
  const base = { indicator: link.indicator, confidence_score: link.confidence_score };
  if (owner === "actor") {
    await unwrap(
      api.POST("/api/v1/threat-actors/{actor_id}/indicators", {
        params: { path: { actor_id: id } },
        body: {
          ...base,
          relationship_type: link.relationship_type as Schemas["ActorRelationship"] | null,
          evidence: link.note,
        },
      }),
    );
  } else if (owner === "campaign") {
    await unwrap(
      api.POST("/api/v1/threat-campaigns/{campaign_id}/indicators", {
        params: { path: { campaign_id: id } },
        body: {
          ...base,
          relationship_type: link.relationship_type as Schemas["CampaignRelationship"] | null,
          notes: link.note,
        },
      }),
    );
  } else {
    await unwrap(
      api.POST("/api/v1/mitre-techniques/{technique_id}/indicators", {
        params: { path: { technique_id: id } },
        body: { ...base, evidence: link.note },
      }),
    );
  }
}

async function removeLink(owner: LinkOwner, id: string, indicatorId: string): Promise<void> {
  if (owner === "actor") {
    await unwrap(
      api.DELETE("/api/v1/threat-actors/{actor_id}/indicators/{indicator_id}", {
        params: { path: { actor_id: id, indicator_id: indicatorId } },
      }),
    );
  } else if (owner === "campaign") {
    await unwrap(
      api.DELETE("/api/v1/threat-campaigns/{campaign_id}/indicators/{indicator_id}", {
        params: { path: { campaign_id: id, indicator_id: indicatorId } },
      }),
    );
  } else {
    await unwrap(
      api.DELETE("/api/v1/mitre-techniques/{technique_id}/indicators/{indicator_id}", {
        params: { path: { technique_id: id, indicator_id: indicatorId } },
      }),
    );
  }
}

export function LinkedIndicators({
  owner,
  id,
  title = "Linked indicators",
  compact = false,
}: {
  owner: LinkOwner;
  id: string;
  title?: string;
  /** Only the indicator and its confidence: for a narrow side panel. */
  compact?: boolean;
}) {
  const client = useQueryClient();
  const writer = useAuth().can("write_intel");
  const paging = usePaging();
  const family = OWNER_FAMILY[owner];
  const [removing, setRemoving] = useState<LinkRow | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const query = useQuery({
    queryKey: [family, id, "indicators", paging.cursor ?? ""],
    queryFn: () => listLinks(owner, id, paging.cursor),
    placeholderData: keepPreviousData,
  });
  const refresh = () => client.invalidateQueries({ queryKey: [family, id] });
  const remove = useMutation({
    mutationFn: (row: LinkRow) => removeLink(owner, id, row.indicator.id),
    onSuccess: async (_data, row) => {
      setRemoving(null);
      setNotice(`Unlinked ${row.indicator.value ?? row.indicator.id}.`);
      await refresh();
    },
  });
  const noteHeader = owner === "campaign" ? "Notes" : "Evidence";
  const allColumns: Column<LinkRow>[] = [
    {
      key: "value",
      header: "Indicator",
      render: (row) => (
        <Anchor component={Link} to={`/indicators/${encodeURIComponent(row.indicator.id)}`} size="sm">
          <Value text={row.indicator.value ?? row.indicator.id} />
        </Anchor>
      ),
    },
    { key: "type", header: "Type", width: 80, render: (row) => row.indicator.type ?? "—" },
    ...(owner === "technique"
      ? []
      : [{ key: "relationship", header: "Relationship", width: 120, render: (row: LinkRow) => row.relationship_type ?? "—" }]),
    { key: "confidence", header: "Confidence", align: "right", width: 100, render: (row) => formatScore(row.confidence_score) },
    { key: "note", header: noteHeader, render: (row) => <Value text={row.evidence ?? row.notes ?? null} max={60} /> },
    { key: "linked", header: "Linked", width: 150, render: (row) => <Time value={row.linked_at} /> },
  ];
  const columns = compact ? allColumns.filter((column) => column.key === "value" || column.key === "confidence") : allColumns;
  return (
    <Stack gap="xs">
      <Title order={2} size="h4">
        {title}
        {typeof query.data?.total === "number" ? ` (${query.data.total.toLocaleString()})` : ""}
      </Title>
      <Can permission="write_intel">
        <LinkForm owner={owner} id={id} onLinked={async (text) => {
          setNotice(text);
          await refresh();
        }} />
      </Can>
      <Notice text={notice} />
      {query.error ? <ProblemAlert error={query.error} /> : null}
      <DataTable
        caption={title}
        columns={writer ? [...columns, {
          key: "actions",
          header: "Actions",
          width: 90,
          render: (row) => (
            <Button size="compact-xs" variant="subtle" color="red" onClick={() => setRemoving(row)}
              aria-label={`Unlink ${row.indicator.value ?? row.indicator.id}`}>
              Unlink
            </Button>
          ),
        }] : columns}
        rows={query.data?.items}
        rowKey={(row) => row.id}
        loading={query.isPending}
        empty="No indicator is linked yet. Link one by its value or id."
      />
      <Pager nextCursor={query.data?.next_cursor} total={query.data?.total} shown={query.data?.items.length ?? 0} />
      <ConfirmModal
        centered
        opened={!!removing}
        title="Unlink the indicator?"
        confirmLabel="Unlink"
        onConfirm={() => removing && remove.mutate(removing)}
        onClose={() => {
          setRemoving(null);
          remove.reset();
        }}
        loading={remove.isPending}
        error={remove.error}
      >
        {removing ? `${removing.indicator.value ?? removing.indicator.id} will no longer be linked here. The indicator itself stays.` : ""}
      </ConfirmModal>
    </Stack>
  );
}

function LinkForm({ owner, id, onLinked }: { owner: LinkOwner; id: string; onLinked: (text: string) => Promise<void> }) {
  const [values, setValues] = useState("");
  const [relationship, setRelationship] = useState<string | null>(null);
  const [confidence, setConfidence] = useState<number | string>("");
  const [note, setNote] = useState("");
  const [failures, setFailures] = useState<string[]>([]);
  const link = useMutation({
    mutationFn: async (wanted: string[]) => {
      const failed: string[] = [];
      let linked = 0;
      for (const indicator of wanted) {
        try {
          await addLink(owner, id, {
            indicator,
            confidence_score: typeof confidence === "number" ? confidence : null,
            relationship_type: relationship,
            note: note.trim() || null,
          });
          linked += 1;
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          failed.push(`${indicator}: ${error.problem.detail ?? error.problem.title}`);
        }
      }
      return { linked, failed };
    },
    onSuccess: async ({ linked, failed }) => {
      setFailures(failed);
      if (linked > 0) setValues("");
      await onLinked(`Linked ${plural(linked, "indicator")}${failed.length ? `; ${failed.length} refused` : ""}.`);
    },
  });
  const wanted = valuesOf(values);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (wanted.length > 0) link.mutate(wanted);
  };
  const relationships = RELATIONSHIPS[owner];
  return (
    <Paper withBorder p="xs" radius="sm">
      <form onSubmit={submit} aria-label="Link indicators">
        <Group gap="xs" align="flex-end" wrap="wrap">
          <Textarea label="Indicators to link" description="Values or ids, one a line" placeholder={"evil.example\n203.0.113.7"}
            autosize minRows={1} maxRows={6} w={280} value={values}
            onChange={(event) => setValues(event.currentTarget.value)}
            onKeyDown={(event) => {
              if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
            }} />
          {relationships.length > 0 && (
            <Select label="Relationship" placeholder="None" clearable w={150} data={relationships} value={relationship}
              onChange={setRelationship} />
          )}
          <NumberInput label="Confidence" placeholder="0–100" min={0} max={100} w={110} value={confidence}
            onChange={setConfidence} />
          <Textarea label={owner === "campaign" ? "Notes" : "Evidence"} autosize minRows={1} maxRows={4} w={240} value={note}
            onChange={(event) => setNote(event.currentTarget.value)} />
          <Button type="submit" disabled={wanted.length === 0} loading={link.isPending}>
            Link {wanted.length > 1 ? `${wanted.length} indicators` : "indicator"}
          </Button>
        </Group>
      </form>
      {link.error ? <ProblemAlert error={link.error} /> : null}
      {failures.length > 0 && (
        <Stack gap={0} mt={4}>
          {failures.slice(0, 20).map((failure) => (
            <Text key={failure} size="sm" c="red.9">
              {failure}
            </Text>
          ))}
        </Stack>
      )}
    </Paper>
  );
}
