"""When two actor ids name the same actor (docs/rules.md, "Matching people").

Emails are typed by hand into workstreams.csv and seats.csv, in whatever case, and the API may
spell them otherwise: `Alice@Example.com` is `alice@example.com`. An API key name is a label
someone chose, and two keys may differ only by case, so it matches exactly. Every comparison of
actors goes through `actor_key`, so that the ledger, the seats and the usage agree on who is who.
"""

import pandas as pd


def is_email(actor: str) -> bool:
    """An actor id with an `@` is an email; API key names, key ids and the like have none."""
    return "@" in actor


def actor_key(actor: str) -> str:
    """The form in which an actor id is compared: an email trimmed and in lower case, any other
    id exactly as written."""
    return actor.strip().lower() if is_email(actor) else actor


def actor_keys(actors: pd.Series) -> pd.Series:
    """`actor_key` of each actor, keeping the index; computed once per distinct id, since usage
    tables repeat each actor on thousands of rows."""
    distinct = pd.unique(actors.dropna())
    return actors.map({actor: actor_key(actor) for actor in distinct})
