"""nbdiag.activations: one table of facts per activation, and the one saturation rule every module uses."""

import math

import pytest
import torch

from nbdiag import activations, sweep
from nbdiag.activations import FACTS, LESSON_GAINS, of_kind, saturated, saturated_percent
from nbdiag.layers import ACTIVATIONS
from nbdiag.records import LayerRecord
from nbdiag.snapshots import Snapshots
from nbdiag.stats import saturation_percent

T = torch.tensor([-0.99, -0.5, 0.0, 0.02, 0.5, 0.98, -0.002, 0.999])


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "linear"])
def test_each_suited_gain_is_calculate_gains(name):
    assert FACTS[name].gain == torch.nn.init.calculate_gain(name)


def test_gelu_borrows_relus_gain_and_says_so():
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("gelu")
    assert FACTS["gelu"].gain == FACTS["relu"].gain and "no GELU" in FACTS["gelu"].gain_source


def test_the_table_covers_the_configs_activations_and_their_layers():
    assert set(FACTS) == set(ACTIVATIONS) | {"linear"}
    assert all(of_kind(cls.__name__) is FACTS[name] for name, cls in ACTIVATIONS.items())
    assert of_kind("Linear") is None and FACTS["linear"].flat is None


def test_the_presets_are_the_lessons_gains_and_the_suited_one_in_order():
    assert FACTS["tanh"].presets == {"0.5": 0.5, "1": 1.0, "5/3": 5 / 3, "3": 3.0} == LESSON_GAINS
    assert list(FACTS["relu"].presets) == ["0.5", "1", "√2", "3"]
    assert list(FACTS["sigmoid"].presets) == ["0.5", "1", "3"]  # its suited gain is 1 already


def test_each_kinds_rule():
    assert saturated(T, "Tanh").tolist() == [True, False, False, False, False, True, False, True]
    assert saturated(T, "ReLU").tolist() == [False, False, True, False, False, False, False, False]
    assert saturated(T, "Sigmoid").tolist() == [True, True, True, True, False, True, True, True]
    assert saturated(T, "ReLU", threshold=0.9).tolist() == [True, False, False, False, False, True, False, True]


def test_no_rule_where_there_is_no_flat_part_not_tanhs():
    """A Linear layer, or an activation nbdiag does not know (nn.SiLU), has no saturation figure: n/a."""
    assert saturated(T, "Linear") is None and saturated(T, "SiLU") is None and saturated_percent(T, "Mish") is None
    assert saturated(T, "SiLU", threshold=0.9) is not None  # a rule the user declares


def test_gelus_flat_part_is_its_input_below_minus_3_never_small_values_near_0():
    x = torch.tensor([-5.0, -3.5, -0.005, -0.001, 0.0, 0.5])
    t = torch.nn.functional.gelu(x)
    assert t[2] < 0 and t[2] > -0.004  # a value near 0 looks like the flat part's from the output alone
    assert saturated(t, "GELU", inputs=x).tolist() == [True, True, False, False, False, False]
    assert saturated(t, "GELU") is None  # without the input, no figure rather than a wrong one
    tiny = torch.randn(1000) * 1e-30  # a vanished signal: nothing saturated (it was counted 49% before)
    assert saturated_percent(torch.nn.functional.gelu(tiny), "GELU", inputs=tiny).item() == 0


def test_non_finite_values_count_neither_way_and_none_finite_is_nan():
    t = torch.tensor([0.99, 0.1, math.nan, math.inf])
    assert saturated_percent(t, "Tanh").item() == 50.0  # of the two finite values, one is on a tail
    assert math.isnan(saturated_percent(torch.tensor([math.nan, math.inf]), "Tanh").item())
    assert saturated_percent(torch.tensor([[0.99, math.nan], [0.1, 0.2]]), "Tanh", dim=-1).tolist() == [100.0, 0.0]


def test_the_sweep_the_statistics_and_the_snapshots_agree_on_the_same_outputs():
    """Before there was one rule, the three disagreed on non-finite values (inf counted as saturated in the tables,
    left out in the snapshots)."""
    out = torch.tensor([[0.99, -0.1, math.inf, 0.5], [-0.98, 0.2, 0.3, math.nan]], dtype=torch.float64)  # (B, units)
    record = LayerRecord(1, "Tanh", out, None)
    recorder = Snapshots(1)
    recorder.add(0, [record])
    from_sweep = sweep.measure(out, "tanh")[1].item()
    from_snapshots = recorder.records()[0].saturated[0]
    assert saturation_percent(record) == from_sweep == pytest.approx(from_snapshots) == pytest.approx(100 * 2 / 6)


def test_relu_calls_its_share_zero():
    assert FACTS["relu"].flat_label == "zero" and FACTS["tanh"].flat_label == "saturated"


def test_named_gains_read_as_a_student_writes_them():
    assert activations.named_gain(5 / 3) == "5/3" and activations.named_gain(1.41) == "√2"
    assert activations.named_gain(2.5) is None
