"""Shared fixtures: a fake clock, a started sandbox (spec violations fail the test) and a world."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import settings

from bot.clock import FakeClock
from bot.sandbox import Application, Guild, Member, Role, Sandbox, User, permissions

# Hypothesis fails an example that takes longer than 200 ms by default: a slow or busy machine would
# fail a correct test. No test depends on the machine's speed; speed is a benchmark's question.
settings.register_profile("holdspace", deadline=None)
settings.load_profile("holdspace")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[Sandbox]:
    async with Sandbox(clock=clock) as sb:
        yield sb
        assert not sb.spec_violations, "Discord OpenAPI mismatches:\n" + "\n".join(sb.spec_violations)
        assert not sb.unserved_requests, "routes the sandbox does not serve: " + ", ".join(
            f"{r.method} {r.path}" for r in sb.unserved_requests)


@dataclass
class StandardWorld:
    """A guild with its owner, three people, a member role, and an application for the bot."""

    sb: Sandbox
    guild: Guild
    owner: User
    alice: User
    bob: User
    carol: User
    members: dict[str, Member]
    member_role: Role
    app: Application

    @property
    def token(self) -> str:
        return self.app.token


def build_standard_world(sb: Sandbox, *, bot_permissions: int | None = None, add_bot: bool = True,
                         intents_enabled: int = 0) -> StandardWorld:
    """Build the standard world in ``sb``; ``bot_permissions`` default: a sensible moderation set."""
    owner = sb.create_user("owner")
    guild = sb.create_guild("Practice", owner=owner)
    member_role = guild.create_role("Member", 0)
    alice, bob, carol = sb.create_user("alice"), sb.create_user("bob"), sb.create_user("carol")
    members = {u.username: guild.add_member(u, roles=[member_role]) for u in (alice, bob, carol)}
    members["owner"] = guild.members[owner.id]
    app = sb.create_application("holdspace", owner=owner, intents_enabled=intents_enabled)
    if bot_permissions is None:
        bot_permissions = (
            permissions.VIEW_CHANNEL | permissions.SEND_MESSAGES | permissions.MANAGE_MESSAGES
            | permissions.READ_MESSAGE_HISTORY | permissions.MANAGE_CHANNELS | permissions.MANAGE_ROLES
            | permissions.MOVE_MEMBERS | permissions.CONNECT | permissions.EMBED_LINKS
            | permissions.VIEW_AUDIT_LOG | permissions.KICK_MEMBERS
        )
    if add_bot:
        guild.add_bot(app, permissions=bot_permissions)
    return StandardWorld(sb, guild, owner, alice, bob, carol, members, member_role, app)


@pytest.fixture
def world(sandbox: Sandbox) -> StandardWorld:
    return build_standard_world(sandbox)
