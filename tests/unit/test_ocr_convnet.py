"""The convolutional member: numpy forward pass equals torch's, file round trip,
the shipped files load and read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ocr.features import FEATURE_SETS, TRACK_OFFSET, TRACK_POINTS, batch_features
from ocr.model import Classifier, ConvNet, Mlp

DIGITS = tuple("0123456789")


def _glyphs(rng: np.random.Generator, n: int) -> list[list[np.ndarray]]:
    return [
        [np.cumsum(rng.normal(size=(int(rng.integers(3, 30)), 2)), axis=0) for _ in range(k)]
        for k in rng.integers(1, 4, n)
    ]


def test_numpy_forward_equals_torch() -> None:
    torch = pytest.importorskip("torch")
    from ocr.features import track_channels
    from ocr.train_net import TrackNet

    torch.manual_seed(0)
    net = TrackNet(10)
    # non-trivial batch-norm statistics, as after training
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(64, 7, TRACK_POINTS) * 2 + 0.5)
    net.eval()
    rng = np.random.default_rng(1)
    x = batch_features(_glyphs(rng, 9), "v3")
    tracks = x[:, TRACK_OFFSET:].reshape(len(x), TRACK_POINTS, 3)
    with torch.no_grad():
        want = net(torch.from_numpy(track_channels(tracks)).float()).double().numpy()
    got = net.export().logits(x)
    assert got.shape == (9, 10)
    assert np.allclose(got, want, atol=1e-4), np.abs(got - want).max()


def test_numpy_ink_image_forward_equals_torch() -> None:
    torch = pytest.importorskip("torch")
    from ocr.features import render
    from ocr.train_net import InkImageNet

    torch.manual_seed(0)
    net = InkImageNet(10)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(32, 1, 28, 28))
    net.eval()
    rng = np.random.default_rng(3)
    x = batch_features(_glyphs(rng, 5), "v3")
    images = render(x[:, TRACK_OFFSET:].reshape(len(x), TRACK_POINTS, 3))[:, None]
    with torch.no_grad():
        want = net(torch.from_numpy(images).float()).double().numpy()
    got = net.export().logits(x)
    assert np.allclose(got, want, atol=1e-4), np.abs(got - want).max()


def test_mixed_ensemble_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n2 = FEATURE_SETS["v2"]
    mlp = Mlp(np.zeros(n2), np.ones(n2), (rng.normal(size=(n2, 10)) * 0.1,), (np.zeros(10),))
    conv = ConvNet(
        offset=TRACK_OFFSET,
        points=TRACK_POINTS,
        conv_weights=(rng.normal(size=(8, 7, 5)), rng.normal(size=(6, 8, 3))),
        conv_biases=(rng.normal(size=8), rng.normal(size=6)),
        pools=(True, False),
        weights=(rng.normal(size=(12, 4)), rng.normal(size=(4, 10))),
        biases=(np.zeros(4), np.zeros(10)),
    )
    ens = Classifier(DIGITS, (mlp, conv), 1.3, "v3")
    ens.save(tmp_path / "mixed.npz")
    back = Classifier.load(tmp_path / "mixed.npz")
    assert [type(m) for m in back.members] == [Mlp, ConvNet]
    assert back.feature_set == "v3" and back.temperature == pytest.approx(1.3)
    x = back.features(_glyphs(rng, 4))
    assert x.shape == (4, FEATURE_SETS["v3"])
    assert np.allclose(back.probabilities(x), ens.probabilities(x), atol=1e-4)
    # the MLP reads the v2 columns only: its scores ignore the track
    moved = x.copy()
    moved[:, TRACK_OFFSET:] += 5.0
    assert np.allclose(mlp.logits(moved), mlp.logits(x))
    assert not np.allclose(conv.logits(moved[:, :]), conv.logits(x))


def test_track_channels_ignore_scale_and_position() -> None:
    from ocr.features import track_channels

    rng = np.random.default_rng(2)
    x = batch_features(_glyphs(rng, 3), "v3")
    t = x[:, TRACK_OFFSET:].reshape(3, TRACK_POINTS, 3)
    moved = t.copy()
    moved[..., :2] = moved[..., :2] * 3.7 + [2.0, -1.0]
    assert np.allclose(track_channels(moved), track_channels(t))


UNIPEN = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "handwriting"


def test_shipped_digit_model_loads_and_each_member_reads() -> None:
    from hardware_sim.glyphs import GlyphBank
    from ocr.model import DIGIT_MODEL, softmax

    model = Classifier.load(DIGIT_MODEL)  # MLPs or networks, whichever ships
    assert model.classes == DIGITS and model.members
    assert 0.3 < model.temperature < 5.0
    bank = GlyphBank.load()
    glyphs, labels = [], []
    for w in bank.writers():
        for d in DIGITS:
            for g in bank.glyphs(w, d).samples[:1]:
                glyphs.append(list(g.strokes))
                labels.append(DIGITS.index(d))
    x = model.features(glyphs)
    probs = model.probabilities(x)
    assert np.allclose(probs.sum(axis=1), 1.0)
    # writers seen in training: a regression check of every member's weights, not a
    # held-out figure (that is bench/recognition.py's)
    for m in model.members:
        acc = np.mean(softmax(m.logits(x)).argmax(axis=1) == labels)
        assert acc >= 0.9, (type(m).__name__, acc)
    assert np.mean(probs.argmax(axis=1) == labels) >= 0.95


@pytest.mark.parametrize("image", [False, True])
def test_a_small_net_learns_held_out_digits(image: bool) -> None:
    torch = pytest.importorskip("torch")
    if not (UNIPEN / "unipen-1a.jsonl.gz").exists():
        pytest.skip("../shared/data/handwriting is absent")
    from ocr.train import labels_of, load_unipen
    from ocr.train_net import fit_convnet

    torch.set_num_threads(1)
    samples = load_unipen(UNIPEN / "unipen-1a.jsonl.gz")
    train = [s for s in samples if s.contributor not in ("apa", "syn")][::3]
    test = [s for s in samples if s.contributor == "apa"][:200]
    x = batch_features([s.strokes for s in train], "v3")
    tracks = x[None, :, TRACK_OFFSET:].reshape(1, len(x), TRACK_POINTS, 3)
    net = fit_convnet(tracks, labels_of(train, DIGITS), n_classes=10, epochs=3, image=image)
    pred = net.logits(batch_features([s.strokes for s in test], "v3")).argmax(axis=1)
    acc = np.mean(pred == labels_of(test, DIGITS))
    assert acc >= 0.8, acc


def test_a_network_only_model_reads_the_same_from_its_track_alone() -> None:
    from hardware_sim.glyphs import GlyphBank
    from ocr.model import DIGIT_MODEL

    model = Classifier.load(DIGIT_MODEL)
    if any(isinstance(m, Mlp) for m in model.members):
        pytest.skip("the shipped digit model has MLP members: every feature is read")
    bank = GlyphBank.load()
    glyphs = [list(bank.glyphs(w, "8").samples[0].strokes) for w in bank.writers()[:12]]
    full = batch_features(glyphs, model.feature_set)
    fast = model.features(glyphs)
    assert np.array_equal(fast[:, TRACK_OFFSET:], full[:, TRACK_OFFSET:])
    assert not fast[:, :TRACK_OFFSET].any()  # the part no member reads is not computed
    assert np.allclose(model.logits(fast), model.logits(full), rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="v3"):
        batch_features(glyphs, "v2", track_only=True)
