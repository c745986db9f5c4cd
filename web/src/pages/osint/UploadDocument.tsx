// A document (text, HTML, PDF or e-mail) added to a collection: stored as an item, its entities extracted.
import { Button, Group, Input, Stack } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useRef, useState, type FormEvent } from "react";

import { send, type Schemas } from "../../api/client";
import { ProblemAlert } from "../../components/ProblemAlert";
import { uploadBody, uploadPath } from "./collectionForm";

type UploadOutcome = Schemas["UploadOutcome"];

export function outcomeText(outcome: UploadOutcome): string {
  const file = outcome.files[0];
  if (file?.duplicate) return `${file.filename} was already stored; nothing new.`;
  const items = outcome.items_collected === 1 ? "1 new item" : `${outcome.items_collected} new items`;
  const entities = outcome.entities === 1 ? "1 entity" : `${outcome.entities} entities`;
  return `${file?.filename ?? "The file"} stored: ${items}, ${entities} found.`;
}

export function UploadDocument({ collectionId, onStored }: { collectionId: string; onStored: (message: string) => void }) {
  const client = useQueryClient();
  const inputId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const upload = useMutation({
    mutationFn: (chosen: File) => send<UploadOutcome>("POST", uploadPath(collectionId, chosen.name), uploadBody(chosen)),
    onSuccess: async (outcome) => {
      onStored(outcomeText(outcome));
      setFile(null);
      if (input.current) input.current.value = "";
      await Promise.all([
        client.invalidateQueries({ queryKey: ["collections"] }),
        client.invalidateQueries({ queryKey: ["entities"] }),
        client.invalidateQueries({ queryKey: ["graph"] }),
      ]);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (file) upload.mutate(file);
  };
  return (
    <form onSubmit={submit} aria-label="Upload a document">
      <Stack gap="xs">
        <Input.Wrapper label="Document" id={inputId} description="Text, HTML, PDF or an e-mail (.eml). The same file twice is stored once.">
          <input
            ref={input}
            id={inputId}
            type="file"
            accept=".txt,.text,.md,.csv,.log,.html,.htm,.pdf,.eml,text/plain,text/html,application/pdf,message/rfc822"
            onChange={(event) => setFile(event.currentTarget.files?.[0] ?? null)}
          />
        </Input.Wrapper>
        <Group>
          <Button type="submit" size="sm" disabled={!file} loading={upload.isPending}>
            Upload
          </Button>
        </Group>
        {upload.error && <ProblemAlert error={upload.error} />}
      </Stack>
    </form>
  );
}
