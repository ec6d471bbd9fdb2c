"""Discord's permission algorithm, table-tested against the documented cases."""

from __future__ import annotations

import pytest

from bot.sandbox import permissions as P
from bot.sandbox.permissions import Overwrite, compute_permissions

G = 100  # guild id == @everyone role id
OWNER = 1
ALICE = 2
MOD = 200
MEMBER = 201
ROLES = {G: P.VIEW_CHANNEL | P.SEND_MESSAGES | P.CONNECT | P.SPEAK, MOD: P.MANAGE_MESSAGES, MEMBER: 0}
ADMIN_ROLE = 202


MANAGER = ADMIN_ROLE + 1  # manages channels and roles
ALL_ROLES = ROLES | {ADMIN_ROLE: P.ADMINISTRATOR, MANAGER: P.MANAGE_CHANNELS | P.MANAGE_ROLES | P.MOVE_MEMBERS}


def perms(roles=(), overwrites=None, *, member=ALICE, is_voice=False, is_thread=False,  # type: ignore[no-untyped-def]
          role_perms=None):
    return compute_permissions(guild_id=G, owner_id=OWNER, member_id=member, member_role_ids=roles,
                               role_permissions=role_perms or ALL_ROLES, overwrites=overwrites,
                               is_voice=is_voice, is_thread=is_thread)


def ow(target: int, allow: int = 0, deny: int = 0, *, member: bool = False) -> Overwrite:
    return Overwrite(target, 1 if member else 0, allow, deny)


BASE = P.VIEW_CHANNEL | P.SEND_MESSAGES | P.CONNECT | P.SPEAK

CASES = [
    # (description, roles, overwrites, is_voice, expected-has, expected-lacks)
    ("base is @everyone", (), None, False, BASE, P.MANAGE_MESSAGES),
    ("roles add to base", (MOD,), None, False, BASE | P.MANAGE_MESSAGES, 0),
    ("no overwrites in channel = base", (MOD,), [], False, BASE | P.MANAGE_MESSAGES, 0),
    ("@everyone deny", (), [ow(G, deny=P.SEND_MESSAGES)], False, P.VIEW_CHANNEL, P.SEND_MESSAGES),
    ("@everyone allow", (), [ow(G, allow=P.MANAGE_MESSAGES)], False, P.MANAGE_MESSAGES, 0),
    ("role allow beats @everyone deny", (MEMBER,),
     [ow(G, deny=P.SEND_MESSAGES), ow(MEMBER, allow=P.SEND_MESSAGES)], False, P.SEND_MESSAGES, 0),
    ("role allow beats another role's deny", (MEMBER, MOD),
     [ow(MOD, deny=P.SEND_MESSAGES), ow(MEMBER, allow=P.SEND_MESSAGES)], False, P.SEND_MESSAGES, 0),
    ("role deny beats @everyone allow", (MEMBER,),
     [ow(G, allow=P.ATTACH_FILES), ow(MEMBER, deny=P.ATTACH_FILES)], False, 0, P.ATTACH_FILES),
    ("member deny beats role allow", (MEMBER,),
     [ow(MEMBER, allow=P.SEND_MESSAGES), ow(ALICE, deny=P.SEND_MESSAGES, member=True)], False, 0,
     P.SEND_MESSAGES),
    ("member allow beats role deny", (MEMBER,),
     [ow(MEMBER, deny=P.SEND_MESSAGES), ow(ALICE, allow=P.SEND_MESSAGES, member=True)], False,
     P.SEND_MESSAGES, 0),
    ("member allow beats @everyone deny of view", (),
     [ow(G, deny=P.VIEW_CHANNEL), ow(ALICE, allow=P.VIEW_CHANNEL, member=True)], False, P.VIEW_CHANNEL, 0),
    ("overwrite of a role the member lacks is ignored", (),
     [ow(MOD, allow=P.MANAGE_MESSAGES)], False, 0, P.MANAGE_MESSAGES),
    ("overwrite for another member is ignored", (),
     [ow(3, deny=P.SEND_MESSAGES, member=True)], False, P.SEND_MESSAGES, 0),
    ("VIEW_CHANNEL denied denies everything", (MOD,), [ow(G, deny=P.VIEW_CHANNEL)], False, 0, P.ALL),
    ("CONNECT denied on voice denies voice permissions", (),
     [ow(G, deny=P.CONNECT)], True, P.VIEW_CHANNEL, P.CONNECT | P.SPEAK),
    ("CONNECT denied on text channel leaves SPEAK", (), [ow(G, deny=P.CONNECT)], False, P.SPEAK, P.CONNECT),
    ("SEND_MESSAGES denied takes embeds and attachments", (),
     [ow(G, allow=P.EMBED_LINKS | P.ATTACH_FILES, deny=P.SEND_MESSAGES)], False, 0,
     P.EMBED_LINKS | P.ATTACH_FILES | P.SEND_MESSAGES),
    ("CONNECT denied on voice denies managing the room and its overwrites", (MANAGER,),
     [ow(G, deny=P.CONNECT)], True, P.VIEW_CHANNEL, P.MANAGE_CHANNELS | P.MANAGE_ROLES | P.MOVE_MEMBERS),
    ("CONNECT denied on a text channel keeps managing it", (MANAGER,),
     [ow(G, deny=P.CONNECT)], False, P.MANAGE_CHANNELS | P.MANAGE_ROLES, 0),
    ("role allow and member deny in the same channel: member wins", (MEMBER,),
     [ow(MEMBER, allow=P.CONNECT), ow(ALICE, deny=P.CONNECT, member=True)], True, 0, P.CONNECT),
]


@pytest.mark.parametrize(("roles", "overwrites", "is_voice", "has", "lacks"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_documented_cases(roles, overwrites, is_voice, has, lacks) -> None:  # type: ignore[no-untyped-def]
    result = perms(roles, overwrites, is_voice=is_voice)
    assert result & has == has
    assert result & lacks == 0


def test_owner_bypasses_everything() -> None:
    assert perms((), [ow(G, deny=P.ALL), ow(OWNER, deny=P.ALL, member=True)], member=OWNER) == P.ALL


def test_administrator_bypasses_overwrites() -> None:
    result = perms((ADMIN_ROLE,), [ow(G, deny=P.VIEW_CHANNEL | P.CONNECT), ow(ADMIN_ROLE, deny=P.ALL)],
                   is_voice=True)
    assert result == P.ALL


def test_guild_level_without_overwrites() -> None:
    assert perms((MOD,)) == BASE | P.MANAGE_MESSAGES


def test_everyone_role_in_member_roles_is_harmless() -> None:
    assert perms((G,)) == BASE


def test_unknown_roles_are_ignored() -> None:
    assert perms((999,)) == BASE


def test_names() -> None:
    assert P.names(P.VIEW_CHANNEL | P.CONNECT) == ["VIEW_CHANNEL", "CONNECT"]


def test_all_is_every_permission_discord_defines() -> None:
    assert P.ALL & P.BYPASS_SLOWMODE and P.ALL & P.SET_VOICE_CHANNEL_STATUS
    assert not P.ALL & (1 << 47)  # no permission has that bit
    assert perms((), [], member=OWNER) == P.ALL


def test_in_threads_sending_dependents_follow_send_messages_in_threads() -> None:
    dependents = P.EMBED_LINKS | P.ATTACH_FILES | P.MENTION_EVERYONE | P.SEND_TTS_MESSAGES
    roles = ROLES | {G: P.VIEW_CHANNEL | dependents}
    no_send_in_threads = perms((), [ow(G, allow=P.SEND_MESSAGES)], is_thread=True, role_perms=roles)
    assert no_send_in_threads & dependents == 0
    send_in_threads_only = perms((), [ow(G, allow=P.SEND_MESSAGES_IN_THREADS, deny=P.SEND_MESSAGES)],
                                 is_thread=True, role_perms=roles)
    assert send_in_threads_only & dependents == dependents


def test_roles_at_one_position_are_ordered_by_id() -> None:
    assert P.role_rank(300, 2, G) > P.role_rank(301, 2, G)  # the older role is higher
    assert P.role_rank(301, 3, G) > P.role_rank(300, 2, G)  # position first
    assert P.role_rank(G, 0, G) < P.role_rank(999, 0, G)  # @everyone is below every role
