// Organizations: the search and the one being edited live in the URL.
import { Badge, Button, Group, Modal, Select, Stack, Switch, Text, TextInput } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useDebouncedQuery, useUrlState } from "../../app/urlState";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable, type Column } from "../../components/DataTable";
import { FormButtons } from "../../components/FormButtons";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { AdminOnly } from "./AdminOnly";
import { RowActions } from "./RowActions";

type Organization = Schemas["OrganizationRead"];
type Size = Schemas["OrganizationSize"];
const SIZES: Size[] = ["small", "medium", "large"];

export interface OrganizationDraft {
  name: string;
  domain: string;
  industry: string;
  size: Size | "";
  active: boolean;
}

const EMPTY: OrganizationDraft = { name: "", domain: "", industry: "", size: "", active: true };

/** The body for a create or an update: empty boxes become null, the name is required. */
export function organizationBody(draft: OrganizationDraft, editing: boolean): Schemas["OrganizationUpdate"] {
  const body: Schemas["OrganizationUpdate"] = {
    name: draft.name.trim(),
    domain: draft.domain.trim() || null,
    industry: draft.industry.trim() || null,
    size: draft.size || null,
  };
  if (editing) body.is_active = draft.active;
  return body;
}

export default function OrganizationsPage() {
  return (
    <AdminOnly title="Organizations">
      <Organizations />
    </AdminOnly>
  );
}

function Organizations() {
  const client = useQueryClient();
  const [url, set] = useUrlState<"q" | "edit">();
  const [text, setText] = useState(url.q ?? "");
  const pushQuery = useDebouncedQuery(set);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Organization | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ["organizations", "list", url.q, url.cursor],
    queryFn: () =>
      unwrap(api.GET("/api/v1/organizations", { params: { query: { q: url.q || undefined, cursor: url.cursor || undefined, limit: 50 } } })),
    placeholderData: keepPreviousData,
  });
  const rows = list.data?.items;
  const editing = useQuery({
    queryKey: ["organizations", "one", url.edit],
    queryFn: () =>
      unwrap(api.GET("/api/v1/organizations/{organization_id}", { params: { path: { organization_id: url.edit! } } })),
    enabled: !!url.edit,
    initialData: () => rows?.find((row) => row.id === url.edit),
  });
  const remove = useMutation({
    mutationFn: (org: Organization) =>
      unwrap(api.DELETE("/api/v1/organizations/{organization_id}", { params: { path: { organization_id: org.id } } })),
    onSuccess: async (_, org) => {
      setDeleting(null);
      setMessage(`${org.name} deleted.`);
      await client.invalidateQueries({ queryKey: ["organizations"] });
    },
  });
  const columns: Column<Organization>[] = [
    { key: "name", header: "Name", render: (row) => <Text size="sm" fw={600}>{row.name}</Text> },
    { key: "domain", header: "Domain", render: (row) => row.domain ?? "—" },
    { key: "industry", header: "Industry", render: (row) => row.industry ?? "—" },
    { key: "size", header: "Size", render: (row) => row.size ?? "—", width: 80 },
    {
      key: "active", header: "State", width: 90,
      render: (row) => (
        <Badge size="sm" variant="outline" color={row.is_active ? "teal" : "gray"} autoContrast>
          {row.is_active ? "active" : "inactive"}
        </Badge>
      ),
    },
    { key: "created", header: "Created", render: (row) => <Time value={row.created_at} />, width: 150 },
    {
      key: "actions", header: "Actions", width: 140,
      render: (row) => (
        <RowActions name={row.name} onEdit={() => set({ edit: row.id })} onDelete={() => {
          remove.reset();
          setDeleting(row);
        }} />
      ),
    },
  ];
  return (
    <Stack gap="sm">
      <PageHeader title="Organizations" help="The organizations users belong to."
        actions={<Button onClick={() => setCreating(true)}>New organization</Button>} />
      <Group gap="xs" align="flex-end">
        <TextInput label="Search" placeholder="Part of the name" w={240} value={text}
          onChange={(event) => {
            setText(event.currentTarget.value);
            pushQuery(event.currentTarget.value);
          }} />
      </Group>
      {message && <Text size="sm" c="teal.9" role="status">{message}</Text>}
      {list.error && <ProblemAlert error={list.error} />}
      <DataTable caption="Organizations" columns={columns} rows={rows} rowKey={(row) => row.id} loading={list.isPending}
        activeKey={url.edit}
        empty={url.q ? "No organization matches this search." : "No organizations yet. Create one with New organization."} />
      <Pager nextCursor={list.data?.next_cursor} total={list.data?.total} shown={rows?.length ?? 0} />
      <Modal opened={creating} onClose={() => setCreating(false)} title="New organization">
        {creating && (
          <OrganizationForm onClose={() => setCreating(false)} onSaved={(org) => {
            setCreating(false);
            setMessage(`${org.name} created.`);
          }} />
        )}
      </Modal>
      <Modal opened={!!url.edit && !!editing.data} onClose={() => set({ edit: undefined })}
        title={editing.data ? `Edit ${editing.data.name}` : "Edit organization"}>
        {editing.data && (
          <OrganizationForm key={editing.data.id} organization={editing.data} onClose={() => set({ edit: undefined })}
            onSaved={(org) => {
              set({ edit: undefined });
              setMessage(`${org.name} saved.`);
            }} />
        )}
      </Modal>
      {url.edit && editing.error && <ProblemAlert error={editing.error} title="Cannot open this organization" />}
      <ConfirmModal opened={deleting !== null} title="Delete organization" confirmLabel="Delete organization"
        onClose={() => setDeleting(null)} onConfirm={() => deleting && remove.mutate(deleting)}
        loading={remove.isPending} error={remove.error}>
        Delete {deleting?.name}? This cannot be undone.
      </ConfirmModal>
    </Stack>
  );
}

function OrganizationForm({ organization, onClose, onSaved }: {
  organization?: Organization;
  onClose: () => void;
  onSaved: (org: Organization) => void;
}) {
  const client = useQueryClient();
  const [draft, setDraft] = useState<OrganizationDraft>(() =>
    organization
      ? { name: organization.name, domain: organization.domain ?? "", industry: organization.industry ?? "",
          size: organization.size ?? "", active: organization.is_active }
      : EMPTY,
  );
  const save = useMutation({
    mutationFn: () => {
      const body = organizationBody(draft, !!organization);
      return organization
        ? unwrap(api.PATCH("/api/v1/organizations/{organization_id}", { params: { path: { organization_id: organization.id } }, body }))
        : unwrap(api.POST("/api/v1/organizations", { body: { ...body, name: body.name ?? "" } }));
    },
    onSuccess: async (org) => {
      await client.invalidateQueries({ queryKey: ["organizations"] });
      onSaved(org);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (draft.name.trim()) save.mutate();
  };
  const change = (next: Partial<OrganizationDraft>) => setDraft({ ...draft, ...next });
  return (
    <form onSubmit={submit} aria-label={organization ? "Edit organization" : "New organization"}>
      <Stack gap="sm">
        <TextInput label="Name" required value={draft.name} data-autofocus
          onChange={(event) => change({ name: event.currentTarget.value })} />
        <TextInput label="Domain" placeholder="example.org" value={draft.domain}
          onChange={(event) => change({ domain: event.currentTarget.value })} />
        <TextInput label="Industry" value={draft.industry} onChange={(event) => change({ industry: event.currentTarget.value })} />
        <Select label="Size" placeholder="Unknown" clearable data={SIZES} value={draft.size || null}
          onChange={(value) => change({ size: (value as Size | null) ?? "" })} />
        {organization && (
          <Switch label="Active" checked={draft.active} onChange={(event) => change({ active: event.currentTarget.checked })} />
        )}
        {save.error && <ProblemAlert error={save.error} title="Organization not saved" />}
        <FormButtons submitLabel={organization ? "Save" : "Create organization"} onCancel={onClose} loading={save.isPending} disabled={!draft.name.trim()} />
      </Stack>
    </form>
  );
}
