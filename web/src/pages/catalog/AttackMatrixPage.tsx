// The ATT&CK matrix: tactics as columns, techniques as cells coloured by coverage, sub-
// techniques folded under their parent. The selected technique, the search and the filters
// live in the URL; its details open in a side panel.
import { Alert, Button, Checkbox, Group, Select, Skeleton, Stack, Text } from "@mantine/core";
import { useHotkeys } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useUrlState } from "../../app/urlState";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { SearchField } from "./common";
import {
  buildMatrix,
  coverageOf,
  coverageFromCampaigns,
  coverageFromIndicators,
  legend,
  maxCoverage,
  parentOf,
  type TechniqueLike,
} from "./matrix";
import { BUCKET_STYLES, MatrixGrid } from "./MatrixGrid";
import { TechniquePanel } from "./TechniquePanel";

// The list may one day carry an indicator count per technique; read it when it does.
type Technique = Schemas["TechniqueRead"] & { indicator_count?: number | null };

/** Every technique, 500 a request (the API's largest page). */
async function allTechniques(): Promise<TechniqueLike[]> {
  const out: TechniqueLike[] = [];
  let cursor: string | undefined;
  do {
    const page = await unwrap(api.GET("/api/v1/mitre-techniques", { params: { query: { limit: 500, cursor } } }));
    for (const item of page.items as Technique[]) {
      out.push({
        technique_id: item.technique_id,
        technique_name: item.technique_name,
        tactics: item.tactics ?? [],
        platforms: item.platforms ?? [],
        is_subtechnique: item.is_subtechnique ?? false,
        status: item.status ?? "active",
        indicator_count: item.indicator_count,
      });
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

async function allCampaigns(): Promise<Schemas["CampaignRead"][]> {
  const out: Schemas["CampaignRead"][] = [];
  let cursor: string | undefined;
  do {
    const page = await unwrap(api.GET("/api/v1/threat-campaigns", { params: { query: { limit: 500, cursor } } }));
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

const METRICS = {
  indicators: { label: "Indicators mapped", unit: "indicators" },
  campaigns: { label: "Campaigns using it", unit: "campaigns" },
} as const;
type Metric = keyof typeof METRICS;

export default function AttackMatrixPage() {
  const [url, set] = useUrlState<"technique" | "q" | "platform" | "revoked" | "by" | "subs">();
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set(url.technique ? [parentOf(url.technique)] : []));
  const techniques = useQuery({ queryKey: ["techniques", "all"], queryFn: allTechniques, staleTime: 5 * 60_000 });
  const indicatorCoverage = useMemo(
    () => (techniques.data ? coverageFromIndicators(techniques.data) : null),
    [techniques.data],
  );
  const metric: Metric = url.by === "campaigns" || url.by === "indicators" ? url.by : indicatorCoverage ? "indicators" : "campaigns";
  const campaigns = useQuery({
    queryKey: ["campaigns", "all"],
    queryFn: allCampaigns,
    staleTime: 5 * 60_000,
    enabled: metric === "campaigns",
  });
  const coverage = useMemo(() => {
    if (metric === "indicators") return indicatorCoverage ?? new Map<string, number>();
    return coverageFromCampaigns(campaigns.data ?? []);
  }, [metric, indicatorCoverage, campaigns.data]);
  const columns = useMemo(
    () => buildMatrix(techniques.data ?? [], coverage, { showRevoked: url.revoked === "1", platform: url.platform }),
    [techniques.data, coverage, url.revoked, url.platform],
  );
  const max = useMemo(() => maxCoverage(columns), [columns]);
  const platforms = useMemo(
    () => [...new Set((techniques.data ?? []).flatMap((technique) => technique.platforms))].sort(),
    [techniques.data],
  );
  const select = useCallback(
    (id: string) => {
      setExpanded((current) => (current.has(parentOf(id)) ? current : new Set([...current, parentOf(id)])));
      set({ technique: id });
    },
    [set],
  );
  const toggle = useCallback((id: string) => {
    setExpanded((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }, []);
  useHotkeys([["Escape", () => url.technique && set({ technique: undefined })]]);
  const unit = METRICS[metric].unit;
  const selectedCoverage = url.technique ? coverageOf(columns, url.technique, coverage) : 0;
  const shown = useMemo(() => {
    const ids = new Set<string>();
    for (const column of columns) {
      for (const cell of column.cells) {
        ids.add(cell.id);
        for (const sub of cell.subtechniques) ids.add(sub.id);
      }
    }
    return ids.size;
  }, [columns]);
  return (
    <Stack gap="sm">
      <PageHeader
        title="ATT&CK matrix"
        help="Tactics as columns, techniques as cells coloured by coverage. Open a technique for its details and indicators; Esc closes it."
      />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <SearchField label="Find a technique" placeholder="T1059, phishing" value={url.q} onSearch={(q) => set({ q }, true)} width={220} />
        <Select label="Platform" placeholder="Any" clearable searchable w={180} data={platforms} value={url.platform ?? null}
          onChange={(value) => set({ platform: value ?? undefined })} />
        <Select label="Colour by" w={200} allowDeselect={false} value={metric}
          data={[
            { value: "indicators", label: METRICS.indicators.label, disabled: !indicatorCoverage },
            { value: "campaigns", label: METRICS.campaigns.label },
          ]}
          onChange={(value) => value && set({ by: value })} />
        <Checkbox label="Show revoked and deprecated" mb={8} checked={url.revoked === "1"}
          onChange={(event) => set({ revoked: event.currentTarget.checked ? "1" : undefined })} />
        <Button variant="subtle" mb={2} onClick={() => {
          if (url.subs === "open") {
            setExpanded(new Set());
            set({ subs: undefined });
          } else set({ subs: "open" });
        }}>
          {url.subs === "open" ? "Fold sub-techniques" : "Unfold all sub-techniques"}
        </Button>
      </Group>
      {!indicatorCoverage && techniques.data && (
        <Text size="xs" c="dimmed">
          The technique list does not report how many indicators each technique has, so the colours show the campaigns using
          it; a technique’s own count of mapped indicators is in its details.
        </Text>
      )}
      <Group gap={6} aria-label="Colour legend" role="group">
        <Text size="sm" fw={600}>
          {METRICS[metric].label}:
        </Text>
        {legend(max).map((entry) => (
          <Group key={entry.bucket} gap={4}>
            <span aria-hidden="true" style={{ display: "inline-block", width: 18, height: 12, borderRadius: 2,
              border: "1px solid var(--mantine-color-gray-4)", background: BUCKET_STYLES[entry.bucket].background }} />
            <Text size="sm">{entry.bucket === 0 ? "none" : entry.from === entry.to ? `${entry.from}` : `${entry.from}–${entry.to}`}</Text>
          </Group>
        ))}
        {techniques.data && (
          <Text size="sm" c="dimmed" ml="sm">
            {shown.toLocaleString()} of {techniques.data.length.toLocaleString()} techniques and sub-techniques shown
          </Text>
        )}
      </Group>
      {techniques.error ? <ProblemAlert error={techniques.error} /> : null}
      {campaigns.error ? <ProblemAlert error={campaigns.error} /> : null}
      {techniques.isPending ? (
        <Group gap={6} align="flex-start" wrap="nowrap" role="status" aria-busy="true" aria-label="Loading the matrix">
          {Array.from({ length: 8 }, (_, index) => (
            <Stack key={index} gap={4} w={150}>
              {Array.from({ length: 12 }, (_, row) => (
                <Skeleton key={row} height={22} />
              ))}
            </Stack>
          ))}
        </Group>
      ) : techniques.data && techniques.data.length === 0 ? (
        <Alert color="gray" title="No techniques yet">
          Import ATT&CK with the command line (krsn attack import) to fill the matrix.
        </Alert>
      ) : (
        <Group gap="sm" align="flex-start" wrap="nowrap">
          <div style={{ flex: 1, minWidth: 0 }}>
            <MatrixGrid columns={columns} max={max} selected={url.technique} expanded={expanded} allExpanded={url.subs === "open"}
              query={url.q ?? ""} unit={unit} onSelect={select} onToggle={toggle} />
          </div>
          {url.technique && (
            <TechniquePanel key={url.technique} id={url.technique} coverage={selectedCoverage} unit={unit} onSelect={select}
              onClose={() => set({ technique: undefined })} />
          )}
        </Group>
      )}
    </Stack>
  );
}
