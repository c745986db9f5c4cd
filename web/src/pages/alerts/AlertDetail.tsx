// The selected alert: what fired, on what, where it was seen, and the triage buttons.
// Everything from the alert (title, values, context) is rendered as text.
import { Anchor, Badge, Button, Checkbox, Code, Group, Paper, Skeleton, Stack, Table, Text, Textarea, Title } from "@mantine/core";
import { Link } from "react-router-dom";

import type { Schemas } from "../../api/client";
import { Can } from "../../app/auth";
import { EmptyState } from "../../components/EmptyState";
import { SeverityBadge, StatusBadge, Time, Value } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { blockedReason, isClosed, prettyJson, type TriageAction } from "./triage";

type Alert = Schemas["AlertRead"];

interface Props {
  alert: Alert | undefined;
  loading: boolean;
  error: unknown;
  myId: string | undefined;
  pending: TriageAction | "reopen" | null;
  notes: string;
  onNotes: (value: string) => void;
  markIndicator: boolean;
  onMarkIndicator: (value: boolean) => void;
  onAction: (action: TriageAction | "reopen") => void;
}

function Row({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th scope="row" w={150} fw={600}>
        {label}
      </Table.Th>
      <Table.Td>{children}</Table.Td>
    </Table.Tr>
  );
}

export function AlertDetail(props: Props) {
  const { alert, loading, error, myId, pending, notes, onNotes, markIndicator, onMarkIndicator, onAction } = props;
  if (error) return <ProblemAlert error={error} title="This alert cannot be shown" />;
  if (loading && !alert) {
    return (
      <Paper withBorder p="md" radius="sm" aria-busy>
        <Stack gap="xs">
          <Skeleton height={22} width="70%" />
          <Skeleton height={14} width="40%" />
          <Skeleton height={120} />
        </Stack>
      </Paper>
    );
  }
  if (!alert) {
    return (
      <EmptyState title="No alert selected">
        Choose an alert in the list, or press j to start at the top of the queue.
      </EmptyState>
    );
  }
  const button = (action: TriageAction, label: string, key: string, color?: string) => {
    const blocked = blockedReason(alert, action, myId);
    return (
      <Button size="xs" variant={color ? "light" : "default"} color={color} disabled={!!blocked}
        title={blocked ?? undefined} loading={pending === action} onClick={() => onAction(action)}
        aria-keyshortcuts={key}>
        {label} <kbd style={{ marginLeft: 6 }}>{key}</kbd>
      </Button>
    );
  };
  const closed = isClosed(alert.status);
  return (
    <Paper component="section" withBorder p="md" radius="sm" aria-label="Selected alert">
      <Stack gap="sm">
        <Stack gap={4}>
          <Title order={2} size="h4" style={{ overflowWrap: "anywhere" }}>
            {alert.title}
          </Title>
          <Group gap="xs">
            <SeverityBadge value={alert.severity} />
            <StatusBadge value={alert.status} />
            <Badge size="sm" variant="default">
              priority {alert.priority}
            </Badge>
            {alert.incident && (
              <Anchor component={Link} to={`/incidents/${encodeURIComponent(alert.incident.id)}`} size="sm">
                {alert.incident.incident_number}
              </Anchor>
            )}
          </Group>
          {alert.description && (
            <Text size="sm" style={{ overflowWrap: "anywhere" }}>
              {alert.description}
            </Text>
          )}
        </Stack>

        <Can permission="write_intel">
          <Stack gap="xs">
            <Group gap="xs" wrap="wrap">
              {button("acknowledge", "Acknowledge", "a")}
              {button("assign", "Assign to me", "s")}
              {button("resolve", "Resolve", "r", "green")}
              {button("false_positive", "False positive", "f", "gray")}
              <Button size="xs" variant="light" loading={pending === "incident"} onClick={() => onAction("incident")}
                aria-keyshortcuts="i">
                {alert.incident ? "Open incident" : "Create incident"} <kbd style={{ marginLeft: 6 }}>i</kbd>
              </Button>
              {closed && (
                <Button size="xs" variant="subtle" loading={pending === "reopen"} onClick={() => onAction("reopen")}>
                  Reopen
                </Button>
              )}
            </Group>
            <Textarea label="Resolution notes (optional, sent with resolve or false positive)" size="xs" autosize
              minRows={1} maxRows={6} maxLength={20000} value={notes} onChange={(event) => onNotes(event.currentTarget.value)} />
            {alert.indicator_id && (
              <Checkbox size="xs" label="A false positive also marks the indicator false positive"
                checked={markIndicator} onChange={(event) => onMarkIndicator(event.currentTarget.checked)} />
            )}
          </Stack>
        </Can>

        <Table fz="sm" verticalSpacing={4} withRowBorders={false}>
          <Table.Caption className="visually-hidden">Alert details</Table.Caption>
          <Table.Tbody>
            <Row label="Indicator">
              {alert.indicator_id ? (
                <Anchor component={Link} to={`/indicators/${encodeURIComponent(alert.indicator_id)}`} size="sm">
                  <Value text={alert.indicator_value ?? alert.indicator_id} />
                </Anchor>
              ) : (
                <Text size="sm" c="dimmed" component="span">
                  No stored indicator
                  {typeof alert.alert_data?.value === "string" && (
                    <>
                      {" "}
                      (value <Value text={alert.alert_data.value} />)
                    </>
                  )}
                </Text>
              )}
              {alert.indicator_type && (
                <Text span size="xs" c="dimmed" ml={6}>
                  {alert.indicator_type}
                </Text>
              )}
            </Row>
            <Row label="Rule">
              {alert.rule_id ? (
                <Anchor component={Link} to={`/rules/${encodeURIComponent(alert.rule_id)}`} size="sm">
                  {alert.rule_name ?? alert.rule_id}
                </Anchor>
              ) : (
                <Text span size="sm" c="dimmed">
                  {typeof alert.alert_data?.rule_name === "string" ? alert.alert_data.rule_name : "No rule (a watchlist hit or a sighting)"}
                </Text>
              )}
            </Row>
            <Row label="Occurrences">{alert.occurrence_count.toLocaleString()}</Row>
            <Row label="Triggered"><Time value={alert.triggered_at} /></Row>
            <Row label="Last seen"><Time value={alert.last_seen_at} /></Row>
            <Row label="Acknowledged"><Time value={alert.acknowledged_at} /></Row>
            <Row label="Resolved"><Time value={alert.resolved_at} /></Row>
            <Row label="Assigned to">{alert.assigned_username ?? "Nobody"}</Row>
            {alert.resolution_notes && (
              <Row label="Resolution notes">
                <Text size="sm" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
                  {alert.resolution_notes}
                </Text>
              </Row>
            )}
          </Table.Tbody>
        </Table>

        {alert.alert_data && (
          <Stack gap={4}>
            <Text size="sm" fw={600}>
              Context
            </Text>
            <Code block style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
              {prettyJson(alert.alert_data)}
            </Code>
          </Stack>
        )}
        {alert.metadata && Object.keys(alert.metadata).length > 0 && (
          <Stack gap={4}>
            <Text size="sm" fw={600}>
              Metadata
            </Text>
            <Code block style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
              {prettyJson(alert.metadata)}
            </Code>
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}
