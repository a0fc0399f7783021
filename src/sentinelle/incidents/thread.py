"""The order of a report's thread on its page: what the analyst and the State act on first."""

from __future__ import annotations

from collections.abc import Iterable

from sentinelle.incidents.models import Message


def requests_first(messages: Iterable[Message]) -> list[Message]:
    """Each request for information followed by the State's answers to it, the latest request
    first, then the other messages in the order they were written. The requests and answers
    get ``in_exchange = True`` (the page marks them)."""
    exchanges: list[list[Message]] = []
    others: list[Message] = []
    for message in messages:
        message.in_exchange = False
        if message.kind == Message.Kind.REQUEST:
            exchanges.append([message])
        elif message.kind == Message.Kind.ANSWER and exchanges:
            # An answer answers the request before it (services.post_message).
            exchanges[-1].append(message)
        else:
            others.append(message)
            continue
        message.in_exchange = True
    return [m for exchange in reversed(exchanges) for m in exchange] + others
