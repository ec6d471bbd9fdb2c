"""The command line: run, demo, check, health, migrate, keygen, rotate-key, backup, export, audit-verify,
integrity accept,
forget.

Every problem the operator must fix ends with one line saying the cause and what to do, and exit
code 2; no traceback, and nothing the user typed is echoed back when it could be a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot.clock import SystemClock
from bot.config import Settings, load_settings, read_token
from bot.crypto import generate_key
from bot.errors import HoldspaceError
from bot.logs import register_secret, setup_logging

log = logging.getLogger("holdspace")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

CONFIG_ENV = "HOLDSPACE_CONFIG"


def version() -> str:
    # Imported here: reading package metadata costs a tenth of a second that every start would pay.
    import importlib.metadata

    try:
        return importlib.metadata.version("holdspace")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed; run `make install`)"


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        sys.stdout.write(f"holdspace {version()}\n")
        parser.exit()


def _default_config() -> Path | None:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    local = Path("config.toml")
    return local if local.exists() else None


def application_id_from_token(token: str) -> int | None:
    """The bot's id, which is its application's id, from the first part of its token (no network)."""
    first = token.strip().split(".", 1)[0]
    if not first:
        return None
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return int(decoded) if decoded.isdigit() and 15 <= len(decoded) <= 20 else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="holdspace", description="Keeps online group sessions on Discord confidential."
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--config", type=Path, help="config file (default: $HOLDSPACE_CONFIG or ./config.toml)")
    parser.add_argument("--log-format", choices=("text", "json"), help="log line format")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="connect to Discord and run the bot")
    run.add_argument("--sync", action="store_true", help="sync slash commands even if unchanged")
    commands.add_parser("demo", help="rehearse a whole session against the local Discord sandbox")
    commands.add_parser("check", help="validate config, key and database; print the invite link")
    commands.add_parser("health", help="exit 0 if the running bot is connected and its scheduler is current")
    commands.add_parser("migrate", help="apply pending database migrations")
    keygen = commands.add_parser("keygen", help="print a new master key, or write it to a new file")
    keygen.add_argument(
        "--output", type=Path, help="write the key to this new file (readable by you only; never overwritten)"
    )
    rotate = commands.add_parser("rotate-key", help="re-encrypt everything under the first key in HOLDSPACE_KEY")
    rotate.add_argument("--batch-size", type=int, default=200)
    backup = commands.add_parser("backup", help="write a consistent copy of the database")
    backup.add_argument("path", type=Path)
    backup.add_argument("--overwrite", action="store_true", help="replace an existing file at PATH")
    export = commands.add_parser("export", help="write decrypted records for the practice's files")
    export.add_argument("what", choices=("consents", "agreements", "sessions", "cases", "audit"))
    export.add_argument("--guild", type=int, required=True, help="the server's id")
    export.add_argument("--group", help="only this group (consents, agreements, sessions)")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    commands.add_parser("audit-verify", help="check the audit trail's hash chain")
    integrity = commands.add_parser("integrity", help="the signed anchor of the groups' records")
    integrity.add_argument(
        "action",
        choices=("accept",),
        help="accept: vouch for the database as it stands and write its anchor anew (holdspace stopped)",
    )
    forget = commands.add_parser("forget", help="erase a member's records on request (carried out by the running bot)")
    forget.add_argument("--guild", type=int, required=True, help="the server's id")
    forget.add_argument("--member", type=int, required=True, help="the member's Discord id")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config.expanduser() if args.config is not None else _default_config())
    level = args.log_level or settings.log_level
    fmt = args.log_format or settings.log_format
    setup_logging(level, fmt)
    return settings


async def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import run_bot

    token = read_token()
    register_secret(token)
    await run_bot(settings, token, sync=args.sync)
    return EXIT_OK


async def _cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import check_database, load_key_ring
    from bot.core.permissions import SERVER_PERMISSIONS, human_name, invite_permissions, invite_url

    ring = load_key_ring(settings)
    db_line = await check_database(settings, ring)
    print(f"config: {settings.config_path or 'built-in defaults'} is valid")
    print(f"key: current key id {ring.current_kid} ({len(ring.kids)} key(s) in the ring, from {ring.source})")
    print(db_line)
    print()
    print(f"Permission integer for the invite link: {invite_permissions().value}")
    application_id = application_id_from_token(os.environ.get("HOLDSPACE_TOKEN", ""))
    if application_id is None:
        print("Invite link (replace APPLICATION_ID with your application's id from the developer portal,")
        print("or set HOLDSPACE_TOKEN and run check again to have it filled in):")
        print(
            "  https://discord.com/oauth2/authorize?client_id=APPLICATION_ID"
            f"&scope=bot+applications.commands&permissions={invite_permissions().value}"
        )
    else:
        print("Invite link:")
        print(f"  {invite_url(application_id)}")
    print("Permissions it asks for, and why:")
    for name, why in SERVER_PERMISSIONS.items():
        print(f"  - {human_name(name)}: {why}")
    print()
    print("Privileged intents to switch on (Developer Portal > Bot > Privileged Gateway Intents):")
    print("  - Server Members Intent: to notice at once when a bot is added to the server")
    print("Leave the Message Content Intent off: holdspace never reads what people write.")
    return EXIT_OK


async def _cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    from bot.clock import SystemClock
    from bot.health import heartbeat_path, judge, read_heartbeat

    path = heartbeat_path(settings.database)
    verdict = judge(read_heartbeat(path), SystemClock().now(), path)
    print(verdict.line)
    return EXIT_OK if verdict.ok else EXIT_FAILURE


async def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import import_storage_modules, load_key_ring
    from bot.storage import migrations
    from bot.storage.keycheck import check_key, verify_or_store_key

    ring = load_key_ring(settings)
    import_storage_modules()
    from bot.storage.db import Database

    db = await Database.open(settings.database)
    try:
        await check_key(db, ring)
        applied = await migrations.migrate(db)
        await verify_or_store_key(db, ring)
    finally:
        await db.close()
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return EXIT_OK


def _keygen(output: Path | None) -> int:
    key = generate_key()
    if output is None:
        print(key)
        return EXIT_OK
    path = output.expanduser()
    try:
        # O_EXCL: an existing key is never replaced, since records written under it would be lost.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise HoldspaceError(
            f"{path} already exists and is kept as it is (replacing a key makes its records unreadable); "
            "choose another file name"
        ) from None
    except OSError as exc:
        raise HoldspaceError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    print(f"key {key.split(':', 1)[0]} written to {path} (readable by you only); keep a copy somewhere safe")
    return EXIT_OK


def _require_database(settings: Settings) -> None:
    """Commands that read records never create an empty database by mistake."""
    if not settings.database.exists():
        raise HoldspaceError(
            f"there is no database at {settings.database}; check [bot] database in the config file"
        )


async def _cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import load_key_ring, open_database
    from bot.storage.rotation import rotate_key

    ring = load_key_ring(settings)
    db = await open_database(settings, ring)
    try:
        report = await rotate_key(db, ring, batch_size=max(1, args.batch_size))
    finally:
        await db.close()
    print(f"every field is now under key {report.current_kid}; older keys can be removed from HOLDSPACE_KEY")
    return EXIT_OK


async def _cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import load_key_ring, open_database

    _require_database(settings)
    ring = load_key_ring(settings)
    db = await open_database(settings, ring, migrate=False)
    try:
        written = await db.backup(args.path, overwrite=args.overwrite)
    finally:
        await db.close()
    print(f"backup written to {written}")
    return EXIT_OK


async def _cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import load_key_ring, open_database
    from bot.storage import guilds as guild_store

    _require_database(settings)
    ring = load_key_ring(settings)
    db = await open_database(settings, ring, migrate=False)
    try:
        if not await guild_store.is_known(db, args.guild):
            raise HoldspaceError(
                f"holdspace has no records of server {args.guild}; check the id "
                "(Discord: Server Settings > Widget, or right-click the server with Developer Mode on)"
            )
        if args.what == "consents":
            from bot.exports.consents import export_consents

            text = await export_consents(db, ring, args.guild, args.group, args.format)
        elif args.what == "agreements":
            from bot.exports.agreements import export_agreements

            text = await export_agreements(db, ring, args.guild, args.group, args.format)
        elif args.what == "sessions":
            from bot.exports.sessions import export_sessions

            text = await export_sessions(db, ring, args.guild, args.group, args.format)
        elif args.what == "cases":
            from bot.exports.cases_audit import export_cases

            text = await export_cases(db, ring, args.guild, args.format)
        else:
            from bot.exports.cases_audit import export_audit

            text = await export_audit(db, ring, args.guild, args.format)
    finally:
        await db.close()
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise HoldspaceError(f"{args.output} already exists; choose another file name") from None
        except OSError as exc:
            raise HoldspaceError(f"cannot write {args.output}: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"written to {args.output} (readable by you only)")
    return EXIT_OK


async def _cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import load_key_ring, open_database

    _require_database(settings)
    ring = load_key_ring(settings)
    db = await open_database(settings, ring, migrate=False)
    try:
        from bot.exports.cases_audit import verify_audit

        result = await verify_audit(db, ring)
    finally:
        await db.close()
    print(result.message)
    return EXIT_OK if result.ok else EXIT_FAILURE


async def _cmd_integrity(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import load_key_ring, open_database
    from bot.storage.records_check import accept

    _require_database(settings)
    ring = load_key_ring(settings)
    db = await open_database(settings, ring)
    try:
        result = await accept(db, ring)
    finally:
        await db.close()
    left = (
        f"; {result.left_out} group(s) whose records do not hold among themselves will still be closed "
        "and reported at the next start"
        if result.left_out
        else ""
    )
    print(f"the anchor now vouches for the records of {result.groups} group(s) as they stand{left}")
    return EXIT_OK


async def _cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from bot.bootstrap import load_key_ring, open_database
    from bot.core.member_records import kept_after_erasure
    from bot.services.member_data import describe_kept, gather, retention_of
    from bot.storage import erasure as erasure_store

    if not settings.database.exists():
        raise HoldspaceError(f"there is no database at {settings.database}; check [bot] database")
    ring = load_key_ring(settings)
    db = await open_database(settings, ring)
    try:
        records = await gather(db, ring, args.guild, args.member, f"server {args.guild}")
        if records.empty:
            print("holdspace holds nothing about that member on that server; nothing to erase.")
            return EXIT_OK
        now = SystemClock().now()
        await erasure_store.add(db, ring, args.guild, args.member, now)
        kept = kept_after_erasure(records, retention_of(settings), now=now)
    finally:
        await db.close()
    print("The erasure is written down. The running holdspace carries it out within a minute (or as soon as it")
    print("next starts): the member's access is withdrawn (they are disconnected from a group's voice room),")
    print("their consents and enrolments end, and links from cases they reported or worked on are cut (when")
    print("the case is closed). The audit trail records that an erasure happened, not whose.")
    print("What stays, why and until when (tell the member):" if kept else "Nothing about them stays.")
    for line in describe_kept(kept):
        print(line)
    return EXIT_OK


async def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import run_demo

    return await run_demo()


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]] = {
    "run": _cmd_run,
    "check": _cmd_check,
    "health": _cmd_health,
    "migrate": _cmd_migrate,
    "rotate-key": _cmd_rotate,
    "backup": _cmd_backup,
    "export": _cmd_export,
    "audit-verify": _cmd_audit_verify,
    "integrity": _cmd_integrity,
    "forget": _cmd_forget,
    "demo": _cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    # Everything holdspace writes holds records of people: owner-only, whatever the caller's umask.
    os.umask(0o077)
    args = _parser().parse_args(argv)
    try:
        if args.command == "keygen":
            return _keygen(args.output)
        settings = _settings(args)
        return asyncio.run(_COMMANDS[args.command](args, settings))
    except HoldspaceError as exc:
        print(f"holdspace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader of our output went away (`holdspace check | head`); nothing to report.
        sys.stderr.close()
        return EXIT_OK
