// A secret the server returns once (one-time password, API key, recovery codes): shown in a
// modal with a copy button until the person says it is stored, then forgotten.
import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from "@mantine/core";

interface Props {
  title: string;
  /** The secret; null closes the modal. */
  secret: string | null;
  label: string;
  warning: string;
  onClose: () => void;
}

export function SecretOnce({ title, secret, label, warning, onClose }: Props) {
  return (
    <Modal opened={secret !== null} onClose={onClose} title={title} closeOnClickOutside={false} size="lg">
      <Stack gap="sm">
        <Alert color="yellow" variant="light" title="Shown only this once">
          {warning}
        </Alert>
        <Text size="sm" fw={600}>
          {label}
        </Text>
        <Code block data-testid="secret-once" className="mono">
          {secret ?? ""}
        </Code>
        <Group justify="flex-end" gap="xs">
          <CopyButton value={secret ?? ""}>
            {({ copied, copy }) => (
              <Button variant="light" onClick={copy}>
                {copied ? "Copied" : "Copy to clipboard"}
              </Button>
            )}
          </CopyButton>
          <Button onClick={onClose}>I have stored it</Button>
        </Group>
      </Stack>
    </Modal>
  );
}
