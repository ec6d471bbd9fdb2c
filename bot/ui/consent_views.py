"""Consent buttons and the agreement as Discord messages.

Every button is a ``DynamicItem`` with a fixed custom_id pattern, so it keeps working after a
restart (registered with ``bot.add_dynamic_items`` by the consent cog):

- ``hs:lobby`` -- the lobby's "Review and consent" button (anyone may press it);
- ``hs:review:<group>:<tag>`` -- "Review and consent" for one group, sent by DM to one member;
- ``hs:pick:<tag>`` -- a select of groups, shown to one member;
- ``hs:agree:<group>:<version>:<sha16>:<tag>`` / ``hs:decline:<group>:<version>:<tag>`` -- the
  answer to exactly the agreement version that was shown (its number and the start of its SHA-256).

``<tag>`` is a keyed fingerprint of the member the button was made for (12 hex characters of an
HMAC under holdspace's key, purpose "button"): it lets holdspace refuse a button pressed by someone
else without putting the member's id into the message.

The buttons only parse their custom_id and hand over to the consent cog (``ConsentFlow``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.core.agreement import split
from bot.crypto import KeyRing
from bot.i18n import _
from bot.ui.base import Localised
from bot.ui.replies import reply_error

if TYPE_CHECKING:
    from bot.core.records import GroupInfo

TAG_PURPOSE = "button"
LOBBY_ID = "hs:lobby"
EMBED_COLOUR = discord.Colour.dark_teal()


class ConsentFlow(Protocol):
    """What the buttons call; the consent feature sets it as ``bot.consent``."""

    async def lobby_pressed(self, interaction: discord.Interaction[Any]) -> None: ...

    async def review_pressed(self, interaction: discord.Interaction[Any], group_id: str, tag: str) -> None: ...

    async def group_picked(self, interaction: discord.Interaction[Any], group_id: str, tag: str) -> None: ...

    async def answer_pressed(
        self,
        interaction: discord.Interaction[Any],
        *,
        agree: bool,
        group_id: str,
        version: int,
        sha_prefix: str,
        tag: str,
    ) -> None: ...


def member_tag(ring: KeyRing, member_id: int) -> str:
    """The fingerprint a button carries for ``member_id`` (current key)."""
    return ring.blind_index(member_id, purpose=TAG_PURPOSE)[:6].hex()


def tag_matches(ring: KeyRing, member_id: int, tag: str) -> bool:
    """Does ``tag`` belong to ``member_id`` (under any key of the ring)?"""
    return any(index[:6].hex() == tag for index in ring.blind_indexes(member_id, purpose=TAG_PURPOSE))


def _flow(interaction: discord.Interaction[Any]) -> ConsentFlow:
    flow: ConsentFlow | None = interaction.client.consent
    if flow is None:
        raise RuntimeError("the consent feature is not loaded")
    return flow


async def _run(interaction: discord.Interaction[Any], coro: Any) -> None:
    try:
        await coro
    except Exception as exc:
        await reply_error(interaction, exc)


class LobbyButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"hs:lobby",
):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(label=_("Review and consent"), style=discord.ButtonStyle.primary, custom_id=LOBBY_ID)
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> LobbyButton:
        return cls()

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, _flow(interaction).lobby_pressed(interaction))


class ReviewButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"hs:review:(?P<group>[0-9a-f]{32}):(?P<tag>[0-9a-f]{12})",
):
    def __init__(self, group_id: str, tag: str) -> None:
        self.group_id = group_id
        self.tag = tag
        super().__init__(
            discord.ui.Button(
                label=_("Review and consent"),
                style=discord.ButtonStyle.primary,
                custom_id=f"hs:review:{group_id}:{tag}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReviewButton:
        return cls(match["group"], match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, _flow(interaction).review_pressed(interaction, self.group_id, self.tag))


class GroupSelect(
    Localised,
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"hs:pick:(?P<tag>[0-9a-f]{12})",
):
    def __init__(self, tag: str, options: list[discord.SelectOption] | None = None) -> None:
        self.tag = tag
        super().__init__(
            discord.ui.Select(
                custom_id=f"hs:pick:{tag}",
                placeholder=_("Choose a group"),
                options=options or [discord.SelectOption(label="-", value="-")],
                min_values=1,
                max_values=1,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> GroupSelect:
        return cls(match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        values = list(data.get("values") or [])
        group_id = str(values[0]) if values else ""
        await _run(interaction, _flow(interaction).group_picked(interaction, group_id, self.tag))


class AgreeButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"hs:agree:(?P<group>[0-9a-f]{32}):(?P<version>\d{1,9}):(?P<sha>[0-9a-f]{16}):(?P<tag>[0-9a-f]{12})",
):
    def __init__(self, group_id: str, version: int, sha_prefix: str, tag: str) -> None:
        self.group_id, self.version, self.sha_prefix, self.tag = group_id, version, sha_prefix, tag
        super().__init__(
            discord.ui.Button(
                label=_("I agree"),
                style=discord.ButtonStyle.success,
                custom_id=f"hs:agree:{group_id}:{version}:{sha_prefix}:{tag}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AgreeButton:
        return cls(match["group"], int(match["version"]), match["sha"], match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _run(
            interaction,
            _flow(interaction).answer_pressed(
                interaction,
                agree=True,
                group_id=self.group_id,
                version=self.version,
                sha_prefix=self.sha_prefix,
                tag=self.tag,
            ),
        )


class DeclineButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"hs:decline:(?P<group>[0-9a-f]{32}):(?P<version>\d{1,9}):(?P<tag>[0-9a-f]{12})",
):
    def __init__(self, group_id: str, version: int, tag: str) -> None:
        self.group_id, self.version, self.tag = group_id, version, tag
        super().__init__(
            discord.ui.Button(
                label=_("I do not agree"),
                style=discord.ButtonStyle.secondary,
                custom_id=f"hs:decline:{group_id}:{version}:{tag}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DeclineButton:
        return cls(match["group"], int(match["version"]), match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _run(
            interaction,
            _flow(interaction).answer_pressed(
                interaction, agree=False, group_id=self.group_id, version=self.version, sha_prefix="", tag=self.tag
            ),
        )


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    LobbyButton,
    ReviewButton,
    GroupSelect,
    AgreeButton,
    DeclineButton,
)


# -- views and messages ------------------------------------------------------------------------------


def lobby_view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(LobbyButton())
    return view


def lobby_embed() -> discord.Embed:
    return discord.Embed(
        title=_("Joining a group"),
        description=(
            _(
                "Each group here has its own private rooms. Before you can see or join "
                "them, please read the group's agreement (ground rules, the limits of "
                "confidentiality, and what holdspace stores about you) and say whether you "
                "agree.\n\nPress the button: only you will see the agreement and your answer."
            )
        ),
        colour=EMBED_COLOUR,
    )


def review_view(group_id: str, tag: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ReviewButton(group_id, tag))
    return view


def pick_view(tag: str, groups: list[GroupInfo], statuses: dict[str, str]) -> discord.ui.View:
    options = [
        discord.SelectOption(label=g.name[:100], value=g.id, description=statuses.get(g.id, "")[:100] or None)
        for g in groups[:25]
    ]
    view = discord.ui.View(timeout=None)
    view.add_item(GroupSelect(tag, options))
    return view


def answer_view(group_id: str, version: int, sha256: str, tag: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AgreeButton(group_id, version, sha256[:16], tag))
    view.add_item(DeclineButton(group_id, version, tag))
    return view


def agreement_embeds(group_name: str, version: int, sha256: str, text: str) -> list[discord.Embed]:
    """The agreement as one embed per message (each within Discord's limits)."""
    parts = split(text)
    embeds = []
    for number, part in enumerate(parts, start=1):
        title = (
            _("Agreement of {group_name}").format(group_name=group_name)
            if number == 1
            else _("Agreement of {group_name} (continued)").format(group_name=group_name)
        )
        embed = discord.Embed(title=title[:256], description=part, colour=EMBED_COLOUR)
        footer = _("Version {version} · SHA-256 {sha256}").format(version=version, sha256=sha256[:16])
        if len(parts) > 1:
            footer += _(" · part {number} of {count}").format(number=number, count=len(parts))
        embed.set_footer(text=footer)
        embeds.append(embed)
    return embeds
