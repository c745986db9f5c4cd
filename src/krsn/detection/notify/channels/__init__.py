"""The notifiers, found through the ``krsn.notifiers`` entry points (built-ins included).

A plugin is one class implementing :class:`krsn.detection.notify.channels.base.Notifier`,
registered in its package's ``pyproject.toml`` under the name of its channel type::

    [project.entry-points."krsn.notifiers"]
    webhook = "krsn.detection.notify.channels.webhook:WebhookNotifier"
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from krsn.detection.models import NotificationType
from krsn.detection.notify.channels.base import Notifier
from krsn.errors import Invalid

__all__ = ["GROUP", "notifier_for", "notifiers"]

log = logging.getLogger(__name__)

GROUP = "krsn.notifiers"


@lru_cache
def notifiers() -> dict[NotificationType, Notifier]:
    """One instance of every installed notifier, by the channel type it serves."""
    found: dict[NotificationType, Notifier] = {}
    for entry in entry_points(group=GROUP):
        try:
            kind = NotificationType(entry.name)
        except ValueError:
            # The channel type is a column with a fixed set of values.
            log.warning("notifier %r ignored: %s is not a channel type", entry.value, entry.name)
            continue
        try:
            cls = entry.load()
        except Exception:
            log.exception("notifier %r failed to load", entry.value)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Notifier)):
            log.warning("notifier %r ignored: not a Notifier subclass", entry.value)
            continue
        found[kind] = cls()
    return found


def notifier_for(kind: NotificationType | str) -> Notifier:
    """The notifier of a channel type; Invalid when none is installed for it."""
    try:
        notifier = notifiers().get(NotificationType(kind))
    except ValueError:
        notifier = None
    if notifier is None:
        installed = ", ".join(sorted(k.value for k in notifiers()))
        raise Invalid("notification_type", f"no notifier for {kind!r}; installed: {installed}")
    return notifier
