"""Build the `routing scan` bench configuration (watch list + as-rel) from the shared data.

    .venv/bin/python bench/routing/make_scan_config.py [--out tests/fixtures/bgp/scan]

Writes, deterministically (same data, same bytes):

* ``watch.yaml`` — eight States of the APNIC region plus two whose ASNs originate the most
  routes of the RouteViews RIB; a State's ``asns`` are real operators and its prefixes are the
  VRPs of those ASNs in ``rpki/rpki-validator_test_5000vrps.json`` (what
  `sentinelle routing vrp-to-watch` gives a CIRT), or, for ASNs with no VRP in that file, the
  prefixes the ASN originates in the RIB. ``neighbors`` (allowed first hops) are the two most
  frequent upstreams seen in the data, so the first-hop check runs and flags the rest;
* ``as-rel.txt.gz`` — a CAIDA-style as-rel inferred from every AS path of the reference files
  with Gao's degree heuristic (the highest-degree AS of a path is its top provider; links
  climbing to it are customer-to-provider, links seen both ways or between two of the 20
  highest-degree ASes are peer-to-peer). No CAIDA file is available offline: this one has the
  real links of the data, so the leak check looks every triple up, as it would with CAIDA's.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import ipaddress
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "bgp"
MRT = SHARED / "mrt"
FILES = [MRT / "ripe-ncc-bgpdump/test_data/updates.et-header.2015.gz",
         MRT / "pyasn/rib.20140523.0600_firstMB.bz2",
         MRT / "ripe-ncc-bgpdump/test_data/bview.20020722.2337.gz"]
VRPS = SHARED / "rpki" / "rpki-validator_test_5000vrps.json"
# State code -> ASNs (public operators of that State)
STATES = {
    "PH": [9299, 4775, 6648],   # PLDT, Globe, Bayan
    "TH": [7470],               # True Internet
    "HK": [4760],               # HKT
    "SG": [3758],               # SingNet
    "ID": [4787, 4795],         # Link Net/CBN, Indosat
    "AU": [1221],               # Telstra
    "JP": [2497],               # IIJ
    "KR": [4766],               # Korea Telecom
    "RU": [8402],               # Corbina (no VRP here: prefixes from the RIB)
    "IN": [45528],              # Tikona (idem)
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "bgp" / "scan")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from sentinelle.observatory.routing.asrel import deprepend
    from sentinelle.observatory.routing.mrt import read_elements
    from sentinelle.observatory.routing.rpki import load_vrps
    from sentinelle.observatory.routing.watchlist import StateWatch, WatchedPrefix, WatchList

    paths: collections.Counter[tuple[int, ...]] = collections.Counter()
    rib_prefixes: dict[int, set[str]] = collections.defaultdict(set)
    wanted = {a for asns in STATES.values() for a in asns}
    for path in FILES:
        for e in read_elements(str(path)):
            hops = deprepend(e.as_path)
            if hops and all(isinstance(h, int) for h in hops):
                paths[tuple(hops)] += 1  # type: ignore[arg-type]
                if hops[-1] in wanted and e.kind == "B" and "." in e.prefix:
                    rib_prefixes[hops[-1]].add(e.prefix)  # type: ignore[index]
    neighbours: dict[int, set[int]] = collections.defaultdict(set)
    for hops in paths:
        for a, b in zip(hops, hops[1:], strict=False):
            neighbours[a].add(b)
            neighbours[b].add(a)
    degree = collections.Counter({a: len(n) for a, n in neighbours.items()})
    clique = set(sorted(degree, key=lambda a: (-degree[a], a))[:20])
    votes: dict[tuple[int, int], int] = {}  # (provider, customer) -> count
    for hops in paths:
        top = max(range(len(hops)), key=lambda i, h=hops: (degree[h[i]], -i))
        for i in range(len(hops) - 1):
            a, b = hops[i], hops[i + 1]
            pair = (a, b) if i < top else (b, a)  # (provider, customer)
            votes[pair] = votes.get(pair, 0) + 1
    rels: dict[tuple[int, int], int] = {}
    for (p, c) in sorted(votes):
        key = (min(p, c), max(p, c))
        if key in rels:
            continue
        if (c, p) in votes or (p in clique and c in clique):
            rels[key] = 0
        else:
            rels[(p, c)] = -1
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["# inferred from the AS paths of: " + ", ".join(p.name for p in FILES),
             "# by bench/routing/make_scan_config.py (Gao degree heuristic; not CAIDA's file)"]
    lines += [f"{a}|{b}|{r}" for (a, b), r in sorted(rels.items())]
    with gzip.GzipFile(args.out / "as-rel.txt.gz", "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())

    vrps = load_vrps(VRPS)
    upstream: dict[int, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for hops, n in paths.items():
        if len(hops) >= 2 and hops[-1] in wanted:
            upstream[hops[-1]][hops[-2]] += n
    states = []
    for code, asns in STATES.items():
        state_asns = frozenset(asns)
        near: collections.Counter[int] = collections.Counter()
        for a in asns:
            near.update(upstream[a])
        allowed = frozenset(a for a, _ in near.most_common() if a not in state_asns)
        allowed = frozenset(sorted(allowed, key=lambda a: -near[a])[:2])
        state = StateWatch(code=code, asns=state_asns, neighbors=allowed)
        merged: dict = {}
        for vrp in vrps:
            if vrp.asn in state_asns:
                origins, length = merged.get(vrp.prefix, (set(), vrp.max_length))
                origins.add(vrp.asn)
                merged[vrp.prefix] = (origins, max(length, vrp.max_length))
        if not merged:
            for a in asns:
                for text in sorted(rib_prefixes[a]):
                    net = ipaddress.ip_network(text)
                    merged.setdefault(net, (set(), net.prefixlen))[0].add(a)
        seen_order = sorted(merged, key=lambda n: (n.version, int(n.network_address),
                                                   n.prefixlen))
        for net in seen_order:
            origins, length = merged[net]
            state.prefixes.append(WatchedPrefix(net, code, frozenset(origins), length))
        states.append(state)
    watch = WatchList(states)
    header = ("# `routing scan` bench watch list, written by bench/routing/make_scan_config.py\n"
              "# (prefixes: VRPs of the States' ASNs in rpki-validator_test_5000vrps.json,\n"
              "# or what the ASN originates in rib.20140523.0600_firstMB; neighbors: the two\n"
              "# most frequent upstreams in the reference files)\n")
    (args.out / "watch.yaml").write_text(header + watch.dump_yaml(), encoding="utf-8")
    print(f"{len(watch)} watched prefixes in {len(states)} States, {len(rels)} as-rel links "
          f"from {len(paths)} distinct paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
