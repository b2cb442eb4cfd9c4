"""Download progress from the prefetch container's log."""

from __future__ import annotations

from kubellm.operator.download import parse_progress


def test_no_log_is_a_download_not_started() -> None:
    progress = parse_progress("")
    assert (progress.percent, progress.done, progress.line()) == (None, False, "download not started yet")


def test_the_last_progress_line_wins() -> None:
    log = "kubellm-progress bytes=10 total=100\nretrying …\nkubellm-progress bytes=50 total=100\n"
    progress = parse_progress(log)
    assert (progress.bytes, progress.total_bytes, progress.percent) == (50, 100, 50.0)


def test_a_finished_download_is_complete_whatever_the_last_progress_line_said() -> None:
    log = "kubellm-progress bytes=90 total=100\nQwen/Qwen2.5-0.5B@main: 9 files verified in /models/hf/x\n"
    progress = parse_progress(log)
    assert (progress.done, progress.bytes, progress.percent) == (True, 100, 100.0)


def test_a_cache_that_was_filled_before_counts_as_done() -> None:
    assert parse_progress("Qwen/Qwen2.5-0.5B@main already verified in /models/x").percent == 100.0


def test_without_progress_lines_files_are_counted() -> None:
    log = "downloading a.safetensors\nverified a.safetensors\ndownloading b.safetensors\n"
    progress = parse_progress(log)
    assert (progress.files_verified, progress.files_started, progress.percent) == (1, 2, None)
    assert progress.line() == "1 file(s) verified, 2 started"


def test_progress_never_exceeds_100_percent() -> None:
    assert parse_progress("kubellm-progress bytes=120 total=100").percent == 100.0
