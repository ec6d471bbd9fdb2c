"""Who may be in a group's rooms: the one definition of "may stay", a pure decision over in-memory
facts (no I/O).

Everything that finds someone in a group's voice room asks :func:`decide`: the join backstop, the
reconcile on start and resume, the session lock at a session's end, and role or facilitator changes.
Everything it needs is passed in; :func:`decide_from_state` gathers those facts from ``bot.state`` so
callers on the gateway path never read the database or the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.records import ConsentFact, GroupInfo
    from bot.state import State


class Reason(StrEnum):
    HOLDSPACE = "holdspace"  # holdspace itself never matters
    BOT = "bot"  # other bots are the guard feature's business
    FACILITATOR = "facilitator"  # facilitators are exempt unless the group says otherwise
    CONSENTED = "consented"
    NO_CONSENT = "no_consent"
    LOCKED = "locked"  # the group locks its rooms between sessions and none runs
    NOT_READY = "not_ready"  # consent state not loaded: fail closed


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason

    @property
    def act(self) -> bool:
        """True when holdspace should disconnect the person."""
        return not self.allowed

    @property
    def prompt(self) -> bool:
        """True when the person should also be asked for consent (a locked room is not about consent)."""
        return self.reason in (Reason.NO_CONSENT, Reason.NOT_READY)


def facilitates(
    *,
    member_id: int,
    role_ids: Iterable[int],
    facilitator_role_id: int | None,
    group_facilitator_ids: frozenset[int] = frozenset(),
) -> bool:
    """Is this person a facilitator of the group? Roles mean what they say: only holders of the
    facilitator role facilitate, and where a group names its own facilitators only those of them who
    still hold the role. Losing the role ends being a facilitator everywhere at once."""
    if facilitator_role_id is None or facilitator_role_id not in set(role_ids):
        return False
    return not group_facilitator_ids or member_id in group_facilitator_ids


def named_facilitators_in_role(
    group_facilitator_ids: Iterable[int], role_holders: Iterable[int]
) -> tuple[int, ...]:
    """The named facilitators who still hold the facilitator role: the only ones the rooms open to."""
    holders = set(role_holders)
    return tuple(sorted(m for m in group_facilitator_ids if m in holders))


def decide(
    *,
    member_id: int,
    is_bot: bool,
    role_ids: Iterable[int],
    bot_id: int,
    facilitator_role_id: int | None,
    facilitators_consent: bool,
    consent: ConsentFact | None,
    state_ready: bool = True,
    group_facilitator_ids: frozenset[int] = frozenset(),
    room_locked: bool = False,
) -> Decision:
    """May this person be in the group's rooms?

    Order: holdspace itself, other bots (left to the guard), then a current consent (unless the
    rooms are locked between sessions), then the facilitator exemption (only while the group does
    not ask facilitators to consent too): holders of the facilitator role, and where the group names
    its own facilitators only those of them (:func:`facilitates`). Anyone else is not allowed. Before
    the consent state is loaded nobody is let in (fail closed).
    """
    if member_id == bot_id:
        return Decision(True, Reason.HOLDSPACE)
    if is_bot:
        return Decision(True, Reason.BOT)
    if not state_ready:
        return Decision(False, Reason.NOT_READY)
    if consent is not None and not room_locked:
        return Decision(True, Reason.CONSENTED)
    if not facilitators_consent and facilitates(
        member_id=member_id,
        role_ids=role_ids,
        facilitator_role_id=facilitator_role_id,
        group_facilitator_ids=group_facilitator_ids,
    ):
        return Decision(True, Reason.FACILITATOR)
    if room_locked:
        return Decision(False, Reason.LOCKED)
    return Decision(False, Reason.NO_CONSENT)


def decide_from_state(
    state: State,
    group: GroupInfo,
    *,
    member_id: int,
    is_bot: bool,
    role_ids: Iterable[int],
    bot_id: int,
) -> Decision:
    """:func:`decide` with the facts taken from ``state`` (memory only)."""
    cfg = state.guilds.get(group.guild_id)
    return decide(
        member_id=member_id,
        is_bot=is_bot,
        role_ids=role_ids,
        bot_id=bot_id,
        facilitator_role_id=cfg.facilitator_role_id if cfg else None,
        facilitators_consent=group.facilitators_consent,
        consent=state.consent_of(group.id, member_id),
        state_ready=state.loaded,
        group_facilitator_ids=state.facilitators_of(group.id),
        room_locked=group.lock_between_sessions and not state.session_running(group.id),
    )
