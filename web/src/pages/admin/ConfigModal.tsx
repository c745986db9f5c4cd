import type { ReactNode } from "react";

import { SafeModal } from "./SafeModal";

/** Wide enough to read a JSON value. */
export function ConfigModal({ opened, title, onClose, children }: { opened: boolean; title: string; onClose: () => void; children: ReactNode }) {
  return (
    <SafeModal opened={opened} onClose={onClose} title={title} size="xl">
      {children}
    </SafeModal>
  );
}
