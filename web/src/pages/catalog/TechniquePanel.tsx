// The side panel of the matrix: one technique as ATT&CK describes it, who uses it, and the
// indicators analysts mapped to it (paged, linked and unlinked here).
import { Anchor, Badge, CloseButton, Group, Paper, Skeleton, Stack, Text, Title, UnstyledButton } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router-dom";

import { api, unwrap } from "../../api/client";
import { Value } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { Facts, Labels, PlainText } from "./common";
import { LinkedIndicators } from "./LinkedIndicators";
import { tacticLabel } from "./matrix";

const SHOWN_GROUPS = 30;

export function TechniquePanel({
  id,
  coverage,
  unit,
  onSelect,
  onClose,
}: {
  id: string;
  coverage: number;
  unit: string;
  onSelect: (id: string) => void;
  onClose: () => void;
}) {
  const technique = useQuery({
    queryKey: ["techniques", id],
    queryFn: () => unwrap(api.GET("/api/v1/mitre-techniques/{technique_id}", { params: { path: { technique_id: id } } })),
  });
  // Lists the API may leave out when empty.
  const item = technique.data && {
    ...technique.data,
    tactics: technique.data.tactics ?? [],
    platforms: technique.data.platforms ?? [],
    subtechniques: technique.data.subtechniques ?? [],
    data_sources: technique.data.data_sources ?? [],
    defenses_bypassed: technique.data.defenses_bypassed ?? [],
    groups: technique.data.groups ?? [],
    software: technique.data.software ?? [],
    analyst_links: technique.data.analyst_links ?? 0,
    status: technique.data.status ?? "active",
  };
  const pick = (ref: { attack_id: string; name: string }) => (
    <UnstyledButton key={ref.attack_id} onClick={() => onSelect(ref.attack_id)} fz="sm" c="blue.8" td="underline">
      {ref.attack_id} {ref.name}
    </UnstyledButton>
  );
  return (
    <Paper withBorder p="sm" radius="sm" component="aside" aria-label="Technique details" tabIndex={0}
      style={{ width: 420, flex: "0 0 420px", position: "sticky", top: 60, maxHeight: "calc(100vh - 80px)", overflowY: "auto" }}>
      <Stack gap="xs">
        <Group justify="space-between" align="flex-start" wrap="nowrap">
          <Title order={2} size="h4">
            {id} {item?.technique_name ?? ""}
          </Title>
          <CloseButton aria-label="Close the technique details" onClick={onClose} />
        </Group>
        {technique.error ? <ProblemAlert error={technique.error} /> : null}
        {technique.isPending && (
          <Stack gap={6} role="status" aria-busy="true" aria-label="Loading the technique">
            <Skeleton height={14} />
            <Skeleton height={14} width="70%" />
            <Skeleton height={80} />
          </Stack>
        )}
        {item && (
          <>
            <Group gap={4}>
              {item.status !== "active" && (
                <Badge size="sm" color="red" variant="light" c="gray.9">
                  {item.status}
                </Badge>
              )}
              {item.tactics.map((tactic) => (
                <Badge key={tactic} size="sm" variant="light" c="gray.9" color="blue" autoContrast tt="none">
                  {tacticLabel(tactic)}
                </Badge>
              ))}
            </Group>
            <Facts caption="The technique's properties" rows={[
              [`Coverage (${unit})`, coverage.toLocaleString()],
              ["Indicators mapped", item.analyst_links.toLocaleString()],
              ...(item.parent ? ([["Parent", pick(item.parent)]] as [string, React.ReactNode][]) : []),
              ...(item.subtechniques.length
                ? ([["Sub-techniques", <Stack gap={2}>{item.subtechniques.map(pick)}</Stack>]] as [string, React.ReactNode][])
                : []),
              ["Platforms", <Labels items={item.platforms} />],
              ["Data sources", <Labels items={item.data_sources} />],
              ...(item.defenses_bypassed.length ? ([["Defenses bypassed", <Labels items={item.defenses_bypassed} />]] as [string, React.ReactNode][]) : []),
              ...(item.revoked_by ? ([["Revoked by", item.revoked_by]] as [string, React.ReactNode][]) : []),
              // The reference address is shown as text: links are never built from data.
              ...(item.url ? ([["Reference", <Value text={item.url} />]] as [string, React.ReactNode][]) : []),
            ]} />
            <Title order={3} size="h5">
              Description
            </Title>
            <div tabIndex={0} role="region" aria-label="Description of the technique" style={{ maxHeight: 220, overflowY: "auto" }}>
              <PlainText text={item.description} empty="No description." />
            </div>
            <Title order={3} size="h5">
              Groups using it ({item.groups.length})
            </Title>
            {item.groups.length === 0 ? (
              <Text size="sm" c="dimmed">
                None known.
              </Text>
            ) : (
              <Group gap={8} wrap="wrap">
                {item.groups.slice(0, SHOWN_GROUPS).map((group) =>
                  group.actor_id ? (
                    <Anchor key={group.attack_id} component={Link} to={`/actors/${encodeURIComponent(group.actor_id)}`} size="sm">
                      {group.name}
                    </Anchor>
                  ) : (
                    <Text key={group.attack_id} size="sm">
                      {group.name}
                    </Text>
                  ),
                )}
                {item.groups.length > SHOWN_GROUPS && (
                  <Text size="sm" c="dimmed">
                    +{item.groups.length - SHOWN_GROUPS} more
                  </Text>
                )}
              </Group>
            )}
            <Title order={3} size="h5">
              Software using it ({item.software.length})
            </Title>
            <Labels items={item.software.slice(0, SHOWN_GROUPS).map((software) => software.name)} />
          </>
        )}
        <LinkedIndicators owner="technique" id={id} title="Mapped indicators" compact />
      </Stack>
    </Paper>
  );
}
