// The new-collection form's rules: what "target" means for each collector, the config JSON, the
// schedule, and a seed file for the custom collector. Checked here first so that a person sees
// each mistake beside its field; the API checks everything again.
import type { Schemas } from "../../api/client";

export type CollectorInfo = Schemas["CollectorInfo"];
export type CollectionCreate = Schemas["krsn__osint__collections__schemas__CollectionCreate"];
type CollectorType = Schemas["CollectorType"];

export interface Target {
  key: string;
  label: string;
  placeholder: string;
  /** The config field is a list: several targets separated by commas, spaces or lines. */
  list: boolean;
  required: boolean;
}

export const TARGETS: Record<CollectorType, Target> = {
  domain_intel: { key: "domain", label: "Domain", placeholder: "example.com", list: false, required: true },
  news: { key: "feeds", label: "Feed URLs", placeholder: "https://example.com/feed.xml", list: true, required: true },
  custom: { key: "url", label: "Endpoint URL", placeholder: "https://api.example.com/items (or give a file)", list: false, required: false },
  public_db: { key: "url", label: "List URL", placeholder: "https://data.example.org/sanctions.csv", list: false, required: false },
  dark_web: { key: "urls", label: "Page URLs", placeholder: "http://example.onion/", list: true, required: false },
  social_media: { key: "accounts", label: "Accounts", placeholder: "@someone@mastodon.social", list: true, required: false },
};

export const CONFIG_EXAMPLES: Partial<Record<CollectorType, string>> = {
  social_media: '{"platform": "mastodon", "base_url": "https://mastodon.social"}',
  custom: '{"items_path": "data.items", "mapping": {"text": "body", "entities": {"domain": "host"}}}',
  public_db: '{"dataset": "My list", "sanctioned": true}',
  news: '{"max_items": 50}',
  domain_intel: '{"record_types": ["A", "MX"]}',
};

export const MAX_EVERY_MINUTES = 525_600;

export interface CollectionFormValues {
  name: string;
  description: string;
  /** The collector's registered name, from GET /collections/types. */
  collector: string;
  target: string;
  config: string;
  everyMinutes: string;
  seed?: { filename: string; base64: string } | null;
  /** Dotted paths of the seed file's rows that hold text to extract entities from. */
  textFields: string;
}

export const EMPTY_FORM: CollectionFormValues = {
  name: "",
  description: "",
  collector: "",
  target: "",
  config: "",
  everyMinutes: "",
  seed: null,
  textFields: "text",
};

export type FormErrors = Partial<Record<keyof CollectionFormValues, string>>;

export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).map((item) => item.trim()).filter(Boolean);
}

/** The request body, or what is wrong with each field. */
export function buildCollectionBody(
  values: CollectionFormValues,
  collectors: CollectorInfo[],
): { body: CollectionCreate; errors?: undefined } | { body?: undefined; errors: FormErrors } {
  const errors: FormErrors = {};
  const name = values.name.trim();
  if (!name) errors.name = "Give the collection a name.";
  else if (name.length > 255) errors.name = "At most 255 characters.";

  const info = collectors.find((item) => item.name === values.collector);
  if (!info) errors.collector = "Choose a collector.";

  let config: Record<string, unknown> = {};
  if (values.config.trim()) {
    try {
      const parsed: unknown = JSON.parse(values.config);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        errors.config = "The config must be a JSON object: {\"field\": value}.";
      } else {
        config = { ...(parsed as Record<string, unknown>) };
      }
    } catch (error) {
      errors.config = `Not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  let schedule: CollectionCreate["schedule"] = null;
  if (values.everyMinutes.trim()) {
    const minutes = Number(values.everyMinutes);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_EVERY_MINUTES) {
      errors.everyMinutes = `A whole number of minutes from 1 to ${MAX_EVERY_MINUTES.toLocaleString("en")}, or empty to run only when asked.`;
    } else {
      schedule = { every_minutes: minutes };
    }
  }

  const type = info?.collector_type as CollectorType | undefined;
  const target = type ? TARGETS[type] : undefined;
  if (target && values.target.trim()) {
    config[target.key] = target.list ? splitList(values.target) : values.target.trim();
  }
  if (type === "custom") {
    if (values.seed) {
      config.upload = { filename: values.seed.filename, content_base64: values.seed.base64 };
      const fields = splitList(values.textFields);
      if (!("mapping" in config) && fields.length > 0) config.mapping = { text: fields };
    }
    const origins = (config.url ? 1 : 0) + (config.upload ? 1 : 0);
    if (origins !== 1 && !errors.config) {
      errors.target = origins === 0 ? "Give an endpoint URL, or choose a file below." : "Give an endpoint URL or a file, not both.";
    }
  } else if (values.seed) {
    errors.seed = "Only the custom collector reads a file; upload documents to the collection once it exists.";
  }
  if (target?.required && !errors.config && !(target.key in config)) {
    errors.target = `${target.label} is needed by this collector.`;
  }

  if (Object.keys(errors).length > 0) return { errors };
  const body: CollectionCreate = {
    name,
    description: values.description.trim() || null,
    collector_type: type,
    // The category's built-in runs when no collector is named.
    collector: info && !info.default ? info.name : null,
    config,
    schedule,
  };
  return { body };
}

/** A file's bytes as base64, in slices so that a large file does not overflow the call stack. */
export async function fileToBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  const step = 0x8000;
  for (let index = 0; index < bytes.length; index += step) {
    binary += String.fromCharCode(...bytes.subarray(index, index + step));
  }
  return btoa(binary);
}

/** The file as the upload route takes it: its own type, or one told by the server from its name. */
export function uploadBody(file: File): Blob {
  return new Blob([file], { type: file.type || "application/octet-stream" });
}

export function uploadPath(collectionId: string, filename: string): string {
  return `/api/v1/collections/${encodeURIComponent(collectionId)}/uploads?filename=${encodeURIComponent(filename)}`;
}
