"""Engine configuration with ksqlDB's defaults, and the per-request session (SET, DEFINE).

`EngineConfig` is the server configuration plus ksqlDB's defaults for the properties the engine reads.
A `Session` layers request properties and SET overrides on top, and holds DEFINEd variables; a /ksql
request gets a fresh one, the conformance driver keeps one for a whole test case.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["DEFAULTS", "Session", "config_bool", "offset_reset", "is_known_property", "unknown_properties",
           "UNRECOGNIZED_PROPERTY"]

DEFAULTS: dict[str, Any] = {
    "ksql.service.id": "default_",
    "ksql.persistence.default.format.key": "KAFKA",
    "ksql.persistence.default.format.value": None,
    "ksql.persistence.wrap.single.values": None,
    "ksql.output.topic.name.prefix": "",
    "ksql.insert.into.values.enabled": True,
    "ksql.timestamp.throw.on.invalid": False,
    "ksql.source.table.materialization.enabled": True,
    "ksql.logging.processing.topic.auto.create": False,
    "ksql.logging.processing.stream.auto.create": False,
    "ksql.logging.processing.topic.name": "",
    "ksql.logging.processing.stream.name": "KSQL_PROCESSING_LOG",
    "ksql.logging.processing.rows.include": False,
    "ksql.query.pull.table.scan.enabled": True,
    "ksql.query.pull.stream.enabled": True,
}
"""Defaults of the properties the engine reads (ksqlDB 0.29 code defaults)."""

_STREAMS_PREFIX = "ksql.streams."


def config_bool(value: Any, default: bool = False) -> bool:
    """A boolean property value given as bool or text."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


@dataclass
class Session:
    """Properties (server config, then request properties, then SET) and variables of one session."""

    server: Mapping[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        for source in (self.overrides, self.server):
            if name in source:
                return source[name]
            if name.startswith(_STREAMS_PREFIX) and name[len(_STREAMS_PREFIX):] in source:
                return source[name[len(_STREAMS_PREFIX):]]
            if _STREAMS_PREFIX + name in source:
                return source[_STREAMS_PREFIX + name]
        return DEFAULTS.get(name, default) if default is None else default

    def flag(self, name: str) -> bool:
        return config_bool(self.get(name), config_bool(DEFAULTS.get(name)))

    def effective(self) -> dict[str, Any]:
        """All properties in force (defaults, server, overrides)."""
        merged = dict(DEFAULTS)
        merged.update(self.server)
        merged.update(self.overrides)
        return merged


def offset_reset(session: Session) -> str | None:
    """`auto.offset.reset` in force ('earliest' / 'latest'), or None for each source's own default."""
    value = session.get("auto.offset.reset")
    return None if value is None else str(value).strip().lower()


# -- request properties (ksqlDB's LocalPropertyParser with KsqlConfigResolver, strict) -----------------------

_CLIENT_COMMON = """bootstrap.servers client.dns.lookup client.id client.rack metadata.max.age.ms send.buffer.bytes
receive.buffer.bytes reconnect.backoff.ms reconnect.backoff.max.ms retries retry.backoff.ms metrics.sample.window.ms
metrics.num.samples metrics.recording.level metric.reporters security.protocol security.providers
socket.connection.setup.timeout.ms socket.connection.setup.timeout.max.ms connections.max.idle.ms request.timeout.ms
interceptor.classes ssl.protocol ssl.enabled.protocols ssl.provider ssl.cipher.suites ssl.keystore.type
ssl.keystore.location ssl.keystore.password ssl.key.password ssl.keystore.key ssl.keystore.certificate.chain
ssl.truststore.certificates ssl.truststore.type ssl.truststore.location ssl.truststore.password
ssl.keymanager.algorithm ssl.trustmanager.algorithm ssl.endpoint.identification.algorithm
ssl.secure.random.implementation ssl.engine.factory.class sasl.mechanism sasl.jaas.config
sasl.client.callback.handler.class sasl.login.callback.handler.class sasl.login.class sasl.kerberos.service.name
sasl.kerberos.kinit.cmd sasl.kerberos.ticket.renew.window.factor sasl.kerberos.ticket.renew.jitter
sasl.kerberos.min.time.before.relogin sasl.login.refresh.window.factor sasl.login.refresh.window.jitter
sasl.login.refresh.min.period.seconds sasl.login.refresh.buffer.seconds sasl.login.connect.timeout.ms
sasl.login.read.timeout.ms sasl.login.retry.backoff.max.ms sasl.login.retry.backoff.ms
sasl.oauthbearer.scope.claim.name sasl.oauthbearer.sub.claim.name sasl.oauthbearer.token.endpoint.url
sasl.oauthbearer.jwks.endpoint.url sasl.oauthbearer.jwks.endpoint.refresh.ms
sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms sasl.oauthbearer.jwks.endpoint.retry.backoff.ms
sasl.oauthbearer.clock.skew.seconds sasl.oauthbearer.expected.audience sasl.oauthbearer.expected.issuer"""
_CONSUMER = _CLIENT_COMMON + """ group.id group.instance.id max.poll.records max.poll.interval.ms session.timeout.ms
heartbeat.interval.ms partition.assignment.strategy enable.auto.commit auto.commit.interval.ms fetch.min.bytes
fetch.max.bytes fetch.max.wait.ms max.partition.fetch.bytes auto.offset.reset check.crcs key.deserializer
value.deserializer default.api.timeout.ms exclude.internal.topics internal.leave.group.on.close
internal.throw.on.fetch.stable.offset.unsupported isolation.level allow.auto.create.topics"""
_PRODUCER = _CLIENT_COMMON + """ acks batch.size linger.ms delivery.timeout.ms max.request.size buffer.memory
compression.type max.block.ms max.in.flight.requests.per.connection key.serializer value.serializer
partitioner.class partitioner.adaptive.partitioning.enable partitioner.availability.timeout.ms
partitioner.ignore.keys enable.idempotence transaction.timeout.ms transactional.id metadata.max.idle.ms"""
_STREAMS = """application.id bootstrap.servers application.server acceptable.recovery.lag buffered.records.per.partition
built.in.metrics.version cache.max.bytes.buffering statestore.cache.max.bytes client.id commit.interval.ms
connections.max.idle.ms default.client.supplier default.deserialization.exception.handler default.dsl.store
default.key.serde default.list.key.serde.inner default.list.key.serde.type default.list.value.serde.inner
default.list.value.serde.type default.production.exception.handler default.timestamp.extractor
default.value.serde default.windowed.key.serde.inner default.windowed.value.serde.inner max.task.idle.ms
max.warmup.replicas metadata.max.age.ms metric.reporters metrics.num.samples metrics.recording.level
metrics.sample.window.ms num.standby.replicas num.stream.threads partition.grouper poll.ms
probing.rebalance.interval.ms processing.guarantee rack.aware.assignment.tags receive.buffer.bytes
reconnect.backoff.max.ms reconnect.backoff.ms replication.factor repartition.purge.interval.ms request.timeout.ms
retries retry.backoff.ms rocksdb.config.setter security.protocol send.buffer.bytes state.cleanup.delay.ms
state.dir task.timeout.ms topology.optimization upgrade.from window.size.ms windowed.inner.class.serde
windowstore.changelog.additional.retention.ms
__emit.interval.ms.kstreams.outer.join.spurious.results.fix__ __emit.interval.ms.kstreams.windowed.aggregation__"""
_TOPIC = """cleanup.policy compression.type delete.retention.ms file.delete.delay.ms flush.messages flush.ms
follower.replication.throttled.replicas index.interval.bytes leader.replication.throttled.replicas
local.retention.bytes local.retention.ms max.compaction.lag.ms max.message.bytes message.downconversion.enable
message.format.version message.timestamp.difference.max.ms message.timestamp.type min.cleanable.dirty.ratio
min.compaction.lag.ms min.insync.replicas preallocate remote.storage.enable retention.bytes retention.ms
segment.bytes segment.index.bytes segment.jitter.ms segment.ms unclean.leader.election.enable"""
CONSUMER_CONFIGS = frozenset(_CONSUMER.split())
PRODUCER_CONFIGS = frozenset(_PRODUCER.split())
STREAMS_CONFIGS = frozenset(_STREAMS.split())
TOPIC_CONFIGS = frozenset(_TOPIC.split())
UNRECOGNIZED_PROPERTY = "Not recognizable as ksql, streams, consumer, or producer property: '{}'"


def is_known_property(name: str) -> bool:
    """Whether ksqlDB 0.29 accepts `name` as a request property (KsqlConfigResolver, strict).

    Kafka consumer, producer and streams configs (also `consumer.`/`producer.`-prefixed and under
    `ksql.streams.`), `topic.` + a topic config, `request.ksql.` properties and every other `ksql.` name;
    ksqlDB knows its own `ksql.` configs one by one, labkit accepts the whole prefix.
    """
    if name.startswith("request.ksql.") or (name.startswith("ksql.") and not name.startswith(_STREAMS_PREFIX)):
        return True
    key = name[len(_STREAMS_PREFIX):] if name.startswith(_STREAMS_PREFIX) else name
    if key.startswith("consumer.") and key[len("consumer."):] in CONSUMER_CONFIGS:
        return True
    if key.startswith("producer.") and key[len("producer."):] in PRODUCER_CONFIGS:
        return True
    if key in CONSUMER_CONFIGS or key in PRODUCER_CONFIGS or key in STREAMS_CONFIGS:
        return True
    return key.startswith("topic.") and key[len("topic."):] in TOPIC_CONFIGS


def unknown_properties(properties: Mapping[str, Any]) -> list[str]:
    """The names in `properties` that ksqlDB would refuse with UNRECOGNIZED_PROPERTY, in request order."""
    return [name for name in properties if not is_known_property(str(name))]
