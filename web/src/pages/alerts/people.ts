// Who an alert or incident can be assigned to. Only administrators may list users, so everyone
// else chooses between themselves and nobody.
import { useQuery } from "@tanstack/react-query";

import { api, unwrap } from "../../api/client";
import { useAuth } from "../../app/auth";

export interface Choice {
  value: string;
  label: string;
}

export function useUserChoices(): Choice[] {
  const { can } = useAuth();
  const isAdmin = can("admin");
  const users = useQuery({
    queryKey: ["users", "choices"],
    queryFn: () => unwrap(api.GET("/api/v1/users", { params: { query: { limit: 500 } } })),
    enabled: isAdmin,
    staleTime: 60_000,
  });
  if (!isAdmin) return [];
  return (users.data?.items ?? [])
    .filter((user) => user.is_active)
    .map((user) => ({ value: user.id, label: user.username }));
}
