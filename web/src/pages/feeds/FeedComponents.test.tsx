import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { FeedTemplate } from "./feedForm";
import { RulesInput } from "./PreviewPanel";
import { TemplateFeedForm } from "./TemplateFeedForm";
import { matchesTemplate } from "./TemplateGallery";

afterEach(cleanup);

// The autosizing text area listens for web fonts, which jsdom does not have.
if (!("fonts" in document)) {
  Object.defineProperty(document, "fonts", {
    configurable: true,
    value: { addEventListener: () => undefined, removeEventListener: () => undefined },
  });
}

function wrap(node: ReactNode) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <MantineProvider>
      <QueryClientProvider client={client}>
        <MemoryRouter>{node}</MemoryRouter>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

const template: FeedTemplate = {
  name: "maltrail",
  title: "Maltrail static trail",
  provider: "Maltrail",
  homepage: "https://example.org/",
  url: "https://example.org/{trail}.txt",
  format: "text",
  update_frequency_minutes: 1440,
  default_confidence: 70,
  source_reliability: 70,
  source_type: "open_source",
  kinds: ["domain", "ipv4"],
  tags: ["malware"],
  licence: "MIT",
  description: "One trail file: domains and addresses.",
  notes: null,
  parameters: [
    { name: "trail", description: "the trail, e.g. malware/emotet", kind: "str", required: true, default: null, pattern: "[a-z0-9_/-]+" },
  ],
  credential: null,
};

describe("matchesTemplate", () => {
  it("finds a template by any word of its card and narrows by format", () => {
    expect(matchesTemplate(template, "EMOTET", undefined)).toBe(false);
    expect(matchesTemplate(template, "trail", undefined)).toBe(true);
    expect(matchesTemplate(template, "ipv4", undefined)).toBe(true);
    expect(matchesTemplate(template, "malware", "text")).toBe(true);
    expect(matchesTemplate(template, "", "csv")).toBe(false);
  });
});

describe("RulesInput", () => {
  it("shows why the rules are refused while they are typed", () => {
    wrap(<RulesInput value='{"columns": [' onChange={() => undefined} format="csv" />);
    expect(screen.getByText(/^Not valid JSON/)).toBeInTheDocument();
  });

  it("offers the format's example and hands it over as JSON", () => {
    const onChange = vi.fn();
    wrap(<RulesInput value="" onChange={onChange} format="csv" />);
    fireEvent.click(screen.getByRole("button", { name: "Start from a csv example" }));
    const given = JSON.parse(onChange.mock.calls[0][0] as string) as Record<string, unknown>;
    expect(given.header).toBe(true);
    expect(given.columns).toEqual(expect.objectContaining({ value: "dst_ip" }));
  });

  it("offers no example for a format that needs no rules", () => {
    wrap(<RulesInput value="" onChange={() => undefined} format="stix" />);
    expect(screen.queryByRole("button", { name: /example/ })).toBeNull();
  });
});

describe("TemplateFeedForm", () => {
  it("asks for a missing required parameter and sends nothing", () => {
    const fetch = vi.spyOn(globalThis, "fetch");
    wrap(<TemplateFeedForm template={template} />);
    fireEvent.click(screen.getByRole("button", { name: "Add feed" }));
    expect(screen.getByText("Required")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("Correct the fields marked in red");
    expect(fetch).not.toHaveBeenCalled();
    fetch.mockRestore();
  });

  it("checks a parameter against the template's pattern", () => {
    wrap(<TemplateFeedForm template={template} />);
    fireEvent.change(screen.getByRole("textbox", { name: "trail" }), { target: { value: "Malware Emotet" } });
    fireEvent.submit(screen.getByRole("form", { name: "Add Maltrail static trail" }));
    expect(screen.getByText("Does not match [a-z0-9_/-]+")).toBeInTheDocument();
  });

  it("renders the template's texts as text", () => {
    const hostile = { ...template, description: '<img src=x onerror="window.__pwned=1">' };
    wrap(<TemplateFeedForm template={hostile} />);
    expect(screen.getByText(hostile.description)).toBeInTheDocument();
    expect(document.querySelector("img")).toBeNull();
  });
});
