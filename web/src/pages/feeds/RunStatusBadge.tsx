// A feed run's outcome as a solid badge: solid colours keep white text above 4.5:1 in striped
// and hovered table rows, where the outline badges' pale text does not.
import { Badge } from "@mantine/core";

const COLOURS: Record<string, string> = {
  ok: "teal.9",
  failed: "red.9",
  not_modified: "blue.9",
  running: "blue.9",
};

export function RunStatusBadge({ value }: { value?: string | null }) {
  if (!value) return <>—</>;
  return (
    <span style={{ whiteSpace: "nowrap", display: "inline-block", minWidth: 96 }}>
      <Badge size="sm" variant="filled" color={COLOURS[value] ?? "gray.7"}>
        {value.replace(/_/g, " ")}
      </Badge>
    </span>
  );
}
