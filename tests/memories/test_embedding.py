"""Query embeddings from ONNX Runtime stay in the vector space Mem0 writes in (its
sentence-transformers model on torch): the same vectors, the same rankings. Concurrent
queries are encoded together; a repeated one comes from the LRU."""

import threading

import numpy as np

from memories.bench import corpus
from memories.gateway import embedding, mem0_internals


def torch_vectors(gw, texts):
    """Today's path: Mem0's own embedding model (sentence-transformers on torch)."""
    model = mem0_internals.sentence_model(gw.memory)
    return np.asarray(model.encode(texts, convert_to_numpy=True), dtype=np.float32)


def test_onnx_vectors_are_mem0s_vectors(gw):
    texts = corpus.queries(40, seed=3) + corpus.memories(40, seed=4) + ["", "a" * 3000, "Ünïcödé 🚫 ça va?"]
    ours = embedding.encoder().encode(texts)
    theirs = torch_vectors(gw, texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert np.abs(ours - theirs).max() < 1e-5
    assert (ours * theirs).sum(axis=1).min() > 0.99999
    # one at a time (the micro-batcher's path) is the same vector as in a batch
    assert np.abs(np.asarray(gw.embed(texts[0])) - theirs[0]).max() < 1e-5


def test_rankings_agree_with_the_torch_path(gw):
    """Memories embedded by Mem0 (torch) ranked for ONNX queries: the order torch queries give."""
    docs = corpus.memories(400, seed=5)
    doc_vectors = torch_vectors(gw, docs)
    queries = corpus.queries(60, seed=6)
    onnx_q, torch_q = embedding.encoder().encode(queries), torch_vectors(gw, queries)
    for q_onnx, q_torch in zip(onnx_q, torch_q, strict=True):
        assert list(np.argsort(-(doc_vectors @ q_onnx))[:10]) == list(np.argsort(-(doc_vectors @ q_torch))[:10])


def test_concurrent_queries_are_encoded_in_one_pass(monkeypatch):
    """While one batch is being encoded, the queries that arrive wait and go together."""
    enc = embedding.QueryEncoder(embedding.ensure_onnx())
    started, release, batches = threading.Event(), threading.Event(), []
    real = enc.encode

    def encode(texts):
        batches.append(list(texts))
        started.set()
        release.wait(30)
        return real(texts)

    monkeypatch.setattr(enc, "encode", encode)
    texts = corpus.queries(9, seed=8)
    results = {}

    def ask(text):
        results[text] = enc.embed(text)

    first = threading.Thread(target=ask, args=(texts[0],))
    first.start()
    assert started.wait(30)
    others = [threading.Thread(target=ask, args=(t,)) for t in texts[1:]]
    for t in others:
        t.start()
    while enc._batcher.waiting < len(others):  # every other caller is queued behind the first batch
        threading.Event().wait(0.01)
    release.set()
    for t in [first, *others]:
        t.join(30)
    assert [len(b) for b in batches] == [1, 8]
    expected = real(texts)
    for i, text in enumerate(texts):
        assert np.abs(np.asarray(results[text]) - expected[i]).max() < 1e-5


def test_a_repeated_query_comes_from_the_lru():
    enc = embedding.QueryEncoder(embedding.ensure_onnx())
    first = enc.embed("what does the child like to eat")
    assert enc.stats == {"encoded": 1, "batches": 1, "lru_hits": 0}
    assert enc.embed("what does the child like to eat") == first
    assert enc.stats == {"encoded": 1, "batches": 1, "lru_hits": 1}


def test_a_lone_query_is_encoded_in_the_callers_thread(monkeypatch):
    """No hand-off to another thread when nobody else is asking (the one-client path)."""
    enc = embedding.QueryEncoder(embedding.ensure_onnx())
    threads, real = [], enc.encode
    monkeypatch.setattr(enc, "encode", lambda texts: threads.append(threading.current_thread()) or real(texts))
    enc.embed("what is the child's favourite colour")
    assert threads == [threading.current_thread()]


def test_a_failed_batch_fails_its_callers_and_the_next_batch_still_runs(monkeypatch):
    enc = embedding.QueryEncoder(embedding.ensure_onnx())
    real = enc.encode
    monkeypatch.setattr(enc, "encode", lambda texts: (_ for _ in ()).throw(RuntimeError("model gone")))
    try:
        enc.embed("first")
    except RuntimeError as exc:
        assert str(exc) == "model gone"
    else:
        raise AssertionError("the error reached no caller")
    monkeypatch.setattr(enc, "encode", real)
    assert len(enc.embed("second")) == 384
