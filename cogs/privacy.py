"""What holdspace keeps about people, told plainly to anyone who asks; erasure, a copy to keep, and what
happens when someone leaves the server (bot/services/member_data.py does the work)."""

from __future__ import annotations

import io
import json
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.core.member_records import MemberRecords, as_copy, kept_after_erasure
from bot.i18n import N_, _, ngettext
from bot.services.member_data import Erasure, describe_kept
from bot.ui.consent_views import member_tag, tag_matches
from bot.ui.privacy_views import DYNAMIC_ITEMS, confirm_view
from bot.ui.replies import UserError, send_ephemeral

log = logging.getLogger(__name__)

COPY_FILENAME = "holdspace-my-data.json"
LIMIT = 2000

PRIVACY_NOTICE = N_(
    "**What holdspace keeps, and for how long**\n- It never reads what you "
    "write: it does not ask Discord for message content. For messages in group "
    "rooms it keeps only their ids and when they are due to be deleted.\n- It "
    "never stores names or nicknames, and it never joins a voice channel.\n- For "
    "each group you consent to, it keeps the version of the agreement you "
    "agreed to, when, and how. Your Discord id is stored encrypted, and you are "
    "found by a keyed fingerprint instead of the id itself.\n- Reports and cases "
    "keep encrypted details for moderators; a closed case is deleted after the "
    "server's retention period.\n- Every action by facilitators, moderators and "
    "holdspace itself is written to an audit trail that cannot be changed "
    "without it showing.\n- When you leave the server, your access, enrolments "
    "and consents end; coming back restores nothing.\n- `/privacy mydata` shows "
    "what holdspace holds about you and sends you a copy. `/privacy forget` "
    "erases what the practice's rules allow and tells you what stays, why and "
    "until when.\n"
)


def chunks(lines: list[str], limit: int = LIMIT) -> list[str]:
    """Lines joined into messages of at most ``limit`` characters (a longer line is cut)."""
    out: list[str] = []
    current = ""
    for line in lines:
        line = line[:limit]
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def _cases(cases: list[object]) -> str:
    return ", ".join(str(c) for c in cases) if cases else "none"


class Privacy(commands.Cog):
    privacy = app_commands.Group(name="privacy", description="What holdspace keeps about you")

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.privacy = self
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.privacy = None

    # -- gateway events ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """Left, kicked or banned: Discord sends GUILD_MEMBER_REMOVE in every case."""
        if payload.user.bot:
            return
        await self.bot.members.leave(payload.guild_id, payload.user.id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        for guild in list(self.bot.guilds):
            try:
                await self.bot.members.sweep_departed(guild)
            except Exception:
                log.exception("guild %s: people who left while holdspace was offline could not be handled", guild.id)
        try:
            await self.bot.members.carry_out_requests()
        except Exception:
            log.exception("erasure requests could not be carried out; they are tried again in a minute")
        self.bot.members.start()

    # -- where a command applies -----------------------------------------------------------------------

    def _scope_guilds(self, scope: str) -> list[int]:
        """The servers a request covers: one, or (asked in a direct message) every server holdspace knows."""
        if scope != "all":
            return [int(scope)]
        known = set(self.bot.state.guilds) | {g.guild_id for g in self.bot.state.groups.values()}
        return sorted(known)

    @staticmethod
    def _scope_of(interaction: discord.Interaction[HoldspaceBot]) -> str:
        return str(interaction.guild_id) if interaction.guild_id is not None else "all"

    async def _records(self, scope: str, member_id: int) -> list[tuple[int, MemberRecords]]:
        out = []
        for guild_id in self._scope_guilds(scope):
            records = await self.bot.members.gather(guild_id, member_id)
            if scope != "all" or not records.empty:
                out.append((guild_id, records))
        return out

    # -- /privacy notice and mydata ----------------------------------------------------------------------

    @privacy.command(name="notice", description="What holdspace keeps about people, and for how long")
    async def notice(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await send_ephemeral(interaction, _(PRIVACY_NOTICE))

    @privacy.command(name="mydata", description="See what holdspace holds about you, and get a copy to keep")
    async def mydata(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = self._scope_of(interaction)
        found = await self._records(scope, interaction.user.id)
        if not found:
            await interaction.followup.send(
                _("holdspace holds nothing about you on any server it looks after."), ephemeral=True
            )
            return
        lines: list[str] = []
        for _unused, records in found:
            lines.extend(self.describe(records))
        now = self.bot.clock.now()
        copy = [as_copy(records, self.bot.members.retention, now=now) for _unused, records in found]
        document = copy[0] if scope != "all" else {"format": copy[0]["format"], "servers": copy}
        where = await self._send_copy(interaction, document)
        lines.append(where)
        lines.append(
            _(
                "holdspace keeps no names, no nicknames and nothing anyone wrote. To "
                "withdraw consent, use `/consent withdraw`; to erase what may be erased, "
                "`/privacy forget`."
            )
        )
        parts = chunks(lines)
        for number, part in enumerate(parts, start=1):
            if number == len(parts) and where.startswith("Your copy is attached"):
                await interaction.followup.send(part, ephemeral=True, file=self._file(document))
            else:
                await interaction.followup.send(part, ephemeral=True)

    @staticmethod
    def _file(document: dict[str, object]) -> discord.File:
        data = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
        return discord.File(io.BytesIO(data), filename=COPY_FILENAME)

    async def _send_copy(self, interaction: discord.Interaction[HoldspaceBot], document: dict[str, object]) -> str:
        """The copy by direct message; where that is closed it is attached to this answer instead."""
        try:
            await interaction.user.send(
                _("Your copy of what holdspace holds about you (format described in holdspace's privacy notice)."),
                file=self._file(document),
            )
        except discord.HTTPException:
            return _("Your copy is attached to this message as a JSON file (your direct messages are closed).")
        return _("Your copy is in your direct messages as a JSON file.")

    def describe(self, records: MemberRecords) -> list[str]:
        """Everything held about one member in one server, in words (the copy holds the same)."""
        lines = [
            _("**What holdspace holds about you on {escape_markdown}**").format(
                escape_markdown=discord.utils.escape_markdown(records.server)
            )
        ]
        lines.append(_("Groups you are enrolled in: ") + (", ".join(records.enrolled) if records.enrolled else "none"))
        if records.facilitates:
            lines.append(_("Groups you are a named facilitator of: ") + ", ".join(records.facilitates))
        if records.consent_events:
            lines.append(_("Your consent record (kept for the practice's files):"))
            for event in records.consent_events[-15:]:
                version = _(", agreement version {version}").format(version=event.version) if event.version else ""
                reason = f" ({event.reason})" if event.reason else ""
                lines.append(
                    _("- {group}: {answer}{version}{reason}, {format_dt} (by {method})").format(
                        group=event.group,
                        answer=event.answer,
                        version=version,
                        reason=reason,
                        format_dt=discord.utils.format_dt(event.at, "f"),
                        method=event.method,
                    )
                )
            if len(records.consent_events) > 15:
                lines.append(
                    _("  …and {value} earlier entries (all in your copy)").format(
                        value=len(records.consent_events) - 15
                    )
                )
        else:
            lines.append(_("Consent record: nothing recorded."))
        lines.append(_("Reports you made: ") + _cases([f"#{c.number} ({c.status})" for c in records.reports_made]))
        lines.append(
            _("Cases about you (only their status is shown to you): ")
            + _cases([f"#{c.number} ({c.status})" for c in records.cases_about])
        )
        if records.cases_assigned:
            lines.append(
                _("Cases you claimed: ") + _cases([f"#{c.number} ({c.status})" for c in records.cases_assigned])
            )
        lines.append(
            ngettext(
                "Audit trail: {count} entry names you", "Audit trail: {count} entries name you", records.audit_entries
            ).format(count=records.audit_entries)
            if records.audit_entries
            else _("Audit trail: no entries name you.")
        )
        return lines

    # -- /privacy forget ------------------------------------------------------------------------------------

    @privacy.command(name="forget", description="Erase what holdspace holds about you, as far as the rules allow")
    async def forget(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        scope = self._scope_of(interaction)
        found = await self._records(scope, interaction.user.id)
        if not found or all(records.empty for _unused, records in found):
            await send_ephemeral(
                interaction, _("holdspace holds nothing about you here, so there is nothing to erase.")
            )
            return
        now = self.bot.clock.now()
        lines = [
            _("**Erase your records?**"),
            _(
                "holdspace will withdraw your access to every group at once (if you are in "
                "a group's voice room you are disconnected), end your consents and "
                "enrolments, and erase everything about you that the practice's rules "
                "allow. Reports you made stay with the moderators without your name once "
                "their case is closed. The audit trail records that an erasure happened, "
                "not whose."
            ),
        ]
        if scope == "all":
            lines.append(_("Asked in a direct message, this covers every server holdspace looks after for you."))
        for _unused, records in found:
            kept = kept_after_erasure(records, self.bot.members.retention, now=now)
            if kept:
                lines.append(
                    _("What stays on {escape_markdown}, why and until when:").format(
                        escape_markdown=discord.utils.escape_markdown(records.server)
                    )
                )
                lines.extend(describe_kept(kept))
        lines.append(_("Press **Erase my records** to go ahead, or **Keep them**."))
        parts = chunks(lines)
        view = confirm_view(scope, member_tag(self.bot.ring, interaction.user.id))
        for number, part in enumerate(parts, start=1):
            await send_ephemeral(interaction, part, view=view if number == len(parts) else None)

    async def forget_confirmed(self, interaction: discord.Interaction[HoldspaceBot], scope: str, tag: str) -> None:
        if not tag_matches(self.bot.ring, interaction.user.id, tag):
            raise UserError(
                _("This button was made for someone else. To erase your own records, use `/privacy forget`.")
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        results: list[tuple[str, Erasure]] = []
        for guild_id in self._scope_guilds(scope):
            records = await self.bot.members.gather(guild_id, interaction.user.id)
            if scope == "all" and records.empty:
                continue
            results.append((records.server, await self.bot.members.forget(guild_id, interaction.user.id)))
        lines = self.erasure_lines(results)
        for part in chunks(lines):
            await interaction.followup.send(part, ephemeral=True)

    @staticmethod
    def erasure_lines(results: list[tuple[str, Erasure]]) -> list[str]:
        if not results or all(r.nothing_to_erase and not r.kept for _unused, r in results):
            return [_("holdspace holds nothing about you here any more; there was nothing left to erase.")]
        lines: list[str] = []
        for server, result in results:
            name = discord.utils.escape_markdown(server)
            if result.nothing_to_erase:
                lines.append(
                    _("**{name}**: there was nothing more to erase; your earlier erasure stands.").format(name=name)
                )
            else:
                lines.append(_("**{name}**: erased.").format(name=name))
                lines.extend(f"- {item}" for item in result.erased)
                if result.disconnected:
                    lines.append(_("You were disconnected from the group's voice room."))
            if result.kept:
                lines.append(_("What stays, why and until when:"))
                lines.extend(describe_kept(result.kept))
            else:
                lines.append(_("Nothing about you stays."))
        return lines

    async def forget_declined(self, interaction: discord.Interaction[HoldspaceBot], tag: str) -> None:
        if not tag_matches(self.bot.ring, interaction.user.id, tag):
            raise UserError(_("This button was made for someone else."))
        await send_ephemeral(interaction, _("Nothing was erased. You can ask again any time with `/privacy forget`."))


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Privacy(bot))
