import { MantineProvider } from "@mantine/core";
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { DataTable, sortState, toggledSort } from "./DataTable";

describe("sorting", () => {
  it("toggles descending first, then ascending", () => {
    expect(toggledSort(undefined, "threat_score")).toBe("-threat_score");
    expect(toggledSort("-threat_score", "threat_score")).toBe("threat_score");
    expect(toggledSort("threat_score", "threat_score")).toBe("-threat_score");
    expect(sortState("-confidence", "confidence")).toBe("desc");
    expect(sortState("confidence", "threat_score")).toBeUndefined();
  });
});

describe("DataTable", () => {
  const columns = [{ key: "v", header: "Value", render: (row: { v: string }) => row.v, sort: "value" }];
  const wrap = (node: React.ReactNode) => render(<MantineProvider>{node}</MantineProvider>);

  it("renders a hostile value as text, not markup", () => {
    const payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    wrap(<DataTable caption="t" columns={columns} rows={[{ v: payload }]} rowKey={(row) => row.v} />);
    expect(screen.getByText(payload)).toBeInTheDocument();
    expect(document.querySelector("img")).toBeNull();
    expect(document.querySelector("tbody script")).toBeNull();
  });

  it("shows skeleton rows while loading and the empty message after", () => {
    const { rerender } = wrap(<DataTable caption="t" columns={columns} rows={undefined} rowKey={(row) => row.v} loading />);
    expect(screen.getAllByTestId("skeleton-row").length).toBeGreaterThan(0);
    rerender(
      <MantineProvider>
        <DataTable caption="t" columns={columns} rows={[]} rowKey={(row) => row.v} empty="Nothing matches." />
      </MantineProvider>,
    );
    expect(screen.getByTestId("empty")).toHaveTextContent("Nothing matches.");
  });

  it("asks for the toggled sort and selects every row", () => {
    const onSort = vi.fn();
    const onSelect = vi.fn();
    wrap(
      <DataTable caption="t" columns={columns} rows={[{ v: "a" }, { v: "b" }]} rowKey={(row) => row.v}
        sort="-value" onSort={onSort} selected={new Set()} onSelect={onSelect} />,
    );
    fireEvent.click(screen.getByRole("button", { name: "Sort by Value" }));
    expect(onSort).toHaveBeenCalledWith("value");
    fireEvent.click(screen.getByLabelText("Select all rows on this page"));
    expect(onSelect).toHaveBeenCalledWith(new Set(["a", "b"]));
  });
});
