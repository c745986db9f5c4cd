import { Modal } from "@mantine/core";
import type { ReactNode } from "react";

/** Wide enough to read a JSON value. */
export function ConfigModal({ opened, title, onClose, children }: { opened: boolean; title: string; onClose: () => void; children: ReactNode }) {
  return (
    <Modal opened={opened} onClose={onClose} title={title} size="xl">
      {children}
    </Modal>
  );
}
