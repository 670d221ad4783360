"""Train an index block in seconds on a toy task: deliver spatial information through a pool.

The task (the "delivering spatial information" experiment in miniature): an index block looks
at a small image ``x`` (B×C×H×W) and predicts an encoder index ``enc`` and a decoder index
``dec``. We pool with one and unpool with the other,

    x̂ = IU(IP(x, enc), dec) = dec ⊙ NN↑( Σ_window enc · x ),

and train the block so that ``x̂`` reproduces ``x`` (mean squared error). Average pooling
followed by nearest upsampling (``enc ≡ 1/s²``, ``dec ≡ 1``) loses every detail inside a
window; a learned index can keep some of it, because ``dec`` knows *where* in the window the
bright and dark pixels were.

>>> result = train_index_block("hin", steps=100, progress=False)
>>> result.losses[0] > result.losses[-1]
True
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_divisible, check_positive_int, check_positive_real, check_seed, check_tensor
from .._progress import tqdm
from ..data.images import IMAGES, load_image
from ..upsamplers.index_blocks import DepthwiseIndexBlock, HolisticIndexBlock
from ..ops.indexing import indexed_pool, indexed_upsample
from .env import quick_mode

BLOCK_KINDS = ("hin", "o2o", "m2o")
DEFAULT_IMAGE = "camera"
DEFAULT_SIZE = 64


@dataclass
class ToyTrainingResult:
    """What :func:`train_index_block` returns.

    Attributes:
        block: the trained index block, in eval mode.
        losses: the training loss (MSE) after each step's forward pass, one float per step.
        image: the B×C×H×W image the block was trained on.
        stride: the pooling stride.
    """

    block: nn.Module
    losses: list[float]
    image: torch.Tensor
    stride: int

    def indices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The learned ``(encoder_index, decoder_index)`` on the training image (no gradients)."""
        with torch.no_grad():
            return self.block(self.image)

    def reconstruction(self) -> torch.Tensor:
        """``IU(IP(x, enc), dec)`` on the training image, B×C×H×W (no gradients)."""
        enc, dec = self.indices()
        return reconstruct(self.image, enc, dec, self.stride)


def reconstruct(x: torch.Tensor, encoder_index: torch.Tensor, decoder_index: torch.Tensor,
                stride: int = 2) -> torch.Tensor:
    """Pool ``x`` with the encoder index, unpool with the decoder index: B×C×H×W → B×C×H×W."""
    return indexed_upsample(indexed_pool(x, encoder_index, stride), decoder_index, stride)


def reconstruction_error(x: torch.Tensor, encoder_index: torch.Tensor, decoder_index: torch.Tensor,
                         stride: int = 2) -> torch.Tensor:
    """Mean squared error between ``x`` and :func:`reconstruct` (a 0-D tensor)."""
    return F.mse_loss(reconstruct(x, encoder_index, decoder_index, stride), x)


def make_index_block(kind: str, channels: int, stride: int = 2, nonlinear: bool = False,
                     context: bool = False) -> nn.Module:
    """An index block by short name: "hin" (holistic), "o2o" or "m2o" (depthwise)."""
    check_choice(kind, "kind", BLOCK_KINDS)
    if kind == "hin":
        return HolisticIndexBlock(channels, stride, nonlinear=nonlinear, context=context)
    return DepthwiseIndexBlock(channels, stride, mode=kind, nonlinear=nonlinear, context=context)


def _toy_image(image, stride: int) -> torch.Tensor:
    """The training input: a bundled image name, a tensor, or None for the default picture."""
    if image is None:
        image = DEFAULT_IMAGE
    if isinstance(image, str):
        check_choice(image, "image", IMAGES)
        image = load_image(image, size=DEFAULT_SIZE)
    check_tensor(image, "image", ndim=4)
    check_divisible(image, stride, "image")
    return image.detach().to("cpu", torch.float32)


def train_index_block(kind: str = "hin", image=None, stride: int = 2, steps: int = 200, lr: float = 0.05,
                      seed: int = 0, nonlinear: bool = False, context: bool = False,
                      progress: bool | None = None) -> ToyTrainingResult:
    """Train an index block so that ``IU(IP(x, enc), dec)`` reproduces ``x``.

    Full-batch Adam on one small image, on the CPU: 200 steps on a 64×64 image take about a
    second. Deterministic: the same arguments give bit-identical weights (the global RNG state
    of the caller is left untouched).

    Args:
        kind: "hin" (holistic), "o2o" or "m2o" (depthwise).
        image: None (a 1×3×64×64 crop of the bundled "camera"), the name of a bundled image
            (resized to 64×64), or a B×C×H×W float tensor with H, W divisible by ``stride``
            (copied to the CPU as float32; the block gets C input channels).
        stride: 2 or 4.
        steps: optimisation steps (>= 1).
        lr: Adam learning rate (> 0).
        seed: seeds the block's initial weights.
        nonlinear, context: the block variants of :mod:`indexnet_edu.upsamplers.index_blocks`.
        progress: show a tqdm progress bar; None (default): show it except in quick mode
            (``CI=true`` or ``INDEXNET_QUICK=1``), so an executed lesson stores no stale bar.

    Returns:
        A :class:`ToyTrainingResult` with ``.block`` (eval mode) and ``.losses`` (one per step).
    """
    check_choice(kind, "kind", BLOCK_KINDS)
    stride = check_positive_int(stride, "stride")
    steps = check_positive_int(steps, "steps")
    lr = check_positive_real(lr, "lr", allow_inf=False)
    seed = check_seed(seed, "seed")
    if progress is None:
        progress = not quick_mode()
    x = _toy_image(image, stride)
    threads = torch.get_num_threads()
    # Tensors this small train fastest on one thread; on a busy machine, several threads
    # spend most of their time waiting for each other (measured: ~8× slower on 2 loaded cores).
    torch.set_num_threads(1)
    try:
        return _train(kind, x, stride, steps, lr, int(seed), nonlinear, context, progress)
    finally:
        torch.set_num_threads(threads)


def _train(kind, x, stride, steps, lr, seed, nonlinear, context, progress) -> ToyTrainingResult:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        block = make_index_block(kind, x.shape[1], stride, nonlinear, context)
    optimiser = torch.optim.Adam(block.parameters(), lr=lr)
    losses: list[float] = []
    block.train()
    for _ in tqdm(range(steps), desc=f"training {kind} index block", disable=not progress, leave=False):
        encoder_index, decoder_index = block(x)
        loss = reconstruction_error(x, encoder_index, decoder_index, stride)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    block.eval()
    return ToyTrainingResult(block=block, losses=losses, image=x, stride=stride)
