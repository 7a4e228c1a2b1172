"""Settings from a config file and the environment, as argparse defaults: the command line > ``BULKRETRY_<OPTION>``
> the config file (``--config FILE``, else ``$BULKRETRY_CONFIG``, else ``./bulkretry.toml``, else the user's
``config.toml``) > the option's own default.

Every option of every command can be set so, without a list: the options are read from the parser itself
(:func:`settable_options`), so an option a command gains is a key the day it is added. A value is typed by the
option's own ``type`` and ``choices``; a key no command knows, a value the option refuses and a secret (a key that
names an SK, secret, password or token value) are a :class:`~bulkretry.errors.UsageError` (exit 2) naming the file
or variable and the key.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bulkretry.errors import UsageError
from bulkretry.masking import SECRET_COLUMNS

__all__ = [
    "ENV_CONFIG",
    "ENV_CONFIG_PROFILE",
    "ENV_PREFIX",
    "LOCAL_CONFIG",
    "ConfigFile",
    "Setting",
    "Settings",
    "add_config_options",
    "add_config_parser",
    "command_parsers",
    "config_of",
    "env_name",
    "find_config",
    "is_secret_setting",
    "parse_arguments",
    "read_config",
    "settable_options",
    "setting_rows",
    "settings_for",
    "user_config_path",
]

ENV_PREFIX = "BULKRETRY_"
#: The config file to read, and its profile, when the command line names none.
ENV_CONFIG = "BULKRETRY_CONFIG"
ENV_CONFIG_PROFILE = "BULKRETRY_CONFIG_PROFILE"
#: The config file of the working folder, read before the user's.
LOCAL_CONFIG = "bulkretry.toml"
#: The options that choose the config file: never a key of one.
CONFIG_OPTIONS = ("config", "config-profile")
#: Words that make a setting's name one of a secret value (``src_sk``, ``token``, ``iam_password``).
SECRET_WORDS = frozenset(("sk", "secret", "password", "passwd", "token"))
#: A name ending so names where a secret is kept, not the secret (``--token-file``).
PLACE_WORDS = frozenset(("file", "path", "dir"))
#: The largest config file read: settings are a few hundred bytes.
MAX_CONFIG_BYTES = 1024 * 1024
SECRET_SOURCES = (
    "secrets have their own sources: the environment (OMS_AUTH_TOKEN, HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK, "
    "OMS_IAM_PASSWORD), --token-file, the SDK's credentials file, a KooCLI profile, systemd's "
    "$CREDENTIALS_DIRECTORY, or env:NAME in a manifest cell or --notify"
)
TRUE_WORDS = frozenset(("1", "true", "yes", "on"))
FALSE_WORDS = frozenset(("0", "false", "no", "off"))


def is_secret_setting(name: str) -> bool:
    """Whether a setting named *name* (``src-sk``, ``token``) would hold a secret value; ``token-file`` names a
    file, not a secret."""
    key = name.strip().lower().replace("-", "_")
    words = key.split("_")
    if key in SECRET_COLUMNS:
        return True
    return words[-1] not in PLACE_WORDS and any(word in SECRET_WORDS for word in words)


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser of each command of *parser*, by name."""
    commands: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
    return commands


def _settable(action: argparse.Action) -> bool:
    """Whether *action* is an option a setting may give: not a positional, not --help/--version."""
    if not action.option_strings or action.dest == argparse.SUPPRESS:
        return False
    return not isinstance(action, (argparse._HelpAction, argparse._VersionAction))


def settable_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The options of the command *parser* a setting may give, by long name without ``--`` (``project-id``)."""
    options: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if not _settable(action):
            continue
        for string in action.option_strings:
            if string.startswith("--") and string[2:] not in CONFIG_OPTIONS:
                options[string[2:]] = action
    return options


def env_name(option: str) -> str:
    """The environment variable of the option *option* (``project-id``: ``BULKRETRY_PROJECT_ID``)."""
    return ENV_PREFIX + option.upper().replace("-", "_")


def user_config_path(env: Mapping[str, str]) -> Path | None:
    """The user's config file: ``%APPDATA%\\bulkretry\\config.toml`` on Windows, else
    ``$XDG_CONFIG_HOME/bulkretry/config.toml`` or ``~/.config/bulkretry/config.toml``; None with no home folder."""
    if sys.platform.startswith("win32"):
        base = env.get("APPDATA")
        return Path(base) / "bulkretry" / "config.toml" if base else None
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "bulkretry" / "config.toml"
    home = env.get("HOME")
    return Path(home) / ".config" / "bulkretry" / "config.toml" if home else None


def find_config(given: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file to read: *given* (``--config``), else ``$BULKRETRY_CONFIG`` (either must exist), else
    ``./bulkretry.toml``, else the user's; None when there is none."""
    named, where = (given, "--config") if given else (env.get(ENV_CONFIG, "").strip(), f"${ENV_CONFIG}")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise UsageError(f"{where} {named}: there is no such file")
        return path
    for place in (cwd / LOCAL_CONFIG, user_config_path(env)):
        if place is not None and place.is_file():
            return place
    return None


@dataclass(frozen=True)
class ConfigFile:
    """The settings a config file gives: its top level with the chosen profile's section over it."""

    path: Path
    profile: str | None = None
    #: Each key as written (``project_id``) and its value.
    values: Mapping[str, object] = field(default_factory=dict)
    #: Where each key was read: ``FILE`` or ``FILE [profile.NAME]``.
    origins: Mapping[str, str] = field(default_factory=dict)


def _load_toml(path: Path) -> dict[str, Any]:
    """The TOML document at *path*; UsageError naming the file for what cannot be read or parsed."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the same parser, before it joined the standard library
        import tomli as tomllib
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(f"the config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    try:
        document: dict[str, Any] = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"the config file {path} is not TOML: {exc}") from None
    return document


def _profiles(document: Mapping[str, Any], path: Path) -> Mapping[str, Any]:
    """The ``[profile.NAME]`` sections of *document*, by name."""
    profiles = document.get("profile", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise UsageError(f"{path}: 'profile' is for [profile.NAME] sections only")
    return profiles


def read_config(path: Path, profile: str | None) -> ConfigFile:
    """The config file *path*, with the section ``[profile.<profile>]`` over its top level (a profile it does not
    have is a UsageError listing those it has)."""
    document = _load_toml(path)
    profiles = _profiles(document, path)
    values = {k: v for k, v in document.items() if k != "profile"}
    origins = dict.fromkeys(values, str(path))
    if profile is not None:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise UsageError(f"--config-profile {profile}: {path} has no [profile.{profile}] (profiles: {known})")
        values.update(profiles[profile])
        origins.update(dict.fromkeys(profiles[profile], f"{path} [profile.{profile}]"))
    return ConfigFile(path, profile, values, origins)


@dataclass(frozen=True)
class Setting:
    """One option's value from the environment or a config file: the argparse default it becomes."""

    option: str
    dest: str
    value: Any
    #: The value as written (what ``bulkretry config`` shows).
    shown: str
    #: ``environment BULKRETRY_RATE``, ``config FILE`` or ``config FILE [profile.NAME]``.
    origin: str
    #: An "off" flag (``dry-run = false``): it gives way to an "on" flag of the same destination in its layer.
    off: bool = False


def _refuse_secret(key: str, where: str) -> None:
    if is_secret_setting(key):
        raise UsageError(
            f"{where}: {key} would hold a secret, which bulkretry never reads from settings; {SECRET_SOURCES}"
        )


def _check_key(key: str, where: str, known: Iterable[str]) -> str:
    """*key* as an option's long name; UsageError for a secret, a config option or a key no command has."""
    option = key.strip().lower().replace("_", "-")
    _refuse_secret(key, where)
    if option in CONFIG_OPTIONS:
        raise UsageError(f"{where}: {key} chooses the config file; give it on the command line or as ${ENV_CONFIG}")
    names = sorted(set(known))
    if option not in names:
        near = difflib.get_close_matches(option, names, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise UsageError(f"{where}: unknown key {key}{hint}; keys are the long option names, e.g. project-id")
    return option


def _flag(action: argparse.Action, raw: object, where: str) -> tuple[Any, bool]:
    """``(value, off)`` of a flag (``store_true``, ``store_const``) set to *raw*."""
    if isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        raw = raw.strip().lower() in TRUE_WORDS
    if not isinstance(raw, bool):
        raise UsageError(f"{where}: expected true or false, got {raw!r}")
    return (action.const, False) if raw else (action.default, True)


def _typed(action: argparse.Action, raw: object, where: str) -> Any:
    """The text or number *raw* as the option *action* takes it (its type, then its choices)."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise UsageError(f"{where}: expected a text or a number, got {raw!r}")
    text = str(raw)
    try:
        value = action.type(text) if callable(action.type) else text
    except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
        why = str(exc) or "invalid value"
        raise UsageError(f"{where}: {why}" if repr(text) in why else f"{where}: {why} ({text!r})") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise UsageError(f"{where}: {text!r} is not one of {choices}")
    # A text default is typed by argparse again: give it the text, which the type has just taken.
    return text if isinstance(value, str) else value


def _many(action: argparse.Action) -> bool:
    return isinstance(action, (argparse._AppendAction, argparse._ExtendAction)) or action.nargs in ("+", "*")


def _value(action: argparse.Action, raw: object, where: str) -> tuple[Any, bool]:
    """``(value, off)``: *raw* (from TOML or the environment) as the default of *action*."""
    if action.nargs == 0:
        return _flag(action, raw, where)
    if not _many(action):
        return _typed(action, raw, where), False
    items = raw if isinstance(raw, list) else [raw]
    return [_typed(action, item, where) for item in items], False


def _setting(option: str, action: argparse.Action, raw: object, origin: str, key: str = "") -> Setting:
    """The setting *raw* gives *option*, from *origin* (the config file's *key*, or a variable)."""
    where = f"{origin}: {key}" if key else origin
    value, off = _value(action, raw, where)
    shown = ", ".join(map(str, raw)) if isinstance(raw, list) else str(raw).lower() if isinstance(raw, bool) else raw
    return Setting(option, action.dest, value, str(shown), origin, off)


def _env_settings(options: Mapping[str, argparse.Action], env: Mapping[str, str]) -> list[Setting]:
    """The ``BULKRETRY_<OPTION>`` variables set (not empty) for the options of this command."""
    found = []
    for option, action in options.items():
        name = env_name(option)
        raw = env.get(name, "")
        if not raw.strip():
            continue
        _refuse_secret(option, f"${name}")
        found.append(_setting(option, action, raw.strip(), f"environment {name}"))
    return found


def _config_settings(config: ConfigFile, options: Mapping[str, argparse.Action], known: Iterable[str]) -> list[Setting]:
    """The settings of *config* for the options of this command; every key checked against every command's."""
    names = list(known)
    found = []
    for key, raw in config.values.items():
        option = _check_key(key, f"config {config.origins[key]}", names)
        if option in options:
            found.append(_setting(option, options[option], raw, f"config {config.origins[key]}", key))
    return found


def _by_dest(settings: Iterable[Setting]) -> dict[str, Setting]:
    """One setting per destination: an "on" flag over an "off" one; two that disagree are a UsageError."""
    chosen: dict[str, Setting] = {}
    for setting in settings:
        other = chosen.get(setting.dest)
        if other is None or (other.off and not setting.off):
            chosen[setting.dest] = setting
        elif not setting.off and other.value != setting.value:
            raise UsageError(f"{setting.origin}: {other.option} and {setting.option} do not go together; give one")
    return chosen


@dataclass(frozen=True)
class Settings:
    """What the environment and the config file give one command, each option's winner by destination."""

    config: ConfigFile | None
    chosen: Mapping[str, Setting]

    def defaults(self, given: Iterable[str] = ()) -> dict[str, Any]:
        """The argparse defaults of the command: every setting whose destination the command line left alone."""
        skip = set(given)
        return {dest: s.value for dest, s in self.chosen.items() if dest not in skip}


def settings_for(
    parser: argparse.ArgumentParser, command: str, env: Mapping[str, str], config: ConfigFile | None
) -> Settings:
    """The settings of *command* (a command of *parser*) from *env* over *config*."""
    commands = command_parsers(parser)
    options = settable_options(commands[command])
    known = {name for p in commands.values() for name in settable_options(p)}
    from_config = _by_dest(_config_settings(config, options, known)) if config is not None else {}
    from_env = _by_dest(_env_settings(options, env))
    return Settings(config, {**from_config, **from_env})


def config_of(given: str | None, profile: str | None, env: Mapping[str, str]) -> ConfigFile | None:
    """The config file the command line (*given*, *profile*) or the environment chooses, read; None for none."""
    profile = profile or env.get(ENV_CONFIG_PROFILE, "").strip() or None
    path = find_config(given, env, Path(os.getcwd()))
    if path is None:
        if profile is not None:
            raise UsageError(
                f"--config-profile {profile}: there is no config file to take it from; name one with --config FILE"
            )
        return None
    return read_config(path, profile)


CONFIG_HELP = """\
Show each setting of COMMAND (default: run) as a run would take it, and where it comes from: the environment
(BULKRETRY_<OPTION>, e.g. BULKRETRY_RATE), the config file, or the option's default. The command line wins
over all three. Secrets are never settings and never shown.

The config file is --config FILE, else $BULKRETRY_CONFIG, else ./bulkretry.toml, else the user's
(~/.config/bulkretry/config.toml, $XDG_CONFIG_HOME/bulkretry/config.toml, %APPDATA%\\bulkretry\\config.toml
on Windows). Its keys are the long option names (project_id or project-id), for every command that has the
option; [profile.NAME] sections, chosen with --config-profile NAME (or $BULKRETRY_CONFIG_PROFILE), go over
the top level.

examples:
  bulkretry config
  bulkretry config discover --config-profile prod
  BULKRETRY_RATE=5 bulkretry config --json

  # bulkretry.toml
  region = "cn-north-4"
  project_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
  rate = 10
  format = "csv,html"
  [profile.night]
  rate = 50
  max_duration = "6h"
"""


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--config-profile`` on every command of *parser*."""
    for command in command_parsers(parser).values():
        g = command.add_argument_group("settings")
        # SUPPRESS: read here, before the command runs; the command's own namespace never holds them.
        g.add_argument(
            "--config",
            default=argparse.SUPPRESS,
            metavar="FILE",
            help=f"read settings from FILE (default: ${ENV_CONFIG}, ./{LOCAL_CONFIG}, or the user's config.toml)",
        )
        g.add_argument(
            "--config-profile",
            default=argparse.SUPPRESS,
            metavar="NAME",
            help=f"use the config file's [profile.NAME] section over its top level (default: ${ENV_CONFIG_PROFILE})",
        )


def add_config_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bulkretry.cli.common import add_command

    p = add_command(sub, "config", "show each setting and where it comes from", CONFIG_HELP)
    p.add_argument("command", nargs="?", default="run", metavar="COMMAND", help="the command (default: run)")
    p.add_argument("--json", action="store_true", help="one JSON object per setting, one a line")
    p.set_defaults(handler=_cmd_config)


class _NotGiven(list):  # type: ignore[type-arg]
    """What a destination holds before the command line gives it: a list, as ``append`` and ``extend`` add to
    what is there; still empty afterwards when the command line gave nothing."""


def _not_given(value: object) -> bool:
    return isinstance(value, _NotGiven) and not value


def _given(command: argparse.ArgumentParser, argv: list[str]) -> dict[str, Any]:
    """What the command line gives *command*, by destination. Parsed by the command's own parser, so an
    abbreviation or ``--opt=value`` reads as it does in the real parse."""
    start = {a.dest: _NotGiven() for a in command._actions if a.dest != argparse.SUPPRESS}
    given, _ = command.parse_known_args(argv, argparse.Namespace(**start))
    return {dest: value for dest, value in vars(given).items() if not _not_given(value)}


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str], env: Mapping[str, str]) -> argparse.Namespace:
    """*argv* parsed by *parser*, each option the command line leaves out taken from *env* or the config file
    before the option's own default (``parser.set_defaults`` on the command's parser)."""
    commands = command_parsers(parser)
    if not argv or argv[0] not in commands:  # --help, --version, or argparse's own error
        return parser.parse_args(argv)
    command = commands[argv[0]]
    given = _given(command, argv[1:])
    config = config_of(given.get("config"), given.get("config_profile"), env)
    settings = settings_for(parser, argv[0], env, config)
    command.set_defaults(**settings.defaults(given))
    return parser.parse_args(argv)


def _default_text(action: argparse.Action, option: str) -> str:
    """An option's own default as ``bulkretry config`` shows it (a secret's never)."""
    if is_secret_setting(option):
        return "(not shown)"
    default = action.default
    if default is None or default == []:
        return ""
    return str(default).lower() if isinstance(default, bool) else str(default)


def setting_rows(parser: argparse.ArgumentParser, command: str, settings: Settings) -> list[dict[str, str]]:
    """One row per option of *command*: ``option``, ``value``, ``origin`` (the setting's, else ``default``)."""
    rows = []
    for option, action in settable_options(command_parsers(parser)[command]).items():
        setting = settings.chosen.get(action.dest)
        if setting is not None and setting.option == option:
            rows.append({"option": f"--{option}", "value": setting.shown, "origin": setting.origin})
        elif setting is None:
            rows.append({"option": f"--{option}", "value": _default_text(action, option), "origin": "default"})
    return rows


def _cmd_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import json

    from bulkretry.cli import build_parser

    parser = build_parser()
    if args.command not in command_parsers(parser):
        raise UsageError(f"config: no command {args.command!r} (commands: {', '.join(command_parsers(parser))})")
    config = config_of(getattr(args, "config", None), getattr(args, "config_profile", None), os.environ)
    rows = setting_rows(parser, args.command, settings_for(parser, args.command, os.environ, config))
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False), file=out)
        return 0
    where = f"{config.path}" + (f" [profile.{config.profile}]" if config.profile else "") if config else "none"
    print(f"config file: {where}", file=out)
    width = max(len(row["option"]) for row in rows)
    for row in rows:
        print(f"{row['option']:<{width}}  {row['value'] or '-'}  ({row['origin']})", file=out)
    return 0
