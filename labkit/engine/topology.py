"""EXPLAIN's `topology`: a query's execution steps described as Kafka Streams describes a topology.

ksqlDB builds a Kafka Streams topology from a query's plan and EXPLAIN prints `Topology.describe()`:
sub-topologies (split where a repartition topic is written and read back), each a list of sources (with
their topics), processors (with their state stores) and sinks (with their topic), linked by `-->` (to) and
`<--` (from). labkit derives the same shape from its steps: sources read `KSTREAM-SOURCE-n` and are
transformed by `KSTREAM-TRANSFORMVALUES-n` (tables are materialized in `KTABLE-SOURCE-n` with their
`<context>-Reduce` store), ksqlDB's named processors (`WhereFilter`, `Project`, `Aggregate-GroupBy`, ...)
follow, and the sink is `KSTREAM-SINK-n`. Internal topics show without the query's prefix, as in Kafka Streams.
Processor numbers follow the order nodes are added; they can differ from Kafka Streams' own counter.

    >>> from labkit.engine.engine import KsqlEngine
    >>> from labkit.engine.topics import InMemoryTopicStore
    >>> engine = KsqlEngine(InMemoryTopicStore())
    >>> _ = engine.execute("CREATE STREAM S (ID INT KEY, V INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, "
    ...                    "VALUE_FORMAT='JSON'); CREATE STREAM O AS SELECT * FROM S WHERE V > 0;")
    >>> print(engine.runtime.queries["CSAS_O_1"].topology)  # doctest: +NORMALIZE_WHITESPACE
    Topologies:
       Sub-topology: 0
        Source: KSTREAM-SOURCE-0000000000 (topics: [s])
          --> KSTREAM-TRANSFORMVALUES-0000000001
        Processor: KSTREAM-TRANSFORMVALUES-0000000001 (stores: [])
          --> WhereFilter
          <-- KSTREAM-SOURCE-0000000000
        Processor: WhereFilter (stores: [])
          --> Project
          <-- KSTREAM-TRANSFORMVALUES-0000000001
        Processor: Project (stores: [])
          --> KSTREAM-SINK-0000000004
          <-- WhereFilter
        Sink: KSTREAM-SINK-0000000004 (topic: O)
          <-- Project
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["describe_topology"]


@dataclass(eq=False)
class _Node:
    kind: str  # Source, Processor or Sink
    name: str
    topics: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    successors: list["_Node"] = field(default_factory=list)
    predecessors: list["_Node"] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.kind == "Source":
            head = f"Source: {self.name} (topics: [{', '.join(self.topics)}])"
        elif self.kind == "Sink":
            head = f"Sink: {self.name} (topic: {self.topics[0]})"
        else:
            head = f"Processor: {self.name} (stores: [{', '.join(self.stores)}])"
        out = [f"    {head}"]
        if self.kind != "Sink":
            out.append(f"      --> {', '.join(n.name for n in self.successors) or 'none'}")
        if self.kind != "Source":
            out.append(f"      <-- {', '.join(n.name for n in self.predecessors) or 'none'}")
        return out


def _stores(step: Any) -> tuple[str, ...]:
    names = getattr(step, "store_names", None)
    if names:
        return tuple(names)
    name = getattr(step, "store_name", None) or (getattr(step, "store", None)
                                                  if isinstance(getattr(step, "store", None), str) else None)
    return (name,) if name else ()


class _Builder:
    """Adds nodes in Kafka Streams' order (upstream first), numbering the unnamed ones with one counter."""

    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.counter = 0

    def numbered(self, prefix: str) -> str:
        name = f"{prefix}-{self.counter:010d}"
        self.counter += 1
        return name

    def add(self, kind: str, name: str, after: list[_Node], *, topics: tuple[str, ...] = (),
            stores: tuple[str, ...] = ()) -> _Node:
        if not name.startswith(("KSTREAM-", "KTABLE-")):
            self.counter += 1  # named processors still take a number in Kafka Streams
        node = _Node(kind, name, topics, stores)
        for parent in after:
            parent.successors.append(node)
            node.predecessors.append(parent)
        self.nodes.append(node)
        return node

    def processor(self, name: str, after: list[_Node], stores: tuple[str, ...] = ()) -> _Node:
        return self.add("Processor", name, after, stores=stores)

    def repartition(self, topic: str, after: _Node) -> _Node:
        """Write to an internal repartition topic and read it back: the next sub-topology starts there."""
        prefix = topic[: -len("-repartition")] if topic.endswith("-repartition") else topic
        filtered = self.processor(f"{prefix}-repartition-filter", [after])
        self.add("Sink", f"{prefix}-repartition-sink", [filtered], topics=(topic,))
        return self.add("Source", f"{prefix}-repartition-source", [], topics=(topic,))

    def step(self, step: Any) -> _Node:
        """Add the nodes of `step` (after those of its inputs); returns the node its rows leave from."""
        kind = type(step).__name__
        if kind == "SourceStep":
            source = self.add("Source", self.numbered("KSTREAM-SOURCE"), [], topics=(step.source.topic,))
            if step.is_table:
                source = self.processor(self.numbered("KTABLE-SOURCE"), [source], _stores(step))
            return self.processor(self.numbered("KTABLE-TRANSFORMVALUES" if step.is_table
                                                else "KSTREAM-TRANSFORMVALUES"), [source])
        inputs = [self.step(getattr(step, side)) for side in ("left", "right") if getattr(step, side, None)]
        parent = getattr(step, "parent", None)
        if parent is not None and hasattr(parent, "describe"):
            inputs = [self.step(parent)]
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            return handler(step, inputs)
        return self.processor(step.describe().split("(")[0], inputs, _stores(step))

    # ksqlDB's processor names per step kind

    def _FilterStep(self, step: Any, inputs: list[_Node]) -> _Node:
        return self.processor("WhereFilter", inputs)

    def _ProjectStep(self, step: Any, inputs: list[_Node]) -> _Node:
        return self.processor("Project", inputs)

    def _SelectKeyStep(self, step: Any, inputs: list[_Node]) -> _Node:
        return self.processor("PartitionBy-SelectKey", inputs)

    def _PrependAliasStep(self, step: Any, inputs: list[_Node]) -> _Node:
        return self.processor(f"PrependAlias{step.alias}", inputs)

    def _RepartitionStep(self, step: Any, inputs: list[_Node]) -> _Node:
        topic = step.topic.name if step.topic is not None else f"{step.side}SourceKeyed-repartition"
        prefix = topic[: -len("-repartition")] if topic.endswith("-repartition") else topic
        keyed = self.processor(f"{prefix}-SelectKey", inputs)
        read_back = self.repartition(topic, keyed)
        if step.store is not None:
            return self.processor(self.numbered("KTABLE-SOURCE"), [read_back], (step.store,))
        return read_back

    def _GroupByStep(self, step: Any, inputs: list[_Node]) -> _Node:
        grouped = self.processor("Aggregate-GroupBy", inputs)
        if step.topic is None:
            return grouped
        return self.repartition(step.topic.name, grouped)

    def _AggregateStep(self, step: Any, inputs: list[_Node]) -> _Node:
        window = step.spec.window
        name = "KSTREAM-AGGREGATE" if not step.parent.is_table else "KTABLE-AGGREGATE"
        aggregated = self.processor(self.numbered(name), inputs, _stores(step))
        if window is not None:
            aggregated = self.processor("Aggregate-WindowSelect", [aggregated])
        return self.processor("Aggregate-Aggregate-ToOutputSchema", [aggregated])

    def _WindowBoundsStep(self, step: Any, inputs: list[_Node]) -> _Node:
        return self.processor("Aggregate-WindowBounds", inputs)

    def _StreamTableJoinStep(self, step: Any, inputs: list[_Node]) -> _Node:
        stream, table = inputs
        right_store = _stores(step.right)
        return self.processor("Join", [stream], right_store)

    def _StreamStreamJoinStep(self, step: Any, inputs: list[_Node]) -> _Node:
        stores = _stores(step)
        this = self.processor(self.numbered("KSTREAM-JOINTHIS" if step.kind != "OUTER" else "KSTREAM-OUTERTHIS"),
                              [inputs[0]], stores[:1])
        other = self.processor(self.numbered("KSTREAM-JOINOTHER" if step.kind == "INNER"
                                             else "KSTREAM-OUTEROTHER"), [inputs[1]], stores[1:])
        return self.processor(self.numbered("KSTREAM-MERGE"), [this, other])

    def _TableTableJoinStep(self, step: Any, inputs: list[_Node]) -> _Node:
        this = self.processor(self.numbered("KTABLE-JOINTHIS"), [inputs[0]], _stores(step.right))
        other = self.processor(self.numbered("KTABLE-JOINOTHER"), [inputs[1]], _stores(step.left))
        return self.processor(self.numbered("KTABLE-MERGE"), [this, other])

    def _ForeignKeyJoinStep(self, step: Any, inputs: list[_Node]) -> _Node:
        subscribe = self.processor(self.numbered("KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION"), [inputs[0]])
        process = self.processor(self.numbered("KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR"), [subscribe, inputs[1]],
                                 _stores(step))
        return self.processor(self.numbered("KTABLE-FK-JOIN-OUTPUT"), [process])

    def _MaterializeStep(self, step: Any, inputs: list[_Node]) -> _Node:
        return self.processor(self.numbered("KTABLE-TRANSFORMVALUES"), inputs, _stores(step))

    def _SinkStep(self, step: Any, inputs: list[_Node]) -> _Node:
        if step.is_table:
            inputs = [self.processor(self.numbered("KTABLE-TOSTREAM"), inputs)]
        return self.add("Sink", self.numbered("KSTREAM-SINK"), inputs, topics=(step.topic,))


def _sub_topologies(nodes: list[_Node]) -> list[list[_Node]]:
    """Nodes connected by `-->`/`<--` or sharing a state store (as Kafka Streams groups them), in the order
    their first node was added."""
    by_store: dict[str, list[_Node]] = {}
    for node in nodes:
        for store in node.stores:
            by_store.setdefault(store, []).append(node)
    group_of: dict[int, int] = {}
    groups: list[list[_Node]] = []
    for node in nodes:
        if id(node) in group_of:
            continue
        members, todo = [], [node]
        group_of[id(node)] = len(groups)
        while todo:
            current = todo.pop()
            members.append(current)
            sharing = [other for store in current.stores for other in by_store[store]]
            for neighbour in current.successors + current.predecessors + sharing:
                if id(neighbour) not in group_of:
                    group_of[id(neighbour)] = len(groups)
                    todo.append(neighbour)
        order = {id(n): i for i, n in enumerate(nodes)}
        groups.append(sorted(members, key=lambda n: order[id(n)]))
    return groups


def describe_topology(root: Any) -> str:
    """Kafka Streams' `TopologyDescription` text of the steps ending in `root` (usually a SinkStep)."""
    builder = _Builder()
    builder.step(root)
    lines = ["Topologies:"]
    for number, group in enumerate(_sub_topologies(builder.nodes)):
        lines.append(f"   Sub-topology: {number}")
        for node in group:
            lines.extend(node.lines())
        lines.append("")
    return "\n".join(lines)
