"""The Triton client turns a server that dies mid-request into a retried call and then a ModelError naming
the model (which the ingest pipeline answers by restarting the embedded Triton), never a raw transport error."""

import socket
import threading

import numpy as np
import pytest

from orchestrator.model_clients import ModelError, TritonModels


@pytest.fixture
def closing_server():
    """A loopback server that reads each request and closes the connection without answering,
    like a Triton killed while it works."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    seen = []

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.recv(1 << 16)
            seen.append(1)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{sock.getsockname()[1]}", seen
    sock.close()


def test_connection_closed_is_retried_then_a_model_error(closing_server):
    url, seen = closing_server
    models = TritonModels(url, retries=2)
    with pytest.raises(ModelError, match="'embedder'"):
        models.embed(["a person walks in"])
    assert len(seen) == 3  # first try + 2 retries
    seen.clear()
    with pytest.raises(ModelError, match="'detector'"):
        models.detect([np.zeros((32, 32, 3), np.uint8)])
    assert len(seen) >= 3
    models.close()
