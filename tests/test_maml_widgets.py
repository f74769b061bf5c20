"""Lesson 07's plot and widget, driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from metarl_edu.notebook.maml import (  # noqa: E402
    fit_scores,
    fit_ylim,
    maml_fit_explorer,
    plot_adaptation_curves,
    plot_training_losses,
)
from metarl_edu.studies.sinusoid import MAMLRegression, PretrainedRegression, adaptation_mse  # noqa: E402


@pytest.fixture(scope="module")
def learners(one_torch_thread):
    maml, pretrained = MAMLRegression(seed=0), PretrainedRegression(seed=0)
    maml.train(5, progress=False)
    pretrained.train(5, progress=False)
    return maml, pretrained


def test_adaptation_curves_plot_is_labelled():
    ax = plot_adaptation_curves({"a": {5: np.array([3.0, 1.0]), 10: np.array([3.0, 0.5])}, "b": {5: np.ones(2)}})
    assert "steps" in ax.get_xlabel() and "squared error" in ax.get_ylabel() and ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a, K = 5 (1 task)", "a, K = 10 (1 task)",
                                                                    "b, K = 5 (1 task)"]
    plt.close("all")


def test_training_losses_follow_every_seed_to_the_end(learners):
    maml, pretrained = learners  # 5 iterations each: stretches of one iteration
    fig = plot_training_losses({"MAML": {0: maml, 3: maml}, "pretrained": {0: pretrained}}, points=100)
    left, right = fig.axes
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["seed 0", "seed 3"]
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), maml.losses)
    assert left.get_lines()[0].get_xdata()[-1] == 4.5 and left.get_yscale() == "log"
    assert "iteration" in right.get_xlabel() and "loss" in right.get_ylabel() and right.get_title() == "pretrained"
    plt.close("all")


def test_adaptation_curves_average_the_tasks_and_show_their_spread():
    ax = plot_adaptation_curves({"a": {5: np.array([[3.0, 1.0], [5.0, 3.0]])}})
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [4.0, 2.0])  # the mean over tasks
    assert len(ax.collections) == 1 and ax.get_legend().get_texts()[0].get_text() == "a, K = 5 (2 tasks)"
    plt.close("all")


def test_fit_scores_average_many_seeded_tasks(learners):
    maml, pretrained = learners
    scores = fit_scores({"MAML": maml, "pretrained": pretrained}, k=5, steps=2, n_tasks=30, seed=3)
    assert scores["MAML"].shape == (30,) and np.ptp(scores["MAML"]) > 0  # one entry per task
    assert scores["MAML"].mean() == pytest.approx(adaptation_mse(maml, steps=2, k_shots=(5,), n_tasks=30, seed=3)[5][2],
                                                  rel=1e-5)
    np.testing.assert_array_equal(scores["pretrained"], fit_scores({"p": pretrained}, 5, 2, 30, seed=3)["p"])


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
    # each setting is scored on the same n_tasks new sinusoids, and the y-axis does not follow the fits
    np.testing.assert_allclose(w.mse_tasks["MAML"], fit_scores({"MAML": maml}, 12, 3, w.n_tasks, seed=1)["MAML"])
    limits = {w._figure(12, 3).axes[0].get_ylim()}
    w.steps.value, w.k.value = 10, 1
    limits.add(w._figure(1, 10).axes[0].get_ylim())
    assert limits == {fit_ylim(maml.tasks)} and fit_ylim(maml.tasks)[1] > maml.tasks.amplitude[1]
    with pytest.raises(ValueError, match="k must be in"):
        maml_fit_explorer(maml, pretrained, k=0)
    with pytest.raises(ValueError, match="n_tasks >= 1"):
        maml_fit_explorer(maml, pretrained, n_tasks=0)
