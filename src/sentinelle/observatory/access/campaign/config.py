"""The campaign configuration file (``probe campaign --config C.yaml``), read and checked.

YAML (``safe_load``), at most ``MAX_BYTES``. Every key is known: an unknown key is refused with
its path (``schedule.intervall``), a value of the wrong type names its path and what was
expected, and nothing is started on a bad file. Relative paths are relative to the config
file's directory (a unit's working directory is not the operator's).

Secrets never sit in the file: the control helper's and the platform's tokens are read from
``token_file``s, which must not be readable by group or others (``chmod 600``), as ssh refuses
a private key others can read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

__all__ = ["MAX_BYTES", "CampaignConfig", "ConfigError", "Schedule", "load", "loads",
           "parse_duration", "read_secret"]

MAX_BYTES = 256 * 1024          # a config is a page; anything this big is not one
MAX_TOKEN_BYTES = 4096
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
DURATION = re.compile(r"(\d+)\s*([smhd])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
QUIET = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
MIN_INTERVAL = 60               # a round a minute is already far beyond any real use


class ConfigError(ValueError):
    """The config cannot be used; the message names the file and the key path."""


@dataclass(frozen=True)
class Schedule:
    interval: int                          # seconds between the starts of two rounds
    jitter: int = 0                        # each start is delayed by 0..jitter seconds
    quiet: tuple[dt.time, dt.time] | None = None     # no round starts in [start, end)
    timezone: str = "UTC"                  # of quiet_hours: "UTC", "local" or an IANA name

    def zone(self) -> dt.tzinfo:
        if self.timezone == "UTC":
            return dt.UTC
        if self.timezone == "local":
            return dt.datetime.now().astimezone().tzinfo or dt.UTC
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class CampaignConfig:
    path: Path
    sha256: str                            # of the file's bytes, for the manifest
    name: str
    lists: list[Path]
    schedule: Schedule
    control_url: str
    control_token_file: Path
    control_pins: list[str]
    sign_key: Path
    state_dir: Path
    platform_url: str
    platform_token_file: Path
    platform_ca_file: Path | None = None
    retry_min: int = 10
    retry_max: int = 900
    self_cc: str | None = None
    self_asn: int | None = None
    geoip_db: Path | None = None
    asn_db: Path | None = None
    concurrency: int = 16
    keep_acknowledged: bool = True
    probe: dict[str, Any] = field(default_factory=dict)   # the runner's other options

    def control_token(self) -> str:
        return read_secret(self.control_token_file, "control.token_file")

    def platform_token(self) -> str:
        return read_secret(self.platform_token_file, "platform.token_file")

    def check_sign_key(self) -> None:
        from sentinelle.evidence import keys

        try:
            keys.load_signing_key(self.sign_key, "sign_key")
        except keys.KeyFileError as exc:
            raise ConfigError(str(exc)) from None


# The keys each section may hold ("" is the top level); anything else is refused by name.
_SECTIONS: dict[str, set[str]] = {
    "": {"name", "lists", "schedule", "control", "vantage", "sign_key", "concurrency",
         "platform", "state_dir", "probe", "keep_acknowledged"},
    "schedule": {"interval", "jitter", "quiet_hours", "timezone"},
    "control": {"url", "token_file", "pin"},
    "vantage": {"self_cc", "self_asn", "geoip_db", "asn_db", "bind"},
    "platform": {"url", "token_file", "ca_file", "retry_min", "retry_max"},
    "probe": {"per_host", "timeout", "resolver", "system_resolver", "ca_file", "fingerprints",
              "max_body"},
}
_REQUIRED = {"": ("name", "lists", "schedule", "control", "sign_key", "platform", "state_dir"),
             "schedule": ("interval",), "control": ("url", "token_file"),
             "platform": ("url", "token_file")}


def load(path: str | Path) -> CampaignConfig:
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    return loads(data, path)


def loads(data: bytes, path: Path) -> CampaignConfig:
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // 1024} KiB; not a campaign config")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except ValueError as exc:
        # PyYAML's int() of a number of more than 4,300 digits
        raise ConfigError(f"{path}: a value cannot be read ({str(exc)[:80]})") from None
    return _Reader(path, hashlib.sha256(data).hexdigest()).read(raw)


def parse_duration(text: Any, where: str) -> int:
    """"6h", "30m", "1h30m", "90s", "2d" or a number of seconds -> seconds."""
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ConfigError(f"{where}: expected a duration such as 6h or 30m, got "
                          f"{_kind(text)}")
    if isinstance(text, int):
        seconds = text
    else:
        compact = text.strip().lower()
        parts = DURATION.findall(compact)
        if not parts or DURATION.sub("", compact).strip():
            raise ConfigError(f"{where}: {text[:40]!r} is not a duration such as 6h, 30m or "
                              "1h30m")
        seconds = sum(int(n[:12]) * UNITS[unit] for n, unit in parts)
    if not 0 <= seconds <= 366 * 86400:
        raise ConfigError(f"{where}: must be between 0 and 366 days")
    return seconds


def read_secret(path: Path, where: str) -> str:
    """A token from a file only its owner can read; the message names the key and the file."""
    # Opened first, then checked by its descriptor: a stat() of the name followed by an open()
    # checks one file and reads another (a FIFO swapped in would block the start for ever).
    # O_NONBLOCK: opening a FIFO does not wait for a writer.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigError(f"{where}: {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{where}: {path} is not a regular file")
        if info.st_mode & 0o077:
            raise ConfigError(f"{where}: {path} is readable by others (mode "
                              f"{stat.S_IMODE(info.st_mode):04o}); a token file must be "
                              f"readable by its owner only: chmod 600 {path}")
        data = os.read(fd, MAX_TOKEN_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_TOKEN_BYTES:
        raise ConfigError(f"{where}: {path} is larger than {MAX_TOKEN_BYTES} bytes; not a token")
    try:
        token = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: {path} does not hold an ASCII token") from None
    if not token or any(c.isspace() for c in token):
        raise ConfigError(f"{where}: {path} must hold one token on one line")
    return token


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


class _Reader:
    def __init__(self, path: Path, sha256: str) -> None:
        self.path, self.sha256 = path, sha256
        self.base = path.parent

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {message}")

    def section(self, raw: Any, name: str) -> dict[str, Any]:
        where = name or "the file"
        if not isinstance(raw, dict):
            raise self.fail(where, f"expected a mapping of keys, got {_kind(raw)}")
        for key in raw:
            if not isinstance(key, str):
                raise self.fail(where, f"key {str(key)[:40]!r} is not text")
        unknown = sorted(set(raw) - _SECTIONS[name])
        if unknown:
            known = ", ".join(sorted(_SECTIONS[name]))
            raise self.fail(where, "unknown key" + ("s " if len(unknown) > 1 else " ")
                            + ", ".join(_path(name, k)[:80] for k in unknown)
                            + f" (known: {known})")
        for key in _REQUIRED.get(name, ()):
            if raw.get(key) is None:
                raise self.fail(_path(name, key), "is required")
        return raw

    def text(self, raw: Any, where: str, limit: int = 2048) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(where, f"expected text, got {_kind(raw)}")
        if len(raw) > limit:
            raise self.fail(where, f"longer than {limit} characters")
        return raw.strip()

    def integer(self, raw: Any, where: str, low: int, high: int) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(where, f"expected a whole number, got {_kind(raw)}")
        if not low <= raw <= high:
            raise self.fail(where, f"must be between {low} and {high}, got {raw}")
        return raw

    def boolean(self, raw: Any, where: str) -> bool:
        if not isinstance(raw, bool):
            raise self.fail(where, f"expected true or false, got {_kind(raw)}")
        return raw

    def file_path(self, raw: Any, where: str, must_exist: bool = True) -> Path:
        path = Path(self.text(raw, where, 4096)).expanduser()
        if "\x00" in str(path):
            raise self.fail(where, "contains a NUL character")
        path = path if path.is_absolute() else self.base / path
        if must_exist and not path.is_file():
            raise self.fail(where, f"no such file: {path}")
        return path

    def url(self, raw: Any, where: str) -> str:
        url = self.text(raw, where).rstrip("/")
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
            raise self.fail(where, f"expected an http:// or https:// URL, got {url[:80]!r}")
        return url

    def platform_url(self, raw: Any) -> str:
        """https://, or http:// to this machine only: the bearer token of a focal point must
        not cross a network in clear."""
        url = self.url(raw, "platform.url")
        if url.startswith("http://"):
            from urllib.parse import urlsplit

            host = (urlsplit(url).hostname or "").lower()
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise self.fail("platform.url", f"{url[:80]!r} is plain http:// to another "
                                "machine: the token would cross the network in clear; use "
                                "https:// (http:// is accepted for 127.0.0.1, ::1 or "
                                "localhost only)")
        return url

    def duration(self, raw: Any, where: str) -> int:
        try:
            return parse_duration(raw, where)
        except ConfigError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None

    def read(self, raw: Any) -> CampaignConfig:
        top = self.section(raw, "")
        name = self.text(top["name"], "name", 64)
        if not NAME.fullmatch(name):
            raise self.fail("name", f"{name!r} must be lower-case letters, digits and dashes "
                                    "(a slug, at most 64 characters, not starting with a dash)")
        lists_raw = top["lists"] if isinstance(top["lists"], list) else [top["lists"]]
        if not lists_raw or len(lists_raw) > 100:
            raise self.fail("lists", "expected one to 100 list files")
        lists = [self.file_path(item, f"lists[{i}]") for i, item in enumerate(lists_raw)]
        schedule = self.schedule(self.section(top["schedule"], "schedule"))
        control = self.section(top["control"], "control")
        pins_raw = control.get("pin") or []
        pins_raw = pins_raw if isinstance(pins_raw, list) else [pins_raw]
        pins = [self.pin(p, f"control.pin[{i}]") for i, p in enumerate(pins_raw)]
        control_url = self.url(control["url"], "control.url")
        if pins and not control_url.startswith("https://"):
            raise self.fail("control.pin", "needs an https:// control.url")
        platform = self.section(top["platform"], "platform")
        # An absent (or empty: `vantage:`) section is no section; any other value is checked.
        vantage = self.section({} if top.get("vantage") is None else top["vantage"], "vantage")
        probe = self.probe(self.section({} if top.get("probe") is None else top["probe"],
                                        "probe"))
        if vantage.get("bind") is not None:
            probe["bind"] = self.ip(vantage["bind"], "vantage.bind")
        retry_min = self.duration(platform.get("retry_min", 10), "platform.retry_min")
        retry_max = self.duration(platform.get("retry_max", 900), "platform.retry_max")
        if not 1 <= retry_min <= retry_max:
            raise self.fail("platform.retry_min", "must be at least 1 s and at most retry_max")
        return CampaignConfig(
            path=self.path, sha256=self.sha256, name=name, lists=lists, schedule=schedule,
            control_url=control_url,
            # Secrets are checked when read (--check, the start), not here: they may be
            # systemd credentials that exist only inside the service, and --status runs
            # outside it.
            control_token_file=self.file_path(control["token_file"], "control.token_file",
                                              must_exist=False),
            control_pins=pins,
            sign_key=self.file_path(top["sign_key"], "sign_key", must_exist=False),
            state_dir=self.file_path(top["state_dir"], "state_dir", must_exist=False),
            platform_url=self.platform_url(platform["url"]),
            platform_token_file=self.file_path(platform["token_file"], "platform.token_file",
                                               must_exist=False),
            platform_ca_file=(self.file_path(platform["ca_file"], "platform.ca_file")
                              if platform.get("ca_file") is not None else None),
            retry_min=retry_min, retry_max=retry_max,
            self_cc=self.cc(vantage.get("self_cc")), self_asn=self.asn(vantage.get("self_asn")),
            geoip_db=(self.file_path(vantage["geoip_db"], "vantage.geoip_db")
                      if vantage.get("geoip_db") is not None else None),
            asn_db=(self.file_path(vantage["asn_db"], "vantage.asn_db")
                    if vantage.get("asn_db") is not None else None),
            concurrency=self.integer(top.get("concurrency", 16), "concurrency", 1, 1024),
            keep_acknowledged=self.boolean(top.get("keep_acknowledged", True),
                                           "keep_acknowledged"),
            probe=probe)

    def schedule(self, raw: dict[str, Any]) -> Schedule:
        interval = self.duration(raw["interval"], "schedule.interval")
        if interval < MIN_INTERVAL:
            raise self.fail("schedule.interval", f"must be at least {MIN_INTERVAL} s")
        jitter = self.duration(raw.get("jitter", 0), "schedule.jitter")
        if jitter >= interval:
            raise self.fail("schedule.jitter", "must be shorter than schedule.interval")
        timezone = self.text(raw.get("timezone", "UTC"), "schedule.timezone", 64)
        if timezone not in ("UTC", "local"):
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise self.fail("schedule.timezone", f"{timezone!r} is not UTC, local or a "
                                                     "time zone name such as America/Havana"
                                ) from None
        quiet = None
        if raw.get("quiet_hours") is not None:
            text = self.text(raw["quiet_hours"], "schedule.quiet_hours", 20).replace(" ", "")
            match = QUIET.fullmatch(text)
            if not match:
                raise self.fail("schedule.quiet_hours", f"{text!r} is not HH:MM-HH:MM, e.g. "
                                                        "01:00-05:00")
            h1, m1, h2, m2 = (int(x) for x in match.groups())
            quiet = (dt.time(h1, m1), dt.time(h2, m2))
            if quiet[0] == quiet[1]:
                raise self.fail("schedule.quiet_hours", "start and end are the same time")
            span = ((h2 * 60 + m2) - (h1 * 60 + m1)) % 1440
            if span * 60 + jitter >= 86400:
                raise self.fail("schedule.quiet_hours", "leaves no time in the day for a round")
        return Schedule(interval=interval, jitter=jitter, quiet=quiet, timezone=timezone)

    def pin(self, raw: Any, where: str) -> str:
        from sentinelle.observatory.access.tls_pin import parse_pins

        text = self.text(raw, where, 200)
        try:
            parse_pins(text)
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None
        return text

    def ip(self, raw: Any, where: str) -> str:
        try:
            return str(ipaddress.ip_address(self.text(raw, where, 64)))
        except ValueError:
            raise self.fail(where, f"not an IP address: {str(raw)[:64]!r}") from None

    def cc(self, raw: Any) -> str | None:
        if raw is None:
            return None
        text = self.text(raw, "vantage.self_cc", 2)
        if len(text) != 2 or not text.isascii() or not text.isalpha():
            raise self.fail("vantage.self_cc", f"expected two letters, got {text!r}")
        return text.upper()

    def asn(self, raw: Any) -> int | None:
        if raw is None:
            return None
        if isinstance(raw, str) and raw.upper().removeprefix("AS").isdigit():
            raw = int(raw.upper().removeprefix("AS")[:12])
        return self.integer(raw, "vantage.self_asn", 1, 2**32 - 1)

    def probe(self, raw: dict[str, Any]) -> dict[str, Any]:
        from sentinelle.observatory.access import measure as m

        out: dict[str, Any] = {}
        if "per_host" in raw:
            out["per_host"] = self.integer(raw["per_host"], "probe.per_host", 1, 64)
        if "timeout" in raw:
            value = raw["timeout"]
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    0 < value <= 300):
                raise self.fail("probe.timeout", "expected seconds between 0 and 300")
            out["timeout"] = float(value)
        if "resolver" in raw:
            if raw["resolver"] in (None, "none"):
                out["resolver"] = None
            else:
                text = self.text(raw["resolver"], "probe.resolver", 100)
                try:
                    m.parse_resolver(text)
                except ValueError as exc:
                    raise self.fail("probe.resolver", str(exc)) from None
                out["resolver"] = text
        if "system_resolver" in raw:
            out["system_resolver"] = self.boolean(raw["system_resolver"], "probe.system_resolver")
        if raw.get("ca_file") is not None:
            out["ca_file"] = self.file_path(raw["ca_file"], "probe.ca_file")
        if raw.get("fingerprints") is not None:
            items = raw["fingerprints"] if isinstance(raw["fingerprints"], list) else [
                raw["fingerprints"]]
            out["fingerprints"] = [self.file_path(x, f"probe.fingerprints[{i}]")
                                   for i, x in enumerate(items[:100])]
        if "max_body" in raw:
            out["max_body"] = self.integer(raw["max_body"], "probe.max_body", 1024, 64 * 2**20)
        if out.get("system_resolver") is False and out.get("resolver", "") is None:
            raise self.fail("probe.system_resolver", "false needs a probe.resolver")
        return out


def _path(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key
