"""Reports of a run: table rows, results.json, a latency–throughput PNG and a self-contained HTML page."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from kubellm.bench.knee import throughput
from kubellm.spec.bench import BenchPoint, BenchResults, LatencyStats

TABLE_HEADERS = (
    "load",
    "req/s",
    "out tok/s",
    "in flight",
    "TTFT p50",
    "TTFT p95",
    "TPOT p50",
    "ITL p95",
    "E2E p50",
    "errors",
    "SLO",
    "lag p99",
)


def _ms(stats: LatencyStats, name: str) -> str:
    value = getattr(stats, name)
    return "–" if value is None else f"{value:.1f}"


def load_label(point: BenchPoint) -> str:
    """``c=32`` (closed loop) or ``r=5/s`` (open loop)."""
    return f"c={point.concurrency}" if point.concurrency is not None else f"r={point.rate:g}/s"


def table_rows(results: BenchResults) -> list[list[str]]:
    """One row of strings per point, in TABLE_HEADERS order (latencies in ms)."""
    rows = []
    for p in results.points:
        slo = "–" if p.slo_met is None else ("met" if p.slo_met else "broken")
        errors = ", ".join(f"{k} {v}" for k, v in sorted(p.errors.items())) or "0"
        rows.append(
            [
                load_label(p),
                f"{p.requests_per_s:.1f}",
                f"{p.output_tokens_per_s:.0f}",
                f"{p.in_flight:.1f}",
                _ms(p.ttft_ms, "p50"),
                _ms(p.ttft_ms, "p95"),
                _ms(p.tpot_ms, "p50"),
                _ms(p.itl_ms, "p95"),
                _ms(p.e2e_ms, "p50"),
                errors,
                slo,
                _ms(p.schedule_lag_ms, "p99") if p.schedule_lag_ms else "–",
            ]
        )
    return rows


def knee_summary(results: BenchResults) -> str:
    """The knee and its settings in one or two sentences."""
    knee = results.knee
    if knee is None:
        return "no knee: no load level completed a request"
    if knee.knee_load is None:
        return f"no knee: {knee.reason}"
    unit = "concurrency" if knee.mode == "concurrency" else "rate (req/s)"
    knees = ""
    if results.metadata.config.slo:
        slo = ", ".join(t.label for t in results.metadata.config.slo)
        slo_knee = f"{unit} {knee.slo_max_load:g}" if knee.slo_max_load is not None else "none"
        throughput_knee = (
            f"{unit} {knee.saturation_load:g}" if knee.saturation_load is not None else "not reached"
        )
        knees = f"SLO knee ({slo}): {slo_knee}; throughput knee: {throughput_knee}. "
    replicas = results.metadata.config.replicas
    per = f" (measured over {replicas} replicas: loads are totals)" if replicas > 1 else ""
    return (
        f"{knees}knee at {unit} {knee.knee_load:g}{per}: recommended max concurrency "
        f"{knee.recommended_max_concurrency}, autoscaling target {knee.autoscaling_target:g} in flight "
        f"({knee.reason})"
    )


def plot_png(results: BenchResults) -> bytes | None:
    """Latency against throughput with the knee marked, as PNG bytes; None without matplotlib or points."""
    points = [p for p in results.points if p.requests > 0]
    if not points:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    xs = [throughput(p) for p in points]
    unit = "output tokens/s" if points[0].output_tokens_per_s > 0 else "requests/s"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, series in (
        (ax1, (("TTFT p95", "ttft_ms", "p95"), ("TTFT p50", "ttft_ms", "p50"))),
        (
            ax2,
            (("ITL p95", "itl_ms", "p95"), ("TPOT p50", "tpot_ms", "p50"), ("E2E p50 / 10", "e2e_ms", "p50")),
        ),
    ):
        for label, field, stat in series:
            ys = [getattr(getattr(p, field), stat) for p in points]
            if label.endswith("/ 10"):
                ys = [y / 10 if y is not None else None for y in ys]
            ax.plot(xs, [y if y is not None else float("nan") for y in ys], marker="o", label=label)
        first_field, first_stat = series[0][1], series[0][2]
        for x, p in zip(xs, points, strict=True):
            y = getattr(getattr(p, first_field), first_stat)
            if y is not None:
                ax.annotate(load_label(p), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
        ax.set_xlabel(f"throughput ({unit})")
        ax.set_ylabel("latency (ms)")
        ax.grid(alpha=0.3)
        knee = results.knee
        if knee is not None and knee.knee_load is not None:
            at = [x for x, p in zip(xs, points, strict=True) if p.load == knee.knee_load]
            if at:
                ax.axvline(at[0], color="red", linestyle="--", label=f"knee ({knee.mode} {knee.knee_load:g})")
        for target in results.metadata.config.slo:
            if (ax is ax1) == (target.metric == "ttft"):
                ax.axhline(target.limit_ms, color="grey", linestyle=":", label=f"SLO {target.label}")
        ax.legend(fontsize=8)
    ax1.set_title("time to first token")
    ax2.set_title("decode latency")
    fig.suptitle(f"{results.metadata.config.model} at {results.metadata.config.url}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def render_html(results: BenchResults, png: bytes | None) -> str:
    """A self-contained HTML report: summary, table, plot (inline) and the raw results."""
    esc = html.escape
    meta = results.metadata
    head = "".join(f"<th>{esc(h)}</th>" for h in TABLE_HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in table_rows(results)
    )
    img = (
        f'<img alt="latency vs throughput" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        if png
        else ""
    )
    problems = ""
    if results.aborted:
        problems += f"<p class=bad>Run aborted: {esc(results.aborted)}</p>"
    samples = [s for p in results.points for s in p.error_samples]
    if samples:
        problems += (
            "<p>Error messages:</p><ul>" + "".join(f"<li>{esc(s)}</li>" for s in samples[:10]) + "</ul>"
        )
    slo = ", ".join(t.label for t in meta.config.slo) or "none"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>kubellm bench: {esc(meta.config.model)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}.bad{{color:#b00}}img{{max-width:100%}}
pre{{background:#f6f6f6;padding:1em;overflow:auto;max-height:30em}}</style></head><body>
<h1>kubellm bench: {esc(meta.config.model)}</h1>
<p>{esc(meta.config.url)} · {esc(meta.config.api)} API · started {esc(meta.started_at)} on {esc(meta.host)}
· kubellm {esc(meta.kubellm_version)} · SLO {esc(slo)} · pods {meta.pods}</p>
<p><b>{esc(knee_summary(results))}</b></p>
<p>Stopped: {esc(results.stop_reason or "–")}. Tokens: {esc(meta.token_source_note)}.</p>
{problems}
<p>Latencies in ms. TTFT = first non-empty content chunk; TPOT = (E2E − TTFT)/(output tokens − 1);
ITL = gaps between content chunks; open-loop latencies count from the scheduled send time.</p>
<table><tr>{head}</tr>{body}</table>
{img}
<h2>results.json</h2><pre>{esc(results.model_dump_json(indent=2, exclude={"points": {"__all__": {"histograms"}}}))}</pre>
</body></html>
"""


def write_outputs(results: BenchResults, out_dir: str | Path) -> list[Path]:
    """Write results.json, latency.png (when matplotlib is installed) and report.html into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json"]
    written[0].write_text(results.model_dump_json(indent=2) + "\n", encoding="utf-8")
    png = plot_png(results)
    if png is not None:
        (out / "latency.png").write_bytes(png)
        written.append(out / "latency.png")
    (out / "report.html").write_text(render_html(results, png), encoding="utf-8")
    written.append(out / "report.html")
    return written
