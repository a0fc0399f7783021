"""The routing watch list: which prefixes and ASNs of which State to watch.

YAML shape::

    states:
      CU:
        name: Cuba                      # optional
        asns: [27725]                   # the State's ASNs (default legitimate origins)
        neighbors: [11960]              # allowed first hops next to the origin; [] = no check
                                        # (the State's own ASNs and the origins always are)
        prefixes:
          - prefix: 190.6.64.0/19
            origins: [27725]            # legitimate origins; [] = must not be announced (squatting)
            max_length: 24              # more-specifics up to /24 from a legitimate origin are fine
            neighbors: [11960, 6939]    # optional per-prefix override
          - 200.55.128.0/18             # short form: origins = asns, max_length = prefix length

The file is read with PyYAML's safe loader after two guards: a size cap and a refusal of YAML
aliases (``*name``), so an alias "billion laughs" cannot expand in memory. Every problem raises
`WatchListError` naming the file and the line (from the YAML node marks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .prefixes import MAX_LEN, Network, PrefixIndex, parse_prefix
from .rpki import VRP, parse_asn

MAX_WATCH_BYTES = 4 * 1024 * 1024
STATE_CODE = re.compile(r"^[A-Z]{2}$")
STATE_KEYS = {"name", "asns", "neighbors", "prefixes"}
PREFIX_KEYS = {"prefix", "origins", "max_length", "neighbors", "note"}


class WatchListError(ValueError):
    """Invalid watch list; `line` is 1-based (0 when unknown)."""

    def __init__(self, message: str, source: str = "<watch>", line: int = 0) -> None:
        self.source = source
        self.line = line
        where = f"{source}: line {line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class WatchedPrefix:
    prefix: Network
    state: str
    origins: frozenset[int]
    max_length: int
    neighbors: frozenset[int] | None = None  # None: use the State's list
    line: int = 0

    @property
    def squat(self) -> bool:
        """origins: [] means nobody may announce it (ARTEMIS Q|0 when it shows up)."""
        return not self.origins


@dataclass(slots=True)
class StateWatch:
    code: str
    name: str = ""
    asns: frozenset[int] = frozenset()
    neighbors: frozenset[int] = frozenset()
    prefixes: list[WatchedPrefix] = field(default_factory=list)

    def allowed_neighbors(self, watched: WatchedPrefix) -> frozenset[int]:
        return watched.neighbors if watched.neighbors is not None else self.neighbors


class WatchList:
    def __init__(self, states: Iterable[StateWatch] = (), source: str = "<watch>") -> None:
        self.source = source
        self.states: dict[str, StateWatch] = {}
        self._index: PrefixIndex[WatchedPrefix] = PrefixIndex()
        self._asn_states: dict[int, list[str]] = {}
        for state in states:
            self.add_state(state)

    def add_state(self, state: StateWatch) -> None:
        self.states[state.code] = state
        for watched in state.prefixes:
            self._index.add(watched.prefix, watched)
        for asn in state.asns:
            self._asn_states.setdefault(asn, []).append(state.code)

    def __len__(self) -> int:
        return len(self._index)

    def prefixes(self) -> Iterable[WatchedPrefix]:
        for state in self.states.values():
            yield from state.prefixes

    def match(self, prefix: Network) -> dict[str, WatchedPrefix]:
        """For each State, the most specific watched prefix covering (or equal to) `prefix`."""
        found: dict[str, WatchedPrefix] = {}
        for _, watched in self._index.covering(prefix):  # least specific first
            found[watched.state] = watched
        return found

    def matches_all(self, prefix: Network) -> list[WatchedPrefix]:
        """Every watched prefix covering `prefix` (for visibility accounting)."""
        return [watched for _, watched in self._index.covering(prefix)]

    def lookup(self, version: int, address: int, prefixlen: int) -> list[WatchedPrefix]:
        """`matches_all` for a prefix given as integers (the scanner's per-route form)."""
        return self._index.lookup(version, address, prefixlen)

    def index(self) -> PrefixIndex[WatchedPrefix]:
        """The prefix index behind `match`/`lookup` (read it, do not change it)."""
        return self._index

    def states_of_asn(self, asn: int) -> list[str]:
        return self._asn_states.get(asn, [])

    def asn_states(self) -> dict[int, list[str]]:
        """ASN -> State codes, the table behind `states_of_asn` (read it, do not change it)."""
        return self._asn_states

    def to_data(self) -> dict:
        states: dict[str, dict] = {}
        for code, state in self.states.items():
            entry: dict = {}
            if state.name:
                entry["name"] = state.name
            entry["asns"] = sorted(state.asns)
            entry["neighbors"] = sorted(state.neighbors)
            items = []
            for watched in state.prefixes:
                item: dict = {"prefix": str(watched.prefix), "origins": sorted(watched.origins),
                              "max_length": watched.max_length}
                if watched.neighbors is not None:
                    item["neighbors"] = sorted(watched.neighbors)
                items.append(item)
            entry["prefixes"] = items
            states[code] = entry
        return {"states": states}

    def dump_yaml(self) -> str:
        return yaml.safe_dump(self.to_data(), sort_keys=False, default_flow_style=None,
                              width=100)


# --------------------------------------------------------------------------- loading


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.constructor = SafeConstructor()
        self.seen_prefixes: dict[Network, int] = {}

    def error(self, message: str, node: Node | None) -> WatchListError:
        line = node.start_mark.line + 1 if node is not None and node.start_mark else 0
        return WatchListError(message, self.source, line)

    def scalar(self, node: Node) -> object:
        if not isinstance(node, ScalarNode):
            raise self.error("expected a single value, got a list or mapping", node)
        return self.constructor.construct_object(node, deep=True)

    def mapping(self, node: Node, what: str, allowed: set[str] | None) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.error(f"{what} must be a mapping", node)
        result: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            key = str(key) if key is not None else ""
            if key in result:
                raise self.error(f"duplicate key {key!r} in {what}", key_node)
            if allowed is not None and key not in allowed:
                raise self.error(
                    f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})",
                    key_node)
            result[key] = value_node
        return result

    def sequence(self, node: Node, what: str) -> list[Node]:
        if isinstance(node, ScalarNode) and self.scalar(node) is None:
            return []
        if not isinstance(node, SequenceNode):
            raise self.error(f"{what} must be a list", node)
        return list(node.value)

    def asn_list(self, node: Node, what: str) -> frozenset[int]:
        asns = set()
        for item in self.sequence(node, what):
            try:
                asns.add(parse_asn(self.scalar(item)))
            except ValueError as exc:
                raise self.error(f"{what}: {exc}", item) from None
        return frozenset(asns)

    def state(self, code: str, key_node: Node, node: Node) -> StateWatch:
        if not STATE_CODE.match(code):
            raise self.error(
                f"state code {code!r} is not an ISO 3166-1 alpha-2 code (two capital letters)",
                key_node)
        fields = self.mapping(node, f"state {code}", STATE_KEYS)
        name = fields.get("name")
        state = StateWatch(
            code=code,
            name=str(self.scalar(name) or "") if name is not None else "",
            asns=self.asn_list(fields["asns"], f"{code} asns") if "asns" in fields
            else frozenset(),
            neighbors=self.asn_list(fields["neighbors"], f"{code} neighbors")
            if "neighbors" in fields else frozenset(),
        )
        for item in self.sequence(fields.get("prefixes", ScalarNode("tag:yaml.org,2002:null",
                                                                    "")), f"{code} prefixes"):
            state.prefixes.append(self.prefix(code, state, item))
        return state

    def prefix(self, code: str, state: StateWatch, node: Node) -> WatchedPrefix:
        if isinstance(node, ScalarNode):
            fields = {"prefix": node}
        else:
            fields = self.mapping(node, f"{code} prefix entry", PREFIX_KEYS)
            if "prefix" not in fields:
                raise self.error("prefix entry without 'prefix'", node)
        prefix_node = fields["prefix"]
        value = self.scalar(prefix_node)
        try:
            network = parse_prefix(str(value) if value is not None else "", strict=True)
        except ValueError as exc:
            raise self.error(str(exc), prefix_node) from None
        line = prefix_node.start_mark.line + 1
        if network in self.seen_prefixes:
            raise self.error(
                f"duplicate prefix {network} (first on line {self.seen_prefixes[network]})",
                prefix_node)
        self.seen_prefixes[network] = line
        max_length = network.prefixlen
        if "max_length" in fields:
            raw = self.scalar(fields["max_length"])
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise self.error(f"max_length must be an integer, got {raw!r}",
                                 fields["max_length"])
            if not network.prefixlen <= raw <= MAX_LEN[network.version]:
                raise self.error(
                    f"max_length {raw} outside {network.prefixlen}..{MAX_LEN[network.version]}"
                    f" for {network}", fields["max_length"])
            max_length = raw
        neighbors = (self.asn_list(fields["neighbors"], f"{network} neighbors")
                     if "neighbors" in fields else None)
        if "origins" in fields:
            origins = self.asn_list(fields["origins"], f"{network} origins")
        elif state.asns:
            origins = state.asns
        else:
            # never turn a forgotten origin list into "must not be announced" silently
            raise self.error(f"{network} has no origins and state {code} no asns: give "
                             "'origins' (or 'origins: []' for a prefix nobody may announce)",
                             prefix_node)
        return WatchedPrefix(network, code, origins, max_length, neighbors, line)


# libyaml (C) when PyYAML was built with it: the pure-Python parser needed minutes for 1 MB of
# hostile YAML (deep flow nesting). Same documents, same line marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A watch list nests five levels (states > CU > prefixes > item > origins); deeper is hostile.
MAX_DEPTH = 16
# A plain scalar of digits is constructed as an int: past 4300 digits Python refuses to
# convert it (ValueError); no ASN or length in a watch list is that long.
MAX_NUMBER_CHARS = 1000
_NUMBERISH = re.compile(r"[-+]?[0-9][0-9a-fA-FxXoObB_:.]*")


def _refuse_aliases(text: str, source: str) -> None:
    """Walk the event stream (cheap, nothing is built) and stop at the first alias, nesting
    deeper than MAX_DEPTH or an over-long number, before anything is composed."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.AliasEvent):
                raise WatchListError(
                    f"YAML aliases (*{event.anchor}) are not allowed in a watch list", source,
                    line)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise WatchListError(f"nested deeper than {MAX_DEPTH} levels", source,
                                         line)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif (isinstance(event, yaml.ScalarEvent) and event.implicit[0]
                  and len(event.value) > MAX_NUMBER_CHARS
                  and _NUMBERISH.fullmatch(event.value)):
                raise WatchListError(f"a number longer than {MAX_NUMBER_CHARS} characters",
                                     source, line)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise WatchListError(f"invalid YAML: {problem}", source,
                             mark.line + 1 if mark else 0) from None


def loads(text: str | bytes, source: str = "<watch>", *,
          max_bytes: int = MAX_WATCH_BYTES) -> WatchList:
    """Parse and validate a watch list; WatchListError (with the line) on any problem."""
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise WatchListError(f"file too large ({len(text)} bytes, limit {max_bytes})", source)
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise WatchListError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                                 source) from None
    if len(text) > max_bytes:
        raise WatchListError(f"file too large ({len(text)} characters, limit {max_bytes})",
                             source)
    _refuse_aliases(text, source)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:  # pragma: no cover - _refuse_aliases parsed it already
        raise WatchListError(f"invalid YAML: {exc}", source) from None
    reader = _Reader(source)
    if root is None:
        raise WatchListError("empty watch list (expected a mapping with 'states')", source, 1)
    top = reader.mapping(root, "the watch list", {"states"})
    if "states" not in top:
        raise reader.error("missing 'states'", root)
    states_node = top["states"]
    if not isinstance(states_node, MappingNode):
        raise reader.error("'states' must be a mapping of ISO codes", states_node)
    watch = WatchList(source=source)
    seen: set[str] = set()
    for key_node, value_node in states_node.value:
        code = str(reader.scalar(key_node))
        if code in seen:
            raise reader.error(f"duplicate state {code!r}", key_node)
        seen.add(code)
        watch.add_state(reader.state(code, key_node, value_node))
    return watch


def load(path: str | Path, *, max_bytes: int = MAX_WATCH_BYTES) -> WatchList:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise WatchListError(f"file too large ({size} bytes, limit {max_bytes})", str(path))
        data = path.read_bytes()
    except OSError as exc:
        raise WatchListError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    return loads(data, str(path), max_bytes=max_bytes)


def from_vrps(vrps: Iterable[VRP], state: str, asns: Iterable[int], *, name: str = "",
              neighbors: Iterable[int] = ()) -> WatchList:
    """A watch list for one State built from the VRPs of its ASNs.

    A prefix authorised for several of the ASNs gets all of them as origins and the largest
    maxLength (a little looser than the ROAs taken one by one). AS0 VRPs are ignored: they
    name no ASN of the State.
    """
    if not STATE_CODE.match(state):
        raise WatchListError(f"state code {state!r} is not an ISO 3166-1 alpha-2 code")
    wanted = {parse_asn(asn) for asn in asns} - {0}
    merged: dict[Network, tuple[set[int], int]] = {}
    for vrp in vrps:
        if vrp.asn in wanted:
            origins, length = merged.get(vrp.prefix, (set(), vrp.max_length))
            origins.add(vrp.asn)
            merged[vrp.prefix] = (origins, max(length, vrp.max_length))
    result = StateWatch(code=state, name=name, asns=frozenset(wanted),
                        neighbors=frozenset(parse_asn(a) for a in neighbors))
    order = sorted(merged, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    for network in order:
        origins, length = merged[network]
        result.prefixes.append(WatchedPrefix(network, state, frozenset(origins), length))
    return WatchList([result], source="<from-vrps>")
