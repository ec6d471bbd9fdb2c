"""`holdspace demo`: a rehearsal of one whole confidential session, with no Discord account and no secrets.

The real holdspace bot (every cog) runs against the local Discord stand-in (:mod:`bot.sandbox`) with a
fake clock that the rehearsal moves by hand, a temporary database and a throwaway key. Simulated
people set up a practice server, create a group, consent, meet, and a recording bot tries to get in;
each step is narrated in one plain line and ticked when holdspace did the right thing.

What people write is posted into the stand-in but never read back or shown, and no token or key is
printed. Exit code 0 when every expectation held, 1 (naming the step) otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO, TypeAlias

import discord
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.app import HoldspaceBot
from bot.bootstrap import open_database
from bot.clock import FakeClock
from bot.config import load_settings
from bot.core.cases import KIND_LABELS
from bot.core.permissions import SERVER_PERMISSIONS, invite_permissions
from bot.core.records import GroupInfo
from bot.crypto import KeyRing
from bot.exports.cases_audit import verify_audit
from bot.logs import register_secret, scrub
from bot.sandbox import (
    FAST_CLIENT_OPTIONS,
    Application,
    Channel,
    Guild,
    InteractionHandle,
    Member,
    Message,
    Overwrite,
    Role,
    Sandbox,
    SandboxRefused,
    point_discord_at,
)
from bot.sandbox import permissions as P
from bot.sandbox.gateway import GUILD_MEMBERS
from bot.sandbox.settle import WAIT_TIMEOUT, settle_holdspace
from bot.sandbox.world import LOADING

SandboxT: TypeAlias = Sandbox

__all__ = ["run_demo"]

GROUP = "Tuesday circle"
TIME_ZONE = "Europe/Berlin"
SESSION_LENGTH = "1h"
# Seconds of real time any one expectation may take before the step counts as failed: a bound on a
# failure, never a speed target, so that a busy machine does not fail a rehearsal that went right.
WAIT = WAIT_TIMEOUT

# What the members write during the session. It is posted into the stand-in only: the rehearsal never
# reads it back or prints it, and holdspace never receives it (no Message Content intent).
_MEMBER_WORDS: tuple[str, ...] = (
    "This week was harder than I expected, and I am glad to be here.",
    "Thank you for sharing that. Something similar happened to me at work.",
    "I tried the breathing exercise from last time and it helped a little.",
    "Can we come back to this next week? I need a moment.",
)

_QUIET_LOGGERS = ("discord", "aiohttp", "asyncio")


class _StepFailed(Exception):
    """An expectation of the current step did not hold."""


@dataclass
class _Practice:
    """The practice's server in the stand-in, and the people in it (all fictional)."""

    guild: Guild
    owner: Member
    facilitator: Member
    moderator: Member
    members: list[Member]
    facilitator_role: Role
    moderator_role: Role
    general: Channel
    log: Channel
    lobby: Channel
    app: Application
    holdspace: Member


class _Narrator:
    """One plain line per action; a check mark when holdspace did the right thing."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        encoding = getattr(out, "encoding", None) or "utf-8"
        try:
            "✓✗".encode(encoding)
            self.tick, self.cross = "✓", "✗"
        except (UnicodeEncodeError, LookupError):
            self.tick, self.cross = "[ok]", "[failed]"
        self._encoding = encoding
        self.step_number = 0
        self.step_title = "starting"
        self.checks = 0
        # While holdspace runs: waits until it has done all it will do for now (bot.sandbox.settle).
        self.settled: Callable[[], Awaitable[None]] | None = None

    def line(self, text: str = "") -> None:
        try:
            text.encode(self._encoding)
        except (UnicodeEncodeError, LookupError):
            text = text.encode(self._encoding, errors="ignore").decode(self._encoding, errors="ignore")
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        self.step_number += 1
        self.step_title = title
        self.line()
        self.line(f"{self.step_number}. {title}")

    def say(self, text: str) -> None:
        self.line(f"   {text}")

    def ok(self, text: str) -> None:
        self.checks += 1
        self.line(f"   {self.tick} {text}")

    def expect(self, condition: object, failure: str) -> None:
        if not condition:
            raise _StepFailed(failure)

    async def until(self, sb: SandboxT, predicate: Any, failure: str) -> Any:
        """``predicate`` once holdspace has reacted; fail the step if it still does not hold when
        holdspace has nothing left to do (never a matter of how fast the machine is)."""
        value = predicate()
        if value:
            return value
        if self.settled is None:
            try:
                return await sb.wait_until(predicate, timeout=WAIT)
            except TimeoutError:
                raise _StepFailed(failure) from None
        try:
            await self.settled()
        except AssertionError:
            raise _StepFailed(failure) from None
        value = predicate()
        if not value:
            raise _StepFailed(failure)
        return value


# -- running commands and reading holdspace's answers --------------------------------------------------


async def _answer(sb: SandboxT, handle: InteractionHandle, followups: int = 0) -> str:
    """The text of a (possibly deferred) answer: content and embed titles/descriptions, follow-ups too."""
    await handle.response(timeout=WAIT)
    if handle.deferred:  # the first follow-up fills the "thinking" message (flag LOADING until then)
        await sb.wait_until(lambda: handle.message is not None and not handle.message.flags & LOADING, timeout=WAIT)
    if followups:
        await handle.wait_followups(followups, timeout=WAIT)
    texts: list[str] = []
    messages: list[Message] = ([handle.message] if handle.message else []) + list(handle.followups)
    for message in messages:
        texts.append(_text_of(message))
        for embed in message.embeds:
            texts.append(str(embed.get("title", "")))
            texts.append(str(embed.get("description", "")))
    return "\n".join(texts)


async def _command(sb: SandboxT, who: Member, where: Channel, name: str, /, **options: Any) -> tuple[str, bool]:
    """Run a slash command as ``who``; return holdspace's final answer and whether only ``who`` saw it."""
    handle = sb.run_command(who, where, name, **options)
    text = await _answer(sb, handle)
    return text, handle.ephemeral


def _custom_id(messages: list[Message], prefix: str) -> tuple[Message, str] | None:
    for message in reversed(messages):
        for row in message.components:
            for component in row.get("components", []):
                custom_id = str(component.get("custom_id", ""))
                if custom_id.startswith(prefix):
                    return message, custom_id
    return None


def _titles(channel: Channel) -> list[str]:
    return [str(e.get("title", "")) for m in channel.messages for e in m.embeds]


def _can_enter(guild: Guild, who: Member, room: Channel) -> bool:
    perms = guild.permissions_for(who, room)
    return bool(perms & P.VIEW_CHANNEL and perms & P.CONNECT)


def _text_of(message: Message) -> str:
    """What people see of a message in the sandbox's world: the demo's view, never holdspace's."""
    return message.content or ""  # the sandbox's record of the message, read by the demo, not the bot


def _texts_sent_to(sb: Sandbox, app: Application, message_ids: set[int]) -> list[str]:
    """The message text the gateway actually sent holdspace for these messages (MESSAGE_CREATE)."""
    return [
        str(frame["d"].get("content", ""))
        for session in sb.gateway.sessions.values()
        if session.app is app
        for frame in session.buffer
        if frame.get("t") == "MESSAGE_CREATE" and int(frame["d"]["id"]) in message_ids
    ]


def _case_notices(log: Channel) -> list[Message]:
    return [m for m in log.messages if _text_of(m).startswith("**Case #")]


def _removed_count(text: str) -> int | None:
    found = re.search(r"(\d+) messages? removed", text)
    return int(found.group(1)) if found else None


# -- the practice -------------------------------------------------------------------------------------


def _build_practice(sb: SandboxT) -> _Practice:
    owner_user = sb.create_user("olivia")
    guild = sb.create_guild("Riverside Practice", owner=owner_user)
    member_role = guild.create_role("Member", 0)
    facilitator_role = guild.create_role("Facilitator", 0)
    moderator_role = guild.create_role("Moderator", 0)
    facilitator = guild.add_member(sb.create_user("fran"), roles=[facilitator_role, member_role])
    moderator = guild.add_member(sb.create_user("moe"), roles=[moderator_role, member_role])
    members = [guild.add_member(sb.create_user(name), roles=[member_role]) for name in ("alice", "bob", "carol")]
    general = guild.create_text_channel("general")
    lobby = guild.create_text_channel("lobby")
    app = sb.create_application("holdspace", owner=owner_user, intents_enabled=GUILD_MEMBERS)
    holdspace = guild.add_bot(app, permissions=invite_permissions().value)
    # The moderators' log is private: moderators and holdspace only.
    log = guild.create_text_channel(
        "mod-log",
        overwrites=(
            Overwrite(guild.id, P.ROLE_OVERWRITE, 0, P.VIEW_CHANNEL),
            Overwrite(moderator_role.id, P.ROLE_OVERWRITE, P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY, 0),
            Overwrite(
                holdspace.id,
                P.MEMBER_OVERWRITE,
                P.VIEW_CHANNEL | P.SEND_MESSAGES | P.EMBED_LINKS | P.READ_MESSAGE_HISTORY,
                0,
            ),
        ),
    )
    return _Practice(
        guild=guild,
        owner=guild.member(owner_user),
        facilitator=facilitator,
        moderator=moderator,
        members=members,
        facilitator_role=facilitator_role,
        moderator_role=moderator_role,
        general=general,
        log=log,
        lobby=lobby,
        app=app,
        holdspace=holdspace,
    )


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Warnings and errors only while the rehearsal runs, so the narration reads cleanly."""
    root = logging.getLogger()
    saved = [(root, root.level)] + [(logging.getLogger(n), logging.getLogger(n).level) for n in _QUIET_LOGGERS]
    root.setLevel(logging.WARNING)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


@contextlib.contextmanager
def _discord_pointed_back() -> Iterator[None]:
    """point_discord_at() changes discord.py's REST and gateway URLs for the process; undo it afterwards."""
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


class _Rehearsal:
    def __init__(self, sb: SandboxT, clock: FakeClock, folder: Path, say: _Narrator) -> None:
        self.sb = sb
        self.clock = clock
        self.folder = folder
        self.n = say
        self.practice = _build_practice(sb)
        self.bot: HoldspaceBot | None = None
        self._task: asyncio.Task[None] | None = None
        self.group: GroupInfo | None = None
        self.text: Channel | None = None
        self.voice: Channel | None = None
        self.posted: list[Message] = []
        self.removed: int | None = None
        self.cases = 0
        self.audit_checked = 0

    # -- holdspace itself ---------------------------------------------------------------------------

    async def start_holdspace(self) -> HoldspaceBot:
        settings = dataclasses.replace(load_settings(None), database=self.folder / "holdspace.sqlite3")
        ring = KeyRing.generate()
        db = await open_database(settings, ring)
        bot = HoldspaceBot(settings=settings, db=db, ring=ring, clock=self.clock, **FAST_CLIENT_OPTIONS)
        point_discord_at(self.sb)
        self.bot = bot
        register_secret(self.practice.app.token)  # never in a log line, even a warning
        self._task = asyncio.create_task(bot.start(self.practice.app.token))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({self._task, ready}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task in done and self._task.exception() is not None:
                raise _StepFailed(f"holdspace stopped while connecting ({type(self._task.exception()).__name__})")
            raise _StepFailed("holdspace did not connect to the stand-in in time")
        self.n.settled = lambda: settle_holdspace(self.sb, bot, timeout=WAIT)
        return bot

    async def stop_holdspace(self) -> None:
        bot, task = self.bot, self._task
        self.bot, self._task = None, None
        self.n.settled = None
        if bot is None:
            return
        with contextlib.suppress(Exception):
            await bot.close()
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, WAIT)
        with contextlib.suppress(Exception):
            await bot.db.close()

    @property
    def running(self) -> HoldspaceBot:
        if self.bot is None:
            raise _StepFailed("holdspace is not running")
        return self.bot

    # -- the steps ----------------------------------------------------------------------------------

    async def the_server(self) -> None:
        n, p = self.n, self.practice
        n.step("A practice server, with holdspace invited")
        n.say(
            "The server has an owner, a facilitator, a moderator and three members "
            "(fictional: fran facilitates, moe moderates, alice, bob and carol attend)."
        )
        wanted = invite_permissions().value
        held = p.guild.permissions_for(p.holdspace)
        n.expect(held & wanted == wanted, "holdspace does not hold the permissions of its invite link")
        n.expect(not held & P.ADMINISTRATOR, "holdspace was given Administrator")
        n.expect(p.app.intents_enabled & GUILD_MEMBERS, "the Server Members intent is off")
        n.ok(
            f"holdspace is invited with the {len(SERVER_PERMISSIONS)} permissions `holdspace check` prints "
            f"(permission integer {wanted}), not Administrator, and with the Server Members intent."
        )
        started = time.monotonic()
        bot = await self.start_holdspace()
        commands = p.app.commands_for(p.guild.id)
        n.expect(commands, "holdspace registered no slash commands")
        n.expect(not bot.intents.message_content, "holdspace asked for the Message Content intent")
        n.ok(
            f"holdspace connected in {time.monotonic() - started:.1f} s and registered {len(commands)} slash "
            "commands; it never asks for the Message Content intent."
        )

    async def setting_up(self) -> None:
        n, p, sb = self.n, self.practice, self.sb
        bot = self.running
        n.step("Setting up the server and a group")
        text, ephemeral = await _command(
            sb,
            p.owner,
            p.general,
            "setup configure",
            facilitator_role=p.facilitator_role,
            moderator_role=p.moderator_role,
            log_channel=p.log,
            lobby_channel=p.lobby,
            timezone=TIME_ZONE,
        )
        n.expect(bot.state.guild(p.guild.id).configured, "/setup configure did not configure the server")
        n.expect(ephemeral and TIME_ZONE in text, "/setup configure did not show the settings back to the owner")
        n.expect(_custom_id(p.lobby.messages, "hs:lobby") is not None, "no consent button was posted in #lobby")
        n.expect("Open /group, /session and /expiry to" in text, "/setup configure named no staff commands to open")
        n.ok(
            "The owner ran /setup configure (facilitator and moderator roles, #mod-log, #lobby, "
            f"{TIME_ZONE}); holdspace showed it back privately, put a consent button in #lobby and listed "
            "what is left: opening the staff commands to the staff roles."
        )
        # What the owner does in Server Settings > Integrations > holdspace: Discord shows the staff
        # commands only to people who can manage the server until they are opened to a role.
        for name in ("group", "session", "expiry"):
            sb.set_command_permissions(p.guild, name, roles={p.facilitator_role: True})
        sb.set_command_permissions(p.guild, "cases", roles={p.moderator_role: True})
        n.ok("The owner opened /group, /session and /expiry to the facilitator role and /cases to the moderator role.")

        text, _ = await _command(sb, p.facilitator, p.general, "group create", name=GROUP)
        group = bot.state.group_by_name(p.guild.id, GROUP)
        n.expect("Created" in text and group is not None, f"/group create {GROUP!r} did not create the group")
        assert group is not None
        self.group = group
        self.text = sb.world.channels[group.text_channel_id]
        self.voice = sb.world.channels[group.voice_channel_id]
        outsiders = [m for m in (*p.members, p.moderator) if _can_enter(p.guild, m, self.voice)]
        n.expect(not outsiders, "the new group's rooms are open to people who have not consented")
        n.ok(
            f'The facilitator ran /group create "{GROUP}": a private text room and voice room, closed to '
            "everyone who has not consented."
        )

        for member in p.members[:2]:
            text, _ = await _command(sb, p.facilitator, p.general, "group enroll", group=GROUP, member=member)
            n.expect("Enrolled" in text, "/group enroll did not enroll the member")
        await n.until(sb, lambda: all(m.user.dms for m in p.members[:2]), "the enrolled members got no invitation")
        n.ok("The facilitator ran /group enroll for two members; each got a private invitation to read the agreement.")

    async def refused_without_consent(self) -> None:
        n, p = self.n, self.practice
        assert self.voice is not None
        member = p.members[0]
        n.step("A member who has not consented tries to join")
        n.say("One of the two enrolled members tries to join the voice room before reading the agreement.")
        try:
            p.guild.join_voice(member, self.voice)
        except SandboxRefused:
            refused = True
        else:
            refused = False
            p.guild.leave_voice(member)
        n.expect(refused, "the stand-in let a member without consent into the voice room")
        n.ok(
            "The stand-in, like Discord, refuses: the voice room is closed to them by its permissions, which "
            "would hold even while holdspace is offline."
        )

    async def consenting(self) -> None:
        n, p, sb = self.n, self.practice, self.sb
        bot = self.running
        assert self.group is not None and self.voice is not None and self.text is not None
        n.step("Consent")
        for member in p.members[:2]:
            shown = sb.run_command(member, p.general, "consent give", group=GROUP)
            await shown.response(timeout=WAIT)
            await n.until(sb, lambda h=shown: _custom_id(h.followups, "hs:agree:"), "the agreement was not shown")
            agreement = [e for m in shown.followups for e in m.embeds]
            n.expect(agreement and all(m.ephemeral for m in shown.followups), "the agreement was not shown privately")
            found = _custom_id(shown.followups, "hs:agree:")
            assert found is not None
            message, custom_id = found
            thanks = await _answer(sb, sb.click(member, message, custom_id))
            n.expect("Thank you" in thanks, '"I agree" was not confirmed')
            n.expect(bot.state.consent_of(self.group.id, member.id) is not None, "the consent was not recorded")
            await n.until(
                sb, lambda m=member: _can_enter(p.guild, m, self.voice), "the rooms did not open after consent"
            )
        n.ok('Two members ran /consent give, read the agreement privately and clicked "I agree".')
        member = p.members[0]
        try:
            p.guild.join_voice(member, self.voice)
        except SandboxRefused:
            raise _StepFailed("a consented member still cannot join the voice room") from None
        n.expect(p.guild.voice_channel_of(member) is self.voice, "the member is not in the voice room")
        n.expect(not _can_enter(p.guild, p.members[2], self.voice), "the rooms opened to a member who did not consent")
        n.ok("Now they can join the voice room; the third member, who was not invited, still cannot see it.")
        await n.until(
            sb,
            lambda: (
                any("here are our ground rules" in t for t in _titles(self.text))
                and any("here are our ground rules" in t for t in _titles(self.voice))
            ),
            "holdspace did not greet the first arrival with the ground rules",
        )
        n.ok("The first to arrive is greeted with the ground rules, in the text room and the voice room's chat.")

    async def session_start(self) -> None:
        n, p, sb = self.n, self.practice, self.sb
        bot = self.running
        assert self.group is not None and self.voice is not None and self.text is not None
        n.step("The session starts")
        self.clock.advance(timedelta(minutes=10))
        n.say("Ten minutes later, on the hour, the facilitator starts the session.")
        text_before = sum(t.endswith("the session has started") for t in _titles(self.text))
        answer, ephemeral = await _command(
            sb, p.facilitator, p.general, "session start", group=GROUP, duration=SESSION_LENGTH
        )
        n.expect(ephemeral and "has started" in answer, "/session start was not confirmed to the facilitator")
        n.expect(bot.state.session_running(self.group.id), "holdspace does not know the session is running")
        await n.until(
            sb,
            lambda: (
                sum(t.endswith("the session has started") for t in _titles(self.text)) > text_before
                and any(t.endswith("the session has started") for t in _titles(self.voice))
            ),
            "the ground-rules reminder is missing in the text room or the voice room's chat",
        )
        n.ok(
            "The facilitator ran /session start: the ground rules were posted in the text room and in the voice "
            "room's chat."
        )
        self.clock.advance(timedelta(minutes=5))
        p.guild.join_voice(p.members[1], self.voice)
        n.say("Five minutes later the second member joins the voice room too.")

    async def conversation(self) -> None:
        n, p, sb = self.n, self.practice, self.sb
        bot = self.running
        assert self.text is not None and self.voice is not None
        n.step("The members talk")
        speakers = p.members[:2]
        for i, words in enumerate(_MEMBER_WORDS):
            self.clock.advance(timedelta(minutes=4))
            room = self.text if i % 2 == 0 else self.voice
            self.posted.append(sb.post(room, speakers[i % 2], words))
        n.say(
            f"They write {len(self.posted)} messages in the text room and the voice room's chat "
            "(the demo does not show them)."
        )
        ids = {m.id for m in self.posted}

        def seen() -> list[discord.Message]:
            return [m for m in bot.cached_messages if m.id in ids]

        await n.until(sb, lambda: len(seen()) == len(ids), "holdspace missed a message")
        sent = _texts_sent_to(sb, p.app, ids)
        n.expect(len(sent) == len(ids) and not any(sent), "holdspace received what a member wrote")
        n.ok(
            f"holdspace noticed all {len(ids)} messages, so it can delete them later, and received none of their text."
        )

    async def recording_bot(self) -> None:
        n, p, sb = self.n, self.practice, self.sb
        assert self.text is not None and self.voice is not None
        n.step("A recording bot tries to listen in")
        self.clock.advance(timedelta(minutes=5))
        recorder_app = sb.create_application("RecBot")
        recorder = p.guild.add_bot(recorder_app, permissions=P.ADMINISTRATOR, by=p.owner.user)
        n.say("The owner adds a recording bot and gives it Administrator, which overrides every room's permissions.")
        await n.until(
            sb,
            lambda: any(KIND_LABELS["bot_added"] in _text_of(m) for m in _case_notices(p.log)),
            "no case was opened for the new bot",
        )
        n.ok("holdspace noticed the new bot at once and opened a case for the moderators.")
        try:
            p.guild.join_voice(recorder, self.voice)
        except SandboxRefused:
            raise _StepFailed("the stand-in refused an Administrator bot; nothing was rehearsed") from None
        n.say("The bot joins the voice room anyway (Administrator lets it past the permissions).")
        await n.until(sb, lambda: p.guild.voice_channel_of(recorder) is None, "holdspace did not disconnect the bot")
        n.ok("holdspace disconnected it.")
        await n.until(
            sb,
            lambda: any(KIND_LABELS["recording_bot_blocked"] in _text_of(m) for m in _case_notices(p.log)),
            "no case was opened for the recording bot",
        )
        n.ok("holdspace opened a case: recording bot blocked.")
        own = p.holdspace.id

        def notices() -> list[Message]:
            return [m for m in self.text.messages if m.author.id == own and not m.embeds] if self.text else []

        found = await n.until(sb, notices, "holdspace did not tell the room")
        n.expect(len(found) == 1 and "\n" not in _text_of(found[0]), "holdspace told the room in more than one line")
        n.ok(f'holdspace told the room in one line: "{_text_of(found[0]).strip()}"')

    async def session_end(self) -> None:
        n, p, sb = self.n, self.practice, self.sb
        bot = self.running
        assert self.group is not None and self.text is not None and self.voice is not None
        n.step("The session ends")
        self.clock.advance(timedelta(minutes=25))
        answer, ephemeral = await _command(sb, p.facilitator, p.general, "session end", group=GROUP)
        n.expect(ephemeral and "has ended" in answer, "/session end was not confirmed to the facilitator")
        n.expect(not bot.state.session_running(self.group.id), "holdspace still thinks the session is running")
        await n.until(
            sb,
            lambda: any(t.endswith("the session has ended") for t in _titles(self.text)),
            "the closing reminder is missing",
        )
        n.ok("The facilitator ran /session end: holdspace posted the closing reminder.")
        await n.until(
            sb,
            lambda: all(m.channel.get_message(m.id) is None for m in self.posted),
            "messages written during the session are still there",
        )
        self.removed = _removed_count(answer)
        n.expect(self.removed is not None and self.removed >= len(self.posted), "the answer did not say what went")
        n.ok(
            f"Everything posted during the session is gone: {self.removed} removed, the members' "
            f"{len(self.posted)} messages among them."
        )

    async def moderation(self) -> None:
        n, p, sb = self.n, self.practice, self.sb
        bot = self.running
        n.step("The moderators' view")
        notices = _case_notices(p.log)
        n.expect(len(notices) >= 2, "the moderators' log shows fewer than two cases")
        names = [m.user.username for m in p.guild.members.values()] + [str(i) for i in p.guild.members]
        leaks = [m for m in notices if any(name in _text_of(m) for name in names)]
        n.expect(not leaks, "a case notice in the log names a person or a bot")
        readers = [m for m in p.guild.members.values() if p.guild.permissions_for(m, p.log) & P.VIEW_CHANNEL]
        n.expect(
            p.moderator in readers and not {p.facilitator, *p.members} & set(readers),
            "#mod-log is not private to the moderators",
        )
        self.cases = len(notices)
        n.ok(f"#mod-log, which only moderators see, shows {len(notices)} open cases by kind, naming no one.")
        listing, ephemeral = await _command(sb, p.moderator, p.general, "cases list")
        numbers = [int(x) for x in re.findall(r"\*\*#(\d+)\*\*", listing)]
        n.expect(ephemeral, "/cases list was shown to more than the moderator")
        n.expect(len(numbers) >= 2, "/cases list does not list the open cases")
        n.expect(KIND_LABELS["recording_bot_blocked"] in listing, "/cases list misses the recording bot")
        n.ok(f"The moderator ran /cases list and privately saw {len(numbers)} open cases.")
        result = await verify_audit(bot.db, bot.ring)
        n.expect(result.ok, f"the audit trail does not verify: {result.message}")
        self.audit_checked = result.checked
        n.ok(f"The audit trail verifies: {result.checked} entries, none changed or missing.")

    async def at_rest(self) -> None:
        n, p = self.n, self.practice
        n.step("What holdspace kept")
        database = self.folder / "holdspace.sqlite3"
        await self.stop_holdspace()
        raw = b"".join(path.read_bytes() for path in sorted(self.folder.glob(database.name + "*")))
        people = [p.owner, p.facilitator, p.moderator, *p.members]
        clear = [str(m.id).encode() for m in people] + [m.user.username.encode() for m in people]
        clear += [words.encode() for words in _MEMBER_WORDS]
        n.expect(raw, "there is no database")
        n.expect(not any(value in raw for value in clear), "the database holds a name, a member id or a message")
        n.ok("holdspace stopped cleanly; its database holds no name, no message text and no member id in the clear.")


async def _rehearse(out: TextIO) -> int:
    n = _Narrator(out)
    clock = FakeClock()
    began_real, began_fake = time.monotonic(), clock.now()
    n.line("holdspace demo: a rehearsal of one confidential group session.")
    n.line(
        "No Discord account, no network, no secrets: holdspace runs against a local stand-in for Discord, with a "
        "temporary database, a throwaway key and a clock the demo moves by hand."
    )
    try:
        with tempfile.TemporaryDirectory(prefix="holdspace-demo-") as folder:
            async with Sandbox(clock=clock, check_spec=False) as sb:
                rehearsal = _Rehearsal(sb, clock, Path(folder), n)
                try:
                    for step in (
                        rehearsal.the_server,
                        rehearsal.setting_up,
                        rehearsal.refused_without_consent,
                        rehearsal.consenting,
                        rehearsal.session_start,
                        rehearsal.conversation,
                        rehearsal.recording_bot,
                        rehearsal.session_end,
                        rehearsal.moderation,
                        rehearsal.at_rest,
                    ):
                        await step()
                finally:
                    await rehearsal.stop_holdspace()
                unserved = sb.unserved_requests
    except _StepFailed as failure:
        return _failed(n, str(failure))
    except Exception as exc:  # a rehearsal names the step that broke instead of ending in a traceback
        return _failed(n, f"{type(exc).__name__}: {scrub(str(exc))[:200] or 'no details'}")
    real = time.monotonic() - began_real
    practice = clock.now() - began_fake
    n.line()
    n.line(
        f"Summary: all {n.checks} checks held. A practice server was set up and a group "
        "created; a member without consent was kept out by Discord's own permissions and let in once they "
        "agreed; the session opened with the ground rules in both rooms; holdspace never received what members "
        f"wrote; a recording bot holding Administrator was disconnected at once and reported; the session's "
        f"{rehearsal.removed or 0} messages were removed at its end; the moderators saw "
        f"{rehearsal.cases} cases and the audit trail of {rehearsal.audit_checked} entries verified. "
        f"{int(practice.total_seconds() // 60)} minutes of practice time took {real:.1f} s of real time"
        + (f"; {len(unserved)} request(s) went to routes the stand-in does not serve." if unserved else ".")
    )
    return 0


def _failed(n: _Narrator, what: str) -> int:
    n.line(f"   {n.cross} {what}")
    n.line()
    n.line(f"The rehearsal failed at step {n.step_number} ({n.step_title}): {what}.")
    return 1


async def run_demo() -> int:
    """Rehearse one whole session against the sandbox; 0 when every expectation held, 1 otherwise."""
    with _quiet_logs(), _discord_pointed_back():
        return await _rehearse(sys.stdout)
