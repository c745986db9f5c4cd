"""IOC extraction accuracy and speed: ours against iocextract, ioc-finder and iocsearcher.

Every tool reads the same texts from ``../shared/data/ioc-text/`` (threat reports whose vendor
publishes its own IOC lists) and is scored per IOC type on canonical values: each value a
tool reports is refanged and canonicalised by the platform's normaliser, so ``evil[.]com``
and ``EVIL.com`` are one answer for every tool. Per document, a type is scored only where the
document labels it; true and false positives and misses are summed over documents
(micro-averaged precision, recall, F1).

Ground truth, by set (``SOURCES.md`` of the data describes each):

- ESET write-ups: ``README.adoc`` against ``samples.md5/.sha1/.sha256`` (restricted to the
  digests the text contains: the others cannot be found in it) and the network values of the
  README's network sections (a heading naming networks, C&C, servers, domains, URLs, e-mail
  or Tor, and everything under it); the MISP exports against their attributes.
- Avast write-ups: ``README.md`` against ``samples.*`` (same restriction) and ``network.txt``.
- iocextract's ``input.txt`` against ``valid.txt`` (as the normaliser reads each line) and
  ``invalid.txt``, where anything found is a false positive.
- iocsearcher's ``blockchain_valid.ioc`` for Bitcoin, Ethereum and Monero (lines of other
  coins are there to be left alone).
- ioc-finder's own cases (those without options), each scored on the types its file is about.

Domains are compared the same way for all tools: a tool's domains are those it reports plus
the hosts of the URLs and the domains of the e-mail addresses it reports (iocextract has no
domain extractor of its own), and the truth is derived the same way. A vendor's link to its
own article is not in its IOC lists, so it counts against every tool alike.

Speed is the total size of all texts (UTF-8 bytes) over the CPU time each tool takes to
extract from them, the best of ``--repeat`` runs: every tool runs in one thread, and CPU time
stays put on a machine shared with other work, where wall time does not. Ours runs without the
named-entity recogniser (the others have none); with it, it is a second figure.

    python bench/extract.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krsn.indicators.normalise import Indicator, Kind, normalise
from krsn.indicators.refang import refang
from krsn.osint.extract.text import extract_text
from krsn.osint.models import EntityType

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ioc-text"

TYPES = [
    "ip",
    "domain",
    "url",
    "email",
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "btc",
    "eth",
    "xmr",
    "cve",
]
NETWORK = {"ip", "domain", "url", "email"}
HASHES = {"md5", "sha1", "sha256", "sha512"}
Found = dict[str, set[str]]


@dataclass
class Doc:
    name: str
    text: str
    truth: Found
    scored: set[str]
    meta: dict[str, Any] = field(default_factory=dict)


# --- canonical forms ------------------------------------------------------------------------

_KIND_TYPE = {
    Kind.IPV4: "ip",
    Kind.IPV6: "ip",
    Kind.CIDR: "ip",
    Kind.DOMAIN: "domain",
    Kind.URL: "url",
    Kind.EMAIL: "email",
    Kind.MD5: "md5",
    Kind.SHA1: "sha1",
    Kind.SHA256: "sha256",
    Kind.SHA512: "sha512",
}


def canonical(value: str, expected: Kind | None = None) -> tuple[str, str] | None:
    """(type, canonical value) of a network value or digest, as the normaliser reads it."""
    value = value.strip().strip("`+")
    result = normalise(refang(value), expected=expected) if expected else normalise(refang(value))
    if not isinstance(result, Indicator):
        return None
    return _KIND_TYPE[result.kind], result.value


def derive(found: Found) -> Found:
    """Add the hosts of URLs and the domains of e-mail addresses as domains (or IPs)."""
    out: Found = {k: set(v) for k, v in found.items()}
    for url in found.get("url", ()):
        host = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
        if host.startswith("["):
            host = host[1 : host.find("]")]
        elif ":" in host:
            host = host.rsplit(":", 1)[0]
        parsed = canonical(host)
        if parsed is not None and parsed[0] in ("domain", "ip"):
            out.setdefault(parsed[0], set()).add(parsed[1])
    for address in found.get("email", ()):
        out.setdefault("domain", set()).add(address.rsplit("@", 1)[1])
    return out


def _add(found: Found, kind: str, value: str) -> None:
    found.setdefault(kind, set()).add(value)


def _network(found: Found, values: Iterable[str]) -> None:
    for value in values:
        parsed = canonical(value)
        if parsed is not None:
            _add(found, *parsed)


# --- the four tools -------------------------------------------------------------------------

_OURS_TYPE = {
    EntityType.IP_ADDRESS: "ip",
    EntityType.DOMAIN: "domain",
    EntityType.URL: "url",
    EntityType.EMAIL: "email",
    EntityType.CVE: "cve",
}


def ours(text: str) -> Found:
    found: Found = {}
    for finding in extract_text(text, ner=False):
        kind = _OURS_TYPE.get(finding.entity_type)
        if kind is None and finding.entity_type in (
            EntityType.HASH,
            EntityType.CRYPTOCURRENCY_ADDRESS,
        ):
            kind = finding.subtype
        if kind is not None:
            _add(found, kind, finding.canonical)
    return found


def run_iocextract(text: str) -> Found:
    import iocextract

    found: Found = {}
    _network(found, iocextract.extract_urls(text, refang=True))
    _network(found, iocextract.extract_ips(text, refang=True))
    _network(found, iocextract.extract_emails(text, refang=True))
    for kind, extract in (
        ("md5", iocextract.extract_md5_hashes),
        ("sha1", iocextract.extract_sha1_hashes),
        ("sha256", iocextract.extract_sha256_hashes),
        ("sha512", iocextract.extract_sha512_hashes),
    ):
        for value in extract(text):
            _add(found, kind, value.lower())
    return found


def run_ioc_finder(text: str) -> Found:
    from ioc_finder import find_iocs
    from ioc_finder.ioc_finder import SUPPORTED_IOC_TYPES

    # Every type it supports, as its own tests run it (the default leaves coins and sha512 out).
    iocs = find_iocs(text, included_ioc_types=SUPPORTED_IOC_TYPES)
    found: Found = {}
    for key in ("urls", "domains", "ipv4s", "ipv6s", "ipv4_cidrs", "email_addresses"):
        _network(found, iocs.get(key, ()))
    for key, kind in (
        ("md5s", "md5"),
        ("sha1s", "sha1"),
        ("sha256s", "sha256"),
        ("sha512s", "sha512"),
    ):
        for value in iocs.get(key, ()):
            _add(found, kind, value.lower())
    for value in iocs.get("bitcoin_addresses", ()):
        _add(found, "btc", value.lower() if value.lower().startswith("bc1") else value)
    for value in iocs.get("monero_addresses", ()):
        _add(found, "xmr", value)
    for value in iocs.get("cves", ()):
        _add(found, "cve", value.upper())
    return found


_SEARCHER: Any = None


def run_iocsearcher(text: str) -> Found:
    global _SEARCHER
    if _SEARCHER is None:
        from iocsearcher.searcher import Searcher

        _SEARCHER = Searcher()
    found: Found = {}
    for ioc in _SEARCHER.search_data(text):
        name, value = ioc.name, ioc.value
        if name in ("url", "fqdn", "ip4", "ip6", "email", "ip4Net"):
            _network(found, [value])
        elif name in HASHES:
            _add(found, name, value.lower())
        elif name == "bitcoin":
            _add(found, "btc", value.lower() if value.lower().startswith("bc1") else value)
        elif name == "ethereum":
            _add(found, "eth", value.lower())
        elif name == "monero":
            _add(found, "xmr", value)
        elif name == "cve":
            _add(found, "cve", value.upper())
    return found


TOOLS: dict[str, Callable[[str], Found]] = {
    "ours": ours,
    "iocextract": run_iocextract,
    "ioc_finder": run_ioc_finder,
    "iocsearcher": run_iocsearcher,
}


# --- the labelled documents -----------------------------------------------------------------

_HEADING = re.compile(r"^(=+|#+)\s+(.*)$")
_NETWORK_HEADING = re.compile(
    r"network|c&c|c2\b|server|domain|url|ip address|e-?mail|tor link|hostname|infrastructure",
    re.IGNORECASE,
)
_TABLE_HEADER = re.compile(r"^\|\s*(?:IP|Domain|URL|Hostname|C&C)\b", re.IGNORECASE)
_TOKEN_SPLIT = re.compile(r"[\s|`]+")
# An AsciiDoc link macro's text (url[text]) is not part of the URL; defanging brackets are.
_MACRO = re.compile(r"\[(?!\.\]|dot\]|:\]|/\]|@\]|at\]|://\]).*$", re.IGNORECASE)


def network_values(text: str) -> Found:
    """The network values of a write-up's network sections (and everything under them)."""
    found: Found = {}
    stack: list[tuple[int, bool]] = []
    table_network = False
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, bool(_NETWORK_HEADING.search(heading.group(2)))))
            continue
        if line.startswith("|==="):
            table_network = False
            continue
        if line.startswith("|") and not table_network and _TABLE_HEADER.search(line):
            table_network = True  # a table whose header names IPs, domains or URLs
            continue
        if not table_network and not any(network for _, network in stack):
            continue
        for token in _TOKEN_SPLIT.split(line):
            token = _MACRO.sub("", token).strip("+*_,;()").rstrip(".:")
            if token and token not in ("N/A", "----", "|==="):
                _network(found, [token])
    return found


def hashes_in(text: str, folder: Path, stem: str = "samples") -> Found:
    lowered = text.lower()
    found: Found = {}
    for kind in ("md5", "sha1", "sha256"):
        path = folder / f"{stem}.{kind}"
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").split():
            digest = line.strip().lower()
            if len(digest) in (32, 40, 64) and digest in lowered:
                _add(found, kind, digest)
    return found


def misp_truth(path: Path) -> Found:
    data = json.loads(path.read_text())
    events = []
    if "response" in data:
        events = [entry.get("Event", entry) for entry in data["response"]]
    elif "Event" in data:
        events = [data["Event"]]
    found: Found = {}
    for event in events:
        attributes = list(event.get("Attribute", []))
        for obj in event.get("Object", []):
            attributes += obj.get("Attribute", [])
        for attribute in attributes:
            kind, value = attribute.get("type", ""), str(attribute.get("value", ""))
            if kind in ("md5", "sha1", "sha256", "sha512"):
                _add(found, kind, value.lower())
            elif kind in (
                "ip-dst",
                "ip-src",
                "domain",
                "hostname",
                "url",
                "email-src",
                "email-dst",
                "email",
            ):
                _network(found, [value.split("|", 1)[0]])
            elif "|" in kind:
                for part_kind, part in zip(kind.split("|"), value.split("|"), strict=False):
                    if part_kind in HASHES:
                        _add(found, part_kind, part.lower())
                    elif part_kind in ("ip-dst", "ip-src", "domain", "hostname"):
                        _network(found, [part])
    return found


def documents() -> list[Doc]:
    docs: list[Doc] = []
    for folder in sorted((DATA / "eset").iterdir()):
        readme = folder / "README.adoc"
        if readme.exists():
            text = readme.read_text(errors="replace")
            truth = hashes_in(text, folder) | network_values(text)
            docs.append(
                Doc(f"eset/{folder.name}", text, derive(truth), NETWORK | {"md5", "sha1", "sha256"})
            )
        for misp in sorted(folder.glob("*.json")):
            text = misp.read_text(errors="replace")
            docs.append(
                Doc(
                    f"eset/{folder.name}/{misp.name}",
                    text,
                    derive(misp_truth(misp)),
                    NETWORK | {"md5", "sha1", "sha256"},
                )
            )
    for folder in sorted((DATA / "avast").iterdir()):
        readme = folder / "README.md"
        if not readme.exists():
            continue
        text = readme.read_text(errors="replace")
        truth = hashes_in(text, folder)
        network = folder / "network.txt"
        scored = {"md5", "sha1", "sha256"}
        if network.exists():
            _network(truth, network.read_text(errors="replace").split())
            scored |= NETWORK
        docs.append(Doc(f"avast/{folder.name}", text, derive(truth), scored))
    extract_dir = DATA / "iocextract"
    valid: Found = {}
    _network(valid, (extract_dir / "valid.txt").read_text().splitlines())
    docs.append(
        Doc(
            "iocextract/input.txt",
            (extract_dir / "input.txt").read_text(),
            derive(valid),
            NETWORK | HASHES,
        )
    )
    docs.append(
        Doc(
            "iocextract/invalid.txt",
            (extract_dir / "invalid.txt").read_text(),
            {},
            NETWORK | HASHES,
        )
    )
    coins_text = (DATA / "iocsearcher" / "blockchain_valid.ioc").read_text()
    coins: Found = {}
    for line in coins_text.splitlines():
        coin, _, address = line.partition(" ")
        kind = {"bitcoin": "btc", "ethereum": "eth", "monero": "xmr"}.get(coin)
        if kind is not None:
            _add(
                coins,
                kind,
                address.lower() if kind == "eth" or address.startswith("bc1") else address,
            )
    docs.append(Doc("iocsearcher/blockchain_valid.ioc", coins_text, coins, {"btc", "eth", "xmr"}))
    cases = json.loads((DATA / "ioc-finder" / "ioc-finder-cases.json").read_text())["cases"]
    topics = {
        "domains": {"domain"},
        "urls": {"url"},
        "ip_addr": {"ip"},
        "email": {"email"},
        "hashes": HASHES,
        "coins": {"btc", "xmr"},
        "cves": {"cve"},
    }
    for case in cases:
        topic = case["source"].rsplit("/", 1)[-1].removesuffix(".py")
        if topic not in topics or case["find_iocs_kwargs"]:
            continue
        expected = case["expected"]
        truth: Found = {}
        for key in ("urls", "domains", "ipv4s", "ipv6s", "ipv4_cidrs", "email_addresses"):
            _network(truth, expected.get(key, []))
        for key, kind in (
            ("md5s", "md5"),
            ("sha1s", "sha1"),
            ("sha256s", "sha256"),
            ("sha512s", "sha512"),
        ):
            for value in expected.get(key, []):
                _add(truth, kind, value.lower())
        for value in expected.get("bitcoin_addresses", []):
            _add(truth, "btc", value.lower() if value.lower().startswith("bc1") else value)
        for value in expected.get("monero_addresses", []):
            _add(truth, "xmr", value)
        for value in expected.get("cves", []):
            _add(truth, "cve", value.upper())
        if topic not in ("domains",):
            truth = derive(truth) if topic in ("urls", "email") else truth
        docs.append(Doc(f"ioc-finder/{topic}:{case['id']}", case["text"], truth, topics[topic]))
    return docs


# --- scoring --------------------------------------------------------------------------------


def score(docs: list[Doc], results: list[Found]) -> dict[str, dict[str, float]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for doc, found in zip(docs, results, strict=True):
        found = derive(found)
        for kind in doc.scored:
            got, want = found.get(kind, set()), doc.truth.get(kind, set())
            tally = counts[kind]
            tally[0] += len(got & want)
            tally[1] += len(got - want)
            tally[2] += len(want - got)
    out: dict[str, dict[str, float]] = {}
    for kind in TYPES:
        tp, fp, fn = counts.get(kind, [0, 0, 0])
        if tp + fn == 0 and fp == 0:
            continue
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[kind] = {
            "p": round(precision, 3),
            "r": round(recall, 3),
            "f1": round(f1, 3),
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
    return out


def errors(docs: list[Doc], results: list[Found], kind: str, limit: int = 15) -> list[str]:
    lines = []
    for doc, found in zip(docs, results, strict=True):
        if kind not in doc.scored:
            continue
        found = derive(found)
        got, want = found.get(kind, set()), doc.truth.get(kind, set())
        lines += [f"  FP {doc.name}: {v}" for v in sorted(got - want)]
        lines += [f"  FN {doc.name}: {v}" for v in sorted(want - got)]
    return lines[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3, help="Timing runs per tool (best kept).")
    parser.add_argument("--tools", nargs="*", default=list(TOOLS), help="Tools to run.")
    parser.add_argument(
        "--errors", metavar="TYPE", help="List our misses and false positives of a type."
    )
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"the data is not there: {DATA}")
    docs = documents()
    size = sum(len(doc.text.encode()) for doc in docs)
    print(f"{len(docs)} documents, {size / 1e6:.2f} MB", file=sys.stderr)
    scores: dict[str, dict[str, dict[str, float]]] = {}
    speed: dict[str, float] = {}
    for name in args.tools:
        tool = TOOLS[name]
        tool("warm up evil.com 192.0.2.1")
        best = float("inf")
        results: list[Found] = []
        for _ in range(max(1, args.repeat)):
            started = time.process_time()
            results = [tool(doc.text) for doc in docs]
            best = min(best, time.process_time() - started)
        speed[name] = round(size / best / 1e6, 2)
        scores[name] = score(docs, results)
        if name == "ours" and args.errors:
            print("\n".join(errors(docs, results, args.errors, 60)), file=sys.stderr)
        print(f"{name}: {speed[name]} MB/s", file=sys.stderr)
    if "ours" in args.tools:
        extract_text("warm up John Smith", ner=True)
        started = time.process_time()
        for doc in docs:
            extract_text(doc.text, ner=True)
        speed["ours_with_ner"] = round(size / (time.process_time() - started) / 1e6, 2)
    header = f"{'type':8}" + "".join(f"{name:>26}" for name in scores)
    print(header)
    print(f"{'':8}" + "".join(f"{'P / R / F1':>26}" for _ in scores))
    for kind in TYPES:
        cells = []
        for name in scores:
            s = scores[name].get(kind)
            cells.append(f"{s['p']:.3f} / {s['r']:.3f} / {s['f1']:.3f}" if s else "-")
        if any(cell != "-" for cell in cells):
            print(f"{kind:8}" + "".join(f"{cell:>26}" for cell in cells))
    print(f"{'MB/s':8}" + "".join(f"{speed[name]:>26}" for name in scores))
    if "ours_with_ner" in speed:
        print(f"ours with the named-entity recogniser: {speed['ours_with_ner']} MB/s")
    line: dict[str, Any] = {"bench": "extract"}
    for name in scores:
        line[name] = {k: {m: v[m] for m in ("p", "r", "f1")} for k, v in scores[name].items()}
    line["mb_per_s"] = speed
    line["documents"] = len(docs)
    line["megabytes"] = round(size / 1e6, 3)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
