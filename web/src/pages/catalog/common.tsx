// Pieces the catalogue pages share: form dialogs, success notices, a
// debounced search field, label lists and the TLP choice. Every value is rendered as text.
import { Badge, Group, Modal, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { useDebouncedCallback } from "@mantine/hooks";
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { useLocation } from "react-router-dom";

import { FormButtons } from "../../components/FormButtons";
import { ProblemAlert } from "../../components/ProblemAlert";

// The library's scroll lock injects a <style> element, which the CSP refuses.
export const MODAL_DEFAULTS = { lockScroll: false, centered: true } as const;

/** A dialog holding a form: Enter submits, the API's problem shows above the buttons. */
export function FormModal({
  opened,
  title,
  submitLabel,
  onSubmit,
  onClose,
  loading,
  error,
  children,
  size,
}: {
  opened: boolean;
  title: string;
  submitLabel: string;
  onSubmit: () => void;
  onClose: () => void;
  loading?: boolean;
  error?: unknown;
  children: ReactNode;
  size?: string;
}) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <Modal opened={opened} onClose={onClose} title={title} size={size ?? "lg"} {...MODAL_DEFAULTS}>
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          {children}
          {error ? <ProblemAlert error={error} /> : null}
          <FormButtons submitLabel={submitLabel} onCancel={onClose} loading={loading} />
        </Stack>
      </form>
    </Modal>
  );
}

/** What a change did, announced to screen readers. */
export function Notice({ text }: { text: string | null }) {
  return (
    <Text size="sm" fw={500} role="status">
      {text ?? ""}
    </Text>
  );
}

/** A success notice; it starts with the one a previous page handed over (after a create). */
export function useNotice(): [string | null, (text: string | null) => void] {
  const location = useLocation();
  const handed = (location.state as { notice?: unknown } | null)?.notice;
  const [text, setText] = useState<string | null>(typeof handed === "string" ? handed : null);
  return [text, setText];
}

/** A search field that writes to the URL after a pause, so typing does not flood the API. */
export function SearchField({
  label,
  placeholder,
  value,
  onSearch,
  width = 260,
}: {
  label: string;
  placeholder?: string;
  value?: string;
  onSearch: (value: string | undefined) => void;
  width?: number;
}) {
  const [text, setText] = useState(value ?? "");
  useEffect(() => setText(value ?? ""), [value]);
  const push = useDebouncedCallback((next: string) => onSearch(next.trim() || undefined), 300);
  return (
    <TextInput
      label={label}
      placeholder={placeholder}
      w={width}
      value={text}
      onChange={(event) => {
        setText(event.currentTarget.value);
        push(event.currentTarget.value);
      }}
      onKeyDown={(event) => {
        if (event.key === "Enter") onSearch(event.currentTarget.value.trim() || undefined);
      }}
    />
  );
}

/** Short labels (aliases, countries, tools) as badges, or a dash. */
export function Labels({ items, color = "gray" }: { items: readonly unknown[] | null | undefined; color?: string }) {
  const shown = (items ?? []).map((item) => (typeof item === "string" ? item : JSON.stringify(item)));
  if (shown.length === 0) return <>—</>;
  return (
    <Group gap={4} wrap="wrap">
      {shown.map((item, index) => (
        <Badge key={`${item}-${index}`} size="sm" variant="light" c="gray.9" color={color} tt="none" autoContrast>
          {item}
        </Badge>
      ))}
    </Group>
  );
}

/** Long text from data (descriptions, analyses) as plain text that keeps its line breaks. */
export function PlainText({ text, empty = "None." }: { text?: string | null; empty?: string }) {
  if (!text) {
    return (
      <Text size="sm" c="dimmed">
        {empty}
      </Text>
    );
  }
  return (
    <Text size="sm" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
      {text}
    </Text>
  );
}

/** Name/value rows of an object's properties. */
export function Facts({ caption, rows }: { caption: string; rows: [string, ReactNode][] }) {
  return (
    <Table fz="sm" verticalSpacing={4} withRowBorders={false}>
      <Table.Caption className="visually-hidden">{caption}</Table.Caption>
      <Table.Tbody>
        {rows.map(([name, value]) => (
          <Table.Tr key={name}>
            <Table.Th scope="row" w={170} fw={600} style={{ verticalAlign: "top" }}>
              {name}
            </Table.Th>
            <Table.Td>{value}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export const TLP_LEVELS = ["clear", "green", "amber", "amber+strict", "red"] as const;
export type TlpLevel = (typeof TLP_LEVELS)[number];

export function TlpSelect({ value, onChange }: { value: TlpLevel | null; onChange: (value: TlpLevel | null) => void }) {
  return (
    <Select
      label="TLP"
      placeholder="Unmarked"
      clearable
      data={TLP_LEVELS.map((level) => ({ value: level, label: `TLP:${level.toUpperCase()}` }))}
      value={value}
      onChange={(next) => onChange((next as TlpLevel | null) ?? null)}
      w={180}
    />
  );
}

const TLP_COLOURS: Record<string, string> = { clear: "gray", green: "green", amber: "orange", "amber+strict": "orange", red: "red" };

export function TlpBadge({ value }: { value?: string | null }) {
  if (!value) return <>—</>;
  return (
    <Badge size="sm" variant="light" c="gray.9" color={TLP_COLOURS[value] ?? "gray"} autoContrast>
      TLP:{value.toUpperCase()}
    </Badge>
  );
}

/** A yes/no state (active, published). */
export function StateBadge({ on, label }: { on: boolean; label: string }) {
  return (
    <Badge size="sm" variant="light" c="gray.9" color={on ? "green" : "gray"}>
      {label}
    </Badge>
  );
}
