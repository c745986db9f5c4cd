// The permission matrix: which role may do what, as the server enforces it.
import { Paper, Skeleton, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../../api/client";
import { PageHeader } from "../../components/PageHeader";
import { ProblemAlert } from "../../components/ProblemAlert";
import { AdminOnly } from "./AdminOnly";
import { ACTION_HELP, roleMatrix } from "./roleMatrix";

export default function RolesPage() {
  return (
    <AdminOnly title="Roles">
      <Roles />
    </AdminOnly>
  );
}

function Roles() {
  const query = useQuery({ queryKey: ["roles"], queryFn: () => unwrap(api.GET("/api/v1/roles")), staleTime: 300_000 });
  const matrix = roleMatrix(query.data ?? []);
  return (
    <Stack gap="sm">
      <PageHeader title="Roles" help="What each role may do. Roles are fixed; change a user's role on the Users page. An API key's scopes narrow its owner's permissions further." />
      {query.error && <ProblemAlert error={query.error} />}
      {query.isPending ? (
        <Stack gap={6} aria-busy="true" aria-label="Loading roles">
          {Array.from({ length: 5 }, (_, index) => (
            <Skeleton key={index} height={22} />
          ))}
        </Stack>
      ) : (
        <Paper withBorder radius="sm" style={{ overflowX: "auto" }}>
          <Table striped fz="sm" verticalSpacing={6}>
            <Table.Caption className="visually-hidden">Permissions of each role</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">Role</Table.Th>
                {matrix.actions.map((action) => (
                  <Table.Th key={action} scope="col" ta="center" title={ACTION_HELP[action]}>
                    {action}
                  </Table.Th>
                ))}
                <Table.Th scope="col">Description</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {matrix.rows.map((row) => (
                <Table.Tr key={row.role}>
                  <Table.Th scope="row">{row.role}</Table.Th>
                  {matrix.actions.map((action) => (
                    <Table.Td key={action} ta="center" data-testid={`${row.role}-${action}`}>
                      {row.allowed[action] ? (
                        <>
                          <span aria-hidden="true">✓</span>
                          <span className="visually-hidden">allowed</span>
                        </>
                      ) : (
                        <>
                          <Text component="span" c="dimmed" aria-hidden="true">–</Text>
                          <span className="visually-hidden">not allowed</span>
                        </>
                      )}
                    </Table.Td>
                  ))}
                  <Table.Td>{row.description}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Paper>
      )}
      <Paper withBorder radius="sm" p="sm">
        <Stack gap={4}>
          <Title order={2} size="h4">
            Permissions
          </Title>
          {matrix.actions.map((action) => (
            <Text size="sm" key={action}>
              <span className="mono">{action}</span> — {ACTION_HELP[action]}
            </Text>
          ))}
        </Stack>
      </Paper>
    </Stack>
  );
}
