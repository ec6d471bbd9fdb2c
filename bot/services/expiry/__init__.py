"""Expiring messages (see ``service`` for how the parts fit together)."""

from __future__ import annotations

from .api import DeleteApi, DeleteFailed, DiscordDeleteApi
from .context import settings_of
from .lanes import Lanes
from .recorder import Recorder
from .service import DEFAULT_WINDOW, ExpiryService

__all__ = [
    "DEFAULT_WINDOW",
    "DeleteApi",
    "DeleteFailed",
    "DiscordDeleteApi",
    "ExpiryService",
    "Lanes",
    "Recorder",
    "settings_of",
]
