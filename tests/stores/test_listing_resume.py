"""A listing that broke off starts again and passes over what it yielded: in key order or not, changed
meanwhile or not, never a key lost or given twice without an error (pure logic: the sequences a store
lists; the real case, SeaweedFS through the fault proxy, is in tests/faults/test_faults.py)."""

from __future__ import annotations

import pytest

from airflow_datastores.errors import DataStoreError
from airflow_datastores.stores.retrying import _ListingResume


def _resume(first: list[str], broke_after: int, again: list[str]) -> list[str]:
    resume, out = _ListingResume("s3://b/"), []
    for key in first[:broke_after]:
        assert not resume.seen(key)
        out.append(key)
    resume.restart()
    out += [key for key in again if not resume.seen(key)]
    resume.end()
    return out


ORDERED = ["a/1", "a/2", "a/3", "b/1"]
UNORDERED = ["a/1", "a/2", "a-b/1", "b/1"]  # SeaweedFS: directory "a" before "a-b"


@pytest.mark.parametrize("listing", [ORDERED, UNORDERED])
@pytest.mark.parametrize("broke_after", [0, 1, 2, 3])
def test_an_unchanged_listing_gives_every_key_once(listing, broke_after):
    assert _resume(listing, broke_after, listing) == listing


def test_an_ordered_listing_that_changed_gives_the_new_keys_after_the_last():
    got = _resume(ORDERED, 2, ["a/2", "a/3", "a/4", "b/1"])  # a/1 went, a/4 came
    assert got == ["a/1", "a/2", "a/3", "a/4", "b/1"]


def test_an_unordered_listing_that_changed_is_an_error_not_a_lost_key():
    listing = ["a/2", "a/1", "a-b/1"]
    with pytest.raises(DataStoreError, match="out of key order"):
        _resume(listing, 2, ["a/2", "a/0", "a/1", "a-b/1"])
    with pytest.raises(DataStoreError, match="out of key order"):
        _resume(listing, 2, ["a/2"])  # shorter than what was yielded
