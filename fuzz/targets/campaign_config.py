"""The probe campaign's config file (observatory/access/campaign/config.py), as ``probe
campaign --config`` reads it: the input is parsed with the files it may name present in a
fixed directory (lists, tokens with mode 0600, a key), so that mutations reach the checks of
every section; an accepted config's schedule is then planned and its token files read.

Seeds: ``deploy/probe-campaign.example.yaml`` and ``fuzz/corpus/campaign_config/`` (a config
naming the files of that directory)."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path

from fuzz.harness import Target
from sentinelle.observatory.access.campaign import config as c
from sentinelle.observatory.access.campaign.schedule import next_round

_DIR = Path(tempfile.mkdtemp(prefix="fuzz-campaign-"))
for _name, _text in (("cu.csv", "url\nhttps://example.org/\n"), ("probe.key", "key\n"),
                     ("control.token", "control-token-0123\n"),
                     ("platform.token", "platform-token-0123\n")):
    (_DIR / _name).write_text(_text)
    (_DIR / _name).chmod(0o600)
_PATH = _DIR / "campaign.yaml"
_NOW = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)


def run(data: bytes) -> None:
    config = c.loads(data, _PATH)
    plan = next_round(None, _NOW, config.schedule, random.Random(1))
    next_round(plan.nominal, _NOW, config.schedule, random.Random(2))
    config.control_token()
    config.platform_token()


TARGET = Target(
    name="campaign_config",
    seeds=("deploy/probe-campaign.example.yaml",),
    run=run,
    refusals=(c.ConfigError,),
    kind="yaml",
)
