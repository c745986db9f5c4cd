import { Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";

import { api, ApiError, unwrap } from "../../api/client";
import { ME_KEY } from "../../app/auth";
import { ProblemAlert } from "../../components/ProblemAlert";

/** Username and password, then the authenticator code when the account has MFA on. */
export function SignIn() {
  const client = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [otp, setOtp] = useState("");
  const [needsCode, setNeedsCode] = useState(false);
  const codeInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = "Sign in · KRSN-RT2I";
  }, []);
  const login = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/auth/login", { body: { username, password, otp: needsCode ? otp : undefined } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ME_KEY }),
    onError: (error) => {
      if (error instanceof ApiError && error.problem.mfa_required && !needsCode) {
        setNeedsCode(true);
        setTimeout(() => codeInput.current?.focus(), 0);
      }
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    login.mutate();
  };
  const askingForCode = needsCode && login.error instanceof ApiError && login.error.problem.mfa_required && !otp;
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="xl" w={380} radius="md">
        <form onSubmit={submit} aria-label="Sign in">
          <Stack>
            <Title order={1} size="h3">
              KRSN-RT2I
            </Title>
            <Text size="sm" c="dimmed">
              Threat intelligence and OSINT investigation. Sign in to go on.
            </Text>
            <TextInput label="Username or e-mail" autoComplete="username" required value={username}
              onChange={(event) => setUsername(event.currentTarget.value)} autoFocus />
            <PasswordInput label="Password" autoComplete="current-password" required value={password}
              onChange={(event) => setPassword(event.currentTarget.value)} />
            {needsCode && (
              <TextInput ref={codeInput} label="Authenticator code" description="Six digits from your app, or a recovery code."
                autoComplete="one-time-code" inputMode="numeric" required value={otp}
                onChange={(event) => setOtp(event.currentTarget.value)} />
            )}
            {login.error && !askingForCode && <ProblemAlert error={login.error} title="Cannot sign in" />}
            <Button type="submit" loading={login.isPending}>
              {needsCode ? "Verify and sign in" : "Sign in"}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
