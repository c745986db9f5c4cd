// One campaign: status, period, attributed actors, description (as text), tactics,
// techniques, procedures and the indicators linked to it (paged).
import { Anchor, Group, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { Can } from "../../app/auth";
import { useDeleteAndLeave } from "../../app/useDeleteAndLeave";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable } from "../../components/DataTable";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { QueryFallback } from "../../components/QueryState";
import { CampaignForm, CampaignStatusBadge } from "./CampaignForm";
import { Facts, Labels, Notice, PlainText, TlpBadge, useNotice } from "./common";
import { EditDeleteButtons } from "./EditDeleteButtons";
import { LinkedIndicators } from "./LinkedIndicators";
import { TechniqueUses } from "./TechniqueUses";

interface Procedure {
  index: number;
  name: string;
  description: string;
}

/** A procedure as written by hand (text) or by the ATT&CK import (an object). */
export function procedureOf(item: unknown, index: number): Procedure {
  if (typeof item === "string") return { index, name: "Analyst", description: item };
  if (item && typeof item === "object") {
    const record = item as Record<string, unknown>;
    const name = [record.name, record.attack_id && `(${String(record.attack_id)})`].filter(Boolean).join(" ");
    return { index, name: name || "—", description: typeof record.description === "string" ? record.description : "" };
  }
  return { index, name: "—", description: String(item) };
}

export default function CampaignPage() {
  const { id = "" } = useParams();
  const [notice, setNotice] = useNotice();
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const campaign = useQuery({
    queryKey: ["campaigns", id],
    queryFn: () => unwrap(api.GET("/api/v1/threat-campaigns/{campaign_id}", { params: { path: { campaign_id: id } } })),
  });
  const destroy = useDeleteAndLeave({
    mutationFn: () => unwrap(api.DELETE("/api/v1/threat-campaigns/{campaign_id}", { params: { path: { campaign_id: id } } })),
    detailKey: ["campaigns", id],
    refresh: [["campaigns"]],
    to: "/campaigns",
    notice: () => `Deleted ${campaign.data?.campaign_name ?? "the campaign"}.`,
  });
  if (!campaign.isSuccess) return <QueryFallback query={campaign} title="Campaign" />;
  const item = campaign.data;
  const procedures = item.procedures.map(procedureOf);
  return (
    <Stack gap="sm">
      <PageHeader
        title={item.campaign_name}
        help={`Campaign · ${item.status}`}
        actions={
          <Can permission="write_intel">
            <EditDeleteButtons onEdit={() => setEditing(true)} onDelete={() => setDeleting(true)} />
          </Can>
        }
      />
      <Notice text={notice} />
      <Facts caption="The campaign's profile" rows={[
        ["Status", <CampaignStatusBadge value={item.status} />],
        ["Attributed to", item.attributed_actors.length === 0 ? "—" : (
          <Group gap="sm" wrap="wrap">
            {item.attributed_actors.map((actor) =>
              actor.actor_id ? (
                <Anchor key={actor.actor_id} component={Link} to={`/actors/${encodeURIComponent(actor.actor_id)}`} size="sm">
                  {actor.name}
                </Anchor>
              ) : (
                <Text key={actor.name} size="sm">
                  {actor.name}
                </Text>
              ),
            )}
          </Group>
        )],
        ["Observed", <><Time value={item.first_observed} /> to <Time value={item.last_observed} /></>],
        ["Tactics", <Labels items={item.tactics} />],
        ["TLP", <TlpBadge value={item.tlp} />],
        ["Updated", <Time value={item.updated_at} />],
      ]} />
      <Title order={2} size="h4">
        Description
      </Title>
      <PlainText text={item.description} empty="No description." />
      <Title order={2} size="h4">
        Techniques ({item.techniques.length})
      </Title>
      <TechniqueUses uses={item.techniques} caption={`Techniques used in ${item.campaign_name}`} />
      <Title order={2} size="h4">
        Procedures ({procedures.length})
      </Title>
      <DataTable caption="Procedures" rows={procedures} rowKey={(row) => String(row.index)} empty="No procedure recorded."
        columns={[
          { key: "name", header: "What", width: 260, render: (row) => row.name },
          { key: "description", header: "How", render: (row) => <PlainText text={row.description} empty="—" /> },
        ]} />
      <LinkedIndicators owner="campaign" id={id} />
      <CampaignForm opened={editing} campaign={item} onClose={() => setEditing(false)}
        onSaved={(saved) => {
          setEditing(false);
          setNotice(`Saved ${saved.campaign_name}.`);
        }} />
      <ConfirmModal centered opened={deleting} title="Delete the campaign?" confirmLabel="Delete campaign" onConfirm={() => destroy.mutate()}
        onClose={() => setDeleting(false)} loading={destroy.isPending} error={destroy.error}>
        {`${item.campaign_name} and its indicator links will be deleted.`}
      </ConfirmModal>
    </Stack>
  );
}
