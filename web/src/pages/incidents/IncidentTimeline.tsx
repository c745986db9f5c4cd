// Every change, link and note of the incident, oldest first, with who and when; and the note
// form at the end of it. Notes are plain text with their line breaks kept.
import { Button, Group, Paper, Skeleton, Stack, Text, Textarea, Timeline, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap } from "../../api/client";
import { Can } from "../../app/auth";
import { Time } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import { describeEntry } from "./incidents";

export function IncidentTimeline({ incidentId, onDone }: { incidentId: string; onDone: (message: string) => void }) {
  const client = useQueryClient();
  const [note, setNote] = useState("");
  const timeline = useQuery({
    queryKey: ["incidents", "timeline", incidentId],
    queryFn: () =>
      unwrap(api.GET("/api/v1/incidents/{incident}/timeline", { params: { path: { incident: incidentId } } })),
  });
  const add = useMutation({
    mutationFn: (text: string) =>
      unwrap(api.POST("/api/v1/incidents/{incident}/notes", { params: { path: { incident: incidentId } }, body: { text } })),
    onSuccess: async () => {
      setNote("");
      await client.invalidateQueries({ queryKey: ["incidents"] });
      onDone("Note added.");
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (note.trim()) add.mutate(note);
  };
  const entries = timeline.data ?? [];
  return (
    <Paper component="section" withBorder p="md" radius="sm" aria-labelledby="incident-timeline">
      <Stack gap="sm">
        <Title order={2} size="h4" id="incident-timeline">
          Timeline
        </Title>
        {timeline.error && <ProblemAlert error={timeline.error} />}
        {timeline.isPending ? (
          <Stack gap="xs" aria-busy>
            <Skeleton height={14} width="60%" />
            <Skeleton height={14} width="80%" />
            <Skeleton height={14} width="50%" />
          </Stack>
        ) : entries.length === 0 ? (
          <Text size="sm" c="dimmed">Nothing recorded yet.</Text>
        ) : (
          <Timeline bulletSize={12} lineWidth={2} active={entries.length - 1} aria-label="Incident timeline" component="ol"
            style={{ listStyle: "none", paddingLeft: 0, margin: 0 }}>
            {entries.map((entry, index) => {
              const view = describeEntry(entry);
              return (
                <Timeline.Item key={`${entry.at}-${index}`} component="li" data-kind={entry.kind}
                  title={<Text size="sm" fw={600}>{view.title}</Text>}>
                  <Text size="xs" c="dimmed">
                    {entry.actor.username ?? entry.actor.via ?? "system"} · <Time value={entry.at} />
                  </Text>
                  {view.detail && (
                    <Text size="sm" style={{ overflowWrap: "anywhere" }}>
                      {view.detail}
                    </Text>
                  )}
                  {view.body !== undefined && (
                    <Text size="sm" mt={2} data-testid="timeline-text" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
                      {view.body}
                    </Text>
                  )}
                </Timeline.Item>
              );
            })}
          </Timeline>
        )}
        <Can permission="write_intel">
          <form onSubmit={submit}>
            <Stack gap="xs">
              <Textarea label="Add a note" description="Plain text; Ctrl+Enter adds it." autosize minRows={2} maxRows={10}
                value={note} onChange={(event) => setNote(event.currentTarget.value)}
                onKeyDown={(event) => {
                  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit(event);
                }} />
              <Group gap="xs">
                <Button type="submit" disabled={!note.trim()} loading={add.isPending}>
                  Add note
                </Button>
              </Group>
              {add.error && <ProblemAlert error={add.error} />}
            </Stack>
          </form>
        </Can>
      </Stack>
    </Paper>
  );
}
