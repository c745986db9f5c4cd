// One threat actor: its profile, description (as text), tools, techniques, campaigns and the
// indicators linked to it (paged); analysts edit, link and delete.
import { Anchor, Group, Stack, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { Can } from "../../app/auth";
import { useDeleteAndLeave } from "../../app/useDeleteAndLeave";
import { ConfirmModal } from "../../components/ConfirmModal";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { QueryFallback } from "../../components/QueryState";
import { ActorForm } from "./ActorForm";
import { Facts, Labels, Notice, PlainText, TlpBadge, useNotice } from "./common";
import { EditDeleteButtons } from "./EditDeleteButtons";
import { LinkedIndicators } from "./LinkedIndicators";
import { TechniqueUses } from "./TechniqueUses";

export default function ActorPage() {
  const { id = "" } = useParams();
  const [notice, setNotice] = useNotice();
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const actor = useQuery({
    queryKey: ["actors", id],
    queryFn: () => unwrap(api.GET("/api/v1/threat-actors/{actor_id}", { params: { path: { actor_id: id } } })),
  });
  const destroy = useDeleteAndLeave({
    mutationFn: () => unwrap(api.DELETE("/api/v1/threat-actors/{actor_id}", { params: { path: { actor_id: id } } })),
    detailKey: ["actors", id],
    refresh: [["actors"], ["campaigns"]],
    to: "/actors",
    notice: () => `Deleted ${actor.data?.actor_name ?? "the actor"}.`,
  });
  if (!actor.isSuccess) return <QueryFallback query={actor} title="Threat actor" />;
  const item = actor.data;
  const help = [item.attack_id ? `ATT&CK ${item.attack_id}` : "Threat actor", item.sophistication && `${item.sophistication} sophistication`]
    .filter(Boolean)
    .join(" · ");
  return (
    <Stack gap="sm">
      <PageHeader
        title={item.actor_name}
        help={help}
        actions={
          <Can permission="write_intel">
            <EditDeleteButtons onEdit={() => setEditing(true)} onDelete={() => setDeleting(true)} />
          </Can>
        }
      />
      <Notice text={notice} />
      <Facts caption="The actor's profile" rows={[
        ["Aliases", <Labels items={item.aliases} />],
        ["Motivations", <Labels items={item.motivations} />],
        ["Target industries", <Labels items={item.target_industries} />],
        ["Target countries", <Labels items={item.target_countries} />],
        ["Observed", <><Time value={item.first_observed} /> to <Time value={item.last_observed} /></>],
        ["TLP", <TlpBadge value={item.tlp} />],
        ["Updated", <Time value={item.updated_at} />],
      ]} />
      <Title order={2} size="h4">
        Description
      </Title>
      <PlainText text={item.description} empty="No description." />
      <Title order={2} size="h4">
        Tools ({item.known_tools.length})
      </Title>
      <Labels items={item.known_tools.map((tool) => (tool.attack_id ? `${tool.name} (${tool.attack_id})` : tool.name))} />
      <Title order={2} size="h4">
        Campaigns ({item.campaigns.length})
      </Title>
      {item.campaigns.length === 0 ? (
        <PlainText text={null} empty="No campaign is attributed to it." />
      ) : (
        <Group gap="sm" wrap="wrap">
          {item.campaigns.map((campaign) => (
            <Anchor key={campaign.id} component={Link} to={`/campaigns/${encodeURIComponent(campaign.id)}`} size="sm">
              {campaign.campaign_name}
            </Anchor>
          ))}
        </Group>
      )}
      <Title order={2} size="h4">
        Techniques ({item.techniques.length})
      </Title>
      <TechniqueUses uses={item.techniques} caption={`Techniques ${item.actor_name} uses`} />
      <LinkedIndicators owner="actor" id={id} />
      <ActorForm opened={editing} actor={item} onClose={() => setEditing(false)}
        onSaved={(saved) => {
          setEditing(false);
          setNotice(`Saved ${saved.actor_name}.`);
        }} />
      <ConfirmModal centered opened={deleting} title="Delete the threat actor?" confirmLabel="Delete actor" onConfirm={() => destroy.mutate()}
        onClose={() => setDeleting(false)} loading={destroy.isPending} error={destroy.error}>
        {`${item.actor_name} and its indicator links will be deleted; campaigns stop naming it. A later ATT&CK import may bring an imported actor back.`}
      </ConfirmModal>
    </Stack>
  );
}
