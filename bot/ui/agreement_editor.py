"""The agreement editor: a modal of up to three text fields (Discord allows 4,000 characters in each)
for a group's agreement and for a server's default agreement alike, and how a submit is read again
when the editor was opened before holdspace restarted (discord.py no longer knows that modal)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.core.agreement import MODAL_FIELD_LIMIT, MODAL_FIELDS, split_for_fields
from bot.i18n import _
from bot.ui.base import Modal
from bot.ui.replies import reply_error

Save = Callable[[discord.Interaction[Any], list[str | None]], Awaitable[None]]

#: How long (loop seconds) an opened editor is remembered; Discord drops a modal after 15 minutes.
REMEMBERED = 1200


class AgreementEditor(Modal):
    def __init__(self, *, title: str, custom_id: str, text: str, save: Save) -> None:
        super().__init__(title=title[:45], timeout=900, custom_id=custom_id)
        self._save = save
        pieces = split_for_fields(text)
        self.fields: list[discord.ui.TextInput[Any]] = []
        for number in range(MODAL_FIELDS):
            field: discord.ui.TextInput[Any] = discord.ui.TextInput(
                label=_("Agreement, part {number}").format(number=number + 1) if number else _("Agreement"),
                style=discord.TextStyle.paragraph,
                default=pieces[number] if number < len(pieces) else None,
                required=number == 0,
                max_length=MODAL_FIELD_LIMIT,
                custom_id=f"part{number + 1}",
            )
            self.fields.append(field)
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._save(interaction, [f.value for f in self.fields])

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await reply_error(interaction, error)


class Editors:
    """The editors of one kind (``prefix``: what their custom ids start with) this process opened, so
    a submit to an editor opened before a restart is told apart and still saved."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._pattern = re.compile(
            rf"^{re.escape(prefix)}(?P<key>[0-9a-f]{{1,32}}):(?P<version>\d{{1,9}}):[0-9a-f]{{8}}$"
        )
        self._opened: dict[str, float] = {}

    async def open(
        self, interaction: discord.Interaction[Any], *, title: str, key: str, version: int, text: str, save: Save
    ) -> None:
        """Show the editor for ``key`` (a group's id, a server's id) at ``version``, filled with ``text``;
        ``save`` gets the submit and the fields' values."""
        modal = AgreementEditor(
            title=title, custom_id=f"{self.prefix}{key}:{version}:{uuid.uuid4().hex[:8]}", text=text, save=save
        )
        now = asyncio.get_running_loop().time()
        self._opened = {k: t for k, t in self._opened.items() if now - t < REMEMBERED}
        self._opened[modal.custom_id] = now
        await interaction.response.send_modal(modal)

    def orphan(self, interaction: discord.Interaction[Any]) -> tuple[str, int, list[str | None]] | None:
        """For the submit of an editor of this kind that this process did not open: (key, version the
        editor started from, the fields' values); None for anything else."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return None
        data: dict[str, Any] = dict(interaction.data or {})
        match = self._pattern.match(str(data.get("custom_id", "")))
        if match is None or match.group(0) in self._opened:
            return None
        values: dict[str, str] = {}
        for row in data.get("components") or []:
            for component in [*(row.get("components") or []), *([row["component"]] if "component" in row else [])]:
                if component.get("custom_id"):
                    values[str(component["custom_id"])] = str(component.get("value") or "")
        return match["key"], int(match["version"]), [values.get(f"part{n + 1}") for n in range(MODAL_FIELDS)]
