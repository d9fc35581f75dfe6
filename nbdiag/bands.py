"""The ranges the lesson calls healthy, for the plots to shade and the findings to measure against."""

from dataclasses import dataclass

from .activations import FACTS

SATURATION_LIMIT = 10.0  # percent of outputs on a flat tail; gain 5/3 stays under it past layer 1, gain 3 is at 40%+
UPDATE_RATIO_TARGET = -3.0  # log10 update:data of the lesson's rule of thumb: each step changes a weight by ~1/1000
UPDATE_RATIO_TOLERANCE = 1.0  # decades either side of the target before update:data counts as far from it


@dataclass(frozen=True)
class Band:
    """A range of a quantity that the lesson calls healthy, for plots to shade."""

    low: float
    high: float
    what: str


def healthy_bands():
    """The healthy ranges, by name: log10 update:data around the 1e-3 rule of thumb, saturation percent, tanh outputs."""
    tanh_low, tanh_high = FACTS["tanh"].healthy_output
    return {
        "update_ratio": Band(
            UPDATE_RATIO_TARGET - UPDATE_RATIO_TOLERANCE,
            UPDATE_RATIO_TARGET + UPDATE_RATIO_TOLERANCE,
            "log10 update:data: each step changes a weight by 1/10000 to 1/100 of its size",
        ),
        "saturation": Band(0.0, SATURATION_LIMIT, "percent of a layer's outputs on its activation's flat part"),
        "tanh_output": Band(tanh_low, tanh_high, "tanh outputs where its slope is above 6% of the maximum"),
    }
