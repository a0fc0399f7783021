"""Watch lists of prefixes per State (observatory/routing/watchlist.py), as ``routing scan
--watch FILE`` reads them; a loaded list is also matched against a few prefixes."""

from fuzz.harness import Target
from sentinelle.observatory.routing import watchlist
from sentinelle.observatory.routing.prefixes import parse_prefix

_PROBES = [parse_prefix(p) for p in ("10.0.0.0/8", "190.6.64.0/24", "2001:db8:cc00::/48")]


def run(data: bytes) -> None:
    watch = watchlist.loads(data, "fuzz.yaml")
    for prefix in _PROBES:
        watch.matches_all(prefix)
    watch.dump_yaml()


TARGET = Target(
    name="watchlist",
    seeds=(),
    run=run,
    refusals=(watchlist.WatchListError,),
    kind="yaml",
)
