from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubellm.cluster.client import KubeClient
from kubellm.cluster.kubeconfig import Credentials

from .fake_apiserver import FakeApiServer


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer().start()
    yield server
    server.stop()


@pytest.fixture
def client(api: FakeApiServer) -> Iterator[KubeClient]:
    with KubeClient(Credentials(server=api.url, token=api.token, context="fake"), timeout_s=5) as kube:
        yield kube
