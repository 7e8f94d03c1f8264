"""When two actor ids name the same actor (docs/rules.md, "Matching people").

Emails are typed by hand into workstreams.csv and seats.csv, in whatever case, and the API may
spell them otherwise: `Alice@Example.com` is `alice@example.com`. An API key name is a label
someone chose, and two keys may differ only by case, so it matches exactly. Every comparison of
actors goes through `actor_key`, so that the ledger, the seats and the usage agree on who is who.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd


def is_email(actor: str) -> bool:
    """An actor id with an `@` is an email; API key names, key ids and the like have none."""
    return "@" in actor


def actor_key(actor: str) -> str:
    """The form in which an actor id is compared: an email trimmed and in lower case, any other
    id exactly as written."""
    return actor.strip().lower() if is_email(actor) else actor


def actor_keys(actors: pd.Series) -> pd.Series:
    """`actor_key` of each actor, keeping the index."""
    return _per_distinct_actor(actors, actor_key, None)


def looked_up_by_actor_key(
    actors: pd.Series, by_key: Mapping[str, object], default: object
) -> pd.Series:
    """`by_key[actor_key(actor)]` of each actor (a mapping keyed by actor keys), `default` for
    an actor it does not hold; keeping the index."""
    return _per_distinct_actor(actors, lambda actor: by_key.get(actor_key(actor), default), default)


def _per_distinct_actor(actors: pd.Series, value_of, missing: object) -> pd.Series:
    # Once per distinct id: usage tables repeat each actor on thousands of rows, and a per-row
    # map over a million rows cost most of a second.
    codes, distinct = pd.factorize(actors)
    values = np.empty(len(distinct) + 1, dtype=object)
    values[:-1] = [value_of(actor) for actor in distinct]
    values[-1] = missing  # code -1: a missing actor
    return pd.Series(values[codes], index=actors.index, name=actors.name, dtype="object")
