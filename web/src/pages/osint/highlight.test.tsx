import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { decodeEntities, Highlighted, snippetFragments } from "./highlight";

describe("snippetFragments", () => {
  it("keeps the marked runs and decodes the escaped text", () => {
    expect(snippetFragments("ops@<mark>evil</mark>.com &amp; &lt;b&gt;")).toEqual([
      { text: "ops@", match: false },
      { text: "evil", match: true },
      { text: ".com & <b>", match: false },
    ]);
  });

  it("drops any other tag instead of rendering it", () => {
    expect(snippetFragments('<img src=x onerror="alert(1)"><mark>hit</mark><script>x</script>')).toEqual([
      { text: "hit", match: true },
      { text: "x", match: false },
    ]);
  });

  it("decodes numeric entities", () => {
    expect(decodeEntities("&#60;&#x3e;&#39;&unknown;")).toBe("<>'&unknown;");
  });
});

describe("Highlighted", () => {
  it("renders matches as <mark> and a payload as plain text", () => {
    const { container } = render(
      <Highlighted fragments={[{ text: "<img src=x onerror=alert(1)>", match: false }, { text: "evil", match: true }]} />,
    );
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("mark")?.textContent).toBe("evil");
    expect(container.textContent).toBe("<img src=x onerror=alert(1)>evil");
  });

  it("falls back to the snippet when there are no fragments", () => {
    const { container } = render(<Highlighted fragments={[]} snippet={"a <mark>b</mark> &lt;i&gt;"} />);
    expect(container.querySelectorAll("mark")).toHaveLength(1);
    expect(container.querySelector("i")).toBeNull();
    expect(container.textContent).toBe("a b <i>");
  });
});
