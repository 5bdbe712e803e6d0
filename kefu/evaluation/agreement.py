"""How closely a compressed model follows its original: the same top intent, and how far probabilities move."""

def agreement(reference, other, texts: list[str], batch_size: int = 256) -> dict:
    """Top-1 agreement of `other` with `reference` (two `Model`s with the same labels) on `texts`, and the
    largest and mean absolute difference of their intent probabilities."""
    if reference.labels != other.labels:
        raise ValueError("the two models have different intent labels")
    a = reference.predict_proba(texts, batch_size)
    b = other.predict_proba(texts, batch_size)
    diff = (a - b).abs()
    return {
        "n": len(texts),
        "top1_agreement": float((a.argmax(-1) == b.argmax(-1)).float().mean()) if texts else 1.0,
        "max_abs_diff": float(diff.max()) if texts else 0.0,
        "mean_abs_diff": float(diff.mean()) if texts else 0.0,
    }

