// Your account: details, password, two-factor sign-in and API keys.
import { Badge, Group, Paper, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";

import { api, unwrap } from "../../api/client";
import { useAuth } from "../../app/auth";
import { Time } from "../../components/format";
import { PageHeader } from "../../components/PageHeader";
import { ChangePasswordForm } from "../auth/ChangePassword";
import { ApiKeysSection } from "./ApiKeysSection";
import { MfaSection } from "./MfaSection";

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper withBorder radius="sm" p="md" component="section" aria-label={title}>
      <Stack gap="sm">
        <Title order={2} size="h4">
          {title}
        </Title>
        {children}
      </Stack>
    </Paper>
  );
}

export default function ProfilePage() {
  const { me } = useAuth();
  const organization = useQuery({
    queryKey: ["organizations", "one", me?.user.organization_id],
    queryFn: () =>
      unwrap(api.GET("/api/v1/organizations/{organization_id}", { params: { path: { organization_id: me!.user.organization_id! } } })),
    enabled: !!me?.user.organization_id,
  });
  if (!me) return null;
  const user = me.user;
  const details: [string, ReactNode][] = [
    ["Username", user.username],
    ["E-mail", user.email],
    ["Name", user.full_name ?? "—"],
    ["Role", user.role],
    ["Organization", user.organization_id ? organization.data?.name ?? "…" : "—"],
    ["Two-factor sign-in", user.mfa_enabled ? "on" : "off"],
    ["Last sign-in", <Time value={user.last_login} />],
    ["Member since", <Time value={user.created_at} />],
    ["Signed in with", me.authenticated_via],
    [
      "Permissions",
      <Group gap={4}>
        {me.permissions.map((permission) => (
          <Badge key={permission} size="sm" variant="outline" autoContrast>
            {permission}
          </Badge>
        ))}
      </Group>,
    ],
  ];
  return (
    <Stack gap="md">
      <PageHeader title="Profile" help="Your account, password, two-factor sign-in and API keys." />
      <Section title="Account">
        <Table fz="sm" verticalSpacing={4} maw={640}>
          <Table.Caption className="visually-hidden">Account details</Table.Caption>
          <Table.Tbody>
            {details.map(([label, value]) => (
              <Table.Tr key={label}>
                <Table.Th scope="row" w={200}>
                  {label}
                </Table.Th>
                <Table.Td>{value}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Section>
      <Section title="Password">
        <Text size="sm" c="dimmed">
          Changing it ends your other sessions.
        </Text>
        <Stack maw={400}>
          <ChangePasswordForm />
        </Stack>
      </Section>
      <Section title="Two-factor sign-in">
        <MfaSection />
      </Section>
      <Section title="API keys">
        <ApiKeysSection />
      </Section>
    </Stack>
  );
}
