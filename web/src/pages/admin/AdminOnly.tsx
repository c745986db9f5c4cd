import type { ReactNode } from "react";

import { useAuth } from "../../app/auth";
import { EmptyState } from "../../components/EmptyState";
import { PageHeader } from "../../components/PageHeader";

/** The admin pages are reachable by address; other roles get an explanation, not a 403 flood. */
export function AdminOnly({ title, children }: { title: string; children: ReactNode }) {
  const auth = useAuth();
  if (auth.can("admin")) return <>{children}</>;
  return (
    <>
      <PageHeader title={title} />
      <EmptyState title="Administrators only">Ask an administrator if you need this page.</EmptyState>
    </>
  );
}
