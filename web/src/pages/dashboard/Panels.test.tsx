import { MantineProvider } from "@mantine/core";
import { cleanup, render, screen, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it } from "vitest";

import type { FeedHealth } from "./chartData";
import { AlertsBySeverity, FeedHealthTable, TopActors } from "./Panels";

afterEach(cleanup);

const wrap = (node: ReactNode) =>
  render(
    <MantineProvider>
      <MemoryRouter>{node}</MemoryRouter>
    </MantineProvider>,
  );

describe("AlertsBySeverity", () => {
  it("lists every severity in order, each linking to the open alerts of that severity", () => {
    wrap(<AlertsBySeverity counts={{ critical: 2, high: 0, medium: 1, low: 0, info: 0 }} />);
    const items = within(screen.getByRole("list", { name: "Open alerts by severity" })).getAllByRole("listitem");
    expect(items.map((item) => item.textContent)).toEqual(["critical2", "high0", "medium1", "low0", "info0"]);
    expect(screen.getByRole("link", { name: "2 critical" })).toHaveAttribute("href", "/alerts?severity=critical");
  });

  it("says how alerts come about when there are none", () => {
    wrap(<AlertsBySeverity counts={{ critical: 0, high: 0, medium: 0, low: 0, info: 0 }} />);
    expect(screen.getByText(/No open alerts/)).toBeInTheDocument();
  });
});

describe("FeedHealthTable", () => {
  const feed = (id: string, name: string, last_status: string | null, last_error: string | null = null): FeedHealth => ({
    id, name, enabled: true, last_run: last_status ? "2026-11-01T00:00:00Z" : null, last_status, last_error,
    last_indicators: last_status === "ok" ? 12 : null, next_run: null,
  });

  it("puts the failing feed first with its error, and links each feed by its id", () => {
    wrap(
      <FeedHealthTable loading={false}
        feeds={[feed("1", "alpha", "ok"), feed("2", "<b>zulu</b>", "failed", "Cannot resolve host feeds.invalid")]} />,
    );
    const rows = within(screen.getByRole("table", { name: /^Feed health/ })).getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("<b>zulu</b>");
    expect(rows[0]).toHaveTextContent("Cannot resolve host feeds.invalid");
    expect(rows[1]).toHaveTextContent("alpha");
    expect(document.querySelector("tbody b")).toBeNull();
    expect(screen.getByRole("link", { name: "alpha" })).toHaveAttribute("href", "/feeds/1");
  });

  it("tells how to add a feed when there is none", () => {
    wrap(<FeedHealthTable loading={false} feeds={[]} />);
    expect(screen.getByText(/No feeds yet/)).toBeInTheDocument();
  });
});

describe("TopActors", () => {
  it("links each actor by its encoded id", () => {
    wrap(<TopActors actors={[{ id: "a/b", name: "APT Example", indicators: 1200 }]} />);
    expect(screen.getByRole("link", { name: "APT Example" })).toHaveAttribute("href", "/actors/a%2Fb");
    expect(screen.getByText("1,200 indicators")).toBeInTheDocument();
  });
});
