"""The holdspace bot: wiring only. Resources are created outside and passed in."""

from __future__ import annotations

import hashlib
import json
import logging
import pkgutil
from pathlib import Path
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

import cogs
from bot.clock import Clock
from bot.config import Settings
from bot.crypto import KeyRing
from bot.i18n import catalogues
from bot.i18n.translator import HoldspaceTranslator
from bot.scheduler import Scheduler
from bot.services.access import AccessService
from bot.services.access_order import AccessOrder
from bot.services.audit import AuditLog
from bot.services.cases import CaseService
from bot.services.departures import Departures
from bot.services.discord_clock import DiscordClock
from bot.services.enforcement import Enforcement
from bot.services.expiry import ExpiryService
from bot.services.facilitator_roles import FacilitatorRoles
from bot.services.features import ConsentGate, SessionCalendar
from bot.services.gateway_hooks import GatewayHooks
from bot.services.member_data import MemberData
from bot.services.outbox import Outbox
from bot.state import State
from bot.storage import meta
from bot.storage.db import Database
from bot.ui.locale import enter
from bot.ui.panels import ExpiredPanel
from bot.ui.privacy_views import ErasureFlow
from bot.ui.replies import reply_error

log = logging.getLogger(__name__)

COMMAND_HASH_KEY = "command_set_hash"


def holdspace_intents() -> discord.Intents:
    """Guilds, members, voice states and guild messages (for expiry); never message content."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True
    intents.voice_states = True
    intents.guild_messages = True
    intents.message_content = False
    return intents


def discover_cogs(folder: Path | None = None, package: str = "cogs") -> list[str]:
    """Every module in cogs/ whose name does not start with an underscore."""
    path = [str(folder or Path(cogs.__file__).parent)]
    return sorted(
        f"{package}.{module.name}" for module in pkgutil.iter_modules(path) if not module.name.startswith("_")
    )


class HoldspaceTree(app_commands.CommandTree["HoldspaceBot"]):
    async def interaction_check(self, interaction: discord.Interaction[HoldspaceBot], /) -> bool:
        enter(interaction)  # every command answers in its reader's language (bot/ui/locale.py)
        return True

    async def on_error(
        self, interaction: discord.Interaction[HoldspaceBot], error: app_commands.AppCommandError
    ) -> None:
        await reply_error(interaction, error)


class HoldspaceBot(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        ring: KeyRing,
        clock: Clock,
        sync: bool = False,
        extensions: list[str] | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("chunk_guilds_at_startup", True)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=holdspace_intents(),
            help_command=None,
            tree_cls=HoldspaceTree,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.db = db
        self.ring = ring
        self.clock = clock
        self.force_sync = sync
        self.extension_names = extensions if extensions is not None else discover_cogs()
        self.scheduler = Scheduler(clock, db, ring)
        # Discord's time (message ids, session boundaries) as measured from here; see its module.
        self.discord_clock = DiscordClock(clock)
        self.discord_clock.attach(db)
        self.state = State()
        self.audit = AuditLog(db, ring, clock)
        self.cases = CaseService(self)
        # Enforcement: one order per person, the disconnects, the records that outlive a database outage.
        self.outbox = Outbox(self)
        self.access_order = AccessOrder()
        self.departures = Departures(self, clock)
        self.gateway_hooks = GatewayHooks()
        self.enforcement = Enforcement(self)
        self.facilitator_roles = FacilitatorRoles(self)
        from bot.services.integrity import Integrity

        self.integrity = Integrity(self)
        self.members = MemberData(self)
        self.access = AccessService(self)
        self.expiry = ExpiryService(self)
        # Set by the consent, sessions and privacy features while they are loaded (None otherwise).
        self.consent: ConsentGate | None = None
        self.sessions: SessionCalendar | None = None
        self.privacy: ErasureFlow | None = None

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        # Who must leave a group's voice room is decided here, before any listener's task runs
        # (bot/services/gateway_hooks.py).
        if event_name == "voice_state_update":
            self.gateway_hooks.voice_changed(*args)
        elif event_name == "socket_event_type":
            self.gateway_hooks.event_read(*args)
        super().dispatch(event_name, *args, **kwargs)

    async def on_message(self, message: discord.Message) -> None:
        """Messages are not read for text commands: holdspace has none (its commands are slash
        commands), and looking for a prefix in every message of a busy server costs time per message."""

    async def setup_hook(self) -> None:
        catalogues.load_all()  # a broken catalogue stops holdspace here, not in the middle of an answer
        await self.state.load(self.db, self.ring, self.clock)
        await self.integrity.fail_closed()  # groups whose consent records did not hold: closed, reported
        await self.tree.set_translator(HoldspaceTranslator())  # command names in each person's language
        self.add_dynamic_items(ExpiredPanel)  # presses on panels that are gone still get an answer
        for name in self.extension_names:
            await self.load_extension(name)
        self.scheduler.start()
        await self.sync_commands_if_changed()

    async def command_set_hash(self) -> str:
        """The digest of what a sync sends, localisations included (a changed translation syncs)."""
        translator = self.tree.translator
        assert translator is not None
        payload = sorted(
            [await command.get_translated_payload(self.tree, translator) for command in self.tree.get_commands()],
            key=lambda c: (c.get("type", 1), c["name"]),
        )
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    async def sync_commands_if_changed(self) -> bool:
        """Sync slash commands only when asked or when the command set changed since the last sync."""
        digest = await self.command_set_hash()
        if not self.force_sync and await meta.get(self.db, COMMAND_HASH_KEY) == digest:
            log.info("slash commands unchanged since the last sync; not syncing")
            return False
        synced = await self.tree.sync()
        await meta.put(self.db, COMMAND_HASH_KEY, digest)
        log.info("synced %d slash commands", len(synced))
        return True

    async def close(self) -> None:
        await self.members.stop()
        await self.scheduler.stop()
        await self.departures.close()
        await self.facilitator_roles.close()
        await self.enforcement.close()
        await self.outbox.close()
        await super().close()
