"""Train the convolutional member (:class:`ocr.model.ConvNet`) with torch, on CPU.

Training only: torch is an optional dependency (``pip install .[train]``); the
fitted weights are exported (batch normalisation folded into the
convolutions) to the numpy member that :mod:`ocr.model` runs, so reading needs
numpy only. The network reads the resampled pen track of feature set ``v3``
(x, y, pen-up per point) through :func:`ocr.features.track_channels`. Each
epoch shows every training character once, as its original or one of its
augmented copies (:func:`ocr.train.augment`) drawn at random, further turned,
slanted and stretched a little per batch, so the network sees many more
shapes than the copies hold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from ocr.features import (
    TRACK_CHANNELS,
    TRACK_OFFSET,
    TRACK_POINTS,
    FloatArray,
    render,
    track_channels,
)
from ocr.model import ConvNet, InkNet

IntArray = npt.NDArray[np.int64]

#: Convolutions: (output channels, width, max-pool by 2 after it).
LAYERS: tuple[tuple[int, int, bool], ...] = (
    (48, 5, False),
    (64, 5, True),
    (96, 3, True),
    (128, 3, False),
)
#: Hidden units of the dense head.
HEAD = 128
#: Convolutions of the image member (:class:`InkImageNet`).
IMAGE_LAYERS: tuple[tuple[int, int, bool], ...] = (
    (24, 3, True),
    (48, 3, True),
    (96, 3, False),
)


class TrackNet(nn.Module):  # type: ignore[misc,unused-ignore]
    """The torch twin of :class:`ocr.model.ConvNet`, with batch normalisation."""

    def __init__(
        self,
        n_classes: int,
        layers: Sequence[tuple[int, int, bool]] = LAYERS,
        head: int = HEAD,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.pools = [p for _, _, p in layers]
        cin = TRACK_CHANNELS
        for cout, width, _ in layers:
            self.convs.append(nn.Conv1d(cin, cout, width, padding=width // 2))
            self.norms.append(nn.BatchNorm1d(cout))
            cin = cout
        self.hidden = nn.Linear(2 * cin, head)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(head, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm, pool in zip(self.convs, self.norms, self.pools, strict=True):
            x = torch.relu(norm(conv(x)))
            if pool:
                x = nn.functional.max_pool1d(x, 2)
        x = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        return self.out(self.drop(torch.relu(self.hidden(self.drop(x)))))

    def export(self, offset: int = TRACK_OFFSET) -> ConvNet:
        """The numpy member computing the same function (evaluation mode)."""
        ws, bs = [], []
        for conv, norm in zip(self.convs, self.norms, strict=True):
            scale = (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach()
            w = conv.weight.detach() * scale[:, None, None]
            b = (conv.bias.detach() - norm.running_mean) * scale + norm.bias.detach()
            ws.append(w.double().numpy())
            bs.append(b.double().numpy())
        dense = (self.hidden, self.out)
        return ConvNet(
            offset=offset,
            points=TRACK_POINTS,
            conv_weights=tuple(ws),
            conv_biases=tuple(bs),
            pools=tuple(self.pools),
            weights=tuple(d.weight.detach().double().numpy().T.copy() for d in dense),
            biases=tuple(d.bias.detach().double().numpy().copy() for d in dense),
        )


class InkImageNet(nn.Module):  # type: ignore[misc,unused-ignore]
    """The torch twin of :class:`ocr.model.InkNet`, with batch normalisation."""

    def __init__(
        self,
        n_classes: int,
        layers: Sequence[tuple[int, int, bool]] = IMAGE_LAYERS,
        head: int = HEAD,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.pools = [p for _, _, p in layers]
        cin = 1
        for cout, width, _ in layers:
            self.convs.append(nn.Conv2d(cin, cout, width, padding=width // 2))
            self.norms.append(nn.BatchNorm2d(cout))
            cin = cout
        self.hidden = nn.Linear(2 * cin, head)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(head, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm, pool in zip(self.convs, self.norms, self.pools, strict=True):
            x = torch.relu(norm(conv(x)))
            if pool:
                x = nn.functional.max_pool2d(x, 2)
        x = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.out(self.drop(torch.relu(self.hidden(self.drop(x)))))

    def export(self, offset: int = TRACK_OFFSET) -> InkNet:
        """The numpy member computing the same function (evaluation mode)."""
        ws, bs = [], []
        for conv, norm in zip(self.convs, self.norms, strict=True):
            scale = (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach()
            w = conv.weight.detach() * scale[:, None, None, None]
            b = (conv.bias.detach() - norm.running_mean) * scale + norm.bias.detach()
            ws.append(w.double().numpy())
            bs.append(b.double().numpy())
        dense = (self.hidden, self.out)
        return InkNet(
            offset=offset,
            points=TRACK_POINTS,
            conv_weights=tuple(ws),
            conv_biases=tuple(bs),
            pools=tuple(self.pools),
            weights=tuple(d.weight.detach().double().numpy().T.copy() for d in dense),
            biases=tuple(d.bias.detach().double().numpy().copy() for d in dense),
        )


def inputs(tracks: FloatArray, image: bool) -> FloatArray:
    """What a member reads of tracks (n, points, 3): channels, or an image (n, 1, y, x)."""
    return render(tracks)[:, None] if image else track_channels(tracks)


def distort(tracks: FloatArray, rng: np.random.Generator, strength: float = 1.0) -> FloatArray:
    """Tracks (n, points, 3) turned, slanted, stretched and jittered a little, each its own way."""
    n = len(tracks)
    a = np.deg2rad(rng.uniform(-6, 6, n) * strength)
    k = rng.uniform(-0.15, 0.15, n) * strength
    sx = np.exp(rng.normal(0, 0.06 * strength, n))
    c, s = np.cos(a), np.sin(a)
    # rotation @ shear @ x-scale, per track
    m = np.empty((n, 2, 2))
    m[:, 0, 0] = c * sx
    m[:, 0, 1] = c * k - s
    m[:, 1, 0] = s * sx
    m[:, 1, 1] = s * k + c
    out = tracks.copy()
    out[..., :2] = np.einsum("npj,nij->npi", tracks[..., :2], m)
    out[..., :2] += rng.normal(0, 0.004 * strength, out[..., :2].shape)
    return out


def fit_convnet(
    tracks: FloatArray,
    y: IntArray,
    *,
    n_classes: int,
    epochs: int = 20,
    seed: int = 0,
    lr: float = 3e-3,
    batch: int = 128,
    decay: float = 1e-4,
    image: bool = False,
) -> ConvNet | InkNet:
    """A :class:`TrackNet` (with ``image``, an :class:`InkImageNet`) fitted on tracks
    (versions, n, points, 3): version 0 the originals, the others augmented copies; each
    epoch draws one version per character."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    versions, n = int(tracks.shape[0]), int(tracks.shape[1])
    net: TrackNet | InkImageNet = InkImageNet(n_classes) if image else TrackNet(n_classes)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=decay)
    steps = epochs * ((n + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    net.train()
    for _ in range(epochs):
        order = rng.permutation(n)
        pick = rng.integers(0, versions, size=n)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            x = inputs(distort(tracks[pick[idx], idx], rng), image)
            loss = nn.functional.cross_entropy(net(torch.from_numpy(x).float()), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    return net.export()
