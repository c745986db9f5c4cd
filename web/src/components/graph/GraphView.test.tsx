import { MantineProvider } from "@mantine/core";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import GraphView from "./GraphView";

// jsdom has no WebGL: a stand-in renderer records what the view asks of it.
const handlers = new Map<string, (payload: unknown) => void>();
vi.mock("sigma", () => ({
  default: class {
    on(event: string, handler: (payload: unknown) => void) {
      handlers.set(event, handler);
      return this;
    }
    kill() {}
    setSettings() {
      return this;
    }
    getCamera() {
      return { zoomIn: async () => {}, zoomOut: async () => {}, reset: async () => {} };
    }
  },
}));

const nodes = [
  { id: "entity:a", label: "evil.com", type: "domain", risk: 80 },
  { id: "entity:b", label: "203.0.113.9", type: "ip_address", risk: null },
];
const edges = [{ id: "e1", source: "entity:a", target: "entity:b", type: "RESOLVES_TO" }];

function show(props: Partial<Parameters<typeof GraphView>[0]> = {}) {
  return render(
    <MantineProvider>
      <GraphView nodes={nodes} edges={edges} label="Test graph" {...props} />
    </MantineProvider>,
  );
}

describe("GraphView", () => {
  afterEach(cleanup);

  it("summarises its counts for assistive technology", () => {
    show();
    expect(screen.getByRole("img", { name: "Test graph: 2 nodes, 1 edge" })).toBeInTheDocument();
    expect(screen.getByRole("list", { name: "Legend: colour by type" })).toHaveTextContent("domain (1)");
  });

  it("lets a keyboard user pick nodes from a filterable list", () => {
    const onNodeClick = vi.fn();
    show({ onNodeClick, nodeList: "visible" });
    fireEvent.change(screen.getByLabelText("Find a node in the graph"), { target: { value: "203" } });
    const buttons = screen.getAllByRole("button", { name: /203\.0\.113\.9/ });
    expect(buttons).toHaveLength(1);
    expect(screen.queryByRole("button", { name: /evil\.com/ })).toBeNull();
    fireEvent.click(buttons[0], { shiftKey: true });
    expect(onNodeClick).toHaveBeenCalledWith("entity:b", { shiftKey: true });
  });

  it("passes canvas clicks and double-clicks on, without the renderer's double-click zoom", () => {
    const onNodeClick = vi.fn();
    const onNodeDoubleClick = vi.fn();
    show({ onNodeClick, onNodeDoubleClick });
    handlers.get("clickNode")?.({ node: "entity:a", event: { original: { shiftKey: false } } });
    expect(onNodeClick).toHaveBeenCalledWith("entity:a", { shiftKey: false });
    const preventSigmaDefault = vi.fn();
    handlers.get("doubleClickNode")?.({ node: "entity:b", event: { original: {}, preventSigmaDefault } });
    expect(onNodeDoubleClick).toHaveBeenCalledWith("entity:b");
    expect(preventSigmaDefault).toHaveBeenCalled();
  });

  it("hides the node list until it gets focus, and marks the selected node", () => {
    show({ selected: ["entity:a"] });
    const region = screen.getByRole("region", { name: "Nodes of the graph" });
    expect(region).toHaveClass("visually-hidden");
    fireEvent.focus(screen.getByLabelText("Find a node in the graph"));
    expect(region).not.toHaveClass("visually-hidden");
    expect(screen.getByRole("button", { name: /evil\.com/ })).toHaveAttribute("aria-pressed", "true");
  });
});
