import { MantineProvider } from "@mantine/core";
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { SecretOnce } from "../admin/SecretOnce";
import { cleanCode, keyBody, keyErrors, safeQr, scopesFor } from "./profileLogic";

describe("API key scopes", () => {
  it("offers only the scopes the person's permissions allow", () => {
    expect(scopesFor(["read", "account"])).toEqual(["read", "account"]);
    expect(scopesFor(["read", "account", "write_own"])).toEqual(["read", "account", "write"]);
    expect(scopesFor(["account", "admin", "read", "write_intel", "write_own"])).toEqual(["read", "account", "write", "admin"]);
  });

  it("needs a name, a scope and a sane rate limit; never expiring sends null", () => {
    expect(keyErrors({ name: " ", scopes: [], expiresInDays: "", rateLimit: 0 })).toEqual({
      name: expect.any(String), scopes: expect.any(String), rateLimit: expect.any(String),
    });
    expect(keyBody({ name: " siem ", scopes: ["read"], expiresInDays: "", rateLimit: 100 }))
      .toEqual({ name: "siem", scopes: ["read"], expires_in_days: null, rate_limit: 100 });
    expect(keyBody({ name: "x", scopes: ["read"], expiresInDays: "90", rateLimit: 5 }).expires_in_days).toBe(90);
  });
});

describe("MFA enrolment", () => {
  it("shows the QR code only when it is an SVG data URI", () => {
    expect(safeQr("data:image/svg+xml;base64,PHN2Zz4=")).toBe("data:image/svg+xml;base64,PHN2Zz4=");
    expect(safeQr("javascript:alert(1)")).toBeNull();
    expect(safeQr("data:text/html,<script>alert(1)</script>")).toBeNull();
    expect(safeQr("https://evil.example/qr.svg")).toBeNull();
    expect(safeQr(undefined)).toBeNull();
  });

  it("drops the spaces people type into codes", () => {
    expect(cleanCode(" 123 456 ")).toBe("123456");
  });
});

describe("SecretOnce", () => {
  it("shows the secret as text until closed", () => {
    const onClose = vi.fn();
    const secret = "<img src=x onerror=alert(1)>krsn_abc";
    render(
      <MantineProvider>
        <SecretOnce title="API key" secret={secret} label="API key" warning="Store it now." onClose={onClose} />
      </MantineProvider>,
    );
    expect(screen.getByTestId("secret-once")).toHaveTextContent(secret);
    expect(document.querySelector("img")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "I have stored it" }));
    expect(onClose).toHaveBeenCalled();
  });
});
