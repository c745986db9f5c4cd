// The typed REST client. Types come from the OpenAPI document (src/api/schema.d.ts, generated
// at build time); every failure becomes an ApiError carrying the API's problem details.
import createClient, { type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: { field?: string; reason?: string; loc?: (string | number)[]; msg?: string }[];
  mfa_required?: boolean;
  [extension: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.status = problem.status;
    this.problem = problem;
  }
}

const CSRF_COOKIE = "krsn_csrf";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function csrfToken(cookies: string = document.cookie): string | undefined {
  for (const part of cookies.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method)) {
      const token = csrfToken();
      if (token) request.headers.set("X-CSRF-Token", token);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(csrf);

/** A problem from whatever the server (or the network) answered. */
export function toProblem(error: unknown, response?: Response): Problem {
  const status = response?.status ?? 0;
  if (error && typeof error === "object" && "title" in error) {
    return { status, ...(error as object) } as Problem;
  }
  if (error && typeof error === "object" && "detail" in error) {
    const detail = (error as { detail: unknown }).detail;
    return {
      status,
      title: response?.statusText || "Request failed",
      detail: typeof detail === "string" ? detail : JSON.stringify(detail),
    };
  }
  if (status === 0) {
    return { status, title: "The server cannot be reached", detail: "Check that KRSN-RT2I is running." };
  }
  return { status, title: response?.statusText || `HTTP ${status}`, detail: typeof error === "string" ? error : undefined };
}

/** The data of a call, or an ApiError with its problem details. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (thrown) {
    throw new ApiError(toProblem(thrown instanceof Error ? thrown.message : thrown));
  }
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(toProblem(result.error, result.response));
  }
  return result.data as T;
}

/** Multipart uploads and other bodies the generated client does not model. */
export async function send<T>(method: string, path: string, body?: BodyInit): Promise<T> {
  const headers = new Headers();
  const token = csrfToken();
  if (token && !SAFE.has(method)) headers.set("X-CSRF-Token", token);
  let response: Response;
  try {
    response = await fetch(path, { method, body, headers, credentials: "same-origin" });
  } catch (thrown) {
    throw new ApiError(toProblem(String(thrown)));
  }
  const text = await response.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (!response.ok) throw new ApiError(toProblem(parsed ?? text, response));
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
