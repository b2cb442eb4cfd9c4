"""The KV block pool: fixed-size blocks, counted rather than stored, with optional prefix caching.

As in vLLM, a request holds ``ceil(tokens / block_size)`` blocks. With prefix caching a full prompt
block is known by a chained hash of its tokens; once computed it stays in the cache after its request
ends, *evictable* (counted as free, reused least-recently-freed first) until a new allocation needs
the space. Usage is ``1 − free / total`` where free includes evictable blocks — vLLM's definition of
``vllm:kv_cache_usage_perc``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(slots=True)
class BlockHolding:
    """The blocks one request holds: private ones plus shared, hashed (cached) ones."""

    private: int = 0
    hashes: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.private + len(self.hashes)


class KvBlockPool:
    """Counts free, used and cached blocks; never stores KV data."""

    def __init__(self, num_blocks: int, block_size: int = 16, prefix_caching: bool = True) -> None:
        if num_blocks <= 0 or block_size <= 0:
            raise ValueError("the KV pool needs at least one block of at least one token")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.prefix_caching = prefix_caching
        self._free = num_blocks  # blocks with no content
        self._refs: dict[int, int] = {}  # hash → holders (0 = evictable)
        self._evictable: OrderedDict[int, None] = OrderedDict()
        self.queries = 0  # prefix-cache lookups, in blocks (vllm:prefix_cache_queries)
        self.hits = 0  # of which found (vllm:prefix_cache_hits)

    # ---- state ---------------------------------------------------------------------------------
    @property
    def free_blocks(self) -> int:
        """Blocks an allocation may take: empty ones plus evictable cached ones."""
        return self._free + len(self._evictable)

    @property
    def used_blocks(self) -> int:
        return self.num_blocks - self.free_blocks

    @property
    def usage(self) -> float:
        """Fraction of blocks in use, 0 … 1."""
        return self.used_blocks / self.num_blocks

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    # ---- prefix cache --------------------------------------------------------------------------
    def cached_prefix(self, block_hashes: list[int], max_blocks: int) -> int:
        """How many leading blocks of ``block_hashes`` (at most ``max_blocks``) are cached."""
        if not self.prefix_caching:
            return 0
        n = 0
        refs = self._refs
        for h in block_hashes[:max_blocks]:
            if h not in refs:
                break
            n += 1
        return n

    def record_lookup(self, queried: int, hit: int) -> None:
        self.queries += queried
        self.hits += hit

    def acquire_cached(self, holding: BlockHolding, hashes: list[int]) -> None:
        """Take a reference on cached blocks (found by :meth:`cached_prefix`)."""
        for h in hashes:
            refs = self._refs[h]
            if refs == 0:
                del self._evictable[h]
            self._refs[h] = refs + 1
            holding.hashes.append(h)

    def publish(self, holding: BlockHolding, block_hash: int) -> None:
        """Turn one of the holder's private blocks, now full and computed, into a cached one."""
        if not self.prefix_caching or holding.private == 0 or block_hash in self._refs:
            return
        holding.private -= 1
        self._refs[block_hash] = 1
        holding.hashes.append(block_hash)

    # ---- allocation ----------------------------------------------------------------------------
    def admit(self, holding: BlockHolding, hit_hashes: list[int], tokens: int) -> bool:
        """Give a new (or preempted) request its cached prefix plus blocks up to ``tokens`` tokens.

        Reviving an evictable cached block takes it out of the free count, so it is counted with the
        new blocks; nothing is taken when the whole does not fit.
        """
        refs = self._refs
        revived = sum(1 for h in hit_hashes if refs[h] == 0)
        need = self.blocks_for(tokens) - len(hit_hashes) - holding.count
        if max(need, 0) + revived > self._free + len(self._evictable):
            return False
        self.acquire_cached(holding, hit_hashes)
        return self.grow(holding, tokens)

    def can_grow(self, holding: BlockHolding, tokens: int) -> bool:
        return self.blocks_for(tokens) - holding.count <= self.free_blocks

    def grow(self, holding: BlockHolding, tokens: int) -> bool:
        """Make ``holding`` cover ``tokens`` tokens; False (and nothing taken) when the pool is short."""
        need = self.blocks_for(tokens) - holding.count
        if need <= 0:
            return True
        if need > self._free + len(self._evictable):
            return False
        take_free = min(need, self._free)
        self._free -= take_free
        for _ in range(need - take_free):  # evict the least recently freed cached blocks
            h, _ = self._evictable.popitem(last=False)
            del self._refs[h]
        holding.private += need
        return True

    def grow_many(self, need: int) -> bool:
        """Take ``need`` private blocks in bulk (fast-forwarded decode); the caller adds them to holdings."""
        if need > self._free + len(self._evictable):
            return False
        take_free = min(need, self._free)
        self._free -= take_free
        for _ in range(need - take_free):
            h, _ = self._evictable.popitem(last=False)
            del self._refs[h]
        return True

    def release(self, holding: BlockHolding) -> None:
        """Give back every block of ``holding``; its cached blocks stay cached, now evictable."""
        self._free += holding.private
        holding.private = 0
        # vLLM frees a request's blocks in reverse, so the tail of a prompt is evicted first
        for h in reversed(holding.hashes):
            refs = self._refs[h] - 1
            self._refs[h] = refs
            if refs == 0:
                self._evictable[h] = None
        holding.hashes.clear()
