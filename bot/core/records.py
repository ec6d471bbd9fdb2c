"""The records holdspace keeps about servers, groups, consents and running sessions.

Plain dataclasses, no I/O: ``bot.state`` holds them in memory and ``bot.storage`` reads and writes
them, so both import them from here and neither needs the other to describe its data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import GroupDefaults

ENROLMENT_MODES = ("invite", "open")
ACCESS_MODES = ("member", "role")


@dataclass
class GuildConfig:
    guild_id: int
    facilitator_role_id: int | None = None
    moderator_role_id: int | None = None
    log_channel_id: int | None = None
    lobby_channel_id: int | None = None
    timezone: str = "UTC"
    bot_action: str = "disconnect"
    allowed_bot_ids: set[int] = field(default_factory=set)
    lobby_message_id: int | None = None
    configured: bool = False
    #: the language of the server's texts: moderator notices, and groups that set none of their own
    language: str = "en"


@dataclass
class GroupInfo:
    id: str
    guild_id: int
    name: str
    text_channel_id: int
    voice_channel_id: int
    category_id: int | None = None
    # -- how the group was made and how access is given
    created_channels: bool = False
    role_id: int | None = None
    # -- settings (defaults: bot.config.GroupDefaults, i.e. [defaults] in the config file)
    enrolment: str = "invite"
    access_mode: str = "member"
    reconsent_after_days: int = 180
    facilitators_consent: bool = False
    lock_between_sessions: bool = False
    ttl: timedelta | None = timedelta(hours=24)
    expire_at_session_end: bool = True
    keep_pinned: bool = True
    auto_reminder_gap: timedelta = timedelta(hours=2)
    max_hold_days: int = 14
    #: the language of the group's room posts and answers (None: the server's)
    language: str | None = None
    # -- the current agreement
    agreement_version: int = 0
    agreement_sha256: str = ""

    @property
    def channel_ids(self) -> tuple[int, int]:
        return (self.text_channel_id, self.voice_channel_id)

    @classmethod
    def with_defaults(cls, defaults: GroupDefaults, **values: Any) -> GroupInfo:
        """A new group whose settings start from the configured defaults."""
        known = {f.name for f in fields(cls)}
        base = {k: getattr(defaults, k) for k in vars(defaults) if k in known}
        base.update(values)
        return cls(**base)


#: Settings a facilitator may change with /group settings (name -> python type).
GROUP_SETTINGS = (
    "enrolment",
    "reconsent_after_days",
    "facilitators_consent",
    "access_mode",
    "lock_between_sessions",
    "ttl",
    "expire_at_session_end",
    "keep_pinned",
    "auto_reminder_gap",
    "max_hold_days",
    "language",
)


@dataclass(frozen=True)
class ConsentFact:
    """A member's current consent to a group's agreement."""

    consent_id: str
    member_id: int
    version: int
    sha256: str
    given_at: datetime
    method: str


@dataclass
class RunningSession:
    id: str
    group_id: str
    started_at: datetime
    ends_at: datetime | None = None
    # (channel id, message id) of the session's ground-rules reminders: kept until the session ends,
    # whatever the group's time to live, then they expire like the rest.
    kept_messages: set[tuple[int, int]] = field(default_factory=set)
