"""Lesson 07's plot and widget, driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from metarl_edu.notebook.maml import maml_fit_explorer, plot_adaptation_curves  # noqa: E402
from metarl_edu.studies.sinusoid import MAMLRegression, PretrainedRegression


@pytest.fixture(scope="module")
def learners(one_torch_thread):
    maml, pretrained = MAMLRegression(seed=0), PretrainedRegression(seed=0)
    maml.train(5, progress=False)
    pretrained.train(5, progress=False)
    return maml, pretrained


def test_adaptation_curves_plot_is_labelled():
    ax = plot_adaptation_curves({"a": {5: np.array([3.0, 1.0]), 10: np.array([3.0, 0.5])}, "b": {5: np.ones(2)}})
    assert "steps" in ax.get_xlabel() and "squared error" in ax.get_ylabel() and ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a, K = 5", "a, K = 10", "b, K = 5"]
    plt.close("all")


def test_fit_explorer_draws_and_follows_k_and_steps(learners):
    maml, pretrained = learners
    before = {k: v.detach().clone() for k, v in maml.params.items()}
    w = maml_fit_explorer(maml, pretrained, k=5, steps=0, seed=0)
    assert len(w.output.outputs) == 1 and "image/png" in w.output.outputs[0]["data"]
    # the support points lie on the drawn sinusoid y = A sin(x - phi)
    assert w.x_support.shape == (5, 1)
    assert torch.allclose(w.y_support, w.amplitude * torch.sin(w.x_support - w.phase), atol=1e-5)
    # with 0 steps each fit is the learner's own network, and the MSE is measured against the true curve
    truth = w.amplitude * np.sin(w.x_grid.squeeze(1).numpy() - w.phase)
    with torch.no_grad():
        np.testing.assert_allclose(w.predictions["MAML"], maml.net(w.x_grid).squeeze(1).numpy(), atol=1e-6)
    assert w.mse["MAML"] == pytest.approx(np.mean((w.predictions["MAML"] - truth) ** 2), rel=1e-4)
    png = w.output.outputs[0]["data"]["image/png"]
    w.steps.value = 3
    assert not np.allclose(w.predictions["MAML"], maml.net(w.x_grid).detach().squeeze(1).numpy())
    assert w.output.outputs[0]["data"]["image/png"] != png
    w.k.value = 12
    assert w.x_support.shape == (12, 1) and torch.equal(w.x_support[:5], w._x_all[:5])  # K grows by adding points
    assert all(torch.equal(before[k], v) for k, v in maml.params.items())  # adapting never trains the learner
    with pytest.raises(ValueError, match="k must be in"):
        maml_fit_explorer(maml, pretrained, k=0)
