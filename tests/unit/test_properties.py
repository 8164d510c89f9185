"""Rendering of each KRaft node's server.properties."""
from pathlib import Path

from labkit.cluster.embedded import new_cluster_id
from labkit.cluster.properties import NodeSpec, quorum_voters, render_properties


def _nodes(n):
    return [NodeSpec(i, 9096 + i, 19096 + i, Path(f"/tmp/node{i}/data")) for i in range(1, n + 1)]


def _parse(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_three_nodes_are_all_voters_with_rf3_and_min_isr2():
    nodes = _nodes(3)
    props = [_parse(render_properties(n, nodes)) for n in nodes]
    voters = {p["controller.quorum.voters"] for p in props}
    assert voters == {"1@127.0.0.1:19097,2@127.0.0.1:19098,3@127.0.0.1:19099"}
    for node, p in zip(nodes, props):
        assert p["process.roles"] == "broker,controller"
        assert p["node.id"] == str(node.node_id)
        assert p["listeners"] == f"PLAINTEXT://127.0.0.1:{node.client_port},CONTROLLER://127.0.0.1:{node.controller_port}"
        assert p["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:{node.client_port}"
        assert "CONTROLLER" not in p["advertised.listeners"]
        assert p["log.dirs"] == str(node.data_dir)
        assert p["default.replication.factor"] == "3"
        assert p["min.insync.replicas"] == "2"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"
        assert p["auto.create.topics.enable"] == "true"
        assert p["num.partitions"] == "1"


def test_client_ports_are_the_lesson_ports():
    ports = [_parse(render_properties(n, _nodes(3)))["advertised.listeners"].rsplit(":", 1)[1] for n in _nodes(3)]
    assert ports == ["9097", "9098", "9099"]


def test_single_node_lowers_every_replication_setting_to_one():
    nodes = _nodes(1)
    p = _parse(render_properties(nodes[0], nodes))
    assert p["controller.quorum.voters"] == "1@127.0.0.1:19097"
    for key in ("default.replication.factor", "min.insync.replicas", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor", "transaction.state.log.min.isr"):
        assert p[key] == "1", key


def test_bind_host_is_used_everywhere():
    nodes = _nodes(3)
    text = render_properties(nodes[0], nodes, host="10.0.0.5")
    assert "127.0.0.1" not in text
    assert quorum_voters(nodes, "10.0.0.5").count("10.0.0.5") == 3


def test_cluster_id_is_22_url_safe_characters():
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cid in ids:
        assert len(cid) == 22
        assert set(cid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cluster_id_never_starts_with_a_dash():
    # The storage tool's parser reads a leading dash as an option; Kafka's own Uuid.randomUuid avoids it too.
    ids = [new_cluster_id() for _ in range(3000)]
    assert not [cid for cid in ids if cid.startswith("-")]
    assert any("-" in cid for cid in ids)  # dashes elsewhere stay allowed
