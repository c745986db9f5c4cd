// Creating and editing a user. A new user without a password gets a one-time one, which the
// page shows once; editing changes only the fields that differ.
import { Button, Group, Modal, PasswordInput, Select, Stack, Switch, Text, TextInput } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { FormButtons } from "../../components/FormButtons";
import { formatTime } from "../../components/format";
import { ProblemAlert } from "../../components/ProblemAlert";
import {
  draftOf,
  EMPTY_USER,
  isLocked,
  ROLES,
  userCreateBody,
  userErrors,
  userUpdateBody,
  type Role,
  type UserDraft,
} from "./userForm";

type User = Schemas["UserRead"];
export interface Choice {
  value: string;
  label: string;
}

function UserFields({ draft, change, creating, organizations, errors }: {
  draft: UserDraft;
  change: (next: Partial<UserDraft>) => void;
  creating: boolean;
  organizations: Choice[];
  errors: Partial<Record<keyof UserDraft, string>>;
}) {
  return (
    <>
      {creating && (
        <TextInput label="Username" required autoComplete="off" value={draft.username} error={errors.username}
          onChange={(event) => change({ username: event.currentTarget.value })} data-autofocus />
      )}
      <TextInput label="E-mail" required type="email" autoComplete="off" value={draft.email} error={errors.email}
        onChange={(event) => change({ email: event.currentTarget.value })} />
      <Select label="Role" required allowDeselect={false} data={ROLES} value={draft.role}
        onChange={(value) => value && change({ role: value as Role })} />
      <TextInput label="Full name" value={draft.fullName} onChange={(event) => change({ fullName: event.currentTarget.value })} />
      <Select label="Organization" placeholder="None" clearable searchable data={organizations}
        value={draft.organizationId || null} onChange={(value) => change({ organizationId: value ?? "" })} />
      {creating && (
        <PasswordInput label="Password" autoComplete="new-password" value={draft.password}
          description="Leave empty to get a one-time password the user must change at first sign-in."
          onChange={(event) => change({ password: event.currentTarget.value })} />
      )}
    </>
  );
}

export function CreateUserModal({ opened, onClose, organizations, onCreated }: {
  opened: boolean;
  onClose: () => void;
  organizations: Choice[];
  onCreated: (created: Schemas["UserCreated"]) => void;
}) {
  const client = useQueryClient();
  const [draft, setDraft] = useState<UserDraft>(EMPTY_USER);
  const [tried, setTried] = useState(false);
  const errors = tried ? userErrors(draft, true) : {};
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/users", { body: userCreateBody(draft) })),
    onSuccess: async (created) => {
      await client.invalidateQueries({ queryKey: ["users"] });
      setDraft(EMPTY_USER);
      setTried(false);
      onCreated(created);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (Object.keys(userErrors(draft, true)).length === 0) create.mutate();
  };
  const close = () => {
    create.reset();
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="New user">
      <form onSubmit={submit} aria-label="New user" noValidate>
        <Stack gap="sm">
          <UserFields draft={draft} change={(next) => setDraft({ ...draft, ...next })} creating
            organizations={organizations} errors={errors} />
          {create.error && <ProblemAlert error={create.error} title="User not created" />}
          <FormButtons submitLabel="Create user" onCancel={close} loading={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}

export function EditUserModal({ user, onClose, organizations, onSaved }: {
  user: User | null;
  onClose: () => void;
  organizations: Choice[];
  onSaved: (message: string) => void;
}) {
  return (
    <Modal opened={user !== null} onClose={onClose} title={user ? `Edit ${user.username}` : "Edit user"}>
      {user && <EditUserForm key={user.id} user={user} onClose={onClose} organizations={organizations} onSaved={onSaved} />}
    </Modal>
  );
}

function EditUserForm({ user, onClose, organizations, onSaved }: {
  user: User;
  onClose: () => void;
  organizations: Choice[];
  onSaved: (message: string) => void;
}) {
  const client = useQueryClient();
  const [draft, setDraft] = useState<UserDraft>(() => draftOf(user));
  const [active, setActive] = useState(user.is_active);
  const [tried, setTried] = useState(false);
  const errors = tried ? userErrors(draft, false) : {};
  const save = useMutation({
    mutationFn: (body: Schemas["UserUpdate"]) =>
      unwrap(api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: user.id } }, body })),
    onSuccess: async (saved, body) => {
      await client.invalidateQueries({ queryKey: ["users"] });
      onSaved(body.unlock ? `${saved.username} is unlocked.` : `${saved.username} saved.`);
      if (!body.unlock) onClose();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (Object.keys(userErrors(draft, false)).length > 0) return;
    const body = userUpdateBody(draft, user);
    if (active !== user.is_active) body.is_active = active;
    if (Object.keys(body).length === 0) {
      onClose();
      return;
    }
    save.mutate(body);
  };
  return (
    <form onSubmit={submit} aria-label={`Edit ${user.username}`} noValidate>
      <Stack gap="sm">
        <UserFields draft={draft} change={(next) => setDraft({ ...draft, ...next })} creating={false}
          organizations={organizations} errors={errors} />
        <Switch label="Active (can sign in)" checked={active} onChange={(event) => setActive(event.currentTarget.checked)} />
        {isLocked(user) && (
          <Group gap="xs">
            <Text size="sm">Locked until {formatTime(user.locked_until)} after failed sign-ins.</Text>
            <Button size="xs" variant="light" loading={save.isPending} onClick={() => save.mutate({ unlock: true })}>
              Unlock
            </Button>
          </Group>
        )}
        {save.error && <ProblemAlert error={save.error} title="User not saved" />}
        <FormButtons submitLabel="Save" onCancel={onClose} loading={save.isPending} />
      </Stack>
    </form>
  );
}
