"""The upsampler cost table counts what the formulas say."""
import pytest

from indexnet_edu import available_upsamplers
from indexnet_edu.bench.cost import cost_table
from indexnet_edu.lessons.comparison import format_cost_table

C, SIZE = 16, 16


@pytest.fixture(scope="module")
def rows():
    return {row.name: row for row in cost_table(C, SIZE)}


def test_every_registered_upsampler_has_a_row(rows):
    assert list(rows) == available_upsamplers()


def test_fixed_upsamplers_have_no_parameters_and_no_counted_flops(rows):
    for name in ("nearest", "bilinear", "max_unpool"):
        assert rows[name].parameters == 0 and rows[name].total_flops == 0


def test_linear_index_block_costs_match_the_formulas(rows):
    # HIN linear: conv C→4, kernel 2×2, stride 2: 16C weights, one multiply-add each per low-res pixel.
    assert rows["hin"].parameters == 16 * C
    assert rows["hin"].down_flops == 2 * 16 * C * (SIZE // 2) ** 2
    assert rows["din_m2o"].parameters == 16 * C * C


def test_carafe_flops_are_compressor_encoder_and_reassembly(rows):
    h = SIZE // 2
    compressor = 2 * C * 64 * h * h
    encoder = 2 * 64 * (4 * 25) * 9 * h * h
    reassembly = 2 * C * 25 * SIZE * SIZE
    assert rows["carafe"].up_flops == compressor + encoder + reassembly
    assert rows["carafe"].parameters == (C * 64 + 64) + (64 * 100 * 9 + 100)


def test_table_text_has_a_line_per_row(rows):
    text = format_cost_table(list(rows.values()))
    assert len(text.splitlines()) == len(rows) + 1 and "carafe" in text


def test_size_not_divisible_by_stride_is_refused():
    with pytest.raises(ValueError, match="divisible"):
        cost_table(C, 15)
