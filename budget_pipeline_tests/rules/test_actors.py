"""Matching people: an email matches trimmed and in any case, an API key name only exactly."""

import pandas as pd
import pytest

from budget_pipeline.rules.actors import actor_key, actor_keys


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("Alice@Example.com", "alice@example.com", True),
        (" alice@example.com ", "ALICE@EXAMPLE.COM", True),
        ("alice@example.com", "alice@example.org", False),
        ("CI-Bot", "ci-bot", False),  # two keys may differ only by case
        ("ci-bot", "ci-bot", True),
        (" ci-bot", "ci-bot", False),  # a key name is matched as written
    ],
)
def test_two_actor_ids_match_when_their_keys_are_equal(first, second, same):
    assert (actor_key(first) == actor_key(second)) is same


def test_actor_keys_keep_the_index_and_are_computed_per_distinct_id():
    actors = pd.Series(["Bob@X.com", "deploy-Key", "bob@x.com"], index=[7, 8, 9])
    keys = actor_keys(actors)
    assert keys.to_dict() == {7: "bob@x.com", 8: "deploy-Key", 9: "bob@x.com"}
    assert actor_keys(pd.Series([], dtype="object")).empty
