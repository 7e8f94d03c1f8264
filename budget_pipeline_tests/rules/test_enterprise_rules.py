"""The Enterprise source's rules on their own, with hand-made rows."""

from budget_pipeline.rules.enterprise import repeated_member


def test_a_member_listed_once_a_day_is_no_repeat():
    assert repeated_member([["ada@example.com", "bo@example.com"], ["cy@example.com"]]) is None


def test_a_member_listed_twice_on_one_page_is_named_with_that_page():
    pages = [["ada@example.com"], ["bo@example.com", "cy@example.com", "bo@example.com"]]
    assert repeated_member(pages) == (2, "bo@example.com", 2)


def test_a_member_listed_again_on_a_later_page_matches_trimmed_and_case_insensitively():
    pages = [["Ada@Example.com", "bo@example.com"], ["cy@example.com"], [" ada@example.com "]]
    assert repeated_member(pages) == (3, " ada@example.com ", 1)
