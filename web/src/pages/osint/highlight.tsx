// Search highlights as React text: the API's fragments, or its HTML snippet read as text with only
// its <mark> runs kept. No markup from the API ever reaches the page as markup.
import type { ReactNode } from "react";

export interface Fragment {
  text: string;
  match: boolean;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#x27": "'", nbsp: " " };

export function decodeEntities(text: string): string {
  return text.replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (whole, name: string) => {
    const known = ENTITIES[name.toLowerCase()];
    if (known !== undefined) return known;
    if (name[0] === "#") {
      const code = name[1].toLowerCase() === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (Number.isFinite(code) && code > 0 && code <= 0x10ffff) return String.fromCodePoint(code);
    }
    return whole;
  });
}

/** An escaped snippet with <mark> around matches, as fragments; any other tag is dropped. */
export function snippetFragments(snippet: string): Fragment[] {
  const fragments: Fragment[] = [];
  let match = false;
  for (const part of snippet.split(/(<\/?mark>)/i)) {
    if (/^<mark>$/i.test(part)) match = true;
    else if (/^<\/mark>$/i.test(part)) match = false;
    else {
      const text = decodeEntities(part.replace(/<[^>]*>/g, ""));
      if (text) fragments.push({ text, match });
    }
  }
  return fragments;
}

export function Highlighted({ fragments, snippet }: { fragments?: Fragment[] | null; snippet?: string | null }) {
  const runs = fragments && fragments.length > 0 ? fragments : snippetFragments(snippet ?? "");
  const nodes: ReactNode[] = runs.map((run, index) => (run.match ? <mark key={index}>{run.text}</mark> : <span key={index}>{run.text}</span>));
  return <>{nodes}</>;
}
