"""OpenTelemetry: one trace per run, and its metrics, sent over OTLP/HTTP when the standard
OTEL_* variables name a collector (the extra `dbinit[otel]`; the image has it). The run's span is
the child of TRACEPARENT when the deploy tool gives one. Off, every call here is one test of a
module global: the SDK is imported only when a run turns it on. What is sent is flushed at exit
within DBINIT_OTEL_FLUSH_TIMEOUT: a collector that is down never fails a run, nor slows it by more."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, cast

from . import log
from .environment import Variable
from .errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.trace import Span

ENVIRONMENT = (
    Variable("OTEL_EXPORTER_OTLP_ENDPOINT", "", "the collector's OTLP/HTTP address (`http://otel-collector:4318`): "
             "set, each run sends its trace and metrics there (the SDK reads the other OTEL_* variables as "
             "everywhere: `OTEL_EXPORTER_OTLP_HEADERS`, and `OTEL_SDK_DISABLED=true` sends nothing)"),
    Variable("OTEL_SERVICE_NAME", "dbinit", "the service the trace and metrics are of"),
    Variable("OTEL_RESOURCE_ATTRIBUTES", "", "more attributes of the resource (`deployment.environment.name=prod`); "
             "dbinit adds `service.version`, `host.name`, `k8s.namespace.name` and `dbinit.image.revision`"),
    Variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", "the collector's address for traces alone (a full URL)"),
    Variable("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "", "the collector's address for metrics alone (a full URL)"),
    Variable("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "only `http/protobuf` (else exit 78): gRPC would add "
             "a large dependency to the image for the same data"),
    Variable("TRACEPARENT", "", "a W3C trace context from the deploy tool: the run's span becomes its child"),
    Variable("TRACESTATE", "", "the W3C trace state that goes with TRACEPARENT"),
    Variable("DBINIT_OTEL_FLUSH_TIMEOUT", "3", "seconds dbinit waits at exit for the collector to take what is "
             "left; a collector that is down costs a run at most this"),
)


class _State:
    """The run's providers and its span, while telemetry is on."""

    def __init__(self, command: str, tracer: Any, meter: Any, providers: list[Any], root: Span, context: Any,
                 bound: float, exporters: list[Any]):
        self.command, self.tracer, self.providers, self.root, self.context = command, tracer, providers, root, context
        self.bound = bound
        self.exporters = exporters
        self.started = time.monotonic()
        self.run_duration = meter.create_histogram("dbinit.run.duration", "s", "how long a run took")
        self.migration_duration = meter.create_histogram("dbinit.migration.duration", "s",
                                                         "how long each migration took")
        self.lock_wait = meter.create_histogram("dbinit.lock.wait", "s", "how long the run waited for the lock")
        self.database_wait = meter.create_histogram("dbinit.database.wait", "s",
                                                    "how long the run waited for the database to answer")
        self.applied = meter.create_counter("dbinit.migrations.applied", "{migration}", "migrations applied")
        self.failed = meter.create_counter("dbinit.migrations.failed", "{migration}", "migrations that failed")
        self.pending = meter.create_gauge("dbinit.migrations.pending", "{migration}",
                                          "migrations pending when the run planned")
        self.retries = meter.create_counter("dbinit.lock_timeout.retries", "{retry}",
                                            "migrations tried again after a lock timeout")


_state: _State | None = None


def start(command: str, run_id: str, attributes: dict[str, str | None]) -> None:
    """The run's trace and metrics, when the environment asks for them and the SDK is installed."""
    global _state
    env = os.environ
    if not (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")):
        return
    protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    if protocol != "http/protobuf":
        raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol!r}: dbinit sends OTLP over HTTP only "
                          "(http/protobuf; the collector's port 4318)")
    bound = _seconds(env.get("DBINIT_OTEL_FLUSH_TIMEOUT"))
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        log.warn("dbinit", "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed (pip install "
                 "'dbinit[otel]'): this run sends no trace")
        return
    from .version import VERSION

    log.silence("opentelemetry")  # an export that fails is said once, by dbinit, at exit
    given = {k: v for k, v in attributes.items() if v}
    if not env.get("OTEL_SERVICE_NAME") and "service.name=" not in (env.get("OTEL_RESOURCE_ATTRIBUTES") or ""):
        given["service.name"] = "dbinit"
    resource = Resource.create({"service.version": VERSION, **given})
    spans, points = _Reporting(OTLPSpanExporter(timeout=bound)), _Reporting(OTLPMetricExporter(timeout=bound))
    tracing = TracerProvider(resource=resource)
    tracing.add_span_processor(BatchSpanProcessor(cast(Any, spans)))
    # Sent at exit (and every minute of a long run): a one-shot run's metrics are its totals.
    measuring = MeterProvider(resource=resource, metric_readers=[
        PeriodicExportingMetricReader(cast(Any, points), export_interval_millis=60_000, export_timeout_millis=bound * 1000)])
    carrier = {k: v for k, v in (("traceparent", env.get("TRACEPARENT")), ("tracestate", env.get("TRACESTATE"))) if v}
    parent = TraceContextTextMapPropagator().extract(carrier)
    if carrier.get("traceparent") and not trace.get_current_span(parent).get_span_context().is_valid:
        log.warn("dbinit", "TRACEPARENT is not a W3C traceparent (00-<trace id>-<span id>-<flags>): the run's trace "
                 "starts on its own")
    tracer = tracing.get_tracer("dbinit", VERSION)
    root = tracer.start_span(f"dbinit {command}", context=parent,
                             attributes={"dbinit.command": command, "dbinit.run.id": run_id})
    # The providers are the run's own, not the process's global ones: an application that calls the
    # Python API keeps its own.
    _state = _State(command, tracer, measuring.get_meter("dbinit", VERSION), [tracing, measuring], root,
                    trace.set_span_in_context(root, parent), bound, [spans, points])


def finish(exit_code: int, error: BaseException | None) -> None:
    """The run's span ended with its exit code, and everything flushed within the bound."""
    global _state
    state, _state = _state, None
    if state is None:
        return
    attributes = {"dbinit.command": state.command, "dbinit.exit_code": exit_code}
    state.root.set_attributes({"dbinit.exit_code": exit_code})
    if exit_code not in (0, 3):  # 3: `check` found work pending, which is its answer, not a failure
        _failed(state.root, error, exit_code)
    state.root.end()
    state.run_duration.record(time.monotonic() - state.started, attributes)
    flushing = threading.Thread(target=lambda: [p.shutdown() for p in state.providers], daemon=True,
                                name="dbinit-telemetry")
    flushing.start()
    flushing.join(state.bound)
    if flushing.is_alive() or any(e.failed for e in state.exporters):
        log.warn("dbinit", f"telemetry: the collector did not take this run's trace and metrics within "
                 f"{state.bound:g} s (DBINIT_OTEL_FLUSH_TIMEOUT); the run's outcome is unchanged")


def on() -> bool:
    """Whether this run sends telemetry (what only a span's attributes need is computed only then)."""
    return _state is not None


@contextmanager
def span(name: str, db: str | None = None, **attributes: str | int | None) -> Iterator[Callable[..., None]]:
    """A span of the run around the block (a child of the span around it), about database `db`
    when given; the block may add attributes through what it is given. An error leaving the block
    is recorded on it with its exit code."""
    if _state is None:
        yield _ignore
        return
    given = {**(_about(db) if db else {}), **{k: v for k, v in attributes.items() if v is not None}}
    with _state.tracer.start_as_current_span(name, context=_context(), record_exception=False,
                                             set_status_on_exception=False, attributes=given) as s:
        try:
            yield lambda **more: s.set_attributes(more)
        except BaseException as e:
            _failed(s, e, getattr(e, "exit_code", 1))
            raise


def waited(db: str, seconds: float) -> None:
    """A database answered after `seconds` of waiting: its wait as a span that ends now."""
    if _state is None:
        return
    now = time.time_ns()
    s = _state.tracer.start_span(f"wait {_about(db)['db.system.name']}", context=_state.context,
                                 start_time=now - int(seconds * 1e9), attributes=_about(db))
    s.end(end_time=now)
    _state.database_wait.record(seconds, _about(db))


def locked(db: str, seconds: float) -> None:
    if _state is not None:
        _state.lock_wait.record(seconds, _about(db))


def pending(db: str, count: int) -> None:
    if _state is not None:
        _state.pending.set(count, _about(db))


def applied(db: str, phase: str, seconds: float) -> None:
    if _state is not None:
        _state.applied.add(1, {**_about(db), "dbinit.migration.phase": phase})
        _state.migration_duration.record(seconds, {**_about(db), "dbinit.migration.phase": phase,
                                                   "dbinit.migration.outcome": "applied"})


def failed(db: str, phase: str) -> None:
    if _state is not None:
        _state.failed.add(1, {**_about(db), "dbinit.migration.phase": phase})


def retried(db: str, attempt: int, waited_s: float) -> None:
    """A migration given up on a lock and tried again: an event on its span, and a count."""
    if _state is None:
        return
    from opentelemetry import trace

    trace.get_current_span().add_event("lock timeout, trying again", {"dbinit.attempt": attempt,
                                                                      "dbinit.lock.waited_s": waited_s})
    _state.retries.add(1, _about(db))


def _about(db: str) -> dict[str, str]:
    from . import registry

    return {"db.system.name": registry.get(db).system}


def _ignore(**attributes: object) -> None:
    return None


def _context() -> Any:
    """None (the current span's) inside a span of the run, else the run's span's."""
    from opentelemetry import trace

    assert _state is not None
    return None if trace.get_current_span().get_span_context().is_valid else _state.context


def _failed(s: Any, error: BaseException | None, exit_code: int) -> None:
    from opentelemetry.trace import Status, StatusCode

    s.set_attributes({"dbinit.exit_code": exit_code, "error.type": type(error).__name__ if error else "exit"})
    s.set_status(Status(StatusCode.ERROR, str(error) if error else f"exit {exit_code}"))
    if error is not None:
        s.record_exception(error, escaped=True)


def _seconds(text: str | None) -> float:
    try:
        value = float(text) if text else 3.0
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"DBINIT_OTEL_FLUSH_TIMEOUT is {text!r}; give seconds, more than 0")
    return value


class _Reporting:
    """An exporter, wrapped: it remembers whether an export failed, so that dbinit can say so once
    (the SDK's processors take it as the exporter it stands in for)."""

    def __init__(self, exporter: Any):
        self.exporter, self.failed = exporter, False

    def export(self, batch: Any, **kwargs: Any) -> Any:
        result = self.exporter.export(batch, **kwargs)
        self.failed |= getattr(result, "name", "SUCCESS") != "SUCCESS"
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.exporter, name)
