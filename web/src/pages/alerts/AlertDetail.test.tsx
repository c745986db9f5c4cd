import { MantineProvider } from "@mantine/core";
import { cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Schemas } from "../../api/client";
import { AlertDetail } from "./AlertDetail";

const permissions = vi.hoisted(() => ({ write: true }));
vi.mock("../../app/auth", () => ({
  Can: ({ children }: { children: ReactNode }) => (permissions.write ? <>{children}</> : null),
}));

// jsdom has neither of these; the library's autosizing textarea listens to both.
if (!("fonts" in document)) {
  Object.defineProperty(document, "fonts", { value: { addEventListener() {}, removeEventListener() {} } });
}
if (!("ResizeObserver" in window)) {
  class NoResize {
    observe() {}
    unobserve() {}
    disconnect() {}
  }
  Object.defineProperty(window, "ResizeObserver", { value: NoResize });
}

const alert: Schemas["AlertRead"] = {
  id: "a1",
  title: "<img src=x onerror=alert(1)> seen",
  description: null,
  severity: "high",
  priority: "high",
  status: "open",
  indicator_id: "i1",
  indicator_value: "evil.example",
  indicator_type: "domain",
  rule_id: null,
  rule_name: null,
  assigned_user_id: null,
  assigned_username: null,
  triggered_at: "2026-11-26T08:00:00Z",
  last_seen_at: "2026-11-26T08:05:00Z",
  occurrence_count: 3,
  dedup_key: null,
  acknowledged_at: null,
  resolved_at: null,
  resolution_notes: null,
  alert_data: { seen: { context: { proc: "<script>window.hit = 1</script>" } }, rule_name: "watchlist Known C2" },
  metadata: null,
  incident: null,
};

function show(overrides: Partial<Schemas["AlertRead"]> = {}, onAction = vi.fn()) {
  render(
    <MantineProvider>
      <MemoryRouter>
        <AlertDetail alert={{ ...alert, ...overrides }} loading={false} error={null} myId="me" pending={null}
          notes="" onNotes={() => undefined} markIndicator={false} onMarkIndicator={() => undefined} onAction={onAction} />
      </MemoryRouter>
    </MantineProvider>,
  );
  return onAction;
}

describe("AlertDetail", () => {
  beforeEach(() => {
    permissions.write = true;
  });
  afterEach(cleanup);

  it("shows the title and the context as text, never as markup", () => {
    show();
    expect(screen.getByRole("heading", { name: "<img src=x onerror=alert(1)> seen" })).toBeInTheDocument();
    expect(screen.getByText(/<script>window.hit = 1<\/script>/)).toBeInTheDocument();
    expect(document.querySelector("img, script")).toBeNull();
  });

  it("links the indicator inside the app only", () => {
    show();
    expect(screen.getByRole("link", { name: "evil.example" })).toHaveAttribute("href", "/indicators/i1");
  });

  it("runs the action of a button", async () => {
    const onAction = show();
    await userEvent.click(screen.getByRole("button", { name: /Acknowledge/ }));
    await userEvent.click(screen.getByRole("button", { name: /Create incident/ }));
    expect(onAction.mock.calls).toEqual([["acknowledge"], ["incident"]]);
  });

  it("disables what makes no sense for a closed alert and offers to reopen it", () => {
    show({ status: "resolved", resolved_at: "2026-11-26T09:00:00Z" });
    expect(screen.getByRole("button", { name: /Acknowledge/ })).toBeDisabled();
    expect(screen.getByRole("button", { name: /^Resolve/ })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Reopen" })).toBeEnabled();
  });

  it("shows a viewer no write control", () => {
    permissions.write = false;
    show();
    expect(screen.queryAllByRole("button")).toEqual([]);
    expect(screen.queryByRole("textbox")).toBeNull();
  });
});
