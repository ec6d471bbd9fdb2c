"""For moderators, per case kind: what happened, what to check, what to do (the moderators' guide
and tests read this; every kind in ``bot.core.cases.KIND_LABELS`` has an entry). The texts are
marked for the catalogues and stay English here; :func:`guide_for` gives them in the reader's language."""

from __future__ import annotations

from typing import NamedTuple

from bot.i18n import N_, _


class KindGuide(NamedTuple):
    happened: str
    check: str
    do: str


CASE_GUIDE: dict[str, KindGuide] = {
    "unconsented_join": KindGuide(
        N_(
            "Someone was in a group's voice room without a current consent (they never agreed, withdrew, "
            "or the agreement changed), and holdspace disconnected them."
        ),
        N_(
            "The case details: whether they were disconnected and whether they got a private message. "
            "Whether they are enrolled (the group's facilitators see it in `/group roster`)."
        ),
        N_(
            "Usually nothing: they can read the agreement with `/consent give`. If it keeps happening, "
            "talk to them or ask a facilitator to remove them from the group."
        ),
    ),
    "recording_bot_blocked": KindGuide(
        N_("A bot that is not on the allowlist came into a group's voice room and was removed."),
        N_(
            "Who added the bot to the server (the details say, where Discord tells holdspace). "
            "Whether it has the Administrator permission."
        ),
        N_(
            "Remove the bot from the server if nobody needs it; if it is a trusted bot, a server "
            "manager allows it with `/guard allow`."
        ),
    ),
    "bot_added": KindGuide(
        N_("A new bot joined the server. Bots can read rooms they are let into, and some record voice."),
        N_("Who added it and whether it has Administrator (holdspace cannot keep an Administrator out)."),
        N_(
            "Keep it only if the practice needs it; otherwise remove it. A server manager sees the allowed bots "
            "with `/guard list`."
        ),
    ),
    "permission_drift": KindGuide(
        N_(
            "Someone changed a group room's permissions in a way that could let people without consent in. "
            "holdspace put them back where it could."
        ),
        N_("Whether the details say the permissions were restored, and who changed them (the server's own audit log)."),
        N_("If they could not be restored, a server manager fixes the room and checks the set-up with `/guard audit`."),
    ),
    "expiry_blocked": KindGuide(
        N_("Messages that should have been deleted on time could not be (missing permission, or Discord refused)."),
        N_(
            "The problems listed in the details; the group's facilitators see what is still pending with "
            "`/expiry status`."
        ),
        N_("Give holdspace the missing permission named in the case; the deletions are retried by themselves."),
    ),
    "breach_report": KindGuide(
        N_("A member used `/report new` (or Report to moderators on a message). Only moderators see who reported."),
        N_("The summary and the reported message's link, if any. Who else was there, with the facilitator."),
        N_("Claim the case, talk to the people involved, and close it as actioned or dismissed with a note."),
    ),
    "member_removed": KindGuide(
        N_("A facilitator removed a member from a group; their access ended at once."),
        N_("The reason in the details."),
        N_("Nothing unless the member asks; the case records that it happened."),
    ),
    "recording_marker": KindGuide(
        N_("Someone's name in a group room suggested recording (for example \"rec\" or a recorder's name)."),
        N_("Who it is and whether they are really recording."),
        N_("Ask them; if they are recording, remove them and follow the agreement's rules on breaches."),
    ),
    "records_tampered": KindGuide(
        N_(
            "holdspace found a group's records (consents, enrolments or named facilitators) altered, moved or "
            "replaced in the database file: the group's members lost access until they consent again."
        ),
        N_(
            "Whether someone restored an old backup or edited the file (the server's operator knows); who is "
            "enrolled and who facilitates (/group roster, /group facilitator list)."
        ),
        N_(
            "Ask the operator to check the file, its anchor and the backups (docs/privacy.md); facilitators "
            "remove anyone who should not be enrolled; members consent again."
        ),
    ),
}


def guide_for(kind: str) -> KindGuide | None:
    """The guide to ``kind`` in the current language (None for a kind without one)."""
    guide = CASE_GUIDE.get(kind)
    if guide is None:
        return None
    return KindGuide(_(guide.happened), _(guide.check), _(guide.do))
