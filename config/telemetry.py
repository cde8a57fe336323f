"""Tracing (OpenTelemetry) and error reports (Sentry): each on when its environment says so,
and otherwise not even imported.

Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set
and `OTEL_SDK_DISABLED` isn't true; spans go to that collector over OTLP/HTTP in batches. The
SDK reads its other standard variables itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`…).
- A server span per request, named by method and URL pattern, with the request's id
  (`colloquy.request_id`, config/logs.py) so a log line leads to its trace. Probes and scrapes
  (/healthz, /readyz, /metrics) make none.
- A span per SQL statement under it, on either database: the statement as Django sent it, with
  placeholders; parameter values (what people typed) are never recorded.
- Celery: publishing a task and running it are spans, and the trace travels in the message's
  headers, so a notification's email is in the trace of the request that caused it.
- Log records made inside a span carry its `trace_id` (a field of LOG_FORMAT=json lines).

Error reports are on when `SENTRY_DSN` is set: unhandled exceptions in requests and tasks, and
log records at ERROR, go to Sentry with `SENTRY_ENVIRONMENT`, `SENTRY_RELEASE` and the request's
id as a tag. Nothing identifies the reader or repeats what they typed (`data_collection` below:
no user, IP, cookies, bodies, query strings, frame variables or SQL parameters).
`SENTRY_TRACES_SAMPLE_RATE` (0 by default) turns on Sentry's own performance traces, separate
from OpenTelemetry's.

`start()` runs once per process from the project's AppConfig.ready(): before any request
handler builds its middleware chain (the Django instrumentation adds its middleware to
MIDDLEWARE) and in every kind of process (gunicorn workers import the site after forking; the
SDK's batch exporter restarts its thread in a forked Celery child by itself).
"""

from __future__ import annotations

import logging
import os

from . import logs

SKIPPED_URLS = "healthz,readyz,metrics"  # regexes searched in the URL (the SDK's own format)

_started = False


def tracing_configured(environ=os.environ) -> bool:
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    disabled = environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return bool(endpoint) and not disabled


def start() -> None:
    global _started
    if _started:
        return
    _started = True
    if tracing_configured():
        _start_tracing()
    if os.environ.get("SENTRY_DSN"):
        _start_sentry(os.environ["SENTRY_DSN"])


# --- OpenTelemetry --------------------------------------------------------------------------


def _start_tracing() -> None:
    from django.db.backends.signals import connection_created
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # The SDK's default service name is "unknown_service"; OTEL_SERVICE_NAME still wins.
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", "colloquy")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)

    DjangoInstrumentor().instrument(excluded_urls=SKIPPED_URLS, response_hook=_name_the_request)
    CeleryInstrumentor().instrument()
    connection_created.connect(_trace_queries_of, dispatch_uid="colloquy-trace-queries")
    _put_trace_id_on_log_records()


def _name_the_request(span, request, response) -> None:
    if span.is_recording():
        span.set_attribute("colloquy.request_id", getattr(request, "request_id", ""))


def _trace_queries_of(sender, connection, **kwargs) -> None:
    # connection_created fires on every (re)connect of the same wrapper: add the wrapper once.
    if _traced_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_traced_query)


def _traced_query(execute, sql, params, many, context):
    from opentelemetry import trace

    connection = context["connection"]
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"
    tracer = trace.get_tracer("colloquy.db")
    with tracer.start_as_current_span(verb, kind=trace.SpanKind.CLIENT) as span:
        if span.is_recording():
            span.set_attribute("db.system.name", connection.vendor)
            span.set_attribute("db.namespace", str(connection.settings_dict.get("NAME", "")))
            span.set_attribute("db.query.text", sql)  # placeholders only: never `params`
            if many:
                span.set_attribute("db.operation.batch.size", len(params))
        return execute(sql, params, many, context)


def _put_trace_id_on_log_records() -> None:
    from opentelemetry import trace

    factory = logging.getLogRecordFactory()

    def record_with_trace_id(*args, **kwargs):
        record = factory(*args, **kwargs)
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
        return record

    logging.setLogRecordFactory(record_with_trace_id)


# --- Sentry ---------------------------------------------------------------------------------


def _start_sentry(dsn: str) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        release=os.environ.get("SENTRY_RELEASE") or None,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0") or 0),
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_tag_request_id,
        # Nothing that says who the reader is or what they typed leaves the site: no user or
        # IP, no cookies, no bodies (comments, passwords, uploads), no query strings (what
        # they searched for), no local variables of the failing frames (they hold the same),
        # no SQL parameters, no task arguments; of the headers only the harmless ones.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "stack_frame_variables": False,
            "database_query_data": False,
            "queues": False,
            "http_headers": {
                "request": {
                    "mode": "allowlist",
                    "terms": ["user-agent", "accept", "content-type", "content-length", "host"],
                }
            },
        },
    )


def _tag_request_id(event, hint):
    value = logs.request_id.get()
    if value != "-":
        event.setdefault("tags", {})["request_id"] = value
    return event
