"""Retry policies: delay levels, the level after n failures, validation."""
import pytest

from labkit.patterns.retry import RetryLevel, RetryPolicy
from labkit.patterns.topology import PatternTopics


def test_tiered_policy_names_one_topic_per_delay_and_allows_one_try_per_level():
    policy = RetryPolicy.tiered("orders-retry", delays=(1.0, 10.0, 60.0))
    assert policy.topics == ["orders-retry-1", "orders-retry-2", "orders-retry-3"]
    assert policy.max_attempts == 4
    assert [policy.level_after(n).delay for n in (1, 2, 3, 4, 9)] == [1.0, 10.0, 60.0, 60.0, 60.0]
    assert policy.delay_of("orders-retry-2") == 10.0 and policy.delay_of("other") == 0.0


def test_single_policy_and_validation():
    policy = RetryPolicy.single("r", delay=0.5, max_attempts=5)
    assert policy.levels == (RetryLevel("r", 0.5),) and policy.level_after(3).topic == "r"
    with pytest.raises(ValueError):
        RetryPolicy(())
    with pytest.raises(ValueError):
        RetryPolicy.single("r", delay=1, max_attempts=0)


def test_pattern_topics_match_a_tiered_policy_and_name_groups_per_run():
    topics = PatternTopics("lesson05-retry", retry_levels=2, run="abc")
    policy = RetryPolicy.tiered(f"{topics.prefix}-retry", delays=(0.5, 1.0))
    assert topics.retry_topics == policy.topics
    assert topics.retry == "lesson05-retry-retry-1"
    assert topics.all == ["lesson05-retry-main", "lesson05-retry-output", "lesson05-retry-error",
                          "lesson05-retry-retry-1", "lesson05-retry-retry-2", "lesson05-retry-redirect"]
    assert topics.group("main") == "lesson05-retry-main-abc"
    assert PatternTopics("x").run != PatternTopics("x").run
