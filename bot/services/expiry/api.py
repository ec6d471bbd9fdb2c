"""The Discord side of deleting: one bulk or single delete request, failures as ``DeleteFailed``."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

import aiohttp
import discord


class DeleteFailed(Exception):
    """A delete request that did not succeed: ``status`` None means no HTTP answer at all."""

    def __init__(self, status: int | None, code: int | None = None, reason: str = "") -> None:
        super().__init__(reason or f"HTTP {status} (code {code})")
        self.status = status
        self.code = code


class DeleteApi(Protocol):
    async def bulk_delete(self, channel_id: int, message_ids: Sequence[int]) -> None: ...

    async def delete(self, channel_id: int, message_id: int) -> None: ...


class DiscordDeleteApi:
    """Deletes through discord.py's HTTP client (which retries 5xx and waits out 429s itself)."""

    def __init__(self, http: Any) -> None:
        self._http = http

    async def _call(self, request: Awaitable[Any]) -> None:
        try:
            await request
        except discord.HTTPException as exc:
            raise DeleteFailed(exc.status, exc.code, type(exc).__name__) from None
        except (TimeoutError, discord.RateLimited, aiohttp.ClientError, OSError) as exc:
            raise DeleteFailed(None, None, type(exc).__name__) from None

    async def bulk_delete(self, channel_id: int, message_ids: Sequence[int]) -> None:
        await self._call(self._http.delete_messages(channel_id, [str(m) for m in message_ids]))

    async def delete(self, channel_id: int, message_id: int) -> None:
        await self._call(self._http.delete_message(channel_id, message_id))
