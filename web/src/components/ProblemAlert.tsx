import { Alert, List } from "@mantine/core";

import { ApiError } from "../api/client";

/** An API failure as the person can act on it: the problem's title, detail and field errors. */
export function ProblemAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const problem = error instanceof ApiError ? error.problem : null;
  const heading = title ?? problem?.title ?? "Something went wrong";
  const detail = problem ? problem.detail : error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" variant="light" title={heading} role="alert" data-testid="problem">
      {detail}
      {problem?.errors && problem.errors.length > 0 && (
        <List size="sm" mt="xs">
          {problem.errors.map((item, index) => (
            <List.Item key={index}>
              {item.field ?? (item.loc ?? []).filter((part) => part !== "body").join(".")}: {item.reason ?? item.msg}
            </List.Item>
          ))}
        </List>
      )}
    </Alert>
  );
}
