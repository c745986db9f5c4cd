// Your API keys: list, create (the key is shown once) and revoke.
import { Badge, Button, Checkbox, Group, NumberInput, Paper, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../app/auth";
import { usePaging } from "../../app/urlState";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable, type Column } from "../../components/DataTable";
import { Time } from "../../components/format";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { SecretOnce } from "../admin/SecretOnce";
import { keyBody, keyErrors, SCOPE_HELP, scopesFor, type KeyDraft, type Scope } from "./profileLogic";

type Key = Schemas["ApiKeyRead"];

const EXPIRY = [
  { value: "30", label: "30 days" },
  { value: "90", label: "90 days" },
  { value: "365", label: "1 year" },
  { value: "", label: "Never" },
];

export function ApiKeysSection() {
  const client = useQueryClient();
  const paging = usePaging();
  const [created, setCreated] = useState<Schemas["ApiKeyCreated"] | null>(null);
  const [revoking, setRevoking] = useState<Key | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ["api-keys", "mine", paging.cursor],
    queryFn: () => unwrap(api.GET("/api/v1/api-keys", { params: { query: { limit: 50, cursor: paging.cursor || undefined } } })),
    placeholderData: keepPreviousData,
  });
  const revoke = useMutation({
    mutationFn: (key: Key) => unwrap(api.DELETE("/api/v1/api-keys/{key_id}", { params: { path: { key_id: key.id } } })),
    onSuccess: async (key) => {
      setRevoking(null);
      setMessage(`Key ${key.name ?? key.key_prefix ?? ""} revoked.`);
      await client.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const columns: Column<Key>[] = [
    { key: "name", header: "Name", render: (row) => row.name ?? "—" },
    { key: "prefix", header: "Starts with", render: (row) => <span className="mono">{row.key_prefix ?? "—"}</span>, width: 120 },
    { key: "scopes", header: "Scopes", render: (row) => (row.scopes ?? []).join(", ") || "—" },
    {
      key: "state", header: "State", width: 90,
      render: (row) => (
        <Badge size="sm" variant="outline" color={row.is_active ? "teal" : "gray"} autoContrast>
          {row.is_active ? "active" : "revoked"}
        </Badge>
      ),
    },
    { key: "expires", header: "Expires", render: (row) => (row.expires_at ? <Time value={row.expires_at} /> : "never"), width: 150 },
    { key: "used", header: "Last used", render: (row) => <Time value={row.last_used} />, width: 150 },
    { key: "count", header: "Requests", render: (row) => row.usage_count.toLocaleString(), align: "right", width: 90 },
    {
      key: "actions", header: "Actions", width: 90,
      render: (row) =>
        row.is_active ? (
          <Button size="compact-xs" variant="light" color="red" aria-label={`Revoke ${row.name ?? row.key_prefix ?? "key"}`}
            onClick={() => {
              revoke.reset();
              setRevoking(row);
            }}>
            Revoke
          </Button>
        ) : null,
    },
  ];
  const rows = list.data?.items;
  return (
    <Stack gap="sm">
      <Text size="sm">
        Programs call the API with a key as <span className="mono">Authorization: Bearer &lt;key&gt;</span>. A key can do at
        most what you can, narrowed by its scopes.
      </Text>
      {message && <Text size="sm" c="teal.9" role="status">{message}</Text>}
      {list.error && <ProblemAlert error={list.error} />}
      <DataTable caption="Your API keys" columns={columns} rows={rows} rowKey={(row) => row.id} loading={list.isPending}
        empty="No API keys yet. Create one below for each program that calls the API." />
      <Pager nextCursor={list.data?.next_cursor} total={list.data?.total} shown={rows?.length ?? 0} />
      <CreateKeyForm onCreated={(result) => {
        setMessage(`Key ${result.api_key.name ?? ""} created.`);
        setCreated(result);
      }} />
      <ConfirmModal opened={revoking !== null} title="Revoke API key" confirmLabel="Revoke key"
        onClose={() => setRevoking(null)} onConfirm={() => revoking && revoke.mutate(revoking)}
        loading={revoke.isPending} error={revoke.error}>
        Revoke {revoking?.name ?? "this key"}? Programs using it stop working at once.
      </ConfirmModal>
      <SecretOnce title={created ? `API key ${created.api_key.name ?? ""}` : "API key"} secret={created?.key ?? null}
        label="API key"
        warning="Store this key now, in a password manager or your program's secret store. It is kept only as a hash and cannot be shown again; if it is lost, revoke it and create a new one."
        onClose={() => setCreated(null)} />
    </Stack>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (created: Schemas["ApiKeyCreated"]) => void }) {
  const client = useQueryClient();
  const { me } = useAuth();
  const allowed = scopesFor(me?.permissions ?? []);
  const initial = (): KeyDraft => ({ name: "", scopes: allowed.filter((scope) => scope !== "admin"), expiresInDays: "90", rateLimit: 100 });
  const [draft, setDraft] = useState<KeyDraft>(initial);
  const [tried, setTried] = useState(false);
  const errors = tried ? keyErrors(draft) : {};
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/api-keys", { body: keyBody(draft) })),
    onSuccess: async (result) => {
      setDraft(initial());
      setTried(false);
      await client.invalidateQueries({ queryKey: ["api-keys"] });
      onCreated(result);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (Object.keys(keyErrors(draft)).length === 0) create.mutate();
  };
  return (
    <Paper withBorder radius="sm" p="sm">
      <form onSubmit={submit} aria-label="New API key" noValidate>
        <Stack gap="sm">
          <Title order={3} size="h5">
            New API key
          </Title>
          <Group gap="sm" align="flex-start" wrap="wrap">
            <TextInput label="Name" required w={240} placeholder="SIEM connector" value={draft.name} error={errors.name}
              onChange={(event) => setDraft({ ...draft, name: event.currentTarget.value })} />
            <Select label="Expires after" w={150} allowDeselect={false} data={EXPIRY} value={draft.expiresInDays}
              onChange={(value) => setDraft({ ...draft, expiresInDays: value ?? "" })} />
            <NumberInput label="Requests per minute" w={170} min={1} max={1_000_000} allowDecimal={false}
              value={draft.rateLimit} error={errors.rateLimit}
              onChange={(value) => setDraft({ ...draft, rateLimit: typeof value === "number" ? value : Number(value) })} />
          </Group>
          <Checkbox.Group label="Scopes" value={draft.scopes} error={errors.scopes}
            onChange={(value) => setDraft({ ...draft, scopes: value as Scope[] })}>
            <Group gap="md" mt={4}>
              {allowed.map((scope) => (
                <Checkbox key={scope} value={scope} label={`${scope} — ${SCOPE_HELP[scope]}`} />
              ))}
            </Group>
          </Checkbox.Group>
          {create.error && <ProblemAlert error={create.error} title="Key not created" />}
          <Group>
            <Button type="submit" loading={create.isPending}>
              Create API key
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
