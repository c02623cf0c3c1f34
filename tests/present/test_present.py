"""What a person reads: the Pareto plot's uncertainty, test points and units; the jet card's axis labels; the
hessian strategy's messages. Real matplotlib figures, inspected through their artists."""
from __future__ import annotations

import math

import pytest

from autoq.data.jetcard import feature_label
from autoq.data.jets import JET_FEATURES
from autoq.metrics import Metric
from autoq.present.plots import TEST_NUDGE, binomial_sigma, plot_pareto
from autoq.searching.strategies.hessian import budgets_of

RECORDS = [{"trial": str(i), "status": "ok", "val_metric": v, "score": v - c / 1e4, "energy": c, "bits": c * 10,
            "bops": c * 100, "fpga": c / 2} for i, (v, c) in enumerate([(0.80, 100.0), (0.90, 200.0), (0.85, 300.0),
                                                                         (0.95, 400.0)])]
BASELINES = {"float": {"val_metric": 0.96, "energy": 900.0, "bits": 9000, "bops": 90000, "fpga": 450.0},
             "Q4": {"val_metric": 0.70, "energy": 90.0, "bits": 900, "bops": 9000, "fpga": 45.0}}


def _errorbars(ax) -> list:
    from matplotlib.container import ErrorbarContainer
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer) and c.has_yerr]


def test_binomial_sigma():
    assert binomial_sigma(0.9, 360) == pytest.approx(math.sqrt(0.9 * 0.1 / 360))  # 1.6 points on digits
    assert binomial_sigma(1.0, 360) == 0 and binomial_sigma(0.5, 100) == pytest.approx(0.05)


def test_accuracy_front_has_binomial_bars_and_its_test_points():
    import matplotlib.pyplot as plt
    fig = plot_pareto(RECORDS, BASELINES, "energy", metric=Metric("accuracy", "max"), n_val=360,
                      test={"baseline Q4": 0.71, "0": 0.78, "1": 0.88, "3": 0.93}, n_test=360)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "Pareto front (validation, n=360, ±1σ binomial)" in labels and "front on the test set (n=360)" in labels
    bars = _errorbars(ax)
    front = [c for c in bars if c.get_label() == "front on the test set (n=360)"]
    assert len(front) == 1
    x, y = front[0].lines[0].get_data()  # the test points, beside their validation points (nudged right)
    assert list(y) == [0.71, 0.78, 0.88, 0.93]
    assert list(x) == pytest.approx([c * TEST_NUDGE for c in (90.0, 100.0, 200.0, 400.0)])
    assert len(bars) >= 4  # the validation front, the test front, each baseline
    segs = front[0].lines[2][0].get_segments()  # the bar of 0.93 spans 2 sigma on 360 samples
    assert segs[-1][1][1] - segs[-1][0][1] == pytest.approx(2 * binomial_sigma(0.93, 360))
    assert ax.get_xlabel() == "energy per inference [pJ, QTools 45 nm]"
    assert ax.get_ylabel() == "validation and test accuracy (fraction correct)"
    plt.close(fig)


@pytest.mark.parametrize("cost,unit", [("energy", "[pJ"), ("bits", "[bits]"), ("bops", "[BOPs]"),
                                       ("fpga", "[LUT + DSP]")])
def test_loss_metric_axes_name_the_metric_and_the_cost_unit(cost, unit):
    import matplotlib.pyplot as plt
    recs = [dict(r, val_metric=1 - r["val_metric"]) for r in RECORDS]
    fig = plot_pareto(recs, {}, cost, metric=Metric("mse", "min"), n_val=360)
    ax = fig.axes[0]
    assert unit in ax.get_xlabel()
    assert ax.get_ylabel() == "validation mse [target units²] (lower is better)"
    assert ax.get_title() == f"mse vs {cost}"
    assert not _errorbars(ax)  # a mean squared error is not a binomial fraction: no bars invented for it
    plt.close(fig)


def test_every_jet_feature_is_labelled_with_its_unit():
    labels = {f: feature_label(f) for f in JET_FEATURES}
    assert labels["mass_mmdt"] == "mass_mmdt: groomed (mMDT) mass [GeV]"
    assert labels["multiplicity"] == "multiplicity: constituents [count]"
    assert labels["d2_a1_b2_mmdt"] == "d2_a1_b2_mmdt: D2 (α=1, β=2), groomed [dimensionless]"
    assert labels["c1_b0_mmdt"] == "c1_b0_mmdt: C1 (β=0), groomed [dimensionless]"
    assert all(l.startswith(f"{f}: ") and l.endswith("]") for f, l in labels.items())
    assert sum(l.endswith("[dimensionless]") for l in labels.values()) == 14


def test_hessian_says_what_it_budgets_in_which_unit():
    assert budgets_of("energy") == "energy budgets in pJ"
    assert budgets_of("bits") == "model-size budgets in bits"
    assert budgets_of("bops") == "budgets in BOPs"
    assert budgets_of("fpga") == "budgets in BOPs (standing in for the FPGA estimate)"
