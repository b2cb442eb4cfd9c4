"""ModelArch: the architecture facts the planner needs, and the arithmetic derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

DTYPE_BYTES = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "fp8": 1.0, "int8": 1.0}
# Bytes per parameter of quantized linear layers, scales and zero-points included (group size 128
# adds 2 bytes per 128 weights for the scale, plus packed zero-points for awq/gptq).
QUANT_BYTES = {"fp8": 1.0, "int8": 1.0, "awq": 0.53, "gptq": 0.53, "int4": 0.53, "mxfp4": 0.53, "gguf": 0.6}


@dataclass(frozen=True, slots=True)
class ModelArch:
    """One model's architecture, license and serving facts (a catalog row or a parsed config.json).

    Attention kinds: MHA (kv heads = heads), GQA, MQA (one kv head), MLA (``kv_lora_rank`` set: the
    cache holds one latent of ``kv_lora_rank + qk_rope_head_dim`` per token per layer). MoE models set
    ``num_experts``; sliding-window layers are counted by ``num_sliding_layers``.

    ``layer_kinds`` lists, layer by layer, what each layer keeps per sequence: ``full`` (a KV entry per
    token), ``sliding`` (KV for the last ``sliding_window`` tokens), ``chunked`` (KV for the current
    ``attention_chunk_size`` chunk, Llama 4), ``mamba`` (a fixed recurrent state: Mamba 1/2 or a gated
    delta net, sized by the ``mamba_*`` fields) or ``none`` (an MLP-only block). Empty means every layer
    is ``full`` except the ``num_sliding_layers`` sliding ones.
    """

    name: str
    hf_id: str
    architecture: str
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int
    tie_word_embeddings: bool = False
    gated_mlp: bool = True
    dtype: str = "bfloat16"
    quantization: str | None = None
    # Mixture of experts
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    num_shared_experts: int = 0
    first_dense_layers: int = 0
    # Multi-head latent attention (DeepSeek V2/V3/R1, Kimi K2)
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    q_lora_rank: int = 0
    # Sliding-window attention
    sliding_window: int = 0
    num_sliding_layers: int = 0
    # Per-layer cache kinds and the recurrent state of Mamba / linear-attention layers
    layer_kinds: tuple[str, ...] = ()
    attention_chunk_size: int = 0
    mamba_kind: str = ""  # "mamba1", "mamba2" or "gdn" (gated delta net)
    mamba_heads: int = 0  # mamba2 heads / gdn value heads
    mamba_head_dim: int = 0  # mamba2 head dim / gdn value head dim
    mamba_state_size: int = 0  # d_state / gdn key head dim
    mamba_groups: int = 0  # mamba2 n_groups / gdn key heads
    mamba_inner: int = 0  # mamba1/2 intermediate (d_inner)
    mamba_conv_kernel: int = 0
    mamba_ssm_dtype: str = (
        ""  # "" = the KV dtype; "float32" where the config (or vLLM for the family) says so
    )
    block_per_layer: bool = False  # Nemotron-H: each layer is one block (mixer only, or MLP/MoE only)
    moe_layer_period: int = (
        1  # Jamba: MoE on every period-th layer (from moe_layer_offset), dense MLP elsewhere
    )
    moe_layer_offset: int = 0
    encoder_decoder: bool = False
    # Sizes: exact counts where published, else computed from the config
    params: int = 0
    weights_bytes: int = 0
    # Catalog facts
    family: str = ""
    aliases: tuple[str, ...] = ()
    license: str = ""
    commercial_use: bool = True
    license_note: str = ""
    tasks: tuple[str, ...] = ("chat",)
    engines: tuple[str, ...] = ("vllm", "sglang", "tgi", "trtllm")
    source_url: str = ""
    notes: str = ""

    # ---- derived facts -------------------------------------------------------------------------
    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def attention_kind(self) -> str:
        if self.is_mla:
            return "MLA"
        if self.num_kv_heads == 1:
            return "MQA"
        if self.num_kv_heads == self.num_attention_heads:
            return "MHA"
        return "GQA"

    @property
    def kinds(self) -> tuple[str, ...]:
        """The cache kind of every layer (see the class docstring)."""
        if self.layer_kinds:
            return self.layer_kinds
        return ("full",) * (self.num_layers - self.num_sliding_layers) + (
            "sliding",
        ) * self.num_sliding_layers

    def count(self, kind: str) -> int:
        return sum(1 for k in self.kinds if k == kind)

    @property
    def num_full_layers(self) -> int:
        return self.count("full")

    @property
    def num_kv_layers(self) -> int:
        """Layers that keep a KV entry per token (full, sliding and chunked attention)."""
        return sum(1 for k in self.kinds if k in ("full", "sliding", "chunked"))

    @property
    def is_hybrid_mamba(self) -> bool:
        return self.count("mamba") > 0

    def mamba_state_bytes(self, tp: int, state_dtype_bytes: float) -> int:
        """Bytes of one sequence's recurrent state in one Mamba / gated-delta-net layer on one TP rank.

        Follows vLLM's MambaStateShapeCalculator (mamba_utils.py): a conv state of (kernel − 1) × conv
        channels and a temporal (SSM) state; both are split over TP ranks. Mamba 2 widens n_groups to a
        multiple of TP when it does not divide (extra_groups_for_head_shards).
        """
        if not self.is_hybrid_mamba or not self.mamba_kind:
            return 0
        window = max(self.mamba_conv_kernel - 1, 0)
        if self.mamba_kind == "gdn":
            conv_dim = 2 * self.mamba_groups * self.mamba_state_size + self.mamba_heads * self.mamba_head_dim
            ssm = (self.mamba_heads // tp) * self.mamba_state_size * self.mamba_head_dim
        elif self.mamba_kind == "mamba2":
            groups = (
                self.mamba_groups
                if self.mamba_groups % tp == 0
                else self.mamba_groups + tp - self.mamba_groups
            )
            conv_dim = self.mamba_inner + 2 * groups * self.mamba_state_size
            ssm = (self.mamba_heads // tp) * self.mamba_head_dim * self.mamba_state_size
        else:  # mamba1
            conv_dim = self.mamba_inner
            ssm = (self.mamba_inner // tp) * self.mamba_state_size
        conv = window * (conv_dim // tp)
        ssm_bytes = 4.0 if self.mamba_ssm_dtype == "float32" else state_dtype_bytes
        return round(conv * state_dtype_bytes + ssm * ssm_bytes)

    def kv_bytes_per_token_per_layer(self, tp: int = 1, kv_dtype_bytes: float = 2.0) -> float:
        """KV-cache bytes one token needs in one layer on one tensor-parallel rank.

        GQA/MHA/MQA: K and V for each KV head the rank holds; heads are split over ranks while TP ≤
        KV heads and replicated (one per rank) beyond. MLA: one latent, replicated on every rank.
        """
        if self.is_mla:
            return (self.kv_lora_rank + self.qk_rope_head_dim) * kv_dtype_bytes
        heads_per_rank = max(1, self.num_kv_heads // tp)
        return 2 * heads_per_rank * self.head_dim * kv_dtype_bytes

    def kv_bytes_per_token(self, tp: int = 1, kv_dtype_bytes: float = 2.0) -> int:
        """KV bytes per token on one rank, every attention layer counted as full."""
        return round(self.num_kv_layers * self.kv_bytes_per_token_per_layer(tp, kv_dtype_bytes))

    # ---- parameter counts ----------------------------------------------------------------------
    def _attention_params(self) -> int:
        h = self.hidden_size
        if self.is_mla:
            q_dim = self.num_attention_heads * (self.qk_nope_head_dim + self.qk_rope_head_dim)
            q = (
                h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * q_dim
                if self.q_lora_rank
                else h * q_dim
            )
            kv_a = h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
            kv_b = self.kv_lora_rank * self.num_attention_heads * (self.qk_nope_head_dim + self.v_head_dim)
            o = self.num_attention_heads * self.v_head_dim * h
            return q + kv_a + kv_b + o
        q = h * self.num_attention_heads * self.head_dim
        kv = 2 * h * self.num_kv_heads * self.head_dim
        o = self.num_attention_heads * self.head_dim * h
        return q + kv + o

    def _mamba_params(self) -> int:
        """In/out projections of a Mamba 2 or gated-delta-net mixer (conv and small vectors left out)."""
        h = self.hidden_size
        if self.mamba_kind == "gdn":
            qk = self.mamba_groups * self.mamba_state_size
            v = self.mamba_heads * self.mamba_head_dim
            return h * (2 * qk + 2 * v + 2 * self.mamba_heads) + v * h
        inner = self.mamba_inner or 2 * h
        return h * (2 * inner + 2 * self.mamba_groups * self.mamba_state_size + self.mamba_heads) + inner * h

    def _mlp_params(self, intermediate: int) -> int:
        return (3 if self.gated_mlp else 2) * self.hidden_size * intermediate

    def _counts(self) -> tuple[int, int, int]:
        """(total, active per token, embedding) parameter counts from the config (cached per model)."""
        return _param_counts(self)

    def _count_params(self) -> tuple[int, int, int]:
        h = self.hidden_size
        embed = self.vocab_size * h
        lm_head = 0 if self.tie_word_embeddings else embed
        norms = 2 * h
        attn = self._attention_params()
        total = active = 0
        kinds = self.kinds
        for layer in range(self.num_layers):
            kind = kinds[layer] if layer < len(kinds) else "full"
            mixer = self._mamba_params() if kind == "mamba" else (0 if kind == "none" else attn)
            base = mixer + norms
            if self.block_per_layer and kind != "none":
                total += base
                active += base
                continue
            moe_layer = layer % self.moe_layer_period == self.moe_layer_offset % self.moe_layer_period
            if self.is_moe and layer >= self.first_dense_layers and moe_layer:
                expert = self._mlp_params(self.moe_intermediate_size or self.intermediate_size)
                shared = self.num_shared_experts * expert
                router = h * self.num_experts
                total += base + self.num_experts * expert + shared + router
                active += base + self.experts_per_token * expert + shared + router
            else:
                mlp = self._mlp_params(self.intermediate_size)
                total += base + mlp
                active += base + mlp
        total += embed + lm_head + h
        active += embed + lm_head + h
        if self.encoder_decoder:  # an encoder stack as deep as the decoder, plus cross-attention
            encoder_and_cross = self.num_layers * (
                2 * attn + self._mlp_params(self.intermediate_size) + 3 * h
            )
            total += encoder_and_cross
            active += encoder_and_cross
        return total, active, embed + lm_head

    @property
    def total_params(self) -> int:
        return self.params or self._counts()[0]

    @property
    def active_params(self) -> int:
        """Parameters read per token (all of them for dense models, the routed experts for MoE)."""
        total, active, _ = self._counts()
        if self.params and total:
            return round(active * self.params / total)
        return active

    @property
    def embedding_params(self) -> int:
        return self._counts()[2]

    def weights_bytes_for(self, dtype: str, quantization: str | None) -> int:
        """Bytes of weights in GPU memory for a dtype and an optional quantization.

        A known checkpoint size wins when the request matches the checkpoint. Quantized layouts keep
        embeddings and the LM head in 16-bit, as fp8/awq/gptq checkpoints do.
        """
        quant = quantization if quantization not in (None, "none") else None
        checkpoint_quant = self.quantization
        if self.weights_bytes and (quant is None or quant == checkpoint_quant):
            return self.weights_bytes
        if quant is None and checkpoint_quant is not None:
            quant = checkpoint_quant
        if quant is None:
            return round(self.total_params * DTYPE_BYTES.get(dtype, 2.0))
        embed = self.embedding_params
        body = self.total_params - embed
        return round(body * QUANT_BYTES[quant] + embed * 2.0)


@lru_cache(maxsize=1024)
def _param_counts(model: ModelArch) -> tuple[int, int, int]:
    # The simulator asks for these on every step; the arithmetic loops over layers, so cache it.
    return model._count_params()
