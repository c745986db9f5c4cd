// Who is signed in and what they may do, from GET /auth/me.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, type ReactNode } from "react";

import { api, ApiError, unwrap, type Schemas } from "../api/client";

export type Me = Schemas["MeResponse"];
export type Permission = "read" | "account" | "write_own" | "write_intel" | "admin";

interface AuthState {
  me: Me | null;
  loading: boolean;
  error: ApiError | null;
  refresh: () => Promise<void>;
  can: (permission: Permission) => boolean;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);
export const ME_KEY = ["auth", "me"] as const;

export function AuthProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const query = useQuery({
    queryKey: ME_KEY,
    queryFn: async () => {
      try {
        return await unwrap(api.GET("/api/v1/auth/me"));
      } catch (error) {
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return null;
        throw error;
      }
    },
    retry: false,
    staleTime: 60_000,
  });
  const me = query.data ?? null;
  const state: AuthState = {
    me,
    loading: query.isPending,
    error: query.error instanceof ApiError ? query.error : null,
    refresh: async () => {
      await client.invalidateQueries({ queryKey: ME_KEY });
    },
    can: (permission) => !!me && me.permissions.includes(permission),
    signOut: async () => {
      try {
        await unwrap(api.POST("/api/v1/auth/logout"));
      } finally {
        // Every cached answer belonged to the signed-in account; the sign-in form follows.
        client.removeQueries({ predicate: (query) => query.queryKey[0] !== "auth" });
        client.setQueryData(ME_KEY, null);
      }
    },
  };
  return <AuthContext.Provider value={state}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}

/** Renders its children only for callers allowed the permission (write buttons and forms). */
export function Can({ permission, children }: { permission: Permission; children: ReactNode }) {
  return useAuth().can(permission) ? <>{children}</> : null;
}
