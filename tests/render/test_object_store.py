"""gs:// and s3:// sources: streamed by vLLM/SGLang (Run:ai Model Streamer) or mounted by the provider's
bucket CSI driver, with the cloud identity on the ServiceAccount."""

from __future__ import annotations

from typing import Any

import pytest
from render_helpers import find, plan_of, pod_specs, render_spec, spec_of, workload

from kubellm.errors import UsageError
from kubellm.render.validation import OLDEST_VERSION, newest_version, validate_objects

GSA = "llm-reader@my-project.iam.gserviceaccount.com"
ROLE = "arn:aws:iam::111122223333:role/llm-reader"


def _render(source: str, provider: str, engine: str = "vllm", **extra: Any) -> list[dict[str, Any]]:
    sections: dict[str, Any] = {
        "model": {"source": source, "name": "Llama-3.1-8B"},
        "engine": {"name": engine},
        "placement": {"provider": provider},
        "security": {"cloud_identity": {"gke": GSA, "eks": ROLE}.get(provider, "0000-1111")},
        **extra,
    }
    return render_spec(spec_of(**sections))


def _valid(objects: list[dict[str, Any]]) -> None:
    for version in (OLDEST_VERSION, newest_version()):
        assert validate_objects(objects, version) == []


def test_vllm_streams_from_gcs_with_workload_identity_and_no_cache() -> None:
    objects = _render("gs://models-bucket/llama-3.1-8b", "gke")
    pod = pod_specs(workload(objects))[0]
    args = pod["containers"][0]["args"]
    assert args[0] == "gs://models-bucket/llama-3.1-8b"
    assert args[args.index("--load-format") + 1] == "runai_streamer"
    assert all(v["name"] != "models" for v in pod["volumes"]) and "initContainers" not in pod
    assert all(m["name"] != "models" for m in pod["containers"][0]["volumeMounts"])
    sa = find(objects, "ServiceAccount", "svc")
    assert sa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": GSA}
    egress = find(objects, "NetworkPolicy", "svc-model-download")
    assert egress["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "engine"
    assert all(o["kind"] not in ("PersistentVolumeClaim", "Job") for o in objects)
    _valid(objects)


def test_sglang_streams_from_s3_with_irsa() -> None:
    objects = _render("s3://models-bucket/llama-3.1-8b", "eks", "sglang", storage={"storage_class": "gp2"})
    args = pod_specs(workload(objects))[0]["containers"][0]["args"]
    assert args[args.index("--model-path") + 1] == "s3://models-bucket/llama-3.1-8b"
    assert "runai_streamer" in args
    assert find(objects, "ServiceAccount", "svc")["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": ROLE
    }
    _valid(objects)


def test_engines_that_cannot_stream_mount_the_bucket_with_gcs_fuse_on_gke() -> None:
    objects = _render("gs://models-bucket/llama-3.1-8b", "gke", "tgi")
    wl = workload(objects)
    pod = pod_specs(wl)[0]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["csi"]["driver"] == "gcsfuse.csi.storage.gke.io" and models["csi"]["readOnly"] is True
    attributes = models["csi"]["volumeAttributes"]
    assert (
        attributes["bucketName"] == "models-bucket" and "only-dir=llama-3.1-8b" in attributes["mountOptions"]
    )
    assert wl["spec"]["template"]["metadata"]["annotations"] == {"gke-gcsfuse/volumes": "true"}
    assert pod["containers"][0]["args"][:2] == ["--model-id", "/models"]
    _valid(objects)


def test_mountpoint_for_s3_gets_a_static_volume_and_claim_authenticated_as_the_pod() -> None:
    objects = _render(
        "s3://models-bucket/models/llama-3.1-8b", "eks", "tgi", storage={"storage_class": "gp2"}
    )
    pv = find(objects, "PersistentVolume")
    assert pv["spec"]["csi"]["driver"] == "s3.csi.aws.com"
    assert pv["spec"]["csi"]["volumeAttributes"] == {
        "bucketName": "models-bucket",
        "authenticationSource": "pod",
    }
    assert (
        "prefix=models/llama-3.1-8b/" in pv["spec"]["mountOptions"]
        and "read-only" in pv["spec"]["mountOptions"]
    )
    pvc = find(objects, "PersistentVolumeClaim", "svc-bucket")
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"] and pvc["spec"]["storageClassName"] == ""
    assert pv["spec"]["claimRef"] == {"namespace": "llm", "name": "svc-bucket"}
    models = next(v for v in pod_specs(workload(objects))[0]["volumes"] if v["name"] == "models")
    assert models["persistentVolumeClaim"] == {"claimName": "svc-bucket", "readOnly": True}
    _valid(objects)


@pytest.mark.parametrize(
    ("source", "provider", "engine", "access", "fix"),
    [
        ("s3://b/m", "aks", "tgi", "auto", "vllm or sglang"),
        ("s3://b/m", "gke", "tgi", "auto", "placement.provider eks"),
        ("gs://b/m", "gke", "tgi", "streamer", "vllm or sglang"),
        ("gs:///m", "gke", "vllm", "auto", "gs://<bucket>/<path>"),
    ],
)
def test_bucket_sources_that_cannot_work_are_refused_with_the_fix(
    source: str, provider: str, engine: str, access: str, fix: str
) -> None:
    with pytest.raises(UsageError) as err:
        _render(source, provider, engine, storage={"object_store_access": access})
    assert fix in err.value.fix


def test_aks_workload_identity_labels_the_pods() -> None:
    objects = render_spec(spec_of(gpu={"type": "A100-80GB", "count": 1}, placement={"provider": "aks"},
                                  security={"cloud_identity": "0000-1111"}))  # fmt: skip
    sa = find(objects, "ServiceAccount", "svc")
    assert sa["metadata"]["annotations"] == {"azure.workload.identity/client-id": "0000-1111"}
    labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    assert labels["azure.workload.identity/use"] == "true"


def test_a_cloud_identity_on_a_cluster_of_unknown_kind_is_refused() -> None:
    with pytest.raises(UsageError) as err:
        render_spec(spec_of(security={"cloud_identity": GSA}))
    assert "placement.provider" in err.value.fix


def test_the_startup_budget_counts_the_download_from_the_bucket() -> None:
    spec = spec_of(model={"source": "gs://b/llama", "name": "Llama-3.1-8B"}, placement={"provider": "gke"})
    assert plan_of(spec).probes.download_s > 0
