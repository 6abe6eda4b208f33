"""A real OpenTelemetry Collector (tests/otelcol, built by scripts/setup.sh): OTLP over HTTP in,
each batch as a line of OTLP JSON in a file out, read back as spans and metric points."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from servers import ROOT, free_port, wait_for

BINARY = ROOT / ".tools" / "bin" / "otelcol"
CONFIG = """receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  file:
    path: {out}
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces: {{receivers: [otlp], exporters: [file]}}
    metrics: {{receivers: [otlp], exporters: [file]}}
"""


def _value(v: dict):
    """An OTLP JSON AnyValue as Python's (int64s come as strings)."""
    for kind, cast in (("stringValue", str), ("intValue", int), ("boolValue", bool), ("doubleValue", float)):
        if kind in v:
            return cast(v[kind])
    return v


def attributes(items: list[dict]) -> dict:
    return {a["key"]: _value(a["value"]) for a in items}


class Collector:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="dbinit-otelcol-"))
        self.port = free_port()
        self.out = self.dir / "out.jsonl"
        self.endpoint = f"http://127.0.0.1:{self.port}"
        (self.dir / "config.yaml").write_text(CONFIG.format(port=self.port, out=self.out))
        self.log = self.dir / "collector.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Collector:
        self.proc = subprocess.Popen([str(BINARY), "--config", str(self.dir / "config.yaml")],
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        wait_for(lambda: "Everything is ready" in self.log.read_text(), 30, "the collector did not start")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)

    def batches(self) -> list[dict]:
        """Each whole line written so far (the last may still be being written)."""
        text = self.out.read_text() if self.out.exists() else ""
        return [json.loads(line) for line in text.split("\n")[:-1]]

    def spans(self, trace_id: str | None = None) -> list[dict]:
        """Every span received (of one trace), with its resource's attributes as `resource`."""
        found = []
        for batch in self.batches():
            for rs in batch.get("resourceSpans", []):
                resource = attributes(rs["resource"].get("attributes", []))
                for ss in rs.get("scopeSpans", []):
                    for span in ss.get("spans", []):
                        if trace_id is None or span["traceId"] == trace_id:
                            found.append({**span, "attributes": attributes(span.get("attributes", [])),
                                          "resource": resource})
        return found

    def points(self, name: str) -> list[dict]:
        """Every data point of the metric `name`, each with its attributes, once the run's metrics
        have arrived (they are sent after its spans, the run's duration among them)."""
        wait_for(lambda: self._points("dbinit.run.duration"), 30, "no metrics arrived")
        return self._points(name)

    def _points(self, name: str) -> list[dict]:
        found = []
        for batch in self.batches():
            for rm in batch.get("resourceMetrics", []):
                for sm in rm.get("scopeMetrics", []):
                    for metric in sm.get("metrics", []):
                        if metric["name"] != name:
                            continue
                        for kind in ("sum", "gauge", "histogram"):
                            for p in metric.get(kind, {}).get("dataPoints", []):
                                found.append({**p, "attributes": attributes(p.get("attributes", []))})
        return found

    def wait_for_span(self, trace_id: str, name: str) -> list[dict]:
        """The trace once its span `name` (the run's, which ends last) has arrived."""
        wait_for(lambda: any(s["name"] == name for s in self.spans(trace_id)), 30, f"no span {name!r} arrived")
        return self.spans(trace_id)

    def wait_for_name(self, name: str) -> list[dict]:
        """Every span called `name`, once one has arrived (of any trace)."""
        wait_for(lambda: any(s["name"] == name for s in self.spans()), 30, f"no span {name!r} arrived")
        return [s for s in self.spans() if s["name"] == name]
