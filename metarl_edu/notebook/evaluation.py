"""Plots and a widget for lesson 10: adaptation curves with bootstrap bands, the spread of results across seeds."""

from __future__ import annotations

import html
from collections.abc import Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from metarl_edu._checks import check_int
from metarl_edu.notebook.widgets import _png_output
from metarl_edu.studies.applications import CaseStudy, DosingPopulation, dosing_case_study
from metarl_edu.studies.evaluation import AdaptationCurve, ConfidenceInterval, adaptation_curve, bootstrap_ci

__all__ = ["CaseStudyExplorer", "case_study_explorer", "plot_case_study", "plot_seed_spread"]


def study_curves(study: CaseStudy, n_seeds: int | None = None, seed: int = 0
                 ) -> tuple[dict[str, AdaptationCurve], dict[str, ConfidenceInterval]]:
    """Each method's adaptation curve over the first ``n_seeds`` seeds, and how much better the first method does
    than the second, paired on the same tasks: the difference of their mean scores over all steps, and after the
    last step, both oriented so that positive means the first is better (first minus second for a score, second
    minus first for a cost such as regret). All with 95 % task-level bootstrap intervals."""
    n_seeds = study.n_seeds if n_seeds is None else check_int("n_seeds", n_seeds, 1, study.n_seeds)
    curves = {name: adaptation_curve(s[:, :n_seeds], rng=seed) for name, s in study.scores.items()}
    first, second = list(study.scores.values())[:2]
    gain = (first[:, :n_seeds] - second[:, :n_seeds]) * (1 if study.higher_is_better else -1)
    differences = {"mean over all steps": bootstrap_ci(gain.mean(axis=2), rng=seed),
                   "after the last step": bootstrap_ci(gain[:, :, -1], rng=seed)}
    return curves, differences


def plot_case_study(study: CaseStudy, ax: Axes | None = None, n_seeds: int | None = None, seed: int = 0) -> Axes:
    """The mean score of every method after each step, with its 95 % bootstrap band over test tasks."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8))
    curves, _ = study_curves(study, n_seeds, seed)
    n_tasks = next(iter(study.scores.values())).shape[0]
    for name, curve in curves.items():
        (line,) = ax.plot(curve.steps, curve.mean, marker="o", markersize=3, label=name)
        ax.fill_between(curve.steps, curve.low, curve.high, color=line.get_color(), alpha=0.2)
    n_seeds = study.n_seeds if n_seeds is None else n_seeds
    ax.set_title(f"{study.name}\n{n_tasks} held-out tasks x {n_seeds} seed(s), 95 % bootstrap bands")
    ax.set_xlabel(study.xlabel)
    ax.set_ylabel(study.ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_seed_spread(results: Mapping[str, np.ndarray], ax: Axes | None = None, ylabel: str = "score",
                     title: str = "One method, many seeds", seed: int = 0) -> Axes:
    """One dot per seed for each entry of ``results`` (name -> (n_seeds,)), with the mean and its 95 %
    bootstrap interval drawn as an error bar beside the dots."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    rng = np.random.default_rng(seed)
    for x, (name, values) in enumerate(results.items()):
        values = np.asarray(values, dtype=float)
        ax.scatter(x + rng.uniform(-0.12, 0.12, values.size), values, s=14, alpha=0.6,
                   label=f"{name}: {values.size} seeds")
        ci = bootstrap_ci(values, rng=seed)
        ax.errorbar(x + 0.3, ci.estimate, yerr=[[ci.estimate - ci.low], [ci.high - ci.estimate]], fmt="s",
                    color="black", capsize=4, label="mean, 95 % bootstrap CI" if x == 0 else None)
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels(list(results), fontsize=8)
    ax.set_xlabel("setting (one dot per seed)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


class CaseStudyExplorer(widgets.VBox):
    """Pick a case study and a number of seeds: the adaptation curves and their bootstrap bands redraw.

    Attributes:
        study: the Dropdown of case studies; seeds: the IntSlider of seeds used; output: the plot.
        curves: method -> :class:`~metarl_edu.studies.evaluation.AdaptationCurve` shown now.
        differences: how much better the first method does than the second (see :func:`study_curves`), over all
            steps and after the last one.
    """

    def __init__(self, studies: Mapping[str, CaseStudy], n_seeds: int | None) -> None:
        self.studies = dict(studies)
        first = next(iter(self.studies.values()))
        n_seeds = first.n_seeds if n_seeds is None else n_seeds
        self.study = widgets.Dropdown(options=list(self.studies), description="case study")
        self.seeds = widgets.IntSlider(value=min(n_seeds, first.n_seeds), min=1, max=first.n_seeds,
                                       description="seeds", continuous_update=False)
        self.summary = widgets.HTML()
        self.output = widgets.Output()
        super().__init__([widgets.HBox([self.study, self.seeds]), self.summary, self.output])
        self.study.observe(self._on_study, names="value")
        self.seeds.observe(lambda change: self.redraw(), names="value")
        self.redraw()

    def _on_study(self, change: dict) -> None:
        n = self.studies[self.study.value].n_seeds
        if self.seeds.value > n:
            self.seeds.value = n  # redraws through the slider's observer
        self.seeds.max = n
        self.redraw()

    def redraw(self) -> None:
        study = self.studies[self.study.value]
        self.curves, self.differences = study_curves(study, int(self.seeds.value))
        first, second = (html.escape(name) for name in list(study.scores)[:2])
        order = "" if study.higher_is_better else " (a cost: the second's minus the first's)"
        self.summary.value = (f"how much better <b>{first}</b> does than <b>{second}</b>{order}, paired: "
                              + "; ".join(f"{when} {ci}" for when, ci in self.differences.items()))
        fig = Figure(figsize=(8, 4))
        plot_case_study(study, ax=fig.add_subplot(), n_seeds=int(self.seeds.value))
        fig.tight_layout()
        self.output.outputs = (_png_output(fig),)


def case_study_explorer(studies: Mapping[str, CaseStudy] | None = None, n_seeds: int | None = None
                        ) -> CaseStudyExplorer:
    """A widget over case studies (name -> :class:`CaseStudy`); default: a small dosing study, built in well
    under a second. ``n_seeds``: the slider's starting value; default all the seeds of the first study (1 shows
    how wide one seed leaves the bands)."""
    if studies is None:
        population = DosingPopulation()
        patients = population.sample(80, np.random.default_rng(0))
        studies = {"healthcare (toy)": dosing_case_study(population, patients[:40], patients[40:], 30, 5)}
    if not studies:
        raise ValueError("give at least one case study")
    return CaseStudyExplorer(studies, n_seeds)
