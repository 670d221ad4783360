"""index_map_structure: tells a soft region mask from a choice of position inside each window."""
import torch

from indexnet_edu.lessons.training_views import index_map_structure


def test_a_region_mask_is_between_windows_and_follows_the_matte():
    alpha = torch.zeros(1, 8, 8)
    alpha[:, :, 4:] = 1.0                                  # right half foreground
    mask = 0.1 + 0.8 * alpha[None]                          # 1×1×8×8, constant inside every 2×2 window
    found = index_map_structure(mask, alpha)
    assert found["within"] == 0 and found["between"] > 0.1
    assert abs(found["alpha_correlation"] - 1) < 1e-6


def test_a_position_choice_is_within_windows_and_ignores_the_matte():
    alpha = torch.zeros(1, 8, 8)
    alpha[:, :, 4:] = 1.0
    one_hot = torch.zeros(1, 3, 8, 8)
    one_hot[:, :, ::2, ::2] = 1.0                           # the top-left pixel of every window, all channels
    found = index_map_structure(one_hot, alpha)
    assert found["between"] == 0 and abs(found["within"] - 3 / 16) < 1e-7   # Bernoulli(1/4) variance
    assert abs(found["alpha_correlation"]) < 1e-6
