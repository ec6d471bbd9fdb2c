"""The sandbox decides who may use an application command as Discord does: default member permissions
until an admin sets overrides, command overrides before application overrides, user before role
before @everyone, channel overrides shutting a command out of a room; and it serves the overrides."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox import Sandbox, SandboxRefused
from bot.sandbox import permissions as P
from tests.conftest import StandardWorld, build_standard_world


@pytest.fixture
def world(sandbox: Sandbox) -> StandardWorld:
    w = build_standard_world(sandbox)
    # Two synced commands, as a bot's PUT would leave them: /staff needs Manage Server, /open nothing.
    w.app.global_commands = [
        command(sandbox, w, "staff", str(P.MANAGE_GUILD)),
        command(sandbox, w, "open", None),
        command(sandbox, w, "admins", "0"),
    ]
    return w


def command(sb: Sandbox, w: StandardWorld, name: str, default: str | None) -> dict[str, Any]:
    return {"id": str(sb.world.new_id()), "application_id": str(w.app.id), "version": "1", "type": 1,
            "name": name, "description": name, "default_member_permissions": default, "options": []}


def may(sb: Sandbox, w: StandardWorld, who: str, name: str, channel: Any = None) -> bool:
    try:
        sb.run_command(w.members[who], channel or w.guild.channels[0], name, app=w.app)
    except SandboxRefused:
        return False
    return True


async def test_default_member_permissions_hide_a_command_from_people_without_them(
    sandbox: Sandbox, world: StandardWorld
) -> None:
    world.guild.create_text_channel("general")
    assert may(sandbox, world, "alice", "open")
    assert not may(sandbox, world, "alice", "staff")
    assert not may(sandbox, world, "alice", "admins")
    assert may(sandbox, world, "owner", "staff") and may(sandbox, world, "owner", "admins")
    managers = world.guild.create_role("Managers", P.MANAGE_GUILD)
    bob = world.members["bob"]
    world.guild.set_member_roles(bob, [*bob.role_ids, managers.id])
    assert may(sandbox, world, "bob", "staff")
    assert not may(sandbox, world, "bob", "admins"), "0 means administrators only"


async def test_overrides_open_and_close_commands_as_discord_orders_them(
    sandbox: Sandbox, world: StandardWorld
) -> None:
    general = world.guild.create_text_channel("general")
    staff_role = world.guild.create_role("Staff", 0)
    alice = world.members["alice"]
    world.guild.set_member_roles(alice, [*alice.role_ids, staff_role.id])
    sandbox.set_command_permissions(world.guild, "staff", app=world.app, roles={staff_role: True})
    assert may(sandbox, world, "alice", "staff", general) and not may(sandbox, world, "bob", "staff", general)
    # A user override beats the role's.
    sandbox.set_command_permissions(
        world.guild, "staff", app=world.app, roles={staff_role: True}, users={world.members["alice"]: False}
    )
    assert not may(sandbox, world, "alice", "staff", general)
    # The application-level @everyone override opens every command without its own override...
    sandbox.set_command_permissions(world.guild, None, app=world.app, everyone=True)
    assert may(sandbox, world, "bob", "admins", general)
    # ...but a command's own override comes first.
    assert not may(sandbox, world, "alice", "staff", general)
    # A channel override shuts the command out of that room, for everyone but administrators.
    quiet = world.guild.create_text_channel("quiet")
    sandbox.set_command_permissions(world.guild, "open", app=world.app, channels={quiet: False})
    assert not may(sandbox, world, "bob", "open", quiet) and may(sandbox, world, "bob", "open", general)
    assert may(sandbox, world, "owner", "open", quiet)
    # Nothing given clears a command's overrides: back to the application's.
    sandbox.set_command_permissions(world.guild, "staff", app=world.app)
    assert may(sandbox, world, "alice", "staff", general)


async def test_the_permissions_routes_return_what_the_admin_set(sandbox: Sandbox, world: StandardWorld) -> None:
    staff_role = world.guild.create_role("Staff", 0)
    sandbox.set_command_permissions(world.guild, "staff", app=world.app, roles={staff_role: True})
    sandbox.set_command_permissions(world.guild, None, app=world.app, everyone=False)
    base = f"/applications/{world.app.id}/guilds/{world.guild.id}/commands"
    status, body, _ = await sandbox.api("GET", f"{base}/permissions", token=world.token)
    assert status == 200
    by_id = {entry["id"]: entry for entry in body}
    staff_id = world.app.global_commands[0]["id"]
    assert by_id[staff_id]["permissions"] == [{"id": str(staff_role.id), "type": 1, "permission": True}]
    assert by_id[str(world.app.id)]["permissions"] == [{"id": str(world.guild.id), "type": 1, "permission": False}]
    status, body, _ = await sandbox.api("GET", f"{base}/{staff_id}/permissions", token=world.token)
    assert status == 200 and body["guild_id"] == str(world.guild.id)
    open_id = world.app.global_commands[1]["id"]
    status, body, _ = await sandbox.api("GET", f"{base}/{open_id}/permissions", token=world.token)
    assert status == 404 and body["code"] == 10066
