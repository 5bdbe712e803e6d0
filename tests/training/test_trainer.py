import kefu
from kefu.training import TrainConfig, fit


def test_same_seed_same_model(tiny_examples):
    cfg = TrainConfig(dim=16, layers=1, heads=2, epochs=2, val_fraction=0.0, vocab_size=1000, seed=3)
    a = fit(tiny_examples, cfg, progress=False).predict_proba(["我要退款", "hello"])
    b = fit(tiny_examples, cfg, progress=False).predict_proba(["我要退款", "hello"])
    assert a.tolist() == b.tolist()


def test_early_stopping_keeps_best_and_records_history(tiny_examples):
    cfg = TrainConfig(dim=16, layers=1, heads=2, epochs=30, patience=2, lr=1e-6, vocab_size=150, val_fraction=0.4)
    model = fit(tiny_examples, cfg, progress=False)
    history = model.metrics["history"]
    assert len(history) < 30  # a learning rate this small cannot improve macro-F1 for long
    assert model.metrics["best_epoch"] == max(history, key=lambda r: r["val_macro_f1"])["epoch"]


def test_api_train_from_file(tmp_path):
    path = tmp_path / "d.csv"
    rows = ["text,intent"] + [f"refund please {i},refund" for i in range(4)] + [f"hello {i},greet" for i in range(4)]
    path.write_text("\n".join(rows) + "\n")
    model = kefu.train(path, TrainConfig(dim=16, layers=1, heads=2, epochs=20, lr=3e-3, val_fraction=0.0))
    assert model.predict("refund please 1")[0].intent == "refund"


def test_validation_label_unseen_in_training_counts_as_error(tiny_examples):
    from kefu.data import Example

    cfg = TrainConfig(dim=16, layers=1, heads=2, epochs=1, vocab_size=1000)
    val = [Example("cancel my subscription", "cancel"), Example("hello", "greet")]
    model = fit(tiny_examples, cfg, val_examples=val, progress=False)
    assert model.metrics["val_accuracy"] <= 0.5
