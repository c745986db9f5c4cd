import { Button, Center, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap } from "../../api/client";
import { useAuth } from "../../app/auth";
import { ProblemAlert } from "../../components/ProblemAlert";

/** Change the password; at first login (a one-time password) nothing else is reachable before. */
export function ChangePasswordForm({ onDone }: { onDone?: () => void }) {
  const auth = useAuth();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const mismatch = again.length > 0 && next !== again;
  const change = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/auth/password", { body: { current_password: current, new_password: next } })),
    onSuccess: async () => {
      setCurrent("");
      setNext("");
      setAgain("");
      await auth.refresh();
      onDone?.();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!mismatch) change.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="Change password">
      <Stack>
        {/* Lets a password manager file the new password under the right account. */}
        <input type="text" name="username" autoComplete="username" value={auth.me?.user.username ?? ""} readOnly hidden />
        <PasswordInput label="Current password" autoComplete="current-password" required value={current}
          onChange={(event) => setCurrent(event.currentTarget.value)} />
        <PasswordInput label="New password" autoComplete="new-password" required value={next}
          onChange={(event) => setNext(event.currentTarget.value)} />
        <PasswordInput label="New password again" autoComplete="new-password" required value={again}
          error={mismatch ? "The two passwords differ." : undefined}
          onChange={(event) => setAgain(event.currentTarget.value)} />
        {change.error && <ProblemAlert error={change.error} title="Password not changed" />}
        {change.isSuccess && <Text c="var(--mantine-color-green-text)" size="sm" role="status">Password changed.</Text>}
        <Button type="submit" loading={change.isPending} disabled={mismatch}>
          Change password
        </Button>
      </Stack>
    </form>
  );
}

export function FirstLoginPassword() {
  const auth = useAuth();
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="xl" w={420} radius="md">
        <Stack>
          <Title order={1} size="h3">
            Choose your password
          </Title>
          <Text size="sm">
            You signed in with a one-time password. Choose your own before going on.
          </Text>
          <ChangePasswordForm />
          <Button variant="subtle" onClick={() => void auth.signOut()}>
            Sign out
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}
