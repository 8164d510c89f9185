"""The in-memory store of ordered retry: ids grouped by key, tombstones free only their own id."""
import threading

import pytest

from labkit.patterns.errors import InvalidRecordError
from labkit.patterns.redirect_store import RedirectStore, compacted_view, lock_group, lock_value, message_id


def test_a_key_stays_locked_until_its_last_id_is_freed():
    store = RedirectStore()
    assert store.add("t/0/1", "k3") and store.add("t/0/4", "k3") and store.add("t/0/2", "k1")
    assert store.ids_of("k3") == ["t/0/1", "t/0/4"]
    assert store.remove("t/0/1")
    assert store.is_locked("k3") and store.ids_of("k3") == ["t/0/4"]
    assert store.remove("t/0/4")
    assert not store.is_locked("k3")
    assert store.locked_keys() == ["k1"]


def test_adding_twice_and_removing_unknown_ids_are_harmless():
    store = RedirectStore()
    assert store.add("a", "k") is True
    assert store.add("a", "k") is False
    assert len(store) == 1
    assert store.remove("nope") is False
    assert "a" in store and "nope" not in store


def test_apply_follows_lock_records_and_tombstones():
    store = RedirectStore()
    store.apply(b"t/0/7", lock_value("k2", ("t", 0, 7)))
    store.apply(b"t/0/9", lock_value("k2", ("t", 0, 9)))
    store.apply(b"t/0/7", None)
    store.apply(None, b"ignored")
    assert store.snapshot() == {"t/0/9": "k2"}


def test_compacted_view_keeps_the_last_value_per_id_and_drops_tombstoned_ids():
    records = [(b"a", lock_value("k1", ("t", 0, 1))), (b"b", lock_value("k1", ("t", 0, 2))), (b"a", None),
               (b"c", lock_value("k2", ("t", 0, 3))), (b"c", None), (b"c", lock_value("k2", ("t", 0, 3)))]
    assert compacted_view(records) == {"b": "k1", "c": "k2"}
    store = RedirectStore()
    for key, value in records:
        store.apply(key, value)
    assert store.snapshot() == compacted_view(records)


def test_message_ids_are_stable_source_coordinates():
    assert message_id("orders", 2, 17) == "orders/2/17"


def test_a_redirect_record_that_is_not_a_lock_is_an_invalid_record():
    with pytest.raises(InvalidRecordError):
        lock_group(b"{not json")
    with pytest.raises(InvalidRecordError):
        lock_group(b'{"group": "k1"}')


def test_store_is_safe_to_read_while_another_thread_writes():
    store = RedirectStore()

    def writer(n: int) -> None:
        for i in range(500):
            store.add(f"{n}/{i}", f"k{i % 7}")
            store.remove(f"{n}/{i - 1}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for _ in range(200):
        snapshot = store.snapshot()
        assert all(isinstance(k, str) for k in snapshot)
    for t in threads:
        t.join()
    assert store.snapshot() == {f"{n}/499": "k2" for n in range(4)}
