"""`kubellm models` and `kubellm gpus` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from typer.testing import CliRunner

from kubellm.catalog import default_catalog
from kubellm.cli.app import app
from kubellm.cli.catalog import mig_profile_in

runner = CliRunner()


def run_json(*args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def test_models_json_lists_every_catalog_model_with_its_facts() -> None:
    rows = run_json("models")
    assert len(rows) == len(default_catalog().models)
    llama = next(r for r in rows if r["name"] == "Llama-3.1-8B")
    assert llama["hf_id"] == "meta-llama/Llama-3.1-8B"
    assert llama["kv_bytes_per_token"] == 131_072
    assert llama["params"] == 8_030_261_248
    assert llama["commercial_use"] is True and llama["license"]
    assert "vllm" in llama["engines"] and "chat" in llama["tasks"]
    assert llama["moe"] is None
    assert next(r for r in rows if r["name"] == "Mixtral-8x7B")["moe"] == {
        "experts": 8,
        "experts_per_token": 2,
    }


def test_models_filters_combine() -> None:
    rows = run_json("models", "--task", "code", "--commercial", "--family", "qwen")
    assert rows
    assert all("code" in r["tasks"] and r["commercial_use"] and r["family"] == "Qwen" for r in rows)


def test_gpus_json_carries_memory_labels_and_mig() -> None:
    rows = run_json("gpus")
    assert len(rows) >= 13
    h100 = next(r for r in rows if r["name"] == "H100-SXM-80GB")
    assert h100["memory_gib"] == 79.19
    assert h100["supports_fp8"] is True
    assert "NVIDIA-H100-80GB-HBM3" in h100["product_labels"]
    assert h100["cloud_labels"]["cloud.google.com/gke-accelerator"] == [
        "nvidia-h100-80gb",
        "nvidia-h100-mega-80gb",
    ]
    mig = {p["name"]: p for p in h100["mig_profiles"]}
    assert mig["3g.40gb"]["resource"] == "nvidia.com/mig-3g.40gb"


def test_models_fits_recommends_what_fits_with_license_and_why() -> None:
    rows = run_json("models", "--fits", "l4")
    assert rows and all(r["fits"] for r in rows)
    names = [r["model"] for r in rows]
    assert "Llama-3.1-8B" in names and "Llama-3.3-70B-Instruct" not in names
    for r in rows:
        assert r["gpu"] == "L4" and r["why"] and r["license"]


def test_models_fits_commercial_drops_research_only_licenses() -> None:
    names = {r["model"] for r in run_json("models", "--fits", "l4", "--commercial")}
    assert "Qwen2.5-3B-Instruct" not in names
    assert "Qwen2.5-3B-Instruct" in {r["model"] for r in run_json("models", "--fits", "l4")}


def test_models_fits_with_context_and_several_gpus() -> None:
    rows = run_json("models", "--fits", "h100", "--gpus", "2", "--context", "16384", "--task", "chat")
    big = next(r for r in rows if r["model"] == "Llama-3.3-70B-Instruct")
    assert big["tensor_parallel"] == 2 and big["max_model_len"] == 16384
    assert all(r["max_model_len"] == 16384 for r in rows)


def test_models_fits_all_lists_the_rejected_too() -> None:
    rows = run_json("models", "--fits", "t4", "--all")
    assert len(rows) == len(default_catalog().models)
    assert any(not r["fits"] for r in rows)


def test_tables_print_without_json() -> None:
    result = runner.invoke(app, ["models", "--family", "gemma"], env={"COLUMNS": "160"})
    assert result.exit_code == 0 and "Gemma-3-27B" in result.stdout
    result = runner.invoke(app, ["gpus"], env={"COLUMNS": "160"})
    assert result.exit_code == 0 and "H100-SXM-80GB" in result.stdout
    result = runner.invoke(app, ["models", "--fits", "t4", "--all"], env={"COLUMNS": "160"})
    assert result.exit_code == 0 and "does not fit" in result.stdout


def test_bad_input_is_one_line_with_a_fix_and_exit_code_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kubellm", "models", "--fits", "h10"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "did you mean" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "kubellm", "models", "--task", "poetry"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--task" in proc.stderr


def test_models_fits_a_mig_slice_by_flag_or_by_gfd_label() -> None:
    by_flag = run_json("models", "--fits", "a100-80gb", "--mig", "1g.10gb")
    by_label = run_json("models", "--fits", "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb")
    assert by_flag == by_label
    assert by_flag and all(r["gpu"] == "A100-80GB MIG 1g.10gb" for r in by_flag)
    assert "Llama-3.1-8B" not in {r["model"] for r in by_flag}


def test_mig_profile_in_reads_the_single_strategy_label() -> None:
    assert mig_profile_in("NVIDIA-A100-SXM4-80GB-MIG-3g.40gb") == "3g.40gb"
    assert mig_profile_in("NVIDIA-H100-80GB-HBM3") is None


def test_models_json_says_which_repositories_are_gated() -> None:
    rows = {r["name"]: r for r in json.loads(runner.invoke(app, ["models", "--json"]).stdout)}
    assert rows["Llama-3.1-8B"]["gated"] is True and rows["Qwen2.5-7B-Instruct"]["gated"] is False
