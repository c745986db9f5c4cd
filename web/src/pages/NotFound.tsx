import { Anchor } from "@mantine/core";
import { Link } from "react-router-dom";

import { EmptyState } from "../components/EmptyState";
import { PageHeader } from "../components/PageHeader";

export function NotFound() {
  return (
    <>
      <PageHeader title="Not found" />
      <EmptyState title="There is no page at this address.">
        <Anchor component={Link} to="/">
          Back to the dashboard
        </Anchor>
      </EmptyState>
    </>
  );
}
