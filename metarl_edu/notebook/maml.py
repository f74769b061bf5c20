"""Plots and a widget for lesson 07: MAML against a pretrained network on few-shot sinusoid regression."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metarl_edu.notebook.learning import plot_runs
from metarl_edu.notebook.widgets import _png_output
from metarl_edu.studies.sinusoid import RegressionLearner, SinusoidTasks, adaptation_mse

K_MAX = 20  # largest K the widget offers
STEPS_MAX = 10  # most inner steps the widget offers


def plot_training_losses(learners: Mapping[str, Mapping[int, RegressionLearner]], points: int = 100) -> Figure:
    """One panel per method (name -> {seed: trained learner}): each seed's training loss to the end of its run,
    as the mean over each of ``points`` equal stretches of the run, on a log scale."""
    fig, axes = plt.subplots(1, len(learners), figsize=(5.5 * len(learners), 3.2), squeeze=False)
    for ax, (name, by_seed) in zip(axes[0], learners.items(), strict=True):
        for seed, learner in by_seed.items():
            losses = np.asarray(learner.losses, dtype=float)
            stretch = max(1, len(losses) // points)
            means = losses[: len(losses) // stretch * stretch].reshape(-1, stretch).mean(axis=1)
            ax.plot((np.arange(means.size) + 0.5) * stretch, means, label=f"seed {seed}")
        ax.set(xlabel="training iteration", ylabel="training loss (MSE)", yscale="log", title=name)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_adaptation_curves(
    curves: Mapping[str, Mapping[int, np.ndarray]],
    ax: Axes | None = None,
    title: str = "Sinusoid regression on new tasks",
) -> Axes:
    """Query MSE against inner steps: ``curves[name][K]`` is an array (steps + 1,) or, one row per new task,
    (n_tasks, steps + 1), as :func:`~metarl_edu.studies.sinusoid.adaptation_mse` returns; one line per learner and
    K (solid for the first learner, dashed for the others), the mean over tasks with one standard error shaded."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8))
    for i, (name, by_k) in enumerate(curves.items()):
        for k, mse in by_k.items():
            plot_runs(ax, np.arange(np.shape(mse)[-1]), mse, f"{name}, K = {k}", unit="task", marker="o",
                      markersize=3, linestyle="-" if i == 0 else "--")
    ax.set_xlabel("inner gradient steps on the K support points")
    ax.set_ylabel("mean squared error on the query points")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax


def fit_scores(learners: Mapping[str, RegressionLearner], k: int, steps: int, n_tasks: int,
               seed: int) -> dict[str, np.ndarray]:
    """Each learner's query MSE after ``steps`` inner steps from ``k`` support points, on ``n_tasks`` new sinusoids
    drawn from ``seed`` (the same for every learner): name -> (n_tasks,), one entry per task."""
    per_task = {name: adaptation_mse(learner, steps, (k,), n_tasks, seed=seed, per_task=True)[k]
                for name, learner in learners.items()}
    return {name: mse[:, steps] for name, mse in per_task.items()}


def fit_ylim(tasks: SinusoidTasks) -> tuple[float, float]:
    """The y-axis of the fit plot, the same for every K and number of steps: room for the largest amplitude."""
    return -1.4 * tasks.amplitude[1], 1.4 * tasks.amplitude[1]


class MAMLFitExplorer(widgets.VBox):
    """Sliders for K (support points) and the number of inner steps above the fits of two learners on one new
    sinusoid, on a fixed y-axis; the title gives each learner's query MSE over ``n_tasks`` new sinusoids (mean and
    standard error), so that a setting is judged on many tasks, not on the one drawn. The learners are only adapted
    here, never trained.

    Attributes:
        k, steps: the IntSliders; output: the plot.
        amplitude, phase: the sinusoid ``y = A sin(x - phi)`` shown.
        x_support, y_support: the K support points, tensors (K, 1).
        x_grid: (200, 1) inputs where the fits are drawn; predictions: name -> (200,) adapted predictions.
        mse: name -> mean squared error of the adapted fit against the true curve on ``x_grid``.
        mse_tasks: name -> (n_tasks,) query MSE on each of the new sinusoids (:func:`fit_scores`). ylim: the y-axis.
    """

    def __init__(self, learners: Mapping[str, RegressionLearner], k: int, steps: int, seed: int,
                 n_tasks: int) -> None:
        self.learners, self.seed, self.n_tasks = dict(learners), seed, n_tasks
        rng = np.random.default_rng(seed)
        tasks = next(iter(self.learners.values())).tasks
        self.ylim = fit_ylim(tasks)
        amplitude, phase = tasks.sample(1, rng)
        self.amplitude, self.phase = float(amplitude[0]), float(phase[0])
        self._x_all, self._y_all = (t[0] for t in tasks.points(amplitude, phase, K_MAX, rng))  # K = first k of these
        self.x_grid = torch.linspace(*tasks.x_range, 200).unsqueeze(1)
        self.y_grid = self.amplitude * torch.sin(self.x_grid - self.phase)
        slider = dict(continuous_update=False, style={"description_width": "80px"})
        self.k = widgets.IntSlider(value=k, min=1, max=K_MAX, description="K (points)", **slider)
        self.steps = widgets.IntSlider(value=steps, min=0, max=STEPS_MAX, description="inner steps", **slider)
        self.output = widgets.Output()
        super().__init__([widgets.HBox([self.k, self.steps]), self.output])
        for control in (self.k, self.steps):
            control.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def redraw(self) -> None:
        """Adapt every learner on the first K points for the chosen number of steps, then replace the plot."""
        k, steps = int(self.k.value), int(self.steps.value)
        self.x_support, self.y_support = self._x_all[:k], self._y_all[:k]
        self.predictions, self.mse = {}, {}
        for name, learner in self.learners.items():
            theta_prime = learner.adapt(self.x_support, self.y_support, steps)
            prediction = learner.predict(self.x_grid, theta_prime)
            self.predictions[name] = prediction.squeeze(1).numpy()
            self.mse[name] = float(torch.mean((prediction - self.y_grid) ** 2))
        self.mse_tasks = fit_scores(self.learners, k, steps, self.n_tasks, self.seed + 1)
        self.output.outputs = (_png_output(self._figure(k, steps)),)

    def _figure(self, k: int, steps: int) -> Figure:
        fig = Figure(figsize=(7.5, 3.8))
        ax = fig.add_subplot()
        x = self.x_grid.squeeze(1).numpy()
        ax.plot(x, self.y_grid.squeeze(1).numpy(), color="black", linewidth=2, label="true sinusoid")
        for name, prediction in self.predictions.items():
            ax.plot(x, prediction, label=f"{name} after {steps} step{'s' * (steps != 1)} (MSE {self.mse[name]:.2f})")
        ax.scatter(self.x_support.squeeze(1).numpy(), self.y_support.squeeze(1).numpy(), color="tab:red", zorder=3,
                   label=f"K = {k} support points")
        ax.set(xlabel="x (input)", ylabel="y (output)", ylim=self.ylim)
        scores = ", ".join(f"{name} {m.mean():.2f} ± {m.std() / np.sqrt(m.size):.2f}" for name, m in
                           self.mse_tasks.items())
        ax.set_title(f"A new task: y = {self.amplitude:.2f} sin(x - {self.phase:.2f})\nquery MSE over "
                     f"{self.n_tasks} other new tasks (mean ± standard error): {scores}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        return fig


def maml_fit_explorer(
    maml: RegressionLearner, pretrained: RegressionLearner, k: int = 5, steps: int = 1, seed: int = 0,
    n_tasks: int = 50,
) -> MAMLFitExplorer:
    """Adapt a MAML learner and a pretrained one to a new sinusoid live: move K or the steps and the fits redraw.

    Args:
        maml, pretrained: trained learners (:class:`~metarl_edu.studies.sinusoid.MAMLRegression`,
            :class:`~metarl_edu.maml.PretrainedRegression`); they are adapted, never changed.
        k: starting number of support points, in [1, 20].
        steps: starting number of inner steps, in [0, 10].
        seed: picks the sinusoid shown and its points; ``seed + 1`` the ``n_tasks`` new sinusoids scored.
        n_tasks: how many new sinusoids each setting is scored on.
    """
    if not 1 <= k <= K_MAX or not 0 <= steps <= STEPS_MAX or n_tasks < 1:
        raise ValueError(f"k must be in [1, {K_MAX}], steps in [0, {STEPS_MAX}] and n_tasks >= 1; got k={k}, "
                         f"steps={steps}, n_tasks={n_tasks}")
    return MAMLFitExplorer({"MAML": maml, "pretrained": pretrained}, k, steps, seed, n_tasks)


__all__ = ["MAMLFitExplorer", "fit_scores", "fit_ylim", "maml_fit_explorer", "plot_adaptation_curves"]
