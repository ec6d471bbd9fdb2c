"""Nothing leaks by error or side channel, end to end through the sandbox with the real bot."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.logs import setup_logging
from bot.sandbox.interactions import InteractionHandle
from bot.sandbox.world import Member, Message, User
from tests.e2e.conftest import Holdspace
from tests.e2e.panels import button_id
from tests.e2e.test_fuzz import INTEGER, STRING, Leaf, no_tracebacks, plain_value, tracebacks
from tests.e2e.test_fuzz import build as fuzz_world

__all__ = ["tracebacks"]  # the fixture, shared with the fuzz
from tests.e2e.test_setup import final, started_with_group

LONG = "x" * 4000
BUTTON, SELECT = 2, 3


async def _second_group_run_by(hs: Holdspace, fac_role_id: int, name: str = "Thursday circle") -> Member:
    """A second group named-facilitated by a new facilitator, dana."""
    dana = hs.guild.add_member(hs.sb.create_user("dana"), roles=[fac_role_id, hs.world.member_role.id])
    hs.world.members["dana"] = dana
    assert hs.bot is not None
    bot = hs.bot
    await hs.sb.wait_until(lambda: bot.get_guild(hs.guild.id).get_member(dana.id) is not None)  # type: ignore[union-attr]
    made = await final(await hs.command(dana, None, "group create", name=name))
    assert "Created" in made, made
    added = await final(await hs.command(dana, None, "group facilitator add", group=name, member=dana))
    assert "now facilitates" in added
    return dana


async def test_group_names_reach_only_those_who_run_groups(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, "Tuesday circle")
    alice = hs.member("alice")
    for command, option in (("session start", "group"), ("group roster", "group"), ("expiry settings", "group")):
        offered = await hs.sb.autocomplete(alice, hs.guild.channels[0], command, option, "").response()
        assert not offered.choices, command
    offered = await hs.sb.autocomplete(staff.facilitator, hs.guild.channels[0], "session start", "group", "").response()
    assert [c["name"] for c in offered.choices or []] == ["Tuesday circle"]


async def test_session_start_answers_a_member_alike_whether_the_group_exists_or_not(holdspace: Holdspace) -> None:
    hs = holdspace
    await started_with_group(hs, "Tuesday circle")
    alice = hs.member("alice")
    exists = await hs.command(alice, None, "session start", group="Tuesday circle")
    missing = await hs.command(alice, None, "session start", group="No such circle")
    assert exists.ephemeral and missing.ephemeral
    assert exists.content == missing.content and "Tuesday" not in (exists.content or "")


async def test_a_facilitator_reads_only_the_groups_they_run(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, "Tuesday circle")
    fran = staff.facilitator
    added = await final(await hs.command(fran, None, "group facilitator add", group="Tuesday circle", member=fran))
    assert "now facilitates" in added
    dana = await _second_group_run_by(hs, staff.fac_role.id)
    scheduled = await final(
        await hs.command(
            fran, None, "session schedule add", group="Tuesday circle", weekday=1, time="18:00", duration="90m"
        )
    )
    assert "now meets" in scheduled
    status = await final(await hs.command(dana, None, "session status"))
    assert "Thursday circle" in status and "Tuesday" not in status
    refused = await final(await hs.command(dana, None, "session status", group="Tuesday circle"))
    assert "Only the facilitators of Tuesday circle" in refused
    schedules = await final(await hs.command(dana, None, "session schedule list"))
    assert "Tuesday" not in schedules
    refused = await final(await hs.command(dana, None, "group facilitator list", group="Tuesday circle"))
    assert "Only the facilitators of Tuesday circle" in refused and f"<@{fran.id}>" not in refused
    listing = await final(await hs.command(dana, None, "group list"))
    assert "Thursday circle" in listing and "Tuesday" not in listing
    offered = await hs.sb.autocomplete(dana, hs.guild.channels[0], "session schedule remove", "schedule", "").response()
    assert not offered.choices
    owner = await final(await hs.command(hs.member("owner"), None, "session status"))
    assert "Tuesday circle" in owner and "Thursday circle" in owner


async def test_over_long_values_get_a_short_polite_answer(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, "Tuesday circle")
    fran = staff.facilitator
    for command, options in (
        ("session start", {"group": LONG}),
        ("session start", {"group": "Tuesday circle", "duration": LONG}),
        ("group roster", {"group": LONG}),
        ("cases list", {"kind": LONG}),
        ("expiry settings", {"group": "Tuesday circle", "ttl": LONG}),
    ):
        handle = hs.sb.run_command(fran, hs.guild.channels[0], command, **options)
        text = await final(handle)
        assert handle.ephemeral and 0 < len(text) <= 2000 and LONG not in text, (command, text[:200])


async def test_panels_left_on_screen_answer_after_a_restart(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, "Tuesday circle")
    owner = hs.member("owner")
    bot = hs.bot
    assert bot is not None
    for _ in range(12):
        await bot.cases.open(hs.guild.id, "permission_drift", group_id=group.id)
    listing = await hs.command(owner, None, "cases list")
    assert listing.message is not None
    purge = await hs.command(owner, None, "expiry purge-now", group="Tuesday circle")
    assert purge.message is not None
    await hs.restart()
    for message, label in ((listing.message, "Next"), (purge.message, "Delete all messages")):
        pressed = hs.sb.click(owner, message, button_id(message, label))
        await pressed.response()
        assert pressed.ephemeral and "expired" in (pressed.content or ""), label
    assert staff is not None


async def test_library_loggers_that_log_values_stay_at_info() -> None:
    root = logging.getLogger()
    before = root.level, list(root.handlers)
    try:
        setup_logging("debug")
        assert logging.getLogger("aiosqlite").getEffectiveLevel() == logging.INFO
        for name in ("discord", "discord.http", "discord.gateway", "aiosqlite"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.INFO, name
    finally:
        root.setLevel(before[0])
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before[1]:
            root.addHandler(handler)


@pytest.fixture
def debug_records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_no_member_id_is_logged_even_at_debug(
    holdspace: Holdspace, debug_records: pytest.LogCaptureFixture
) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, "Tuesday circle")
    alice = hs.member("alice")
    hs.guild.join_voice(staff.facilitator, hs.sb.world.channels[group.voice_channel_id])
    await final(await hs.command(staff.facilitator, None, "group enroll", group="Tuesday circle", member=alice))
    await final(
        await hs.command(
            staff.facilitator, None, "group facilitator add", group="Tuesday circle", member=staff.facilitator
        )
    )
    await hs.settle()
    hs.guild.set_member_roles(staff.facilitator, [hs.world.member_role.id])  # the role taken: closing, disconnect
    await hs.settle()
    ids = {str(m.id) for m in hs.guild.members.values() if not m.user.bot}
    for record in debug_records.records:
        if record.name.startswith(("bot.", "cogs.")):
            text = record.getMessage()
            assert not any(i in text for i in ids), (record.name, text)


async def test_a_clean_shutdown_stops_work_before_the_database_closes(
    holdspace: Holdspace, caplog: pytest.LogCaptureFixture
) -> None:
    hs = holdspace
    _, group = await started_with_group(hs, "Tuesday circle")
    room = hs.sb.world.channels[group.text_channel_id]
    for n in range(3):
        hs.sb.post(room, hs.world.owner, f"m{n}")
    # Discord is slow to answer history reads: a catch-up is still reading when holdspace stops.
    hs.sb.faults.add_latency(0.5, None)
    bot = hs.bot
    assert bot is not None
    expiry = bot.get_cog("Expiry")
    assert expiry is not None
    expiry.service.synced.clear()  # type: ignore[attr-defined]  # as after a resume: read every room again
    expiry.service.request_catch_up()  # type: ignore[attr-defined]
    await hs.sb.wait_until(lambda: any(r.finished == 0.0 for r in hs.sb.requests))
    with caplog.at_level(logging.WARNING):
        await hs.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


#: The commands every member may run; every other command is for staff.
MEMBER_COMMANDS = ("consent", "privacy", "report", "help")


async def test_a_plain_member_gets_nothing_from_any_staff_autocomplete(holdspace: Holdspace) -> None:
    world = await fuzz_world(holdspace)
    hs = world.hs
    alice = world.people["member"]
    asked = 0
    for leaf in world.leaves:
        if leaf.path.split()[0] in MEMBER_COMMANDS:
            continue
        for spec in leaf.options:
            if not spec.get("autocomplete"):
                continue
            for typed in ("", "t", "Europe"):
                offered = await hs.sb.autocomplete(alice, world.rooms[0], leaf.path, spec["name"], typed).response()
                assert not offered.choices, (leaf.path, spec["name"], typed)
                asked += 1
    assert asked >= 10


async def test_staff_commands_answer_a_member_alike_whether_what_they_name_exists(holdspace: Holdspace) -> None:
    world = await fuzz_world(holdspace)
    hs = world.hs
    bot = hs.bot
    assert bot is not None
    group = bot.state.group_by_name(hs.guild.id, "Tuesday circle")
    assert group is not None
    number = await bot.cases.open(hs.guild.id, "permission_drift", group_id=group.id)
    alice = world.people["member"]

    def values(leaf: Leaf, *, existing: bool) -> dict[str, object]:
        out: dict[str, object] = {}
        for spec in leaf.options:
            if not spec.get("required"):
                continue
            value = plain_value(world, spec)
            if spec["type"] == STRING and not spec.get("choices") and not existing:
                value = "No such circle"
            elif spec["type"] == INTEGER and spec["name"] == "number":
                value = number if existing else 999_999
            out[spec["name"]] = value
        return out

    compared = 0
    for leaf in world.leaves:
        if leaf.path.split()[0] in MEMBER_COMMANDS:
            continue
        answers = []
        for existing in (True, False):
            handle = hs.sb.run_command(alice, world.rooms[0], leaf.path, values(leaf, existing=existing))
            text = await final(handle)
            assert handle.ephemeral and handle.modal is None, leaf.path
            answers.append(text)
        assert answers[0] == answers[1], (leaf.path, answers)
        assert "Tuesday" not in answers[0], (leaf.path, answers[0])
        compared += 1
    assert compared > 20


async def test_a_facilitator_of_another_group_is_refused_every_command_about_this_one(holdspace: Holdspace) -> None:
    world = await fuzz_world(holdspace)
    hs = world.hs
    staff_role = hs.bot.state.guilds[hs.guild.id].facilitator_role_id if hs.bot else None
    assert staff_role is not None
    fran = world.people["facilitator"]
    added = await final(await hs.command(fran, None, "group facilitator add", group="Tuesday circle", member=fran))
    assert "now facilitates" in added
    dana = await _second_group_run_by(hs, staff_role)
    alice = world.people["member"]
    tried = 0
    for leaf in world.leaves:
        names = {spec["name"] for spec in leaf.options}
        if "group" not in names or leaf.path.split()[0] in MEMBER_COMMANDS:
            continue
        values = {spec["name"]: plain_value(world, spec) for spec in leaf.options if spec.get("required")}
        values["group"] = "Tuesday circle"
        handle = hs.sb.run_command(dana, world.rooms[0], leaf.path, values)
        text = await final(handle)
        assert handle.ephemeral and handle.modal is None, leaf.path
        assert "only" in text.casefold() or "no group of yours" in text, (leaf.path, text)
        assert f"<@{fran.id}>" not in text and f"<@{alice.id}>" not in text, (leaf.path, text)
        tried += 1
    assert tried >= 10


def _components(message: Message) -> list[dict[str, Any]]:
    """Every button and select on ``message`` that can be used."""
    out: list[dict[str, Any]] = []

    def walk(components: list[dict[str, Any]]) -> None:
        for component in components:
            if component.get("type") in (BUTTON, SELECT) and "custom_id" in component and not component.get("disabled"):
                out.append(component)
            walk(component.get("components") or [])

    walk(message.components)
    return out


async def test_every_button_holdspace_left_on_screen_answers_after_a_restart(
    holdspace: Holdspace, tracebacks: pytest.LogCaptureFixture
) -> None:
    world = await fuzz_world(holdspace)
    hs = world.hs
    bot = hs.bot
    assert bot is not None
    group = bot.state.group_by_name(hs.guild.id, "Tuesday circle")
    assert group is not None
    fran, owner, alice, bob = (world.people[k] for k in ("facilitator", "manager", "member", "moderator"))
    for _ in range(12):
        await bot.cases.open(hs.guild.id, "permission_drift", group_id=group.id)
    ran: list[tuple[Member, InteractionHandle]] = []
    for who, command, options in (
        (fran, "session start", {"group": "Tuesday circle"}),
        (owner, "cases list", {}),
        (bob, "cases show", {"number": 1}),
        (owner, "expiry purge-now", {"group": "Tuesday circle"}),
        (alice, "privacy forget", {}),
        (alice, "consent give", {"group": "Tuesday circle"}),
        (fran, "group agreement show", {"group": "Tuesday circle"}),
        (fran, "group roster", {"group": "Tuesday circle"}),
    ):
        handle = hs.sb.run_command(who, world.rooms[0], command, options)
        await final(handle)
        if command == "consent give":  # the agreement follows with its buttons
            await hs.sb.wait_until(lambda h=handle: any(m.components for m in h.followups))  # type: ignore[misc]
        ran.append((who, handle))
    # The lobby's button, pressed: the group's agreement with its buttons.
    lobby = next(m for c in hs.sb.world.channels.values() for m in c.messages if m.components and c.name == "lobby")
    picked = hs.sb.click(alice, lobby, _components(lobby)[0]["custom_id"])
    await picked.response()
    await hs.sb.wait_until(lambda: any(m.components for m in picked.followups))
    ran.append((alice, picked))
    await hs.settle()
    left: list[tuple[Member | User, Message, dict[str, Any]]] = []
    for who, handle in ran:
        for message in ([handle.message] if handle.message else []) + list(handle.followups):
            left += [(who, message, c) for c in _components(message)]
    for channel in hs.sb.world.channels.values():
        clicker: Member | User = channel.recipients[0] if channel.recipients else owner
        for message in channel.messages:
            left += [(clicker, message, c) for c in _components(message)]
    kinds = {c["custom_id"].split(":")[1] if ":" in c["custom_id"] else "panel" for _, _, c in left}
    assert {"agree", "decline", "case", "forget", "limits", "lobby", "panel", "review"} <= kinds, kinds
    await hs.restart()
    unanswered = []
    for who, message, component in left:
        values = [component["options"][0]["value"]] if component.get("type") == SELECT else None
        pressed = hs.sb.click(who, message, component["custom_id"], values=values)
        try:
            await pressed.response()
        except TimeoutError:
            unanswered.append((component["custom_id"], component.get("label")))
            continue
        if pressed.modal is not None:
            continue  # a form is an answer; what it submits is fuzzed elsewhere
    assert not unanswered, unanswered
    await hs.settle()
    no_tracebacks(tracebacks)
