"""Agreement history: every version's exact words stay readable, to facilitators and to the members
who agreed to them, and the export of agreements matches the hashes of the export of consents."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.agreement import split
from bot.crypto import KeyRing, generate_key, hash_text
from bot.sandbox.world import Member
from bot.storage import groups as group_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import Staff, agree, enroll, final, started_with_group

GROUP = "Tuesday circle"
V2 = "New ground rules: be kind.\n\n**Limits of confidentiality**\nOnly when the law requires it."


async def shown_version(
    hs: Holdspace, who: Member, command: str, parts: int, **options: object
) -> tuple[str, list[str], str]:
    """(the intro line, each embed's text, the last footer) of an agreement shown by ``command``."""
    handle = await hs.command(who, None, command, group=GROUP, **options)
    await handle.response()
    await handle.wait_followups(parts)
    assert handle.ephemeral and all(m.flags & 64 for m in handle.followups)
    descriptions = [str(e["description"]) for m in handle.followups for e in m.embeds]
    footer = str(handle.followups[-1].embeds[-1]["footer"]["text"])
    return handle.content or "", descriptions, footer


async def edit_to(hs: Holdspace, staff: Staff, text: str) -> str:
    edit = await hs.command(staff.facilitator, None, "group agreement edit", group=GROUP)
    assert edit.modal is not None
    return await final(hs.sb.submit_modal(edit, {"part1": text, "part2": "", "part3": ""}))


async def test_an_earlier_version_is_shown_word_for_word_and_exported(
    holdspace: Holdspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hs = holdspace
    key = generate_key()
    hs.ring = KeyRing.parse(key)
    staff, group = await started_with_group(hs, GROUP)
    assert hs.bot is not None
    v1 = await group_store.get_agreement(hs.bot.db, hs.ring, group.id, 1)
    assert v1 is not None
    alice = hs.member("alice")
    await enroll(hs, staff, GROUP, alice)
    assert "version 1" in await agree(hs, alice, GROUP)

    saved = await edit_to(hs, staff, V2)
    assert "version 2" in saved and "Warning" not in saved
    assert hs.bot.state.groups[group.id].agreement_version == 2

    # the facilitator reads version 1 exactly as it was stored, and version 2 as current
    v1_parts = len(split(v1.text))
    intro, parts, footer = await shown_version(hs, staff.facilitator, "group agreement show", v1_parts, version=1)
    assert parts == split(v1.text)
    assert "when a court orders disclosure, or the law otherwise requires it." in "\n".join(parts)
    assert "Version 1" in intro and "an earlier version" in intro
    assert footer.startswith(f"Version 1 · SHA-256 {v1.sha256[:16]}")
    intro, parts, _ = await shown_version(hs, staff.facilitator, "group agreement show", 1)
    assert parts == [V2] and "the current version" in intro
    missing = await final(await hs.command(staff.facilitator, None, "group agreement show", group=GROUP, version=7))
    assert "no agreement version 7" in missing and "1 to 2" in missing

    # alice reads the version she agreed to, not the newer one, and no other
    intro, parts, _ = await shown_version(hs, alice, "consent agreement", v1_parts)
    assert parts == split(v1.text) and "Version 1" in intro
    refused = await final(await hs.command(alice, None, "consent agreement", group=GROUP, version=2))
    assert "You agreed to version 1" in refused
    bob = hs.member("bob")
    await enroll(hs, staff, GROUP, bob)
    never = await final(await hs.command(bob, None, "consent agreement", group=GROUP))
    assert "have not agreed" in never and "/consent give" in never

    # an edit that drops the limits of confidentiality is saved, with a warning
    dropped = await edit_to(hs, staff, "Only be kind.")
    assert "version 3" in dropped and "Warning" in dropped and "Limits of confidentiality" in dropped

    # the exports: every version's full text, and the consent's hash names the version agreed to
    await hs.stop()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOLDSPACE_CONFIG", raising=False)
    monkeypatch.setenv("HOLDSPACE_KEY", key)
    (tmp_path / "config.toml").write_text(f'[bot]\ndatabase = "{hs.settings.database}"\n', encoding="utf-8")
    guild = str(hs.guild.id)
    for what in ("agreements", "consents"):
        out = tmp_path / f"{what}.json"
        argv = ["export", what, "--guild", guild, "--format", "json", "--output", str(out)]
        assert await asyncio.to_thread(main, argv) == 0
    agreements = json.loads((tmp_path / "agreements.json").read_text())["agreements"]
    consents = json.loads((tmp_path / "consents.json").read_text())["consents"]
    assert [(a["version"], a["current"]) for a in agreements] == [(1, False), (2, False), (3, True)]
    assert agreements[0]["text"] == v1.text and agreements[1]["text"] == V2
    assert all(hash_text(a["text"]) == a["sha256"] for a in agreements)
    assert agreements[0]["replaced_at"] == agreements[1]["created_at"] and agreements[2]["replaced_at"] is None
    by_hash = {a["sha256"]: a for a in agreements}
    agreed = [c for c in consents if c["answer"] == "agree"]
    assert agreed and all(by_hash[c["sha256"]]["version"] == c["version"] for c in agreed)
    assert await asyncio.to_thread(main, ["export", "agreements", "--guild", guild, "--format", "csv"]) == 0
