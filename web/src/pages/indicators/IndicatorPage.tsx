// One indicator: what it is and how it scores, then tabs (kept in the URL) for its sources,
// sightings, alerts, correlations, enrichments, techniques and graph neighbourhood.
import { Badge, Button, CloseButton, Group, Paper, Stack, Tabs, Text } from "@mantine/core";
import { useHotkeys } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link, useParams } from "react-router-dom";

import { api, ApiError, unwrap, type Schemas } from "../../api/client";
import { Can, useAuth } from "../../app/auth";
import { useUrlState } from "../../app/urlState";
import { EmptyState } from "../../components/EmptyState";
import { formatScore, SeverityBadge, Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { PageSkeleton } from "../../components/PageSkeleton";
import { ProblemAlert } from "../../components/ProblemAlert";
import { IndicatorActions, useIndicatorEdit } from "./IndicatorActions";
import { IndicatorGraph } from "./IndicatorGraph";
import { confidenceOverride, falsePositive, malwareFamilies, tagsOf } from "./IndicatorLogic";
import {
  AlertsPanel,
  CorrelationsPanel,
  EnrichmentsPanel,
  ScorePanel,
  SightingsPanel,
  SourcesPanel,
  TechniquesPanel,
} from "./IndicatorPanels";

type Detail = Schemas["IndicatorDetail"];

export const INDICATOR_TABS = [
  { value: "score", label: "Score" },
  { value: "sources", label: "Sources" },
  { value: "sightings", label: "Sightings" },
  { value: "alerts", label: "Alerts" },
  { value: "correlations", label: "Correlations" },
  { value: "enrichments", label: "Enrichments" },
  { value: "techniques", label: "ATT&CK" },
  { value: "graph", label: "Graph" },
] as const;

/** The tab a digit key opens (1 the first tab … 8 the last), or null. */
export function tabForKey(key: string): string | null {
  const index = Number(key) - 1;
  return /^[1-9]$/.test(key) && index < INDICATOR_TABS.length ? INDICATOR_TABS[index].value : null;
}

export default function IndicatorPage() {
  const { key = "" } = useParams();
  const query = useQuery({
    queryKey: ["indicators", "detail", key],
    queryFn: () => unwrap(api.GET("/api/v1/indicators/{key}", { params: { path: { key } } })),
  });
  if (query.isPending) return <PageSkeleton />;
  if (query.error) {
    const missing = query.error instanceof ApiError && query.error.status === 404;
    return (
      <Stack gap="sm">
        <PageHeader title="Indicator" />
        {missing ? (
          <EmptyState title="No such indicator">
            It may have been removed, or the address is wrong. <Link to="/indicators">Search the indicators.</Link>
          </EmptyState>
        ) : (
          <ProblemAlert error={query.error} />
        )}
      </Stack>
    );
  }
  return <Indicator detail={query.data} routeKey={key} />;
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm" component="div" fw={600}>
        {children}
      </Text>
    </Stack>
  );
}

function Indicator({ detail, routeKey }: { detail: Detail; routeKey: string }) {
  const indicator = detail.indicator;
  const auth = useAuth();
  const [url, set] = useUrlState<"tab">({ tab: "score" });
  const [message, setMessage] = useState<string | null>(null);
  const edit = useIndicatorEdit(detail, routeKey);
  const tags = tagsOf(indicator);
  const families = malwareFamilies(indicator);
  const marked = falsePositive(indicator);
  const override = confidenceOverride(indicator);
  const tab = INDICATOR_TABS.some((item) => item.value === url.tab) ? url.tab! : "score";
  const openTab = (value: string) => set({ tab: value === "score" ? undefined : value });
  // Digits switch tabs (not while typing: the hook ignores inputs).
  useHotkeys(INDICATOR_TABS.map((_, index) => [String(index + 1), () => openTab(tabForKey(String(index + 1))!)]));
  const title = indicator.indicator_value.length > 90 ? `${indicator.indicator_value.slice(0, 89)}…` : indicator.indicator_value;
  return (
    <Stack gap="sm">
      <PageHeader title={title} help={`${indicator.indicator_type} indicator`}
        actions={
          <Button component={Link} to="/indicators" variant="default" size="xs">
            All indicators
          </Button>
        } />
      <Paper withBorder radius="sm" p="sm" component="section" aria-label="Summary">
        <Stack gap="xs">
          <Text className="mono" data-testid="indicator-value">
            {indicator.indicator_value}
          </Text>
          <Group gap="xl" wrap="wrap" align="flex-start">
            <Fact label="Type">{indicator.indicator_type}</Fact>
            <Fact label="Severity">
              <SeverityBadge value={indicator.severity} />
            </Fact>
            <Fact label="Threat score">{formatScore(indicator.threat_score)}</Fact>
            <Fact label="Score now">{formatScore(indicator.decayed_threat_score)}</Fact>
            <Fact label={override !== null ? "Confidence (analyst)" : "Confidence"}>{formatScore(indicator.confidence_score)}</Fact>
            <Fact label="TLP">{indicator.tlp ? `TLP:${indicator.tlp.toUpperCase()}` : "not marked"}</Fact>
            <Fact label="State">
              {marked ? (
                <Badge size="sm" variant="outline" color="gray" autoContrast>false positive</Badge>
              ) : (
                <Badge size="sm" variant="outline" color={indicator.is_active ? "teal" : "gray"} autoContrast>
                  {indicator.is_active ? "active" : "inactive"}
                </Badge>
              )}
            </Fact>
            <Fact label="Sources">{detail.intelligence.length}</Fact>
            <Fact label="First seen">
              <Time value={indicator.first_seen_at} />
            </Fact>
            <Fact label="Last seen">
              <Time value={indicator.last_seen_at} />
            </Fact>
          </Group>
          <Group gap={6} wrap="wrap" role="group" aria-label="Tags">
            <Text size="xs" c="dimmed">
              Tags
            </Text>
            {tags.all.length === 0 && <Text size="sm" c="dimmed">none</Text>}
            {tags.all.map((tag) => (
              <Badge key={tag} size="md" variant="outline" color={tags.analyst.has(tag) ? "blue" : "gray"} tt="none" autoContrast
                rightSection={
                  auth.can("write_intel") && tags.analyst.has(tag) ? (
                    <CloseButton size="xs" aria-label={`Remove tag ${tag}`} disabled={edit.isPending}
                      onClick={() => edit.mutate({ body: { tags_remove: [tag] }, done: "" }, { onSuccess: () => setMessage(`Tag ${tag} removed.`) })} />
                  ) : undefined
                }>
                {tag}
              </Badge>
            ))}
            {families.length > 0 && (
              <>
                <Text size="xs" c="dimmed" ml="md">
                  Malware families
                </Text>
                {families.map((family) => (
                  <Badge key={family} size="md" variant="outline" color="red" tt="none" autoContrast>
                    {family}
                  </Badge>
                ))}
              </>
            )}
          </Group>
          {edit.error && <ProblemAlert error={edit.error} title="Tag not removed" />}
        </Stack>
      </Paper>
      <Can permission="write_intel">
        <IndicatorActions detail={detail} routeKey={routeKey} onMessage={setMessage} />
      </Can>
      {message && <Text size="sm" c="teal.9" role="status">{message}</Text>}
      <Tabs value={tab} onChange={(value) => value && openTab(value)} keepMounted={false}>
        <Tabs.List aria-label="Indicator details (keys 1 to 8)">
          {INDICATOR_TABS.map((item) => (
            <Tabs.Tab key={item.value} value={item.value}>
              {item.label}
              {item.value === "sources" ? ` (${detail.intelligence.length})` : ""}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        <Tabs.Panel value="score" pt="sm">
          <ScorePanel indicator={indicator} />
        </Tabs.Panel>
        <Tabs.Panel value="sources" pt="sm">
          <SourcesPanel records={detail.intelligence} />
        </Tabs.Panel>
        <Tabs.Panel value="sightings" pt="sm">
          <SightingsPanel id={indicator.id} />
        </Tabs.Panel>
        <Tabs.Panel value="alerts" pt="sm">
          <AlertsPanel id={indicator.id} />
        </Tabs.Panel>
        <Tabs.Panel value="correlations" pt="sm">
          <CorrelationsPanel id={indicator.id} />
        </Tabs.Panel>
        <Tabs.Panel value="enrichments" pt="sm">
          <EnrichmentsPanel id={indicator.id} />
        </Tabs.Panel>
        <Tabs.Panel value="techniques" pt="sm">
          <TechniquesPanel id={indicator.id} />
        </Tabs.Panel>
        <Tabs.Panel value="graph" pt="sm">
          <IndicatorGraph id={indicator.id} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
