// A saved copy of the feed (downloaded elsewhere, or from an offline network) read as if the
// feed had been downloaded: same format and rules, same source, recorded in its runs.
import { Button, Group, Input, Paper, Stack, Text, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useRef, useState, type FormEvent } from "react";

import { send } from "../../api/client";
import type { Feed, FeedRun } from "./feedForm";

export function UploadForm({ feed, onDone }: { feed: Feed; onDone: (run: FeedRun | null, error: unknown) => void }) {
  const client = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  const [file, setFile] = useState<File | null>(null);
  const upload = useMutation({
    mutationFn: (chosen: File) => {
      const body = new FormData();
      body.append("file", chosen, chosen.name);
      return send<FeedRun>("POST", `/api/v1/feeds/${encodeURIComponent(feed.id)}/upload`, body);
    },
    onMutate: () => onDone(null, null),
    onSuccess: (run) => {
      onDone(run, null);
      setFile(null);
      if (input.current) input.current.value = "";
    },
    onError: (error) => onDone(null, error),
    onSettled: async () => {
      // A refused file is recorded as a failed run too.
      await client.invalidateQueries({ queryKey: ["feeds"] });
      await client.invalidateQueries({ queryKey: ["indicators"] });
      await client.invalidateQueries({ queryKey: ["dashboard"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (file) upload.mutate(file);
  };
  return (
    <Paper withBorder radius="sm" p="sm" component="form" onSubmit={submit} aria-label="Upload a saved feed file">
      <Stack gap="xs">
        <Title order={2} size="h6">
          Upload a saved feed file
        </Title>
        <Text size="xs" c="dimmed">
          Read exactly as a download of this feed ({feed.format ?? "its format"}, its parsing rules), credited to{" "}
          {feed.source ?? "its source"} and recorded in the run history. The schedule is unchanged.
        </Text>
        <Input.Wrapper label="Saved feed file" labelProps={{ htmlFor: id }}>
          <input id={id} ref={input} type="file" className="mono" style={{ display: "block", marginTop: 4 }}
            onChange={(event) => setFile(event.currentTarget.files?.[0] ?? null)} />
        </Input.Wrapper>
        <Group>
          <Button type="submit" disabled={!file} loading={upload.isPending}>
            Upload and ingest
          </Button>
          {file && (
            <Text size="xs" c="dimmed">
              {(file.size / 1024).toFixed(1)} KiB
            </Text>
          )}
        </Group>
      </Stack>
    </Paper>
  );
}
