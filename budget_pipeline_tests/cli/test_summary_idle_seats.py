"""The summary's idle-seat listing: one column per figure, aligned whatever the statuses, the
emails and the costs (`no Claude Code use` is the longest status)."""

from budget_pipeline.cli.summary import idle_seat_lines
from budget_pipeline_tests.idle_seat_rows import idle_seats_frame

LONG_EMAIL = "a.very.long.name.indeed@subsidiary.example.com"
SEATS = idle_seats_frame(
    [
        ("idle@x.com", "search", 0, 0, "completely idle", None, 60.0, "2026-03-01", 0),
        ("new.hire@x.com", "data", 0, 0, "no Claude Code use", None, 150.0, "2026-03-30", 42),
        ("reviewer@x.com", "mobile", 3, 5, "barely active", "reviews", 60.0, "2026-03-29", 7),
        (LONG_EMAIL, "search", 1250, 12, "barely active", None, 1500.0, "2026-03-28", 0),
        ("never@x.com", "search", 0, 0, "completely idle", None, 60.0, None, 0),
    ],
    "other_activity",
)


def test_every_column_of_the_idle_seat_listing_lines_up():
    lines = idle_seat_lines(SEATS)
    assert len(lines) == len(SEATS)
    for marker in ("sessions", "lines", "/mo"):
        ends = {line.index(marker) + len(marker) for line in lines}
        assert len(ends) == 1, (marker, lines)
    statuses = {line.index(status) for line, status in zip(lines, SEATS["status"], strict=True)}
    assert len(statuses) == 1, lines
    assert lines[2].endswith("last active 2026-03-29 — reviews")
    assert lines[4].endswith("  $60/mo  not active on any Claude surface")


def test_the_column_after_the_status_starts_one_space_after_the_longest_status():
    idle, chat_only, barely = idle_seat_lines(SEATS.head(3))
    assert idle.startswith("  idle@x.com" + " " * 19 + "completely idle      0 sessions")
    assert chat_only.startswith("  new.hire@x.com" + " " * 15 + "no Claude Code use   0 sessions")
    assert barely.startswith("  reviewer@x.com" + " " * 15 + "barely active        3 sessions")
