"""Scrapes first (exporter/priority.py): while a scrape renders, background syncs hold their next
request; the scrape's answer is unchanged and the syncs go on once it is done."""

from __future__ import annotations

import threading

from exporter.priority import ScrapesFirst
from tests.waiting import eventually


def test_a_sync_waits_while_a_scrape_renders_and_goes_on_after():
    first = ScrapesFirst(longest_pause=30)
    went: list[bool] = []
    with first.rendering():
        sync = threading.Thread(target=lambda: went.append(first.give_way()))
        sync.start()

        def waiting() -> None:
            assert sync.is_alive()

        eventually(waiting, timeout=5, what="the sync waiting")
        assert went == []  # it has not gone past the render
    sync.join(timeout=10)
    assert went == [True]


def test_overlapping_renders_hold_syncs_until_the_last_ends():
    first = ScrapesFirst(longest_pause=30)
    outer = first.rendering()
    outer.__enter__()
    with first.rendering():
        pass
    assert first.busy  # the other render is still going
    outer.__exit__(None, None, None)
    assert not first.busy
    assert first.give_way() is True


def test_a_render_that_never_ends_delays_a_sync_only_so_long():
    first = ScrapesFirst(longest_pause=0.05)
    with first.rendering():
        assert first.give_way() is False  # gave up waiting: the sync goes on
