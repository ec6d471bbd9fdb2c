"""REST rules: bulk delete, permissions on requests, members, roles, overwrites, DMs, audit log."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.sandbox import Overwrite, Sandbox
from bot.sandbox import permissions as P
from tests.conftest import StandardWorld, build_standard_world


async def test_json_content_type_is_exact(sandbox: Sandbox, world: StandardWorld) -> None:
    status, body, headers = await sandbox.api("GET", "/users/@me", token=world.token)
    assert status == 200 and body["id"] == str(world.app.bot.id)
    assert headers["Content-Type"] == "application/json"
    assert "X-RateLimit-Bucket" in headers and "X-RateLimit-Reset-After" in headers


async def test_bad_token_is_401(sandbox: Sandbox, world: StandardWorld) -> None:
    status, body, _ = await sandbox.api("GET", "/users/@me", token="nope")
    assert status == 401 and body["code"] == 0


async def test_unknown_things(sandbox: Sandbox, world: StandardWorld) -> None:
    t = world.token
    assert (await sandbox.api("GET", "/channels/1", token=t))[1]["code"] == 10003
    ch = world.guild.create_text_channel("general")
    assert (await sandbox.api("GET", f"/channels/{ch.id}/messages/1", token=t))[1]["code"] == 10008
    assert (await sandbox.api("GET", f"/guilds/{world.guild.id}/members/{world.app.owner.id + 999}",
                              token=t))[1]["code"] == 10013
    stranger = sandbox.create_user("stranger")
    assert (await sandbox.api("GET", f"/guilds/{world.guild.id}/members/{stranger.id}", token=t))[1]["code"] \
        == 10007
    assert (await sandbox.api("PUT", f"/guilds/{world.guild.id}/members/{world.alice.id}/roles/5",
                              token=t))[1]["code"] == 10011
    assert (await sandbox.api("GET", "/users/5", token=t))[1]["code"] == 10013


async def test_post_history_and_delete(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    msgs = sandbox.post_many(ch, world.alice, 30)
    status, page, _ = await sandbox.api("GET", f"/channels/{ch.id}/messages", token=world.token,
                                        params={"limit": "10"})
    assert status == 200 and [m["id"] for m in page] == [str(m.id) for m in reversed(msgs[-10:])]
    _, before, _ = await sandbox.api("GET", f"/channels/{ch.id}/messages", token=world.token,
                                     params={"limit": "5", "before": str(msgs[10].id)})
    assert [m["id"] for m in before] == [str(m.id) for m in reversed(msgs[5:10])]
    _, after, _ = await sandbox.api("GET", f"/channels/{ch.id}/messages", token=world.token,
                                    params={"limit": "5", "after": str(msgs[10].id)})
    assert [m["id"] for m in after] == [str(m.id) for m in reversed(msgs[11:16])]
    _, around, _ = await sandbox.api("GET", f"/channels/{ch.id}/messages", token=world.token,
                                     params={"limit": "4", "around": str(msgs[10].id)})
    assert [m["id"] for m in around] == [str(m.id) for m in reversed(msgs[8:12])]
    assert (await sandbox.api("GET", f"/channels/{ch.id}/messages", token=world.token,
                              params={"limit": "101"}))[1]["code"] == 50035
    status, _, _ = await sandbox.api("DELETE", f"/channels/{ch.id}/messages/{msgs[0].id}", token=world.token)
    assert status == 204 and msgs[0] not in ch.messages and len(ch.messages) == 29
    assert sandbox.events[-1].name == "MESSAGE_DELETE"
    status, sent, _ = await sandbox.api("POST", f"/channels/{ch.id}/messages", token=world.token,
                                        json_body={"content": "hello", "embeds": [{"title": "t"}]})
    assert status == 200 and sent["content"] == "hello" and ch.messages[-1].author is world.app.bot
    assert (await sandbox.api("POST", f"/channels/{ch.id}/messages", token=world.token,
                              json_body={"content": ""}))[1]["code"] == 50006


async def test_posting_many_messages(sandbox: Sandbox, world: StandardWorld) -> None:
    # How fast is a benchmark's question: no test depends on the machine's speed.
    ch = world.guild.create_text_channel("general")
    posted = sandbox.post_many(ch, world.alice, 300)
    assert ch.messages == posted and len({m.id for m in posted}) == 300


async def test_bulk_delete_rules(sandbox: Sandbox, world: StandardWorld, clock: FakeClock) -> None:
    ch = world.guild.create_text_channel("general")
    old = sandbox.post(ch, world.alice, "old", at=clock.now() - timedelta(days=20))
    fresh = sandbox.post_many(ch, world.alice, 5)
    path = f"/channels/{ch.id}/messages/bulk-delete"

    async def bulk(ids: list[int]) -> tuple[int, object]:
        status, body, _ = await sandbox.api("POST", path, token=world.token,
                                            json_body={"messages": [str(i) for i in ids]})
        return status, body

    assert (await bulk([fresh[0].id]))[1]["code"] == 50035  # type: ignore[index]
    assert (await bulk([fresh[0].id] * 2))[1]["code"] == 50035  # type: ignore[index]
    assert (await bulk([m.id for m in fresh] * 21))[1]["code"] == 50035  # type: ignore[index]
    assert (await bulk([fresh[0].id, old.id]))[1]["code"] == 50034  # type: ignore[index]
    assert len(ch.messages) == 6  # nothing deleted by refused requests
    # the malformed bodies were also caught by the OpenAPI check
    assert len(sandbox.spec_violations) >= 3 and all("bulk-delete" in v for v in sandbox.spec_violations)
    sandbox.spec_violations.clear()
    unknown_id = fresh[-1].id + 12345
    assert (await bulk([fresh[0].id, fresh[1].id, unknown_id]))[0] == 204
    assert [m.id for m in ch.messages] == [old.id] + [m.id for m in fresh[2:]]
    bulk_events = [e for e in sandbox.events if e.name == "MESSAGE_DELETE_BULK"]
    assert len(bulk_events) == 1 and set(bulk_events[0].data["ids"]) == {str(fresh[0].id), str(fresh[1].id)}
    assert sandbox.requests_matching("POST", "/channels/{channel_id}/messages/bulk-delete", status=204)
    # the old one goes one by one
    assert (await sandbox.api("DELETE", f"/channels/{ch.id}/messages/{old.id}", token=world.token))[0] == 204


async def test_bulk_delete_needs_manage_messages(sandbox: Sandbox) -> None:
    w = build_standard_world(sandbox, bot_permissions=P.VIEW_CHANNEL | P.SEND_MESSAGES)
    ch = w.guild.create_text_channel("general")
    msgs = sandbox.post_many(ch, w.alice, 3)
    status, body, _ = await sandbox.api("POST", f"/channels/{ch.id}/messages/bulk-delete", token=w.token,
                                        json_body={"messages": [str(m.id) for m in msgs]})
    assert status == 403 and body["code"] == 50013
    status, body, _ = await sandbox.api("DELETE", f"/channels/{ch.id}/messages/{msgs[0].id}", token=w.token)
    assert status == 403 and body["code"] == 50013


async def test_hidden_channel_is_missing_access(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    secret = g.create_text_channel("secret")
    g.set_overwrite(secret, g.everyone, deny=P.VIEW_CHANNEL)
    status, body, _ = await sandbox.api("POST", f"/channels/{secret.id}/messages", token=world.token,
                                        json_body={"content": "hi"})
    assert status == 403 and body["code"] == 50001


async def test_overwrites_need_manage_roles_and_held_permissions(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    room = g.create_voice_channel("Room")
    path = f"/channels/{room.id}/permissions/{world.alice.id}"
    status, _, _ = await sandbox.api("PUT", path, token=world.token,
                                     json_body={"allow": str(P.CONNECT | P.VIEW_CHANNEL), "deny": "0", "type": 1})
    assert status == 204 and room.overwrites[world.alice.id].allow == P.CONNECT | P.VIEW_CHANNEL
    assert sandbox.events[-1].name == "CHANNEL_UPDATE"
    # the bot lacks BAN_MEMBERS, so it cannot grant it
    status, body, _ = await sandbox.api("PUT", path, token=world.token,
                                        json_body={"allow": str(P.BAN_MEMBERS), "deny": "0", "type": 1})
    assert status == 403 and body["code"] == 50013
    status, _, _ = await sandbox.api("DELETE", path, token=world.token)
    assert status == 204 and world.alice.id not in room.overwrites

    plain = build_standard_world(sandbox, bot_permissions=P.VIEW_CHANNEL | P.SEND_MESSAGES)
    room2 = plain.guild.create_voice_channel("Room")
    status, body, _ = await sandbox.api("PUT", f"/channels/{room2.id}/permissions/{plain.alice.id}",
                                        token=plain.token, json_body={"allow": "0", "deny": "1024", "type": 1})
    assert status == 403 and body["code"] == 50013


async def test_create_channels_with_overwrites(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    path = f"/guilds/{g.id}/channels"
    status, cat, _ = await sandbox.api("POST", path, token=world.token, json_body={"name": "Group", "type": 4})
    assert status == 201
    status, voice, _ = await sandbox.api("POST", path, token=world.token, json_body={
        "name": "room", "type": 2, "parent_id": cat["id"],
        "permission_overwrites": [{"id": str(g.id), "type": 0, "allow": "0", "deny": str(P.VIEW_CHANNEL)},
                                  {"id": str(world.app.bot.id), "type": 1, "allow": str(P.VIEW_CHANNEL),
                                   "deny": "0"}]})
    assert status == 201 and voice["parent_id"] == cat["id"]
    ch = sandbox.world.channels[int(voice["id"])]
    assert ch.is_voice and ch.overwrites[g.id].deny == P.VIEW_CHANNEL
    hidden = world.guild.create_text_channel("hidden", overwrites=[
        Overwrite(g.id, 0, 0, P.VIEW_CHANNEL)])
    status, body, _ = await sandbox.api("PATCH", f"/channels/{hidden.id}", token=world.token,
                                        json_body={"name": "x"})
    assert status == 403 and body["code"] == 50001
    status, _, _ = await sandbox.api("PATCH", f"/channels/{ch.id}", token=world.token, json_body={"name": "r2"})
    assert status == 200 and ch.name == "r2"
    status, _, _ = await sandbox.api("DELETE", f"/channels/{ch.id}", token=world.token)
    assert status == 200 and ch.id not in sandbox.world.channels


async def test_people_are_refused_by_permissions(sandbox: Sandbox, world: StandardWorld) -> None:
    import pytest

    from bot.sandbox import SandboxRefused

    g = world.guild
    room = g.create_voice_channel("Room")
    g.set_overwrite(room, g.everyone, deny=P.CONNECT)
    with pytest.raises(SandboxRefused):
        g.join_voice(world.members["alice"], room)
    g.set_overwrite(room, world.members["alice"], allow=P.CONNECT)
    g.join_voice(world.members["alice"], room)
    assert g.voice_channel_of(world.alice) is room
    text = g.create_text_channel("hidden")
    g.set_overwrite(text, g.everyone, deny=P.VIEW_CHANNEL)
    with pytest.raises(SandboxRefused):
        sandbox.post(text, world.bob, "hi")
    # voice channels have their own text chat
    assert sandbox.post(room, world.alice, "in voice chat") in room.messages


async def test_members_roles_hierarchy_and_voice(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    room = g.create_voice_channel("Room")
    g.join_voice(world.bob, room)
    t = world.token
    mpath = f"/guilds/{g.id}/members/{world.bob.id}"
    status, body, _ = await sandbox.api("PATCH", mpath, token=t, json_body={"channel_id": None})
    assert status == 200 and g.voice_channel_of(world.bob) is None
    status, body, _ = await sandbox.api("PATCH", mpath, token=t, json_body={"channel_id": None})
    assert status == 400 and body["code"] == 40032
    # owner is above the bot
    status, body, _ = await sandbox.api("DELETE", f"/guilds/{g.id}/members/{world.owner.id}", token=t)
    assert status == 403 and body["code"] == 50013
    # a role above the bot's cannot be given
    high = g.create_role("High", 0)
    status, body, _ = await sandbox.api("PUT", f"{mpath}/roles/{high.id}", token=t)
    assert status == 403 and body["code"] == 50013
    status, role, _ = await sandbox.api("POST", f"/guilds/{g.id}/roles", token=t,
                                        json_body={"name": "Consented", "permissions": "0"})
    assert status == 200
    status, _, _ = await sandbox.api("PUT", f"{mpath}/roles/{role['id']}", token=t)
    assert status == 204 and int(role["id"]) in g.members[world.bob.id].role_ids
    assert sandbox.events[-1].name == "GUILD_MEMBER_UPDATE"
    status, _, _ = await sandbox.api("DELETE", f"{mpath}/roles/{role['id']}", token=t)
    assert status == 204 and int(role["id"]) not in g.members[world.bob.id].role_ids
    status, _, _ = await sandbox.api("PATCH", f"/guilds/{g.id}/roles/{role['id']}", token=t,
                                     json_body={"name": "Renamed"})
    assert status == 200 and g.roles[int(role["id"])].name == "Renamed"
    status, _, _ = await sandbox.api("DELETE", f"/guilds/{g.id}/roles/{role['id']}", token=t)
    assert status == 204 and int(role["id"]) not in g.roles
    status, _, _ = await sandbox.api("DELETE", mpath, token=t)
    assert status == 204 and world.bob.id not in g.members
    assert sandbox.events[-1].name == "GUILD_MEMBER_REMOVE"


async def test_dms_open_and_closed(sandbox: Sandbox, world: StandardWorld) -> None:
    status, dm, _ = await sandbox.api("POST", "/users/@me/channels", token=world.token,
                                      json_body={"recipient_id": str(world.alice.id)})
    assert status == 200 and dm["type"] == 1
    status, _, _ = await sandbox.api("POST", f"/channels/{dm['id']}/messages", token=world.token,
                                     json_body={"content": "please consent"})
    assert status == 200 and [m.content for m in world.alice.dms] == ["please consent"]
    world.alice.close_dms()
    status, body, _ = await sandbox.api("POST", f"/channels/{dm['id']}/messages", token=world.token,
                                        json_body={"content": "again"})
    assert status == 403 and body["code"] == 50007


async def test_pins_both_routes(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    m = sandbox.post(ch, world.alice, "rules")
    t = world.token
    assert (await sandbox.api("PUT", f"/channels/{ch.id}/messages/pins/{m.id}", token=t))[0] == 204
    assert m.pinned
    _, pins, _ = await sandbox.api("GET", f"/channels/{ch.id}/messages/pins", token=t)
    assert pins["items"][0]["message"]["id"] == str(m.id)
    _, old_pins, _ = await sandbox.api("GET", f"/channels/{ch.id}/pins", token=t)
    assert old_pins[0]["id"] == str(m.id)
    assert (await sandbox.api("DELETE", f"/channels/{ch.id}/pins/{m.id}", token=t))[0] == 204
    assert not m.pinned


async def test_audit_log_names_who_added_a_bot(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    recorder = sandbox.create_application("Craig")
    g.add_bot(recorder, permissions=P.CONNECT | P.VIEW_CHANNEL, by=world.owner)
    status, log, _ = await sandbox.api("GET", f"/guilds/{g.id}/audit-logs", token=world.token,
                                       params={"action_type": "28"})
    assert status == 200
    entry = log["audit_log_entries"][0]
    assert entry["target_id"] == str(recorder.bot.id) and entry["user_id"] == str(world.owner.id)
    managed = [r for r in g.roles.values() if r.managed and r.bot_id == recorder.bot.id]
    assert len(managed) == 1


async def test_read_routes_answer_as_the_description_says(sandbox: Sandbox) -> None:
    import discord

    w = build_standard_world(sandbox, intents_enabled=discord.Intents(members=True).value)
    g, t = w.guild, w.token
    cat = g.create_category("Group")
    text = g.create_text_channel("general", category=cat, topic="rules")
    room = g.create_voice_channel("Room", category=cat)
    thread = g.create_thread(text, "side talk")
    g.join_voice(w.alice, room)
    msg = sandbox.post(thread, w.alice, "in a thread")
    sandbox.post(room, w.bob, "in voice chat")
    for path, params in [
        ("/gateway", None), ("/gateway/bot", None), ("/users/@me", None), (f"/users/{w.alice.id}", None),
        ("/oauth2/applications/@me", None), (f"/guilds/{g.id}", {"with_counts": "true"}),
        (f"/guilds/{g.id}/channels", None), (f"/guilds/{g.id}/roles", None),
        (f"/guilds/{g.id}/roles/{w.member_role.id}", None),
        (f"/guilds/{g.id}/members", {"limit": "100"}), (f"/guilds/{g.id}/members/{w.alice.id}", None),
        (f"/channels/{text.id}", None), (f"/channels/{room.id}", None), (f"/channels/{thread.id}", None),
        (f"/channels/{cat.id}", None), (f"/channels/{thread.id}/messages", None),
        (f"/channels/{room.id}/messages", None), (f"/channels/{thread.id}/messages/{msg.id}", None),
        (f"/applications/{w.app.id}/commands", None), (f"/applications/{w.app.id}/guilds/{g.id}/commands", None),
        (f"/guilds/{g.id}/audit-logs", None), ("/users/@me/guilds", None),
    ]:
        status, body, _ = await sandbox.api("GET", path, token=w.token, params=params)
        assert status == 200, (path, body)
    assert len((await sandbox.api("GET", f"/guilds/{g.id}/members", token=t, params={"limit": "100"}))[1]) \
        == len(g.members)
    # the bot writes into a thread and a voice channel's chat
    for ch in (thread, room):
        status, _, _ = await sandbox.api("POST", f"/channels/{ch.id}/messages", token=t,
                                         json_body={"content": "from the bot"})
        assert status == 200 and ch.messages[-1].author is w.app.bot
    status, edited, _ = await sandbox.api("PATCH", f"/channels/{room.id}/messages/{room.messages[-1].id}",
                                          token=t, json_body={"content": "edited"})
    assert status == 200 and edited["content"] == "edited" and edited["edited_timestamp"]
    status, body, _ = await sandbox.api("PATCH", f"/channels/{thread.id}/messages/{msg.id}", token=t,
                                        json_body={"content": "not mine"})
    assert status == 403 and body["code"] == 50005
    # global commands
    status, cmds, _ = await sandbox.api("PUT", f"/applications/{w.app.id}/commands", token=t,
                                        json_body=[{"name": "ping", "description": "Ping", "type": 1}])
    assert status == 200 and cmds[0]["application_id"] == str(w.app.id)


async def test_command_sync_validates_names_and_descriptions(sandbox: Sandbox, world: StandardWorld) -> None:
    path = f"/applications/{world.app.id}/guilds/{world.guild.id}/commands"
    status, body, _ = await sandbox.api("PUT", path, token=world.token,
                                        json_body=[{"name": "Bad Name", "description": "x", "type": 1}])
    assert status == 400 and body["code"] == 50035
    status, body, _ = await sandbox.api("PUT", path, token=world.token,
                                        json_body=[{"name": "ok", "description": "x" * 101, "type": 1}])
    assert status == 400 and body["code"] == 50035
    sandbox.spec_violations.clear()  # the description catches these bodies too
    status, first, _ = await sandbox.api("PUT", path, token=world.token,
                                         json_body=[{"name": "ok", "description": "fine", "type": 1}])
    status, again, _ = await sandbox.api("PUT", path, token=world.token,
                                         json_body=[{"name": "ok", "description": "changed", "type": 1}])
    assert status == 200 and first[0]["id"] == again[0]["id"]  # ids survive a re-sync


async def test_invalid_json_and_multipart(sandbox: Sandbox, world: StandardWorld) -> None:
    import aiohttp

    ch = world.guild.create_text_channel("general")
    url = f"{sandbox.api_base}/channels/{ch.id}/messages"
    headers = {"Authorization": f"Bot {world.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=b"{not json", headers=headers | {"Content-Type": "application/json"}
                                ) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 50109
        form = aiohttp.FormData()
        form.add_field("payload_json", '{"content": "with a file"}', content_type="application/json")
        form.add_field("files[0]", b"hello", filename="a.txt")
        async with session.post(url, data=form, headers=headers) as resp:
            assert resp.status == 200
    assert ch.messages[-1].content == "with a file"


async def test_overwrite_changes_are_audited(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    room = g.create_voice_channel("Room")
    g.set_overwrite(room, g.everyone, allow=P.VIEW_CHANNEL, by=world.members["alice"])
    status, _, _ = await sandbox.api("PUT", f"/channels/{room.id}/permissions/{g.id}", token=world.token,
                                     json_body={"allow": "0", "deny": str(P.VIEW_CHANNEL), "type": 0})
    assert status == 204
    kinds = [(e.action_type, e.user_id, e.target_id) for e in g.audit_log if e.target_id == room.id]
    assert kinds == [(13, world.alice.id, room.id), (14, world.app.bot.id, room.id)]


async def test_people_mentioning_the_bot(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    msg = sandbox.post(ch, world.alice, f"hello <@{world.app.bot.id}>")
    assert msg.mentions == [world.app.bot]


async def test_a_voice_room_the_bot_cannot_connect_to_is_refused_to_it(sandbox: Sandbox, world: StandardWorld) -> None:
    """Without Connect on a voice room the bot loses the voice permissions there, Move Members
    included, and Manage Channels and Manage Roles with them: Discord answers 403 (50013)."""
    g, t = world.guild, world.token
    voice, text = g.create_voice_channel("Room"), g.create_text_channel("room")
    g.join_voice(world.bob, voice)
    me = g.bot_member(world.app)
    assert me is not None
    for room in (voice, text):
        g.set_overwrite(room, me, deny=P.CONNECT)
    for room in (voice, text):
        status, body, _ = await sandbox.api("PUT", f"/channels/{room.id}/permissions/{world.alice.id}", token=t,
                                            json_body={"allow": str(P.VIEW_CHANNEL), "deny": "0", "type": 1})
        assert (status, body and body.get("code")) == ((403, 50013) if room is voice else (204, None))
    status, body, _ = await sandbox.api("DELETE", f"/channels/{voice.id}/permissions/{world.bob.id}", token=t)
    assert status == 403 and body["code"] == 50013
    status, body, _ = await sandbox.api("PATCH", f"/channels/{voice.id}", token=t, json_body={"name": "renamed"})
    assert status == 403 and body["code"] == 50013
    status, body, _ = await sandbox.api("PATCH", f"/guilds/{g.id}/members/{world.bob.id}", token=t,
                                        json_body={"channel_id": None})
    assert status == 403 and body["code"] == 50013 and g.voice_channel_of(world.bob) is voice
    g.set_overwrite(voice, me, allow=P.CONNECT)  # Connect back: everything works again
    status, _, _ = await sandbox.api("PATCH", f"/guilds/{g.id}/members/{world.bob.id}", token=t,
                                     json_body={"channel_id": None})
    assert status == 200 and g.voice_channel_of(world.bob) is None


async def test_roles_at_one_position_rank_by_age(sandbox: Sandbox, world: StandardWorld) -> None:
    """Two roles at one position: the older (smaller id) is above, as on Discord."""
    g, t = world.guild, world.token
    me = g.bot_member(world.app)
    assert me is not None
    own = me.roles[0]
    older = g.update_role(world.member_role, position=own.position)  # created before the bot's role
    newer = g.create_role("Newer", 0, position=own.position)
    assert older.id < own.id < newer.id
    path = f"/guilds/{g.id}/members/{world.bob.id}/roles"
    status, body, _ = await sandbox.api("PUT", f"{path}/{older.id}", token=t)
    assert status == 403 and body["code"] == 50013
    status, _, _ = await sandbox.api("PUT", f"{path}/{newer.id}", token=t)
    assert status == 204 and newer.id in g.members[world.bob.id].role_ids
