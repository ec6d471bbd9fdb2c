"""The config file and the environment, turned into typed, immutable, validated settings.

Secrets never live in the TOML file: the bot token comes from HOLDSPACE_TOKEN and the master key from
HOLDSPACE_KEY or from a key file that only its owner may read.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.core import zones
from bot.core.durations import DurationError, parse_duration
from bot.errors import HoldspaceError

TOKEN_ENV = "HOLDSPACE_TOKEN"
KEY_ENV = "HOLDSPACE_KEY"

DEFAULT_RECORDING_MARKERS = (
    r"\[\s*rec(ording)?\s*\]",
    r"\(\s*rec(ording)?\s*\)",
    r"\brecording\b",
    r"🔴\s*rec",
    r"^rec\b",
    r"\brec\s*[●•🔴]",
)


class ConfigError(HoldspaceError):
    """A config file that cannot be used: names the file, the key and what was expected."""


@dataclass(frozen=True)
class GroupDefaults:
    """Settings a new group starts with; facilitators change them per group."""

    reconsent_after_days: int = 180
    ttl: timedelta | None = timedelta(hours=24)
    expire_at_session_end: bool = True
    keep_pinned: bool = True
    lock_between_sessions: bool = False
    facilitators_consent: bool = False
    auto_reminder_gap: timedelta = timedelta(hours=2)
    max_hold_days: int = 14
    timezone: str = "UTC"  # the server's zone when /setup configure names none


@dataclass(frozen=True)
class GuardSettings:
    action: str = "disconnect"
    recording_markers: tuple[str, ...] = DEFAULT_RECORDING_MARKERS


@dataclass(frozen=True)
class RetentionSettings:
    closed_cases_days: int = 365
    audit_days: int = 2190
    withdrawn_consent_days: int = 2190


@dataclass(frozen=True)
class ExpirySettings:
    # Deletions in a room are gathered this long after the first is due (members are told "within
    # N seconds"); 0 deletes each message as soon as it is due, at one request per message.
    batch_window_seconds: int = 5

    @property
    def batch_window(self) -> timedelta:
        return timedelta(seconds=self.batch_window_seconds)


@dataclass(frozen=True)
class Settings:
    config_path: Path | None
    database: Path
    key_file: Path | None
    #: a second copy of the records' anchor, best on another volume (bot.storage.consent_anchor)
    anchor_copy: Path | None = None
    log_level: str = "info"
    log_format: str = "text"
    defaults: GroupDefaults = field(default_factory=GroupDefaults)
    guard: GuardSettings = field(default_factory=GuardSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    expiry: ExpirySettings = field(default_factory=ExpirySettings)


# --- the schema: section -> key -> (parser, description of what is expected) -------------------

Parser = Callable[[Any], Any]


def _int_range(low: int, high: int) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"a whole number from {low} to {high}")
        if not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return value

    return parse


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _choice(*options: str) -> Parser:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            raise ValueError("one of " + ", ".join(repr(o) for o in options))
        return value.lower()

    return parse


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a text in quotes")
    return value


def _duration(minimum: timedelta, maximum: timedelta, *, allow_off: bool = False) -> Parser:
    def parse(value: Any) -> timedelta | None:
        if allow_off and value in ("off", ""):
            return None
        if not isinstance(value, str):
            raise ValueError('a duration in quotes, such as "30m", "12h" or "7d"')
        try:
            return parse_duration(value, minimum=minimum, maximum=maximum)
        except DurationError as exc:
            raise ValueError(f'a duration such as "30m", "12h" or "7d" ({exc})') from None

    return parse


def _zone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"a time zone name in quotes, such as {zones.EXAMPLES}")
    try:
        return zones.canonical_zone(value)
    except zones.ZoneError as exc:
        raise ValueError(f"a Region/City time zone name ({exc})") from None


def _patterns(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("a list of regular expressions in quotes")
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"a list of valid regular expressions ({pattern!r}: {exc})") from None
    return tuple(value)


_SCHEMA: dict[str, dict[str, Parser]] = {
    "bot": {
        "database": _text,
        "key_file": _text,
        "anchor_copy": _text,
        "log_level": _choice("debug", "info", "warning", "error"),
        "log_format": _choice("text", "json"),
    },
    "defaults": {
        "reconsent_after_days": _int_range(1, 3650),
        "ttl": _duration(timedelta(minutes=1), timedelta(days=365), allow_off=True),
        "expire_at_session_end": _boolean,
        "keep_pinned": _boolean,
        "lock_between_sessions": _boolean,
        "facilitators_consent": _boolean,
        "auto_reminder_gap": _duration(timedelta(minutes=1), timedelta(days=7)),
        "max_hold_days": _int_range(1, 90),
        "timezone": _zone,
    },
    "guard": {
        "action": _choice("disconnect", "kick", "ban"),
        "recording_markers": _patterns,
    },
    "expiry": {
        "batch_window_seconds": _int_range(0, 60),
    },
    "retention": {
        "closed_cases_days": _int_range(1, 3650),
        "audit_days": _int_range(30, 36500),
        "withdrawn_consent_days": _int_range(30, 36500),
    },
}


# Secrets people try to put in the file: say where they go instead (never echo the value).
_SECRET_KEYS = {
    "token": f"the bot token never goes in the config file; remove this line and set {TOKEN_ENV} instead",
    "bot_token": f"the bot token never goes in the config file; remove this line and set {TOKEN_ENV} instead",
    "key": f"the master key never goes in the config file; remove this line and set {KEY_ENV} or key_file",
    "master_key": f"the master key never goes in the config file; remove this line and set {KEY_ENV} or key_file",
}


def _path(base_dir: Path, text: str) -> Path:
    """A configured path: ``~`` is the user's home, relative paths are relative to the config file."""
    return base_dir / Path(text).expanduser()


def load_settings(path: Path | str | None, *, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read ``path`` (or use defaults when None) into Settings; any problem raises ConfigError."""
    raw: dict[str, Any] = {}
    where = "the built-in defaults"
    base_dir = Path.cwd()
    config_path: Path | None = None
    if path is not None:
        config_path = Path(path)
        where = str(config_path)
        base_dir = config_path.resolve().parent
        try:
            with config_path.open("rb") as handle:
                raw = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"{where}: no such config file; copy config.example.toml and edit it") from None
        except IsADirectoryError:
            raise ConfigError(f"{where}: is a folder, not a config file") from None
        except PermissionError:
            raise ConfigError(f"{where}: cannot be read; check its permissions") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: not valid TOML ({exc}); fix the syntax") from None

    values: dict[str, dict[str, Any]] = {section: {} for section in _SCHEMA}
    for section, content in raw.items():
        if section not in _SCHEMA:
            raise ConfigError(
                f"{where}: unknown section [{section}]; expected one of "
                + ", ".join(f"[{s}]" for s in _SCHEMA)
            )
        if not isinstance(content, dict):
            raise ConfigError(f"{where}: {section} must be a section ([{section}]), not a value")
        for key, value in content.items():
            parser = _SCHEMA[section].get(key)
            if key in _SECRET_KEYS:
                raise ConfigError(f"{where}: {section}.{key}: {_SECRET_KEYS[key]}")
            if parser is None:
                known = ", ".join(_SCHEMA[section])
                raise ConfigError(f"{where}: unknown key {section}.{key}; [{section}] knows {known}")
            try:
                values[section][key] = parser(value)
            except ValueError as exc:
                raise ConfigError(f"{where}: {section}.{key} must be {exc}") from None
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        values[section][key] = _SCHEMA[section][key](value)

    bot = values["bot"]
    database = _path(base_dir, bot.pop("database", "holdspace.sqlite3"))
    key_file_text = bot.pop("key_file", "")
    key_file = _path(base_dir, key_file_text) if key_file_text else None
    anchor_copy_text = bot.pop("anchor_copy", "")
    anchor_copy = _path(base_dir, anchor_copy_text) if anchor_copy_text else None
    return Settings(
        config_path=config_path,
        database=database,
        key_file=key_file,
        anchor_copy=anchor_copy,
        defaults=GroupDefaults(**values["defaults"]),
        guard=GuardSettings(**values["guard"]),
        retention=RetentionSettings(**values["retention"]),
        expiry=ExpirySettings(**values["expiry"]),
        **bot,
    )


def read_token(environ: Mapping[str, str] | None = None) -> str:
    """The bot token from HOLDSPACE_TOKEN; never from the config file."""
    token = (environ if environ is not None else os.environ).get(TOKEN_ENV, "").strip()
    if not token:
        raise HoldspaceError(f"{TOKEN_ENV} is not set; set it to the bot token from Discord's developer portal")
    return token


@dataclass(frozen=True)
class KeyText:
    """The key ring's text and where it came from, so errors name the right place."""

    text: str
    source: str


def read_key_text(settings: Settings, environ: Mapping[str, str] | None = None) -> KeyText:
    """The master key ring text from HOLDSPACE_KEY, else from the configured key file."""
    env = environ if environ is not None else os.environ
    text = env.get(KEY_ENV, "").strip()
    if text:
        return KeyText(text, KEY_ENV)
    if settings.key_file is None:
        raise HoldspaceError(
            f"no key: set {KEY_ENV} or name a key file in [bot] key_file; `holdspace keygen` makes a key"
        )
    path = settings.key_file
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise HoldspaceError(f"key file {path} does not exist; create it with `holdspace keygen`") from None
    if not stat.S_ISREG(mode):
        raise HoldspaceError(f"key file {path} is not a regular file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise HoldspaceError(
            f"key file {path} can be read by others; run `chmod 600 {path}` so only its owner can read it"
        )
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (PermissionError, UnicodeDecodeError):
        raise HoldspaceError(f"key file {path} cannot be read as text; check its permissions") from None
    if not text:
        raise HoldspaceError(f"key file {path} is empty; put the output of `holdspace keygen` in it")
    return KeyText(text, f"the key file {path}")
