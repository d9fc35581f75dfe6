"""nbdiag.bands: the healthy ranges the plots shade."""

from nbdiag import bands
from nbdiag.activations import FACTS, SATURATION_THRESHOLD


def test_the_tanh_band_is_where_tanh_is_not_flat():
    band = bands.healthy_bands()["tanh_output"]
    assert (band.low, band.high) == FACTS["tanh"].healthy_output == (-SATURATION_THRESHOLD, SATURATION_THRESHOLD)


def test_update_ratio_band_is_a_decade_either_side_of_1e_3():
    band = bands.healthy_bands()["update_ratio"]
    assert (band.low, band.high) == (-4.0, -2.0)


def test_saturation_band_ends_at_the_limit_findings_use():
    assert bands.healthy_bands()["saturation"].high == bands.SATURATION_LIMIT
