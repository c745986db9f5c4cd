// Users: filters and the user being edited live in the URL; one-time passwords are shown once.
import { Badge, Button, Group, Select, Stack, Text, TextInput } from "@mantine/core";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../app/auth";
import { useDebouncedQuery, useUrlState } from "../../app/urlState";
import { ConfirmModal } from "../../components/ConfirmModal";
import { DataTable, type Column } from "../../components/DataTable";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { Pager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import { AdminOnly } from "./AdminOnly";
import { RowActions } from "./RowActions";
import { SecretOnce } from "./SecretOnce";
import { CreateUserModal, EditUserModal, type Choice } from "./UserDialogs";
import { isLocked, ROLES, type Role } from "./userForm";

type User = Schemas["UserRead"];

interface Secret {
  title: string;
  value: string;
}

export default function UsersPage() {
  return (
    <AdminOnly title="Users">
      <Users />
    </AdminOnly>
  );
}

function Users() {
  const client = useQueryClient();
  const { me } = useAuth();
  const [url, set] = useUrlState<"q" | "role" | "active" | "org" | "edit">();
  const [text, setText] = useState(url.q ?? "");
  const pushQuery = useDebouncedQuery(set);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<Secret | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [resetting, setResetting] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);

  const list = useQuery({
    queryKey: ["users", "list", url.q, url.role, url.active, url.org, url.cursor],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/users", {
          params: {
            query: {
              q: url.q || undefined,
              role: (url.role as Role) || undefined,
              is_active: url.active === undefined ? undefined : url.active === "true",
              organization_id: url.org || undefined,
              cursor: url.cursor || undefined,
              limit: 50,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const organizations = useQuery({
    queryKey: ["organizations", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/organizations", { params: { query: { limit: 200 } } })),
  });
  const orgChoices: Choice[] = useMemo(
    () => (organizations.data?.items ?? []).map((org) => ({ value: org.id, label: org.name })),
    [organizations.data],
  );
  const orgNames = useMemo(() => new Map(orgChoices.map((org) => [org.value, org.label])), [orgChoices]);
  const rows = list.data?.items;
  const editing = useQuery({
    queryKey: ["users", "one", url.edit],
    queryFn: () => unwrap(api.GET("/api/v1/users/{user_id}", { params: { path: { user_id: url.edit! } } })),
    enabled: !!url.edit,
    initialData: () => rows?.find((row) => row.id === url.edit),
  });

  const reset = useMutation({
    mutationFn: (user: User) =>
      unwrap(api.POST("/api/v1/users/{user_id}/reset-password", { params: { path: { user_id: user.id } } })),
    onSuccess: async (result) => {
      setResetting(null);
      setSecret({ title: `New one-time password for ${result.user.username}`, value: result.one_time_password });
      setMessage(`${result.user.username} must choose a new password at next sign-in.`);
      await client.invalidateQueries({ queryKey: ["users"] });
    },
  });
  const remove = useMutation({
    mutationFn: (user: User) => unwrap(api.DELETE("/api/v1/users/{user_id}", { params: { path: { user_id: user.id } } })),
    onSuccess: async (_, user) => {
      setDeleting(null);
      setMessage(`${user.username} deleted.`);
      await client.invalidateQueries({ queryKey: ["users"] });
    },
  });

  const columns: Column<User>[] = [
    { key: "username", header: "Username", render: (row) => <Text size="sm" fw={600}>{row.username}</Text> },
    { key: "email", header: "E-mail", render: (row) => row.email },
    { key: "name", header: "Name", render: (row) => row.full_name ?? "—" },
    { key: "role", header: "Role", render: (row) => row.role, width: 80 },
    { key: "org", header: "Organization", render: (row) => (row.organization_id ? orgNames.get(row.organization_id) ?? "—" : "—") },
    {
      key: "state", header: "State", width: 170,
      render: (row) => (
        <Group gap={4} wrap="nowrap">
          <Badge size="sm" variant="outline" color={row.is_active ? "teal" : "gray"} autoContrast>
            {row.is_active ? "active" : "disabled"}
          </Badge>
          {isLocked(row) && <Badge size="sm" variant="outline" color="red" autoContrast>locked</Badge>}
          {row.mfa_enabled && <Badge size="sm" variant="outline" color="blue" autoContrast>MFA</Badge>}
        </Group>
      ),
    },
    { key: "login", header: "Last sign-in", render: (row) => <Time value={row.last_login} />, width: 150 },
    {
      key: "actions", header: "Actions", width: 250,
      render: (row) => (
        <RowActions name={row.username} onEdit={() => set({ edit: row.id })} deleteDisabled={row.id === me?.user.id}
          onDelete={() => {
            remove.reset();
            setDeleting(row);
          }}>
          <Button size="compact-xs" variant="light" aria-label={`Reset password of ${row.username}`} onClick={() => {
            reset.reset();
            setResetting(row);
          }}>
            Reset password
          </Button>
        </RowActions>
      ),
    },
  ];

  const filtered = !!(url.q || url.role || url.active || url.org);
  return (
    <Stack gap="sm">
      <PageHeader title="Users" help="Accounts, their roles and state. A new user without a password gets a one-time one."
        actions={<Button onClick={() => setCreating(true)}>New user</Button>} />
      <Group gap="xs" align="flex-end" wrap="wrap">
        <TextInput label="Search" placeholder="Username, e-mail or name" w={240} value={text}
          onChange={(event) => {
            setText(event.currentTarget.value);
            pushQuery(event.currentTarget.value);
          }} />
        <Select label="Role" placeholder="Any" clearable w={130} data={ROLES} value={url.role ?? null}
          onChange={(value) => set({ role: value ?? undefined })} />
        <Select label="State" placeholder="Any" clearable w={130}
          data={[{ value: "true", label: "Active" }, { value: "false", label: "Disabled" }]}
          value={url.active ?? null} onChange={(value) => set({ active: value ?? undefined })} />
        <Select label="Organization" placeholder="Any" clearable searchable w={200} data={orgChoices}
          value={url.org ?? null} onChange={(value) => set({ org: value ?? undefined })} />
        {filtered && (
          <Button variant="subtle" onClick={() => {
            setText("");
            set({ q: undefined, role: undefined, active: undefined, org: undefined });
          }}>
            Clear filters
          </Button>
        )}
      </Group>
      {message && <Text size="sm" c="teal.9" role="status">{message}</Text>}
      {list.error && <ProblemAlert error={list.error} />}
      <DataTable caption="Users" columns={columns} rows={rows} rowKey={(row) => row.id} loading={list.isPending}
        activeKey={url.edit}
        empty={filtered ? "No user matches these filters." : "No users yet. Create one with New user."} />
      <Pager nextCursor={list.data?.next_cursor} total={list.data?.total} shown={rows?.length ?? 0} />

      <CreateUserModal opened={creating} onClose={() => setCreating(false)} organizations={orgChoices}
        onCreated={(created) => {
          setCreating(false);
          setMessage(`${created.user.username} created.`);
          if (created.one_time_password) {
            setSecret({ title: `One-time password for ${created.user.username}`, value: created.one_time_password });
          }
        }} />
      <EditUserModal user={url.edit ? editing.data ?? null : null} onClose={() => set({ edit: undefined })}
        organizations={orgChoices} onSaved={setMessage} />
      {url.edit && editing.error && <ProblemAlert error={editing.error} title="Cannot open this user" />}
      <ConfirmModal opened={resetting !== null} title="Reset password" confirmLabel="Reset password"
        onClose={() => setResetting(null)} onConfirm={() => resetting && reset.mutate(resetting)}
        loading={reset.isPending} error={reset.error}>
        {resetting?.username} gets a one-time password, shown to you once, and must choose a new one at next
        sign-in. Their sessions end now.
      </ConfirmModal>
      <ConfirmModal opened={deleting !== null} title="Delete user" confirmLabel="Delete user"
        onClose={() => setDeleting(null)} onConfirm={() => deleting && remove.mutate(deleting)}
        loading={remove.isPending} error={remove.error}>
        Delete {deleting?.username}? Their API keys go with them; their audit trail stays. This cannot be undone.
      </ConfirmModal>
      <SecretOnce title={secret?.title ?? ""} secret={secret?.value ?? null} label="One-time password"
        warning="Give it to the user over a safe channel. It is not stored in clear and cannot be shown again; the user must change it at first sign-in."
        onClose={() => setSecret(null)} />
    </Stack>
  );
}
