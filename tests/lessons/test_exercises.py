"""Every exercise check accepts a correct answer, rejects a wrong one with a helpful message,
and treats an untouched stub as "not attempted" instead of crashing the lesson."""
import math

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from indexnet_edu.lessons import exercises
from indexnet_edu.lessons.exercises import solutions
from indexnet_edu import indexed_pool, indexed_upsample, max_index
from indexnet_edu.upsamplers.index_blocks import normalise_index


# --- wrong answers: each a plausible learner mistake ------------------------------------------

def depthwise_average_index(x, stride):
    return torch.full_like(x, 1.0 / stride**2)


def max_instead_of_min(x, stride):
    return max_index(x, stride)


def kernels_with_corner_weight(h, w, scale):
    kernels = torch.zeros(1, 9, scale * h, scale * w)
    kernels[:, 0] = 1.0
    return kernels


def softmax_pool_ignoring_temperature(x, stride, temperature):
    return solutions.softmax_pool(x, stride, 1.0)


def nearest_instead_of_unpool(x, stride):
    return F.interpolate(F.max_pool2d(x, stride), scale_factor=stride)


def count_forgetting_context(kind, channels, context):
    return solutions.index_block_parameter_count(kind, channels, False)


def softmax_of_logits(logits, stride):
    enc, dec = normalise_index(logits, stride)
    wrong = rearrange(torch.softmax(logits, dim=2), "b c (s1 s2) h w -> b c (h s1) (w s2)", s1=stride, s2=stride)
    return wrong, dec


def bounds_for_stride_two_only(stride):
    return 1 / (1 + 3 * math.e), math.e / (math.e + 3)


def sapa_without_layer_norm(encoder, decoder, k):
    from indexnet_edu.upsamplers.sapa import neighbour_similarity
    return torch.softmax(neighbour_similarity(encoder, decoder, k), dim=1)


def cap_of_a_uniform_kernel(k):
    return 1.0 / (k * k)


def stub(*args):
    raise NotImplementedError


CASES = [
    (exercises.check_average_index, solutions.average_index, depthwise_average_index, "holistic"),
    (exercises.check_min_pool_index, solutions.min_pool_index, max_instead_of_min, "index"),
    (exercises.check_nearest_as_reassembly, solutions.nearest_as_reassembly, kernels_with_corner_weight, "reassemble"),
    (exercises.check_softmax_pool, solutions.softmax_pool, softmax_pool_ignoring_temperature, "temperature"),
    (exercises.check_max_unpool, solutions.max_unpool, nearest_instead_of_unpool, "expected 0"),
    (exercises.check_index_block_parameter_count, solutions.index_block_parameter_count, count_forgetting_context, "context=True"),
    (exercises.check_index_normalisation, normalise_index, softmax_of_logits, "encoder index"),
    (exercises.check_encoder_index_bounds, solutions.encoder_index_bounds, bounds_for_stride_two_only, "stride 3"),
    (exercises.check_sapa_inner_kernels, solutions.sapa_inner_kernels, sapa_without_layer_norm, "layer_norm"),
    (exercises.check_a2u_kernel_cap, solutions.a2u_kernel_cap, cap_of_a_uniform_kernel, "sigmoid"),
]
IDS = [check.__name__ for check, *_ in CASES]


@pytest.mark.parametrize("check, right, wrong, words", CASES, ids=IDS)
def test_check_accepts_a_correct_answer(check, right, wrong, words):
    assert check(right) is True


@pytest.mark.parametrize("check, right, wrong, words", CASES, ids=IDS)
def test_check_rejects_a_wrong_answer_with_expected_got_and_hint(check, right, wrong, words):
    with pytest.raises(AssertionError) as failure:
        check(wrong)
    message = str(failure.value)
    assert "expected" in message and "got" in message and "Hint:" in message and words in message


@pytest.mark.parametrize("check, right, wrong, words", CASES, ids=IDS)
def test_check_reports_an_untouched_stub_as_not_attempted(check, right, wrong, words, capsys):
    assert check(stub) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_check_reports_a_crash_inside_the_answer_with_its_inputs():
    def crashes(x, stride):
        return x.reshape(-1, 7)
    with pytest.raises(AssertionError, match=r"shape \(1, 1, 4, 4\), stride 2: your function raised RuntimeError"):
        exercises.check_min_pool_index(crashes)


def test_check_rejects_an_answer_of_the_wrong_type():
    with pytest.raises(AssertionError, match="expected a torch.Tensor"):
        exercises.check_max_unpool(lambda x, stride: x.numpy())


def test_check_refuses_a_called_function_instead_of_the_function():
    with pytest.raises(TypeError, match="pass your function itself"):
        exercises.check_max_unpool(None)

