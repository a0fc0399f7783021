"""``sentinelle probe campaign --config C.yaml [--once | --drain | --check | --status]``.

Exit status: 0 done (or stopped by SIGTERM), 1 the campaign stopped (the platform refused the
token, the helper's key changed, the state directory is in use or damaged), 2 a bad option or a
bad config (the message names the key), 3 (``--once``/``--drain``) bundles remain pending in the
outbox (they are sent at the next start).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from .config import ConfigError, load

CAMPAIGN_EXAMPLE = """\
example:
  sentinelle probe campaign --config /etc/sentinelle/probe-campaign.yaml --check
  sentinelle probe campaign --config /etc/sentinelle/probe-campaign.yaml
  sentinelle probe campaign --config /etc/sentinelle/probe-campaign.yaml --status

The config (YAML) names the lists, the schedule (interval, jitter, quiet hours), the control
helper, the platform and a state directory; tokens are read from files only the owner can
read. See docs/observatory.md, "Campaigns", and deploy/probe-campaign.example.yaml.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``campaign`` subcommand of ``sentinelle probe``."""
    campaign = sub.add_parser(
        "campaign", help="run lists on a schedule and submit each round's bundle to the platform",
        description="Run the config's lists on a schedule, as a long-running process; each "
                    "round's signed bundle goes into a local outbox and is submitted to the "
                    "platform until it is acknowledged.",
        epilog=CAMPAIGN_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    campaign.add_argument("--config", required=True, metavar="FILE.yaml",
                          help="the campaign's configuration (YAML)")
    mode = campaign.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="run one round now, try to deliver every pending bundle once, and "
                           "exit (cron, tests); exit status 3 if bundles remain pending")
    mode.add_argument("--drain", action="store_true",
                      help="run no round: try to deliver every pending bundle once and exit")
    mode.add_argument("--check", action="store_true",
                      help="check the config, the token files and the signing key, print "
                           "a summary, and exit")
    mode.add_argument("--status", action="store_true",
                      help="print the outbox counts and the last rounds, and exit")
    campaign.add_argument("--no-progress", action="store_true",
                          help="no progress bar during a round (none anyway without a terminal)")


def run(args: argparse.Namespace) -> int:
    from .loop import Campaign, CampaignError, configure_logging
    from .outbox import OutboxError

    try:
        config = load(args.config)
    except ConfigError as exc:
        return _fail(f"--config: {exc}")
    if args.status:
        return _status(config)
    if args.check:
        try:
            config.control_token()
            config.platform_token()
            config.check_sign_key()
        except ConfigError as exc:
            return _fail(f"--config: {exc}")
        print(f"{config.path}: campaign {config.name!r}, {len(config.lists)} list(s), every "
              f"{config.schedule.interval} s (jitter {config.schedule.jitter} s, quiet hours "
              f"{_quiet(config)}), platform {config.platform_url}, state {config.state_dir}")
        return 0
    configure_logging()
    campaign = Campaign(config, progress=not args.no_progress and sys.stderr.isatty())
    try:
        campaign.open()
        campaign.install_signals()
        if args.once:
            return campaign.run_once()
        if args.drain:
            return campaign.drain()
        campaign.run_forever()
        return 0
    except ConfigError as exc:
        return _fail(f"--config: {exc}")
    except (CampaignError, OutboxError) as exc:
        print(f"sentinelle probe campaign: error: {exc}", file=sys.stderr)
        return 1
    finally:
        campaign.log_stop()
        campaign.close()


def _quiet(config) -> str:
    quiet = config.schedule.quiet
    if quiet is None:
        return "none"
    return f"{quiet[0]:%H:%M}-{quiet[1]:%H:%M} {config.schedule.timezone}"


def _status(config) -> int:
    from .outbox import Outbox, OutboxError

    try:
        outbox = Outbox(config.state_dir, config.name, read_only=True)
    except OutboxError as exc:
        return _fail(str(exc))
    try:
        counts = outbox.counts()
        print(f"campaign {config.name}: outbox {counts['pending']} pending, "
              f"{counts['acknowledged']} acknowledged, {counts['refused']} refused")
        planned = outbox.meta("next_at")
        if planned:
            print(f"next round at {planned}")
        for item in outbox.pending_list()[:20]:
            when = dt.datetime.fromtimestamp(item["next_at"], dt.UTC).isoformat(
                timespec="seconds")
            print(f"  pending {item['sha256'][:12]} round {item['round']}: "
                  f"{item['attempts']} attempts, next {when}"
                  + (f", last error: {item['last_error']}" if item["last_error"] else ""))
        for item in outbox.rounds(10):
            verdicts = ", ".join(f"{k} {v}" for k, v in sorted(item["verdicts"].items()))
            line = (f"round {item['round']}: {item['status']}, started {item['started_at']}"
                    + (f", {item['urls']} URLs ({verdicts})" if item["urls"] is not None else ""))
            if item["bundle"]:
                line += f", bundle {item['bundle']}"
                if item["report"]:
                    line += f" as report {item['report']}"
                if item["bundle"] == "refused" and item["bundle_error"]:
                    line += f": {item['bundle_error']}"
            if item["error"]:
                line += f" ({item['error']})"
            print(line)
    finally:
        outbox.close()
    return 0


def _fail(message: str) -> int:
    print(f"sentinelle probe campaign: error: {message}", file=sys.stderr)
    return 2
