import { describe, expect, it } from "vitest";

import { nextParams } from "./urlState";

describe("nextParams", () => {
  it("sets and removes values", () => {
    const next = nextParams(new URLSearchParams("type=ip"), { severity: "high", type: undefined });
    expect(next.get("severity")).toBe("high");
    expect(next.has("type")).toBe(false);
  });

  it("goes back to the first page when a filter changes", () => {
    const next = nextParams(new URLSearchParams("cursor=abc&page=3&type=ip"), { type: "domain" });
    expect(next.get("type")).toBe("domain");
    expect(next.has("cursor")).toBe(false);
    expect(next.has("page")).toBe(false);
  });

  it("keeps the page when only the page moves or a filter is set to what it was", () => {
    expect(nextParams(new URLSearchParams("type=ip"), { cursor: "c2", page: "2" }).get("cursor")).toBe("c2");
    const same = nextParams(new URLSearchParams("cursor=c2&page=2&type=ip"), { type: "ip" });
    expect(same.get("cursor")).toBe("c2");
  });
});
