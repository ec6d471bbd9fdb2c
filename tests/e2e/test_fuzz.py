"""Every command and option, fuzzed for four kinds of people, through the sandbox with the real bot.

Hypothesis picks a person (a plain member, a facilitator, a moderator, a server manager), one of the
commands holdspace registered with Discord, and values for its options: within Discord's own
constraints (choices, lengths, ranges, channel types), but otherwise anything, up to over-long text.
Modals holdspace shows are submitted with drawn text, and autocomplete is typed into as well. Every
interaction must be answered, and nothing may log a traceback. Examples are bounded so the test stays
fast; every command is run at least once before drawing starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sandbox import permissions as P
from bot.sandbox.interactions import InteractionHandle
from bot.sandbox.world import Channel, Member
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import final, started_with_group

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10
TEXT_INPUT = 4
PEOPLE = ("member", "facilitator", "moderator", "manager")
EXAMPLES = 150


@dataclass(frozen=True)
class Leaf:
    path: str  # "session start"
    options: tuple[dict[str, Any], ...]


def leaves(commands: list[dict[str, Any]]) -> list[Leaf]:
    out: list[Leaf] = []

    def walk(prefix: str, options: list[dict[str, Any]]) -> None:
        subs = [o for o in options if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        if not subs:
            out.append(Leaf(prefix, tuple(options)))
        for sub in subs:
            walk(f"{prefix} {sub['name']}", list(sub.get("options") or []))

    for command in commands:
        if int(command.get("type", 1)) == 1:
            walk(command["name"], list(command.get("options") or []))
    return sorted(out, key=lambda leaf: leaf.path)


@dataclass
class World:
    hs: Holdspace
    people: dict[str, Member]
    rooms: list[Channel]
    leaves: list[Leaf]


def text_values(max_size: int) -> st.SearchStrategy[str]:
    names = st.sampled_from(["Tuesday circle", "tuesday circle ", "90m", "2h", "18:00", "Europe/Berlin", "all"])
    long = st.integers(min_value=1, max_value=max_size).map(lambda n: "ẍ" * n)
    return st.one_of(names, st.text(max_size=min(40, max_size)), long).filter(lambda s: 0 < len(s) <= max_size)


def option_value(world: World, spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    guild = world.hs.guild
    kind = spec["type"]
    if spec.get("choices"):
        return st.sampled_from([c["value"] for c in spec["choices"]])
    if kind == STRING:
        top = int(spec.get("max_length") or 6000)
        bottom = int(spec.get("min_length") or 1)
        return text_values(top).filter(lambda s: len(s) >= bottom)
    if kind in (INTEGER, NUMBER):
        low = spec.get("min_value", -(2**53))
        high = spec.get("max_value", 2**53)
        return st.integers(min_value=int(low), max_value=int(high))
    if kind == BOOLEAN:
        return st.booleans()
    if kind == USER:
        return st.sampled_from(sorted(guild.members.values(), key=lambda m: m.id))
    if kind == ROLE:
        return st.sampled_from(sorted(guild.roles.values(), key=lambda r: r.id))
    if kind == MENTIONABLE:
        return st.one_of(option_value(world, {"type": USER}), option_value(world, {"type": ROLE}))
    if kind == CHANNEL:
        allowed = spec.get("channel_types")
        channels = [c for c in sorted(guild.channels, key=lambda c: c.id) if not allowed or c.type in allowed]
        return st.sampled_from(channels)
    raise AssertionError(f"an option type the fuzz does not know: {kind}")


def plain_value(world: World, spec: dict[str, Any]) -> Any:
    """An ordinary value for an option: the first choice, the group's name, the smallest number."""
    if spec.get("choices"):
        return spec["choices"][0]["value"]
    kind = spec["type"]
    if kind == STRING:
        return "Tuesday circle"
    if kind in (INTEGER, NUMBER):
        return max(1, int(spec.get("min_value", 1)))
    if kind == BOOLEAN:
        return True
    if kind in (USER, MENTIONABLE):
        return world.people["member"]
    if kind == ROLE:
        return world.hs.world.member_role
    if kind == CHANNEL:
        allowed = spec.get("channel_types")
        return next(c for c in world.hs.guild.channels if not allowed or c.type in allowed)
    raise AssertionError(f"an option type the fuzz does not know: {kind}")


def modal_inputs(modal: dict[str, Any]) -> Iterator[dict[str, Any]]:
    def walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for component in components:
            if component.get("type") == TEXT_INPUT:
                yield component
            yield from walk(component.get("components") or [])
            if isinstance(component.get("component"), dict):
                yield from walk([component["component"]])

    yield from walk(modal.get("components") or [])


async def answered(handle: InteractionHandle, what: str) -> InteractionHandle:
    try:
        await handle.response()
    except TimeoutError:
        raise AssertionError(f"holdspace did not answer {what}") from None
    return handle


async def build(hs: Holdspace) -> World:
    staff, _ = await started_with_group(hs, "Tuesday circle")
    guild = hs.guild
    bob = hs.member("bob")
    guild.set_member_roles(bob, [hs.world.member_role.id, staff.mod_role.id])
    alice = hs.member("alice")
    enrol = await hs.command(staff.facilitator, None, "group enroll", group="Tuesday circle", member=alice)
    enrolled = await final(enrol)
    assert "enrolled" in enrolled.lower() or "added" in enrolled.lower(), enrolled
    people = {"member": alice, "facilitator": staff.facilitator, "moderator": bob, "manager": hs.member("owner")}
    assert hs.bot is not None
    group = hs.bot.state.group_by_name(guild.id, "Tuesday circle")
    assert group is not None
    rooms = [guild.channel("general"), hs.sb.world.channels[group.text_channel_id]]
    found = leaves(hs.world.app.commands_for(guild.id))
    assert len(found) > 30, [leaf.path for leaf in found]
    return World(hs, people, rooms, found)


async def run_one(world: World, data: st.DataObject, leaf: Leaf) -> None:
    hs = world.hs
    who_kind = data.draw(st.sampled_from(PEOPLE), label="who")
    who = world.people[who_kind]
    # Every draw is the same whatever state earlier examples left behind (hypothesis replays them):
    # a room the person cannot see now falls back to the first one they can.
    wanted = world.rooms[data.draw(st.integers(0, len(world.rooms) - 1), label="room")]
    visible = [r for r in world.rooms if hs.guild.permissions_for(who, r) & P.VIEW_CHANNEL]
    room = wanted if wanted in visible else visible[0]
    values: dict[str, Any] = {}
    for spec in leaf.options:
        if spec.get("required") or data.draw(st.booleans(), label=f"give {spec['name']}"):
            values[spec["name"]] = data.draw(option_value(world, spec), label=spec["name"])
    what = f"/{leaf.path} by the {who_kind} with {sorted(values)}"
    handle = await answered(hs.sb.run_command(who, room, leaf.path, values), what)
    # A form's values are drawn whether or not a form shows (whether it does depends on state).
    drafts = [data.draw(text_values(4000), label=f"form field {n}") for n in range(MODAL_DRAFTS)]
    if handle.modal is not None:
        filled = {}
        for n, text_input in enumerate(modal_inputs(handle.modal)):
            top = int(text_input.get("max_length") or 4000)
            filled[text_input["custom_id"]] = drafts[n % MODAL_DRAFTS][:top]
        await answered(hs.sb.submit_modal(handle, filled), f"the form of {what}")
    typed = [spec for spec in leaf.options if spec.get("autocomplete")]
    if typed:
        spec = data.draw(st.sampled_from(typed), label="autocomplete")
        value = data.draw(st.text(max_size=100), label="typed")
        rest = {k: v for k, v in values.items() if k != spec["name"]}
        await answered(
            hs.sb.autocomplete(who, room, leaf.path, spec["name"], value, rest), f"autocomplete of {what}"
        )


@pytest.fixture
def tracebacks(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    assert not logged, [f"{r.name}: {r.getMessage()}" for r in logged]


async def test_every_command_once_for_every_kind_of_person(
    holdspace: Holdspace, tracebacks: pytest.LogCaptureFixture
) -> None:
    world = await build(holdspace)
    hs = world.hs
    for leaf in world.leaves:
        for kind, who in world.people.items():
            required = {spec["name"]: plain_value(world, spec) for spec in leaf.options if spec.get("required")}
            what = f"/{leaf.path} by the {kind}"
            handle = await answered(hs.sb.run_command(who, world.rooms[0], leaf.path, required), what)
            if handle.modal is not None:
                filled = {c["custom_id"]: "fine" for c in modal_inputs(handle.modal)}
                await answered(hs.sb.submit_modal(handle, filled), f"the form of {what}")
    await hs.settle()
    no_tracebacks(tracebacks)


_world: dict[int, World] = {}
#: How many form values each example draws (Discord forms hold at most five fields).
MODAL_DRAFTS = 5


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(data=st.data())
async def test_fuzzed_commands_are_all_answered_without_a_traceback(
    holdspace: Holdspace, tracebacks: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    # One running holdspace for all examples: what the examples did to it stays, as in real life.
    world = _world.get(id(holdspace))
    if world is None:
        world = _world[id(holdspace)] = await build(holdspace)
    leaf = data.draw(st.sampled_from(world.leaves), label="command")
    await run_one(world, data, leaf)
    no_tracebacks(tracebacks)


async def test_every_text_option_at_four_thousand_characters(
    holdspace: Holdspace, tracebacks: pytest.LogCaptureFixture
) -> None:
    world = await build(holdspace)
    hs = world.hs
    unanswered = []
    for leaf in world.leaves:
        for spec in leaf.options:
            if spec["type"] != STRING or spec.get("choices"):
                continue
            values = {s["name"]: plain_value(world, s) for s in leaf.options if s.get("required")}
            values[spec["name"]] = "ẍ" * min(4000, int(spec.get("max_length") or 4000))
            for kind in ("manager", "facilitator"):
                handle = hs.sb.run_command(world.people[kind], world.rooms[0], leaf.path, values)
                try:
                    await handle.response()
                except TimeoutError:
                    unanswered.append(f"/{leaf.path} {spec['name']} by the {kind}")
                    continue
                if handle.modal is None:
                    # Echoed values are shortened, and every reply stays under Discord's limit.
                    text = await final(handle)
                    messages = ([handle.message] if handle.message else []) + list(handle.followups)
                    assert all(len(m.content or "") <= 2000 for m in messages), f"/{leaf.path} {spec['name']}"
                    assert "ẍ" * 100 not in text, f"/{leaf.path} {spec['name']} echoed the whole value"
                if handle.modal is not None:
                    inputs = modal_inputs(handle.modal)
                    filled = {c["custom_id"]: "ẍ" * int(c.get("max_length") or 4000) for c in inputs}
                    submitted = hs.sb.submit_modal(handle, filled)
                    try:
                        await submitted.response()
                    except TimeoutError:
                        unanswered.append(f"the form of /{leaf.path} by the {kind}")
    assert not unanswered
    await hs.settle()
    no_tracebacks(tracebacks)
