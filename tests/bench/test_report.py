"""--out DIR: results.json, PNG plot and a self-contained HTML report."""

from __future__ import annotations

from pathlib import Path

from kubellm.bench.knee import find_knee
from kubellm.bench.report import write_outputs
from kubellm.bench.summary import RequestRecord, summarize_point
from kubellm.spec.bench import BenchConfig, BenchMetadata, BenchResults


def test_out_dir_has_results_plot_and_self_contained_html(tmp_path: Path) -> None:
    points = []
    for c in (1, 2, 4):
        recs = [
            RequestRecord(
                start_s=i * 0.1,
                sent_s=i * 0.1,
                end_s=i * 0.1 + 0.05,
                content_times_s=[i * 0.1 + 0.02, i * 0.1 + 0.05],
                output_tokens=2,
            )
            for i in range(10 * c)
        ]
        points.append(summarize_point(recs, 0, 1, concurrency=c))
    meta = BenchMetadata(
        kubellm_version="0", started_at="t", config=BenchConfig(url="http://x", model="m<b>")
    )
    results = BenchResults(metadata=meta, points=points, knee=find_knee(points))
    written = write_outputs(results, tmp_path / "out")
    names = {p.name for p in written}
    assert names == {"results.json", "latency.png", "report.html"}
    assert BenchResults.model_validate_json((tmp_path / "out" / "results.json").read_text()) == results
    assert (tmp_path / "out" / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (tmp_path / "out" / "report.html").read_text()
    assert "data:image/png;base64," in html and "m&lt;b&gt;" in html
    assert "http://" not in html.replace("http://x", "")  # nothing fetched from elsewhere
    assert "knee at concurrency" in html
