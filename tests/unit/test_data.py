"""labkit.data: seeded, lesson-shaped fake data."""
from labkit import data


def test_users_have_the_material_fields_and_are_reproducible():
    first, again = data.users(5, seed=1), data.users(5, seed=1)
    assert first == again
    assert [u["id"] for u in first] == [1, 2, 3, 4, 5]
    assert set(first[0]) == {"id", "name", "address"}
    assert all("\n" not in u["address"] for u in first)
    assert data.users(5, seed=2) != first


def test_later_batches_continue_the_ids_and_differ():
    more = data.users(5, start=6)
    assert [u["id"] for u in more] == [6, 7, 8, 9, 10]
    assert {u["name"] for u in more} != {u["name"] for u in data.users(5)}


def test_jobs_clicks_orders():
    assert set(data.jobs(3)[0]) == {"id", "job", "company"}
    clicks = data.clicks(10, user_ids=[1, 2])
    assert {c["user_id"] for c in clicks} <= {1, 2}
    assert [c["ts"] for c in clicks] == sorted(c["ts"] for c in clicks)
    assert all(1 <= o["pizzas"] <= 4 for o in data.orders(20))
