"""The sandbox's permissions against discord.py's own computation, over a few hundred random worlds.

Each world (roles with tied positions, members, text and voice channels, threads, overwrites for
@everyone, roles and members) is built in the sandbox; discord.py builds its real ``Guild`` from the
same GUILD_CREATE payload the sandbox would send, and ``permissions_for`` is asked for every member in
every channel. The sandbox follows Discord's documented algorithm; where discord.py departs from it,
the departure is listed below and asserted, so that a change on either side shows up here.

discord.py's departures (2.7):

- D1. On text channels discord.py clears the voice permissions (``Permissions.voice()``); Discord's
  algorithm leaves them set there, where they mean nothing.
- D2. Without View Channel Discord denies everything in the channel; discord.py clears only
  ``Permissions.all_channel()`` and keeps the guild-wide bits (Kick Members, Manage Server, ...).
"""

from __future__ import annotations

import random
from collections import Counter

import discord

from bot.clock import FakeClock
from bot.sandbox import Sandbox
from bot.sandbox import permissions as P
from bot.sandbox.permissions import Overwrite, apply_overwrites
from bot.sandbox.world import Channel, Guild, Member

WORLDS = 300
SEED = 20261129

#: Bits the random worlds draw from: everything the implicit rules touch, some guild-wide ones, and
#: ADMINISTRATOR now and then.
POOL = [
    P.VIEW_CHANNEL, P.SEND_MESSAGES, P.SEND_MESSAGES_IN_THREADS, P.EMBED_LINKS, P.ATTACH_FILES,
    P.MENTION_EVERYONE, P.SEND_TTS_MESSAGES, P.READ_MESSAGE_HISTORY, P.MANAGE_MESSAGES, P.CONNECT,
    P.SPEAK, P.MOVE_MEMBERS, P.STREAM, P.USE_SOUNDBOARD, P.SET_VOICE_CHANNEL_STATUS, P.REQUEST_TO_SPEAK,
    P.MANAGE_CHANNELS, P.MANAGE_ROLES, P.KICK_MEMBERS, P.BAN_MEMBERS, P.MANAGE_GUILD, P.MODERATE_MEMBERS,
    P.BYPASS_SLOWMODE, P.PIN_MESSAGES, P.CREATE_PUBLIC_THREADS, P.MANAGE_THREADS,
]
DPY_VOICE = discord.Permissions.voice().value
DPY_ALL_CHANNEL = discord.Permissions.all_channel().value


def _bits(rng: random.Random, p: float) -> int:
    return sum(bit for bit in POOL if rng.random() < p)


def build_world(rng: random.Random) -> tuple[Guild, list[Member], list[Channel]]:
    sb = Sandbox(clock=FakeClock(), check_spec=False)
    owner = sb.create_user("owner")
    guild = sb.create_guild("g", owner)
    guild.everyone.permissions = _bits(rng, 0.5)
    roles = []
    for i in range(rng.randint(2, 7)):
        perms = _bits(rng, 0.25) | (P.ADMINISTRATOR if rng.random() < 0.04 else 0)
        roles.append(guild.create_role(f"r{i}", perms, position=rng.randint(1, 3)))  # ties are common
    members = [guild.members[owner.id]]
    for i in range(rng.randint(3, 8)):
        user = sb.create_user(f"u{i}")
        members.append(guild.add_member(user, roles=rng.sample(roles, rng.randint(0, min(3, len(roles))))))
    channels: list[Channel] = []
    for i in range(rng.randint(1, 3)):
        channels.append(guild.create_text_channel(f"t{i}"))
        channels.append(guild.create_voice_channel(f"v{i}"))
    for parent in [c for c in channels if not c.is_voice]:
        for j in range(rng.randint(0, 2)):
            channels.append(guild.create_thread(parent, f"th{j}", private=rng.random() < 0.5))
    for channel in channels:
        if channel.is_thread:
            continue  # threads carry no overwrites of their own
        targets: list[tuple[int, int]] = []
        if rng.random() < 0.8:
            targets.append((guild.id, P.ROLE_OVERWRITE))
        targets += [(r.id, P.ROLE_OVERWRITE) for r in roles if rng.random() < 0.4]
        targets += [(m.id, P.MEMBER_OVERWRITE) for m in members if rng.random() < 0.25]
        for target_id, kind in targets:
            allow = _bits(rng, 0.15)
            channel.overwrites[target_id] = Overwrite(target_id, kind, allow, _bits(rng, 0.15) & ~allow)
    return guild, members, channels


def discordpy_guild(guild: Guild) -> discord.Guild:
    """discord.py's own Guild, built from the GUILD_CREATE payload the sandbox sends for ``guild``."""
    client = discord.Client(intents=discord.Intents.all())
    return discord.Guild(data=guild.create_json(all_members=True), state=client._connection)


def as_discordpy_computes(guild: Guild, member: Member, channel: Channel, documented: int) -> tuple[int, str]:
    """Discord's documented result (the sandbox's), turned into discord.py's by its departures."""
    src = channel.permission_source()
    departure = ""
    result = documented
    privileged = member.id == guild.owner_id or documented == P.ALL
    if not privileged and not documented & P.VIEW_CHANNEL:
        raw = apply_overwrites(
            guild.permissions_for(member), guild_id=guild.id, member_id=member.id, role_ids=member.role_ids,
            overwrites=list(src.overwrites.values()))
        result = raw & ~DPY_ALL_CHANNEL
        if src.is_voice:  # discord.py's no-Connect rule then applies to what is left
            result &= ~DPY_VOICE
        departure = "D2" if result else ""
    if not channel.is_voice and not channel.is_thread and result & DPY_VOICE:
        result &= ~DPY_VOICE
        departure = departure or "D1"
    return result, departure


def test_all_and_voice_permissions_match_discordpy() -> None:
    assert discord.Permissions.all().value == P.ALL
    assert P.ALL & P.BYPASS_SLOWMODE and not P.ALL & (1 << 47)  # bit 47 is not a permission
    assert P.VOICE_PERMISSIONS == DPY_VOICE
    assert P.NO_CONNECT_DENIES == DPY_VOICE | P.MANAGE_CHANNELS | P.MANAGE_ROLES


def test_sandbox_and_discordpy_agree_on_random_worlds() -> None:
    rng = random.Random(SEED)
    seen: Counter[str] = Counter()
    for world in range(WORLDS):
        guild, members, channels = build_world(rng)
        dguild = discordpy_guild(guild)
        for member in members:
            dmember = dguild.get_member(member.id)
            assert dmember is not None
            for channel in channels:
                dchannel = dguild.get_channel_or_thread(channel.id)
                assert dchannel is not None
                documented = guild.permissions_for(member, channel)
                expected, departure = as_discordpy_computes(guild, member, channel, documented)
                got = dchannel.permissions_for(dmember).value
                assert got == expected, (
                    f"world {world}, member {member.id}, {type(dchannel).__name__} {channel.id}: "
                    f"discord.py {P.names(got ^ expected)} differ (sandbox gives {P.names(documented)})")
                seen["pairs"] += 1
                seen[departure or "identical"] += 1
                if channel.is_voice and documented & P.VIEW_CHANNEL and not documented & P.CONNECT:
                    assert not documented & (P.MANAGE_CHANNELS | P.MANAGE_ROLES | P.MOVE_MEMBERS)
                    seen["voice without connect"] += 1
                if channel.is_thread and documented & P.VIEW_CHANNEL:
                    sends = bool(documented & P.SEND_MESSAGES_IN_THREADS)
                    seen["thread, sending " + ("allowed" if sends else "denied")] += 1
        ranked = sorted(guild.roles.values(), key=lambda r: r.rank)
        assert [r.id for r in ranked] == [r.id for r in sorted(dguild.roles)], f"world {world}: role order"
        for a in members:
            for b in members:
                da, db = dguild.get_member(a.id), dguild.get_member(b.id)
                assert da is not None and db is not None
                assert (a.top_rank() > b.top_rank()) == (da.top_role > db.top_role), f"world {world}: hierarchy"
    # Every rule and every departure was exercised, not only the easy cases.
    for kind in ("D1", "D2", "identical", "voice without connect", "thread, sending allowed",
                 "thread, sending denied"):
        assert seen[kind] > 0, (kind, seen)
    assert seen["pairs"] >= 5000
