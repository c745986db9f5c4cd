"""``dark_web``: another collector's fetches, or plain pages, through a SOCKS proxy such as Tor.

Off unless the operator configures a proxy: the ``tor_proxy`` setting (``KRSN_TOR_PROXY``,
e.g. ``socks5h://127.0.0.1:9050``). Without one the run is refused before any request, so
nothing meant for Tor ever leaves in the clear. A collection cannot name a proxy of its own:
the proxy is contacted directly, past the egress guard, so naming it is the operator's call.
The proxy resolves names itself, so ``.onion`` addresses work and no DNS query for a target
leaves this machine.

Two forms: ``{"urls": [...]}`` fetches each page and keeps its text; ``{"collector": "news",
"config": {...}}`` runs that collector with every request through the proxy. ``domain_intel``
cannot be wrapped: its DNS questions cannot go through a SOCKS proxy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from krsn.errors import Invalid
from krsn.osint.collectors.base import Collected, CollectorContext
from krsn.osint.collectors.http import fetch, proxied
from krsn.osint.collectors.observe import observe, page_text, unique
from krsn.osint.models import CollectorType, EntityType

__all__ = ["Config", "DarkWebCollector", "DarkWebConfig", "configured_proxy"]

log = logging.getLogger(__name__)

_NOT_WRAPPED = frozenset({CollectorType.DARK_WEB, CollectorType.DOMAIN_INTEL})


class DarkWebConfig(BaseModel):
    """A ``dark_web`` collection's config."""

    model_config = ConfigDict(extra="forbid")

    urls: list[HttpUrl] = Field(default_factory=list, description="Pages to fetch as text.")
    collector: str | None = Field(
        None, max_length=100, description="A collector to run proxied, by its registered name."
    )
    config: dict[str, Any] = Field(default_factory=dict, description="That collector's config.")
    max_page_bytes: int = Field(4 * 1024 * 1024, ge=1024)

    @field_validator("collector")
    @classmethod
    def _wrappable(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from krsn.osint.collectors.registry import category

        if category(value, field="config.collector") in _NOT_WRAPPED:
            raise ValueError(f"{value} cannot run through a SOCKS proxy")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> DarkWebConfig:
        if bool(self.urls) == (self.collector is not None):
            raise ValueError("give either urls or a collector (with its config)")
        if self.collector is not None:
            from krsn.osint.collectors.registry import validate_config

            validate_config(self.collector, self.config)
        return self


def configured_proxy() -> str:
    """The proxy dark_web runs go through; Invalid when the operator configured none."""
    from krsn.config import get_settings

    setting = get_settings().tor_proxy
    if setting:
        return str(setting)
    raise Invalid(
        "tor_proxy",
        "dark_web collection is off: no SOCKS proxy is configured. The operator sets "
        "KRSN_TOR_PROXY (e.g. socks5h://127.0.0.1:9050 for a local Tor).",
    )


class DarkWebCollector:
    """Pages or another collector's fetches through a SOCKS proxy (Tor); off without one."""

    collector_type: ClassVar[CollectorType] = CollectorType.DARK_WEB
    Config: ClassVar[type[BaseModel]] = DarkWebConfig
    description: ClassVar[str] = (
        "Pages (.onion included) or any other collector's fetches through a SOCKS proxy "
        "such as Tor; refused unless a proxy is configured."
    )

    def collect(self, config: BaseModel, context: CollectorContext) -> Iterator[Collected]:
        """Yield the pages' text, or what the wrapped collector yields, all fetched proxied."""
        assert isinstance(config, DarkWebConfig)
        proxy = configured_proxy()
        client = proxied(context.client, proxy)
        try:
            if config.collector is not None:
                from krsn.osint.collectors.registry import get

                inner = get(config.collector)
                inner_config = inner.Config.model_validate(config.config)
                yield from inner.collect(inner_config, replace(context, client=client))
                return
            yield from self._pages(config, replace(context, client=client))
        finally:
            client.close()

    def _pages(self, config: DarkWebConfig, context: CollectorContext) -> Iterator[Collected]:
        total = len(config.urls)
        context.progress(0, total)
        for done, url in enumerate(map(str, config.urls), start=1):
            context.check()
            response = fetch(
                context.client,
                url,
                headers={"Accept": "text/html,application/xhtml+xml,text/plain;q=0.9"},
                max_bytes=config.max_page_bytes,
            )
            kind = response.headers.get("Content-Type", "")
            text = (
                response.text
                if kind.startswith("text/plain")
                else page_text(response.content, url=url)
            )
            host = response.request.url.host
            title = next((line for line in text.splitlines() if line.strip()), None)
            yield Collected(
                item_type="page",
                raw={
                    "url": url,
                    "final_url": str(response.request.url),
                    "status": response.status_code,
                    "content_type": kind,
                    "text": text,
                },
                text=text or None,
                url=url,
                title=title[:200] if title else None,
                entities=unique(
                    [
                        observe(
                            EntityType.DOMAIN, host, confidence=1.0, onion=host.endswith(".onion")
                        ),
                        observe(EntityType.URL, url, confidence=1.0),
                    ]
                ),
            )
            context.progress(done, total)


Config = DarkWebConfig
"""The module's config model, by the name every collector module exports."""
