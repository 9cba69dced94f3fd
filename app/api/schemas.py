"""Request and response bodies: the same schemas validate, serialize and document the API."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

DAY_MS = 86_400_000
# OpenAPI 3.0 has no "not null" for an untyped value: list the JSON types instead.
NOT_NULL = [{"type": t} for t in ("object", "array", "string", "number", "boolean")]


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class StrictBoolean(fields.Boolean):
    """JSON true or false only (marshmallow's Boolean also takes 0, 1, "yes"..., which the OpenAPI type does not)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PolicySchema(StrictSchema):
    executionTimeout = fields.Integer(
        strict=True, validate=validate.Range(5_000, 7 * DAY_MS), metadata={"description": "Execution time limit (ms)"}
    )
    ttl = fields.Integer(
        strict=True,
        validate=validate.Range(10_000, 7 * DAY_MS),
        metadata={"description": "Job lifetime from submission (ms)"},
    )
    lowPriority = StrictBoolean(metadata={"description": "Run only when the normal lane is empty"})


_url = validate.URL(require_tld=False, schemes={"http", "https"})


class RunRequestSchema(StrictSchema):
    input = fields.Raw(
        required=True, allow_none=False, metadata={"description": "Handler input: any JSON but null", "anyOf": NOT_NULL}
    )
    webhook = fields.String(validate=_url, metadata={"description": "URL POSTed when the job ends"})
    webhookV2 = fields.String(validate=_url, metadata={"description": "Accepted, unused"})
    policy = fields.Nested(PolicySchema)
    s3Config = fields.Dict(metadata={"description": "Forwarded to the handler, never echoed"})


def _default_wait_ms() -> int:
    # Read per request: the default is a setting (JOBGATE_RUNSYNC_WAIT_MS, RunPod's 90 s).
    from .gateway import current_gateway

    return current_gateway().settings.runsync_wait_ms


class IdempotencyHeaderSchema(Schema):
    """The ``Idempotency-Key`` header of /run and /runsync (other headers are not read here)."""

    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Length(1, 255),
        metadata={
            "description": "Any string (1-255 characters): the same key with the same body within 24 h answers "
            "the same job, never a second one; with another body, 409. Per API key and endpoint."
        },
    )


class WaitQuerySchema(Schema):
    wait = fields.Integer(
        load_default=_default_wait_ms,
        validate=validate.Range(1_000, 300_000),
        metadata={"description": "How long to hold the request (ms); default 90000 (JOBGATE_RUNSYNC_WAIT_MS)"},
    )


class StreamQuerySchema(Schema):
    wait = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 300_000),
        metadata={
            "description": "Hold the request until a chunk arrives or this many ms pass (default 0: answer at once)"
        },
    )


class StatusQuerySchema(Schema):
    ttl = fields.Integer(
        validate=validate.Range(0, 7 * DAY_MS),
        metadata={"description": "Keep this job's result this long from now (ms)"},
    )


class JobSubmittedSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)


class QueueSchema(Schema):
    position = fields.Integer(
        allow_none=True, metadata={"description": "1: the next job its endpoint's workers take (normal lane first)"}
    )
    reason = fields.String(
        metadata={
            "description": "no_worker, handler_failed, workers_busy, workers_busy_elsewhere, low_priority or starting"
        }
    )
    detail = fields.String(metadata={"description": "The reason in words"})


class JobSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    delayTime = fields.Integer(metadata={"description": "ms spent queued"})
    executionTime = fields.Integer(metadata={"description": "ms spent running"})
    workerId = fields.String()
    output = fields.Raw(allow_none=True)
    error = fields.String()
    retries = fields.Integer()
    webhookStatus = fields.String(
        metadata={"description": "Webhook delivery: pending, delivered, or failed with the last HTTP status"}
    )
    queue = fields.Nested(QueueSchema, metadata={"description": "/status of an IN_QUEUE job: why it waits"})


class StreamSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    stream = fields.List(
        fields.Raw(), required=True, metadata={"description": 'Chunks not handed out before, each {"output": chunk}'}
    )


class JobCountsSchema(Schema):
    completed = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    inProgress = fields.Integer(required=True)
    inQueue = fields.Integer(required=True)
    retried = fields.Integer(required=True)


class WorkerCountsSchema(Schema):
    idle = fields.Integer(required=True)
    initializing = fields.Integer(required=True)
    ready = fields.Integer(required=True)
    running = fields.Integer(required=True)
    throttled = fields.Integer(required=True)
    unhealthy = fields.Integer(required=True)


class HealthSchema(Schema):
    jobs = fields.Nested(JobCountsSchema, required=True)
    workers = fields.Nested(WorkerCountsSchema, required=True)


class PurgeSchema(Schema):
    removed = fields.Integer(required=True)
    status = fields.String(required=True)


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "What went wrong"})
    code = fields.Integer(required=True, metadata={"description": "HTTP status"})
    errors = fields.Dict(metadata={"description": "Field name -> messages"})
    expiredAt = fields.String(metadata={"description": "404 of a job whose record expired: when (UTC, ISO 8601)"})
    purgedAt = fields.String(metadata={"description": "404 of a job purged from its queue: when (UTC, ISO 8601)"})


class GpuSchema(Schema):
    index = fields.Integer(required=True, metadata={"description": "NVML index (CUDA_VISIBLE_DEVICES)"})
    name = fields.String(required=True)
    memoryMb = fields.Integer(allow_none=True, attribute="memory_mb", metadata={"description": "Total memory"})
    uuid = fields.String(allow_none=True)


class WorkerSchema(Schema):
    id = fields.String(required=True, metadata={"description": "Worker id: Celery node and pool index"})
    node = fields.String(metadata={"description": "Celery node name (as Flower shows it)"})
    host = fields.String()
    pid = fields.Integer()
    state = fields.String(required=True, metadata={"description": "idle, running, unhealthy, ..."})
    jobId = fields.String(allow_none=True, metadata={"description": "A job it runs (the first of jobs)"})
    jobs = fields.List(fields.String(), metadata={"description": "Every job it runs now"})
    maxConcurrency = fields.Integer(metadata={"description": "Jobs it takes at once (its slots)"})
    gpu = fields.Nested(GpuSchema, allow_none=True, metadata={"description": "Its GPU; null on the CPU"})
    lastHeartbeat = fields.Integer(required=True, metadata={"description": "ms since the epoch"})
    metricsPort = fields.Integer(allow_none=True, metadata={"description": "Port of its node's metrics"})


class WorkerListSchema(Schema):
    workers = fields.List(fields.Nested(WorkerSchema), required=True)


class KeyInfoSchema(Schema):
    id = fields.String(required=True, metadata={"description": "The key's id (`bootstrap` for a JOBGATE_API_KEYS key)"})
    readOnly = fields.Boolean(required=True, metadata={"description": "Whether the key may only read"})


class EndpointInfoSchema(Schema):
    id = fields.String(required=True)


class EndpointListSchema(Schema):
    key = fields.Nested(KeyInfoSchema, required=True)
    endpoints = fields.List(
        fields.Nested(EndpointInfoSchema), required=True, metadata={"description": "The endpoints this key may call"}
    )


class TimelineQuerySchema(Schema):
    minutes = fields.Integer(
        load_default=30, validate=validate.Range(1, 30), metadata={"description": "How many minutes back (1-30)"}
    )


class PercentilesSchema(Schema):
    p50 = fields.Integer(required=True)
    p95 = fields.Integer(required=True)


class MinuteSchema(Schema):
    start = fields.Integer(required=True, metadata={"description": "The minute's start, ms since the epoch"})
    queueDepth = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Jobs queued (sampled); null when not sampled"}
    )
    completed = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    timedOut = fields.Integer(required=True)
    cancelled = fields.Integer(required=True)
    delayMs = fields.Nested(
        PercentilesSchema, required=True, allow_none=True, metadata={"description": "Of jobs started that minute"}
    )
    executionMs = fields.Nested(
        PercentilesSchema, required=True, allow_none=True, metadata={"description": "Of jobs ended that minute"}
    )


class TimelineSchema(Schema):
    bucketSeconds = fields.Integer(required=True)
    buckets = fields.List(fields.Nested(MinuteSchema), required=True, metadata={"description": "Oldest first"})
