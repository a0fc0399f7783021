"""The STIX ids of imported records, and whose namespace an id is in (issue 11, finding 8).

Ids derived from a format's own id are derived within the importing State's namespace and
*sealed* to it: the uuid carries the State's alpha-2 code and a check (`seal`), so anyone can
tell whose namespace an id is in, and nobody can probe or squat another State's derived ids.
The rules that use them (what is kept, moved or merged) are in ``exchange.importer``.
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed namespace: the same source id imported by the same State gives the same STIX id on every
# instance.
SENTINELLE_NAMESPACE = uuid.UUID("6f1b9d1e-5a4c-4d55-9a34-8c2f0f6c2b71")
# How many times an id held by another State is moved into the importer's namespace before the
# record is refused: past the first step only a State squatting on purpose gets there.
MAX_REMAP = 4

def stix_uuid(kind: str, external_id: str | None) -> uuid.UUID | None:
    """The uuid of `external_id` when it is a STIX id of this kind, else None."""
    if not (external_id and external_id.startswith(f"{kind}--")):
        return None
    try:
        return uuid.UUID(external_id.split("--", 1)[1])
    except ValueError:
        return None


# A sealed uuid keeps the first 80 bits of a uuid5 (version and variant included) and puts in
# its last 48 bits the State's alpha-2 code (10 bits) and a 38-bit check over both: a random id
# passes for sealed once in 2^38.
_NODE_BITS, _CHECK_BITS = 48, 38


def _check(code: str, high: int) -> int:
    digest = hashlib.sha256(b"sentinelle-id:" + code.encode() + high.to_bytes(10, "big"))
    return int.from_bytes(digest.digest()[:5], "big") >> (40 - _CHECK_BITS)


def _sealable(code: str) -> bool:
    return len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()


def seal(value: uuid.UUID, code: str) -> uuid.UUID:
    """`value` sealed to the State whose alpha-2 code is `code`."""
    high = value.int >> _NODE_BITS
    number = (ord(code[0]) - 65) * 26 + (ord(code[1]) - 65)
    return uuid.UUID(int=(high << _NODE_BITS) | (number << _CHECK_BITS) | _check(code, high))


def sealed_to(stix_id: str) -> str | None:
    """The alpha-2 code of the State whose namespace `stix_id` is in, or None (not sealed)."""
    try:
        value = uuid.UUID(stix_id.split("--", 1)[1])
    except (IndexError, ValueError):
        return None
    return sealed_code(value)


def sealed_code(value: uuid.UUID) -> str | None:
    high, node = value.int >> _NODE_BITS, value.int & ((1 << _NODE_BITS) - 1)
    number = node >> _CHECK_BITS
    if number >= 26 * 26:
        return None
    code = chr(65 + number // 26) + chr(65 + number % 26)
    return code if node & ((1 << _CHECK_BITS) - 1) == _check(code, high) else None


def stable_id(kind: str, source_format: str, external_id: str | None, fallback: str,
              scope: str = "") -> str:
    """The record's own STIX id, or one derived from its source id (or its content).

    A derived id is in the namespace of `scope` (the importing State's alpha-2 code) and sealed
    to it; an explicit id sealed to another State is moved into `scope`'s namespace. The empty
    scope gives the unscoped id of earlier versions, still recognised on the importer's own
    reports."""
    if stix_uuid(kind, external_id) is not None:
        # Unscoped, the id stays as it is whoever it is sealed to: no need to ask (a SHA-256).
        owner = sealed_to(external_id) if scope else None
        if owner is not None and owner != scope:
            return own_namespace_id(kind, scope, external_id)
        return external_id
    key = f"{source_format}:{external_id}" if external_id else f"content:{fallback}"
    if not scope:
        return f"{kind}--{uuid.uuid5(SENTINELLE_NAMESPACE, key)}"
    return _in_namespace(kind, scope, f"{scope}:{key}")


def _in_namespace(kind: str, scope: str, key: str) -> str:
    value = uuid.uuid5(SENTINELLE_NAMESPACE, key)
    return f"{kind}--{seal(value, scope) if _sealable(scope) else value}"


def own_namespace_id(kind: str, scope: str, stix_id: str) -> str:
    """Where an id another State holds, or sealed to another State, goes for `scope`:
    deterministic, so a re-import finds it again."""
    return _in_namespace(kind, scope, f"{scope}:id:{stix_id}")


def candidate_ids(kind: str, scope: str, primary: str) -> list[str]:
    chain = [primary]
    for _step in range(MAX_REMAP):
        chain.append(own_namespace_id(kind, scope, chain[-1]))
    return chain
