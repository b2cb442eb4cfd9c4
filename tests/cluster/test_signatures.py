"""Every signature matches the text users actually saw (research/lint.md and the issues it cites)."""

from __future__ import annotations

import pytest

from kubellm.cluster.logdiagnosis import match_log
from kubellm.cluster.signatures import load_signatures, startup_phase

REAL_LINES = {
    "SIG001": "NCCL WARN Error: failed to extend /dev/shm/nccl-H1dBqY to 9637892 bytes",
    "SIG002": "Failed to increase the shared memory pool size for key 'triton_python_backend_shm_region_2' to 67108864 bytes. If you are running Triton inside docker, use '--shm-size' flag to control the shared memory region size.",
    "SIG003": "RuntimeError: Failed to infer device type",
    "SIG004": "ImportError: libcuda.so.1: cannot open shared object file: No such file or directory",
    "SIG005": "ggml_cuda_init: failed to initialize CUDA: CUDA driver version is insufficient for CUDA runtime version - driver 515.65.01",
    "SIG006": "ValueError: Tensor parallel size (2) exceeds available GPUs (1). This may be a result of Ray placement group being unable to allocate enough GPUs.",
    "SIG007": "ValueError: Total number of attention heads (52) must be divisible by tensor parallel size (3).",
    "SIG008": "ValueError: The model's max seq len (4096) is larger than the maximum number of tokens that can be stored in KV cache (3664). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
    "SIG009": "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
    "SIG010": "ValueError: Free memory on device cuda:0 (19.77/22.05 GiB) on startup is less than desired GPU memory utilization (0.9, 19.84 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
    "SIG011": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.96 GiB. GPU 0 has a total capacity of 79.14 GiB of which 1.02 GiB is free.",
    "SIG012": "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5.",
    "SIG013": "ValueError: The quantization method fp8 is not supported for the current GPU. Minimum capability: 80. Current capability: 75.",
    "SIG014": "ValueError: VLLM_PORT 'tcp://169.169.193.120:6785' appears to be a URI. This may be caused by a Kubernetes service discovery issue",
    "SIG015": "There was a problem when trying to write in your cache folder (/.cache/huggingface/hub). You should set the environment variable TRANSFORMERS_CACHE to a writable directory.",
    "SIG016": "KeyError: 'getpwuid(): uid not found: 1000'",
    "SIG017": "huggingface_hub.errors.GatedRepoError: 401 Client Error. Cannot access gated repo for url https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/resolve/main/config.json.",
    "SIG018": "huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. Repository Not Found for url: https://huggingface.co/api/models/meta-llama/Llama-3.1-8B-Instrcut/revision/main.",
    "SIG019": "huggingface_hub.errors.RevisionNotFoundError: 404 Client Error. Invalid rev id: v2",
    "SIG020": "OSError: [Errno 28] No space left on device: '/root/.cache/huggingface/hub/models--meta-llama--Llama-3.1-70B-Instruct/blobs/7d1f.incomplete'",
    "SIG021": "OSError: We couldn't connect to 'https://huggingface.co' to load this file, couldn't find it in the cached files and it looks like meta-llama/Llama-3.1-8B-Instruct is not the path to a directory containing a file named config.json.",
    "SIG022": "KeyboardInterrupt: terminated",
    "SIG023": "NCCL WARN Call to ibv_reg_mr_iova2 failed with error Cannot allocate memory",
    "SIG024": "ValueError: max_num_batched_tokens (2048) is smaller than max_model_len (4096). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences.",
    "SIG025": "ValueError: User-specified max_model_len (200000) is greater than the derived max_model_len (max_position_embeddings=131072 or model_max_length=None in model's config.json).",
    "SIG026": "ValueError: Model architectures ['Gemma3ForConditionalGeneration'] are not supported for now. Supported architectures: dict_keys(['AquilaModel', 'LlamaForCausalLM'])",
    "SIG027": "ValueError: The repository for deepseek-ai/DeepSeek-V2 contains custom code which must be executed to correctly load the model. Please pass the argument `trust_remote_code=True` to allow custom code to be run. set the option `trust_remote_code=True` to remove this error.",
    "SIG028": "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
    "SIG029": "ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.",
    "SIG030": "RuntimeError: The NVIDIA driver on your system is too old (found version 11070).",
    "SIG031": "2020/10/14 18:04:53 Failed to initialize NVML: could not load NVML library.",
    "SIG032": "ERROR shard-manager: text_generation_launcher: Shard process was signaled to shutdown with signal 4 rank=0",
    "SIG033": "RuntimeError: CUDA error: no kernel image is available for execution on the device",
    "SIG034": "nginx-d645d84b6-ftbwc   0/1     ImagePullBackOff   0          77s",
    "SIG035": "gguf_init_from_file: invalid magic number 67676a74",
    "SIG036": "llama_model_load: error loading model: tensor 'blk.2.ffn_down.weight' data is not within the file bounds, model is corrupted or incomplete",
    "SIG037": 'Error: secret "hf-token-secret" not found when new model is deployed.',
    "SIG038": "[E ProcessGroupNCCL.cpp:737] [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=469508, OpType=ALLREDUCE, Timeout(ms)=1800000) ran for 1802212 milliseconds before timing out.",
    "SIG039": "Message:        The node was low on resource: ephemeral-storage. Container app was using 34260Ki, which exceeds its request of 0.",
    "SIG040": "Warning  FailedMount  pod has unbound immediate PersistentVolumeClaims",
    "SIG041": 'Warning  Unhealthy  3s (x3 over 13s)  kubelet  Startup probe failed: Get "http://10.244.0.13:8000/health": dial tcp 10.244.0.13:8000: connect: connection refused',
    "SIG042": "Warning  FailedScheduling  3s (x5 over 9s)  default-scheduler  0/6 nodes are available: 6 Insufficient nvidia.com/gpu.",
}


def test_every_signature_has_a_real_example() -> None:
    assert set(REAL_LINES) == {s.id for s in load_signatures()}


@pytest.mark.parametrize("sig_id", sorted(REAL_LINES))
def test_real_text_is_recognised(sig_id: str) -> None:
    found = match_log(REAL_LINES[sig_id], "log/x")
    assert [f.id for f in found] == [sig_id]
    assert found[0].evidence.rstrip("…") in REAL_LINES[sig_id]


def test_startup_phase_follows_the_log() -> None:
    assert startup_phase("Fetching 30 files:  10%|█         | 3/30") == "download"
    assert startup_phase("Fetching 30 files\nLoading safetensors checkpoint shards: 100% Completed") == "load"
    assert (
        startup_phase("Loading weights took 9.1 seconds\nINFO:     Application startup complete.")
        == "serving"
    )
    assert startup_phase("nothing here") is None
