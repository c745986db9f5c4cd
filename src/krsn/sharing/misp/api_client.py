"""A MISP instance's REST API: ``POST /events/restSearch``, page after page.

The key goes in ``Authorization`` as MISP expects, to the instance's origin only: the client
is egress-guarded (:func:`krsn.feeds.egress.guarded_client`) and follows no redirect, so a
redirect is reported rather than followed with the key. Each answer is read within
``max_bytes``; a page shorter than ``page_size`` is the last.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any, Final

import httpx

from krsn.feeds.egress import DestinationUnreachable, check_destination, guarded_client
from krsn.feeds.fetch import USER_AGENT, FetchError

log = logging.getLogger(__name__)

SEARCH_PATH: Final = "/events/restSearch"
DEFAULT_PAGE_SIZE: Final = 100
_EXCERPT: Final = 200


class MispApi:
    """One MISP instance, searched with one API key."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        timeout: float = 30.0,
        max_bytes: int = 512 * 1024 * 1024,
        allow_private: bool = False,
        allowed_hosts: frozenset[str] = frozenset(),
        verify: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.search_url = self.base_url + SEARCH_PATH
        self._api_key = api_key
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self.allowed_hosts = allowed_hosts
        self.verify = verify

    def search(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[tuple[int, list[Any]]]:
        """Each page's number and events (``{"Event": …}`` items) until the last page."""
        try:
            check_destination(
                self.search_url, allow_private=self.allow_private, allowed_hosts=self.allowed_hosts
            )
        except DestinationUnreachable as exc:
            raise FetchError(exc.detail, url=self.search_url) from exc
        with guarded_client(
            allow_private=self.allow_private,
            allowed_hosts=self.allowed_hosts,
            timeout=self.timeout,
            verify=self.verify,
        ) as client:
            page = 0
            while True:
                page += 1
                body = {**(filters or {}), "returnFormat": "json", "page": page, "limit": page_size}
                events = self._page(client, body)
                log.info("misp api %s: page %d, %d events", self.base_url, page, len(events))
                yield page, events
                if len(events) < page_size:
                    return

    def _page(self, client: httpx.Client, body: dict[str, Any]) -> list[Any]:
        headers = {
            "Authorization": self._api_key,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        url = self.search_url
        try:
            with client.stream("POST", url, json=body, headers=headers) as response:
                status = response.status_code
                if status != 200:
                    raise FetchError(self._refusal(response), url=url, http_status=status)
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise FetchError(
                            f"{url}: the answer to page {body['page']} passed "
                            f"{self.max_bytes} bytes; ask for smaller pages",
                            url=url,
                            http_status=status,
                        )
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url}: timed out after {self.timeout:g} s", url=url) from exc
        except httpx.TransportError as exc:
            raise FetchError(f"{url}: connection failed: {exc}", url=url) from exc
        try:
            answer = json.loads(bytes(data))
        except ValueError as exc:
            raise FetchError(f"{url}: the answer is not JSON: {exc}", url=url) from exc
        if isinstance(answer, dict) and isinstance(answer.get("response"), list):
            return list(answer["response"])
        if isinstance(answer, list):  # older instances answer a bare list
            return answer
        raise FetchError(
            f"{url}: expected {{'response': [...]}} from restSearch, got {type(answer).__name__}",
            url=url,
        )

    def _refusal(self, response: httpx.Response) -> str:
        status = response.status_code
        excerpt = response.read()[:2048].decode("utf-8", "replace")
        excerpt = " ".join(excerpt.split())[:_EXCERPT]
        hint = ""
        if status in (401, 403):
            hint = "; check the API key (MISP: your profile → Auth keys)"
        elif status == 404:
            hint = "; give the instance's base URL (https://misp.example.org)"
        elif response.is_redirect:
            hint = (
                f"; it redirects to {response.headers.get('location', '?')}: "
                "give that URL (the key is never sent to another address)"
            )
        reason = response.reason_phrase
        return (
            f"{self.search_url} answered {status} {reason}"
            + (f": {excerpt}" if excerpt and not response.is_redirect else "")
            + hint
        )
