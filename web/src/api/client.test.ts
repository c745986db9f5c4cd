import { describe, expect, it } from "vitest";

import { ApiError, csrfToken, toProblem, unwrap } from "./client";

describe("csrfToken", () => {
  it("reads the CSRF cookie among others", () => {
    expect(csrfToken("a=1; krsn_csrf=tok%2Fen; b=2")).toBe("tok/en");
    expect(csrfToken("a=1")).toBeUndefined();
  });
});

describe("problems", () => {
  it("keeps the API's problem details", () => {
    const response = new Response(null, { status: 409 });
    const problem = toProblem({ title: "Conflict", detail: "Already running." }, response);
    expect(problem).toMatchObject({ status: 409, title: "Conflict", detail: "Already running." });
  });

  it("says when the server cannot be reached", () => {
    expect(toProblem("Failed to fetch").title).toBe("The server cannot be reached");
  });

  it("turns a failed call into an ApiError", async () => {
    const response = new Response(null, { status: 403, statusText: "Forbidden" });
    const call = Promise.resolve({ error: { title: "Not allowed", detail: "Needs write_intel." }, response });
    await expect(unwrap(call)).rejects.toBeInstanceOf(ApiError);
    await expect(unwrap(call)).rejects.toMatchObject({ status: 403, message: "Needs write_intel." });
  });

  it("returns the data of a successful call", async () => {
    const response = new Response(null, { status: 200 });
    await expect(unwrap(Promise.resolve({ data: { ok: 1 }, response }))).resolves.toEqual({ ok: 1 });
  });
});
