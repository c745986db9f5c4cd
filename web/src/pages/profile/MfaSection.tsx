// Two-factor sign-in: enrol (QR code and secret, then a code to prove the authenticator works,
// then recovery codes shown once), or turn it off with the password and a code.
import { Alert, Button, Code, Group, Image, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { api, unwrap, type Schemas } from "../../api/client";
import { useAuth } from "../../app/auth";
import { ProblemAlert } from "../../components/ProblemAlert";
import { SecretOnce } from "../admin/SecretOnce";
import { cleanCode, safeQr } from "./profileLogic";

export function MfaSection() {
  const auth = useAuth();
  const enabled = !!auth.me?.user.mfa_enabled;
  const [enrolment, setEnrolment] = useState<Schemas["MfaEnrolment"] | null>(null);
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const enrol = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/mfa/enroll")),
    onSuccess: (result) => {
      setMessage(null);
      setEnrolment(result);
    },
  });
  return (
    <Stack gap="sm">
      <Text size="sm">
        {enabled
          ? "Two-factor sign-in is on: signing in asks for a code from your authenticator app."
          : "Two-factor sign-in is off. Turn it on to ask for a code from an authenticator app at every sign-in."}
      </Text>
      {message && <Text size="sm" c="teal.9" role="status">{message}</Text>}
      {enabled && !enrolment && <DisableForm onDone={() => setMessage("Two-factor sign-in is off.")} />}
      {!enabled && !enrolment && (
        <Group>
          <Button onClick={() => enrol.mutate()} loading={enrol.isPending}>
            Set up two-factor sign-in
          </Button>
        </Group>
      )}
      {enrol.error && <ProblemAlert error={enrol.error} title="Cannot start the set-up" />}
      {enrolment && (
        <VerifyForm enrolment={enrolment} onCancel={() => setEnrolment(null)} onDone={(codes) => {
          setEnrolment(null);
          setRecovery(codes);
          setMessage("Two-factor sign-in is on.");
        }} />
      )}
      <SecretOnce title="Recovery codes" secret={recovery ? recovery.join("\n") : null} label="Recovery codes (each works once)"
        warning="If you lose your authenticator, each of these codes signs you in once. Store them somewhere safe now: they cannot be shown again."
        onClose={() => setRecovery(null)} />
    </Stack>
  );
}

function VerifyForm({ enrolment, onCancel, onDone }: {
  enrolment: Schemas["MfaEnrolment"];
  onCancel: () => void;
  onDone: (codes: string[]) => void;
}) {
  const auth = useAuth();
  const [code, setCode] = useState("");
  const qr = safeQr(enrolment.qr_svg);
  const verify = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/mfa/verify", { body: { code: cleanCode(code) } })),
    onSuccess: async (result) => {
      await auth.refresh();
      onDone(result.recovery_codes);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (cleanCode(code).length >= 6) verify.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="Verify your authenticator">
      <Stack gap="sm">
        <Text size="sm">
          1. Scan this QR code with your authenticator app, or type the secret into it.
        </Text>
        <Group align="flex-start" gap="lg">
          {qr ? (
            <Image src={qr} alt="QR code to add this account to an authenticator app" w={180} h={180} fit="contain" bg="white" />
          ) : (
            <Alert color="yellow" variant="light">The QR code cannot be shown; type the secret instead.</Alert>
          )}
          <Stack gap={4}>
            <Text size="sm" fw={600}>
              Secret
            </Text>
            <Code data-testid="mfa-secret" className="mono">
              {enrolment.secret}
            </Code>
          </Stack>
        </Group>
        <TextInput label="2. Code from the app" required w={220} inputMode="numeric" autoComplete="one-time-code"
          value={code} onChange={(event) => setCode(event.currentTarget.value)} data-autofocus />
        {verify.error && <ProblemAlert error={verify.error} title="Code not accepted" />}
        <Group gap="xs">
          <Button type="submit" loading={verify.isPending} disabled={cleanCode(code).length < 6}>
            Verify and turn on
          </Button>
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function DisableForm({ onDone }: { onDone: () => void }) {
  const auth = useAuth();
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const disable = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/mfa/disable", { body: { password, code: cleanCode(code) } })),
    onSuccess: async () => {
      setPassword("");
      setCode("");
      await auth.refresh();
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (password && cleanCode(code).length >= 6) disable.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="Turn off two-factor sign-in">
      <Stack gap="sm" maw={360}>
        <PasswordInput label="Password" autoComplete="current-password" required value={password}
          onChange={(event) => setPassword(event.currentTarget.value)} />
        <TextInput label="Authenticator or recovery code" required autoComplete="one-time-code" value={code}
          onChange={(event) => setCode(event.currentTarget.value)} />
        {disable.error && <ProblemAlert error={disable.error} title="Two-factor sign-in is still on" />}
        <Group>
          <Button type="submit" color="red" variant="light" loading={disable.isPending}>
            Turn off two-factor sign-in
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
