"""Discord's permission algorithm as one pure function, and the order of roles.

Order, as Discord documents it: base permissions are @everyone's plus every role of the member;
the guild owner and ADMINISTRATOR get everything and skip overwrites; then a channel's overwrites
apply as @everyone deny, @everyone allow, all role denies, all role allows, member deny, member
allow. Afterwards the implicit denies: without VIEW_CHANNEL nothing else is left; on a voice
channel without CONNECT the voice permissions go, and with them MANAGE_CHANNELS and MANAGE_ROLES
(Discord refuses to let someone who cannot connect edit the room or its overwrites); without
SEND_MESSAGES (in a thread: SEND_MESSAGES_IN_THREADS) the permissions that depend on sending go too.

tests/sandbox/test_permissions_differential.py checks all of this against discord.py's own
computation on random worlds, and lists where discord.py departs from Discord's documentation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_AUDIT_LOG = 1 << 7
PRIORITY_SPEAKER = 1 << 8
STREAM = 1 << 9
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
VIEW_GUILD_INSIGHTS = 1 << 19
CONNECT = 1 << 20
SPEAK = 1 << 21
MUTE_MEMBERS = 1 << 22
DEAFEN_MEMBERS = 1 << 23
MOVE_MEMBERS = 1 << 24
USE_VAD = 1 << 25
CHANGE_NICKNAME = 1 << 26
MANAGE_NICKNAMES = 1 << 27
MANAGE_ROLES = 1 << 28
MANAGE_WEBHOOKS = 1 << 29
MANAGE_GUILD_EXPRESSIONS = 1 << 30
USE_APPLICATION_COMMANDS = 1 << 31
REQUEST_TO_SPEAK = 1 << 32
MANAGE_EVENTS = 1 << 33
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
USE_EXTERNAL_STICKERS = 1 << 37
SEND_MESSAGES_IN_THREADS = 1 << 38
USE_EMBEDDED_ACTIVITIES = 1 << 39
MODERATE_MEMBERS = 1 << 40
VIEW_CREATOR_MONETIZATION_ANALYTICS = 1 << 41
USE_SOUNDBOARD = 1 << 42
CREATE_GUILD_EXPRESSIONS = 1 << 43
CREATE_EVENTS = 1 << 44
USE_EXTERNAL_SOUNDS = 1 << 45
SEND_VOICE_MESSAGES = 1 << 46
SEND_POLLS = 1 << 49
USE_EXTERNAL_APPS = 1 << 50
SET_VOICE_CHANNEL_STATUS = 1 << 48
SEND_POLLS = 1 << 49
USE_EXTERNAL_APPS = 1 << 50
PIN_MESSAGES = 1 << 51
BYPASS_SLOWMODE = 1 << 52
# Bit 47 is not a permission Discord defines (any more): it is in no role, overwrite or ALL.

#: Every permission Discord defines: what the owner and ADMINISTRATOR hold.
ALL = (
    CREATE_INSTANT_INVITE | KICK_MEMBERS | BAN_MEMBERS | ADMINISTRATOR | MANAGE_CHANNELS | MANAGE_GUILD
    | ADD_REACTIONS | VIEW_AUDIT_LOG | PRIORITY_SPEAKER | STREAM | VIEW_CHANNEL | SEND_MESSAGES
    | SEND_TTS_MESSAGES | MANAGE_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE | USE_EXTERNAL_EMOJIS | VIEW_GUILD_INSIGHTS | CONNECT | SPEAK | MUTE_MEMBERS
    | DEAFEN_MEMBERS | MOVE_MEMBERS | USE_VAD | CHANGE_NICKNAME | MANAGE_NICKNAMES | MANAGE_ROLES
    | MANAGE_WEBHOOKS | MANAGE_GUILD_EXPRESSIONS | USE_APPLICATION_COMMANDS | REQUEST_TO_SPEAK
    | MANAGE_EVENTS | MANAGE_THREADS | CREATE_PUBLIC_THREADS | CREATE_PRIVATE_THREADS
    | USE_EXTERNAL_STICKERS | SEND_MESSAGES_IN_THREADS | USE_EMBEDDED_ACTIVITIES | MODERATE_MEMBERS
    | VIEW_CREATOR_MONETIZATION_ANALYTICS | USE_SOUNDBOARD | CREATE_GUILD_EXPRESSIONS | CREATE_EVENTS
    | USE_EXTERNAL_SOUNDS | SEND_VOICE_MESSAGES | SET_VOICE_CHANNEL_STATUS | SEND_POLLS | USE_EXTERNAL_APPS
    | PIN_MESSAGES | BYPASS_SLOWMODE
)

#: The voice permissions: lost on a voice channel when CONNECT is denied.
VOICE_PERMISSIONS = (
    CONNECT | SPEAK | MUTE_MEMBERS | DEAFEN_MEMBERS | MOVE_MEMBERS | USE_VAD | PRIORITY_SPEAKER | STREAM
    | USE_EMBEDDED_ACTIVITIES | USE_SOUNDBOARD | USE_EXTERNAL_SOUNDS | SET_VOICE_CHANNEL_STATUS
)
#: Lost with them: nobody edits a voice room, or its overwrites, without being able to connect to it.
NO_CONNECT_DENIES = VOICE_PERMISSIONS | MANAGE_CHANNELS | MANAGE_ROLES
#: Permissions lost when SEND_MESSAGES (in a thread: SEND_MESSAGES_IN_THREADS) is denied.
SEND_DEPENDENT = MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS

#: The default @everyone permissions of a new guild (as Discord sets them).
DEFAULT_EVERYONE = (
    CREATE_INSTANT_INVITE | ADD_REACTIONS | STREAM | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS
    | ATTACH_FILES | READ_MESSAGE_HISTORY | MENTION_EVERYONE | USE_EXTERNAL_EMOJIS | CONNECT | SPEAK
    | USE_VAD | CHANGE_NICKNAME | USE_APPLICATION_COMMANDS | REQUEST_TO_SPEAK | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS | USE_EXTERNAL_STICKERS | SEND_MESSAGES_IN_THREADS | USE_EMBEDDED_ACTIVITIES
    | SEND_VOICE_MESSAGES | SEND_POLLS | USE_EXTERNAL_APPS
)

ROLE_OVERWRITE = 0
MEMBER_OVERWRITE = 1


@dataclass(frozen=True, slots=True)
class Overwrite:
    """A channel permission overwrite: ``type`` 0 for a role, 1 for a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


def compute_permissions(
    *,
    guild_id: int,
    owner_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    role_permissions: Mapping[int, int],
    overwrites: Iterable[Overwrite] | Mapping[int, Overwrite] | None = None,
    is_voice: bool = False,
    is_thread: bool = False,
) -> int:
    """A member's permissions in a guild (``overwrites=None``) or in one channel (a thread: its
    parent's overwrites with ``is_thread=True``).

    ``role_permissions`` maps role ids (at least @everyone's, the guild's id, and the member's) to
    their permission bits. Unknown role ids of the member are ignored.
    """
    if member_id == owner_id:
        return ALL
    role_ids = [r for r in member_role_ids if r != guild_id]
    base = role_permissions.get(guild_id, 0)
    for role_id in role_ids:
        base |= role_permissions.get(role_id, 0)
    if base & ADMINISTRATOR:
        return ALL
    if overwrites is None:
        return base
    perms = apply_overwrites(base, guild_id=guild_id, member_id=member_id, role_ids=role_ids,
                             overwrites=overwrites)
    return implicit(perms, is_voice=is_voice, is_thread=is_thread)


def apply_overwrites(base: int, *, guild_id: int, member_id: int, role_ids: Iterable[int],
                     overwrites: Iterable[Overwrite] | Mapping[int, Overwrite]) -> int:
    """``base`` after a channel's overwrites, before the implicit denies. ``overwrites`` may be given
    by id already (a channel keeps them so), which spares walking every one of them."""
    perms = base
    by_id = overwrites if isinstance(overwrites, Mapping) else {ow.id: ow for ow in overwrites}
    everyone = by_id.get(guild_id)
    if everyone is not None:
        perms &= ~everyone.deny
        perms |= everyone.allow
    role_allow = role_deny = 0
    for role_id in set(role_ids) - {guild_id}:
        ow = by_id.get(role_id)
        if ow is not None and ow.type == ROLE_OVERWRITE:
            role_allow |= ow.allow
            role_deny |= ow.deny
    perms &= ~role_deny
    perms |= role_allow
    member_ow = by_id.get(member_id)
    if member_ow is not None and member_ow.type == MEMBER_OVERWRITE:
        perms &= ~member_ow.deny
        perms |= member_ow.allow
    return perms


def implicit(perms: int, *, is_voice: bool = False, is_thread: bool = False) -> int:
    """The implicit denies Discord applies after the overwrites (see the module's docstring)."""
    if not perms & VIEW_CHANNEL:
        return 0
    if is_voice and not perms & CONNECT:
        perms &= ~NO_CONNECT_DENIES
    if not perms & (SEND_MESSAGES_IN_THREADS if is_thread else SEND_MESSAGES):
        perms &= ~SEND_DEPENDENT
    return perms


def role_rank(role_id: int, position: int, guild_id: int) -> tuple[int, int]:
    """A sort key for roles, lowest first: by position; at the same position the older role (the
    smaller id) is higher; @everyone (the guild's id) is below every other role."""
    if role_id == guild_id:
        return (-1, 0)
    return (position, -role_id)


def names(bits: int) -> list[str]:
    """Readable names of the permission bits set in ``bits`` (for error messages)."""
    return [name for name, value in globals().items() if name.isupper() and name not in _NOT_FLAGS
            and isinstance(value, int) and value and value & (value - 1) == 0 and bits & value]


_NOT_FLAGS = {"ALL", "VOICE_PERMISSIONS", "NO_CONNECT_DENIES", "SEND_DEPENDENT", "DEFAULT_EVERYONE",
              "ROLE_OVERWRITE", "MEMBER_OVERWRITE"}
