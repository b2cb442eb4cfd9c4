"""A real simulator server on 127.0.0.1, run on its own event loop in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from kubellm.sim.config import SimConfig
from kubellm.sim.core import SimCore
from kubellm.sim.engine import RealTimeEngine
from kubellm.sim.server import create_app
from kubellm.sim.timing import LinearStepTimer, StepTimer


@dataclass
class RunningSim:
    base_url: str
    engine: RealTimeEngine

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"


def small_config(**changes: object) -> SimConfig:
    values: dict[str, object] = {
        "served_model_name": "sim-model",
        "max_model_len": 512,
        "max_num_seqs": 8,
        "max_num_batched_tokens": 256,
        "kv_blocks": 256,
    }
    values.update(changes)
    return SimConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def start_sim() -> Iterator[Callable[..., RunningSim]]:
    stops: list[Callable[[], None]] = []

    def start(
        config: SimConfig | None = None,
        timer: StepTimer | None = None,
        *,
        time_scale: float = 1.0,
        api_key: str | None = None,
    ) -> RunningSim:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        holder: dict[str, object] = {}
        engine_box: list[RealTimeEngine] = []

        async def boot() -> None:
            engine = RealTimeEngine(
                SimCore(config or small_config(), timer or LinearStepTimer(overhead_ms=1.0)),
                time_scale=time_scale,
            )
            engine_box.append(engine)
            runner = web.AppRunner(create_app(engine, api_key=api_key), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            holder["runner"] = runner
            holder["port"] = runner.addresses[0][1]
            ready.set()

        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(boot(), loop)
        assert ready.wait(10), "simulator did not start"

        def stop() -> None:
            runner = holder["runner"]
            assert isinstance(runner, web.AppRunner)
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

        stops.append(stop)
        return RunningSim(f"http://127.0.0.1:{holder['port']}", engine_box[0])

    yield start
    for stop in stops:
        stop()
