"""A server's default agreement (`/setup agreement show|edit|reset`): new groups start from it with
their own name and settings filled in, existing groups keep theirs, every version is kept, a missing
limits-of-confidentiality section is warned about, and only server managers change it (checked
again when the editor is submitted)."""

from __future__ import annotations

from typing import Any

from bot.core.agreement import default_template, default_text, facts_of
from bot.sandbox import permissions as P
from bot.sandbox.world import Member
from bot.services.member_data import retention_of
from bot.storage import audit as audit_store
from bot.storage import groups as group_store
from bot.storage import server_agreements as server_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import create_group, final, started_with_group

OURS = (
    "**Welcome to {group}.** We meet on Thursdays.\n{expiry}\n\n"
    "**Limits of confidentiality**\nOnly when someone is in danger or the law requires it."
)


def fields(values: str) -> dict[str, str]:
    return {"part1": values, "part2": "", "part3": ""}


def prefilled(modal: dict[str, Any]) -> str:
    """The text the editor opened with (its fields' values, joined)."""
    found: list[str] = []

    def walk(components: list[dict[str, Any]]) -> None:
        for c in components:
            if c.get("type") == 4 and c.get("value"):
                found.append(str(c["value"]))
            walk(c.get("components") or ([c["component"]] if "component" in c else []))

    walk(modal.get("components") or [])
    return "\n\n".join(found)


async def edit_default(hs: Holdspace, who: Member, text: str) -> str:
    edit = await hs.command(who, None, "setup agreement edit")
    assert edit.modal is not None, edit.content
    return await final(hs.sb.submit_modal(edit, fields(text)))


async def agreement_text(hs: Holdspace, group_id: str) -> tuple[int, str]:
    assert hs.bot is not None
    agreement = await group_store.get_agreement(hs.bot.db, hs.bot.ring, group_id)
    assert agreement is not None
    return agreement.version, agreement.text


async def test_new_groups_start_from_the_server_default_and_existing_groups_keep_theirs(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, tuesday = await started_with_group(hs, "Tuesday circle")
    assert hs.bot is not None
    owner = hs.member("owner")
    before = await agreement_text(hs, tuesday.id)

    shown = await hs.command(owner, None, "setup agreement show")
    await shown.wait_followups(1)
    assert shown.ephemeral and "holdspace's own default agreement" in (shown.content or "")
    assert "`{group}`" in (shown.content or "") and "/setup agreement edit" in (shown.content or "")
    assert "**Limits of confidentiality**" in "\n".join(e["description"] for m in shown.followups for e in m.embeds)

    edit = await hs.command(owner, None, "setup agreement edit")
    assert edit.modal is not None and prefilled(edit.modal).startswith("**Welcome to {group}.**")
    saved = await final(hs.sb.submit_modal(edit, fields(OURS)))
    assert "Saved version 1 of this server's default agreement" in saved and "Warning" not in saved

    thursday = await create_group(hs, staff, "Thursday circle")
    version, text = await agreement_text(hs, thursday.id)
    facts = facts_of(thursday, retention_of(hs.bot.settings))
    assert version == 1 and text == default_text("Thursday circle", facts, template=OURS)
    assert text.startswith("**Welcome to Thursday circle.** We meet on Thursdays.") and "{" not in text
    assert await agreement_text(hs, tuesday.id) == before  # an existing group keeps its own
    shown = await hs.command(owner, None, "setup agreement show")
    await shown.wait_followups(1)
    assert "this server's default agreement, version 1" in (shown.content or "")
    assert shown.followups[0].embeds[0]["description"] == OURS

    # an edit that drops the limits section is saved, with the same warning a group's editor gives
    unchanged = await edit_default(hs, owner, OURS)
    assert "unchanged" in unchanged
    warned = await edit_default(hs, owner, "**Welcome to {group}.** Be kind.")
    assert "Saved version 2" in warned and "Warning" in warned and "Limits of confidentiality" in warned
    assert "`/setup agreement edit`" in warned

    reset = await final(await hs.command(owner, None, "setup agreement reset"))
    assert "holdspace's own default agreement again (version 3)" in reset
    friday = await create_group(hs, staff, "Friday circle")
    _, text = await agreement_text(hs, friday.id)
    assert text == default_text("Friday circle", facts_of(friday, retention_of(hs.bot.settings)))
    again = await final(await hs.command(owner, None, "setup agreement reset"))
    assert "already" in again

    history = await server_store.history(hs.bot.db, hs.bot.ring, hs.guild.id)
    assert [(v.version, v.template) for v in history] == [
        (1, OURS),
        (2, "**Welcome to {group}.** Be kind."),
        (3, None),
    ]
    entries = await audit_store.entries(hs.bot.db, hs.bot.ring, hs.guild.id)
    changed = [e for e in entries if e.action == "server_agreement_changed"]
    assert [e.payload["details"]["version"] for e in changed] == [1, 2, 3]
    assert changed[-1].payload["details"]["sha256"] is None
    assert all(e.payload["actor"] == str(owner.id) for e in changed)


async def test_only_server_managers_change_it_even_when_the_role_goes_while_editing(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs)
    assert hs.bot is not None
    for who in (hs.member("alice"), staff.facilitator):
        for command in ("setup agreement show", "setup agreement edit", "setup agreement reset"):
            handle = await hs.command(who, None, command)
            assert handle.ephemeral and handle.modal is None and "server managers" in (handle.content or "")

    managers = hs.guild.create_role("Managers", P.MANAGE_GUILD)
    dana = hs.guild.add_member(hs.sb.create_user("dana"), roles=[managers])
    edit = await hs.command(dana, None, "setup agreement edit")
    assert edit.modal is not None
    hs.guild.set_member_roles(dana, [])  # no longer a server manager when she submits
    refused = await final(hs.sb.submit_modal(edit, fields(OURS)))
    assert "server managers" in refused
    assert await server_store.history(hs.bot.db, hs.bot.ring, hs.guild.id) == []


async def test_two_editors_at_once_and_an_editor_from_before_a_restart(holdspace: Holdspace) -> None:
    hs = holdspace
    await started_with_group(hs)
    assert hs.bot is not None
    owner = hs.member("owner")
    first = await hs.command(owner, None, "setup agreement edit")
    second = await hs.command(owner, None, "setup agreement edit")
    assert "Saved version 1" in await final(hs.sb.submit_modal(first, fields(OURS)))
    late = await final(hs.sb.submit_modal(second, fields(OURS + "\nAnd on Fridays.")))
    assert "Someone else changed" in late and "nothing was saved" in late

    # too long once a group's name and settings are filled in: refused, nothing stored
    grows = {f"part{n}": "{group} " * 480 for n in (1, 2, 3)}
    refused = await final(hs.sb.submit_modal(await hs.command(owner, None, "setup agreement edit"), grows))
    assert "placeholders" in refused and "shorten" in refused

    opened = await hs.command(owner, None, "setup agreement edit")
    assert opened.modal is not None
    await hs.restart()
    saved = await final(hs.sb.submit_modal(opened, fields(OURS + "\nWritten before the restart.")))
    assert "Saved version 2" in saved
    templates = [v.template for v in await server_store.history(hs.bot.db, hs.bot.ring, hs.guild.id)]
    assert templates == [OURS, OURS + "\nWritten before the restart."]


def test_the_default_template_is_what_an_untouched_server_shows() -> None:
    assert "{group}" in default_template()
