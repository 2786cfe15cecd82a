"""Paged list answers stay within one Claude tool result (lib/paging.py)."""

from helpers import pure_modules

paging = pure_modules.load("lib.paging")


def test_a_page_stops_before_the_budget_and_names_the_next_offset():
    items = [{"name": "x" * 100}] * 10
    kept, next_offset = paging.fit(items, offset=20, more=False, budget=450)
    assert (len(kept), next_offset) == (3, 23)


def test_a_last_page_that_fits_has_no_next_offset():
    items = [{"name": "a"}, {"name": "b"}]
    assert paging.fit(items, offset=0, more=False) == (items, None)
    assert paging.fit(items, offset=4, more=True) == (items, 6)


def test_one_item_is_kept_even_over_the_budget():
    kept, next_offset = paging.fit([{"name": "y" * 500}] * 2, 0, False, budget=10)
    assert (len(kept), next_offset) == (1, 1)
