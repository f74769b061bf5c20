# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Evaluating meta-RL, and where it is used
#     minutes: 60
#     prerequisites:
#     - 02 Tabular Q-learning
#     - 03 Q-learning on CartPole
#     - 05 Learning hyperparameters
#     - 07 MAML on sinusoids
#     - '09 Learning to explore: RL^2'
#     objectives:
#     - split tasks into meta-train and meta-test sets that never mix, and say why that matters
#     - compute a percentile bootstrap confidence interval and read adaptation curves with confidence bands
#     - measure what a method costs (wall time, environment steps) and how much its result varies across seeds
#     - run three small case studies (robotics, game AI, a toy healthcare bandit) and state what each one does not show
# ---

# %% [markdown]
# A meta-learner is judged by how fast it learns a **new** task. That claim is easy to get wrong: test on a task
# seen in meta-training and you measure memory; run one seed and you measure luck; report a mean without its
# uncertainty and nobody can tell a real gain from noise. This lesson builds the evaluation protocol (held-out
# tasks, adaptation curves, several seeds, bootstrap confidence intervals), measures the cost and the stability of
# the course's methods on your machine, and applies all of it to three small case studies.

# %%
from math import comb

import matplotlib.pyplot as plt
import numpy as np

from metarl_edu import size
from metarl_edu.studies.applications import (
    DosingPopulation, cartpole_case_study, dosing_case_study, maze_case_study, maze_family, seed_spread,
)
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.studies.costs import cost_table, course_methods, format_cost_table
from metarl_edu.envs.cartpole import CartPoleTask
from metarl_edu.envs.tasks import GridTask
from metarl_edu.studies.evaluation import bootstrap_ci as library_bootstrap_ci
from metarl_edu.studies.evaluation import check_disjoint, paired_bootstrap_ci
from metarl_edu.notebook.evaluation import case_study_explorer, plot_case_study, plot_seed_spread

start_lesson("10_evaluation", kind="master")

# %% [markdown]
# ## Meta-train and meta-test tasks
# The protocol of MAML (Finn et al. 2017) and RL$^2$ (Duan et al. 2016): meta-train on tasks drawn from a family
# $p(\mathcal{T})$, then report results on **other** tasks from the same family, which meta-training never saw.
# Given a list of tasks, we hold out `n_test` of them at random. Random matters: a fixed rule (always the last
# ones) lets whoever orders the list choose which tasks are hard, and a seed makes the split repeatable.
#
# **Exercise.** Write `meta_test_split(tasks, n_test, rng)` returning `(train, test)`: two lists, every task in
# exactly one of them, `len(test) == n_test`, the choice made with `rng` only. Do not change the list passed in.


# %%
def meta_test_split(tasks, n_test, rng):
    """Split tasks at random into (train, test) lists; len(test) == n_test; every task in exactly one list."""
    ### BEGIN SOLUTION id=meta_test_split points=2 replaces=metarl_edu.classroom.references.shuffle_split hint="Shuffle the task INDICES with rng.permutation(len(tasks)); the first n_test are the test tasks, the rest train"
    order = rng.permutation(len(tasks))
    test = [tasks[i] for i in order[:n_test]]
    train = [tasks[i] for i in order[n_test:]]
    return train, test
    ### END SOLUTION


# %%
check("meta_test_split", meta_test_split)

# %%
### BEGIN HIDDEN TESTS id=meta_test_split
import numpy as np
from metarl_edu.envs.tasks import GridTask

_tasks = [GridTask((1, c), 0.0) for c in range(1, 8)]
### PROBE
_train, _test = meta_test_split(list(_tasks), 2, np.random.default_rng(0))
### JUDGE
from metarl_edu.studies.evaluation import check_disjoint

assert len(_test) == 2 and sorted(list(_train) + list(_test), key=str) == sorted(_tasks, key=str)
check_disjoint(_train, _test)
### END HIDDEN TESTS

# %% [markdown]
# The library's `check_disjoint(train, test)` raises a `TaskLeakError` when a test task also appears in training
# (two tasks are equal when all their parameters are). Here it accepts our split and rejects a leaky one:

# %%
split = pick("meta_test_split", meta_test_split)
family = maze_family()
goal_tasks = [GridTask(goal, 0.0) for goal in family.goal_cells]
maze_train, maze_test = split(goal_tasks, 8, np.random.default_rng(0))
check_disjoint(maze_train, maze_test)
print(f"maze: {len(maze_train)} training goals, {len(maze_test)} held-out goals, no overlap")
try:
    check_disjoint(maze_train, maze_test + maze_train[:1])
except ValueError as error:
    print("a leaky split is refused:", str(error)[:110], "...")

# %% [markdown]
# ## How sure are we? The percentile bootstrap
# A mean over a few tasks is itself random: other tasks would give another mean. The **bootstrap** (Efron &
# Tibshirani 1993, chapter 13) estimates that randomness from the data alone. Draw $n$ values from the $n$ you
# have, **with replacement**, and take their mean; repeat `n_boot` times. The spread of those means stands in for
# the spread of the mean over new samples, and the percentile interval at level $1 - a$ (0.95 for 95 %) cuts
# $a/2$ from each end of them:
# $$\text{interval} = \big(\text{quantile}_{a/2}(\bar x^*_1, \dots, \bar x^*_B),\;
#   \text{quantile}_{1 - a/2}(\bar x^*_1, \dots, \bar x^*_B)\big).$$
#
# **Exercise.** Write `bootstrap_ci(values, n_boot, rng, level)` returning `(low, high)`. Draw the resamples as
# indices with `rng.integers(0, n, size=(n_boot, n))` to get exactly the library's numbers.


# %%
def bootstrap_ci(values, n_boot, rng, level=0.95):
    """Percentile bootstrap interval (low, high) of the mean of values (n,), from n_boot resamples."""
    ### BEGIN SOLUTION id=bootstrap_ci points=3 replaces=metarl_edu.classroom.references.percentile_interval hint="Resample indices with replacement, one row per replicate; take the mean of each row; return the (1 - level) / 2 and (1 + level) / 2 quantiles of those means"
    values = np.asarray(values, dtype=float)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
    ### END SOLUTION


# %%
check("bootstrap_ci", bootstrap_ci)

# %%
### BEGIN HIDDEN TESTS id=bootstrap_ci
import numpy as np
### PROBE
_constant = bootstrap_ci(np.array([2.0, 2.0, 2.0]), 100, np.random.default_rng(0), 0.95)
_interval = bootstrap_ci(np.arange(20.0), 2000, np.random.default_rng(1), 0.9)
### JUDGE
assert tuple(float(x) for x in _constant) == (2.0, 2.0)  # constant data: every resampled mean is 2
_low, _high = _interval
assert _low < 9.5 < _high and _high - _low < 8
### END HIDDEN TESTS

# %% [markdown]
# Your interval next to the library's `bootstrap_ci` with the same seed, and what more data does to it: the width
# falls like $1/\sqrt{n}$, because it measures the uncertainty of a *mean*.

# %%
interval = pick("bootstrap_ci", bootstrap_ci)
data_rng = np.random.default_rng(1)
values = data_rng.exponential(size=40)
yours = "yours:    " if interval is bootstrap_ci else "library's (your bootstrap_ci is not solved yet):"
print(yours, np.round(interval(values, 2000, np.random.default_rng(0), 0.95), 4))
print("library's:", library_bootstrap_ci(values, rng=np.random.default_rng(0), n_boot=2000))
for n in (50, 200, 800, 3200):
    low, high = interval(data_rng.exponential(size=n), 2000, np.random.default_rng(0), 0.95)
    print(f"n = {n:4d}: width {high - low:.3f}   width x sqrt(n) = {(high - low) * np.sqrt(n):.2f}")

# %% [markdown]
# Two rules for meta-RL (the library follows both). **Resample tasks, not runs**: several seeds on one task share
# that task, so the library averages each task's seeds first and resamples tasks (a cluster bootstrap, Davison &
# Hinkley 1997, section 3.8). **Pair the comparison**: two methods run on the same tasks and seeds, so bootstrap
# their per-task *difference*; each task's own difficulty cancels out (`paired_bootstrap_ci`).
#
# An **adaptation curve** is the score after 0, 1, 2, ... updates or episodes on a new task, with a band from the
# same bootstrap at every step. The case studies below are all reported that way.
#
# ## Case study: game AI, a maze with new goals
# Game levels change; a game agent that learned on some levels should pick up a new one fast. Our levels: the maze
# below with the goal on any floor cell (a return of 1 at the goal minus 0.01 per step). The meta-learner here is
# the simplest of the course (lessons 04-05): it picks Q-learning's step size $\alpha$ and exploration rate
# $\varepsilon$ on the training goals, by the mean return over all episodes (fast learning scores high), from a grid
# that reaches the ends of their ranges ($\alpha$ up to 1, $\varepsilon$ down to 0).
#
# Against what? The library's defaults were fixed for long runs and tuned for nothing here: beating them shows
# only that tuning pays. The fair rival is what one does without meta-learning: the **same search, runs per goal and
# criterion on one level**, as a game developer tunes on a test level. Which level is chance, so each of the 15
# training goals takes its turn as that level: the rival's score is the mean over those 15 searches of what each
# one's choice does on the held-out goals. Meta-learning across goals earns its keep only if it beats that.

# %%
print("\n".join(family.task_layout(maze_test[0])), "   (one held-out goal G)")
maze = maze_case_study(family, maze_train, maze_test, n_episodes=size(quick=30, full=60),
                       n_seeds=size(quick=3, full=10), seed=0)
print("chosen on the training goals: alpha =", maze.info["alpha"], " epsilon =", maze.info["epsilon"])
print(f"chosen on one training goal alone, each goal in turn ({len(maze_train)} searches):")
for (a, e), held_out in maze.info["setting_scores"].items():
    print(f"  alpha = {a}, epsilon = {e}: chosen on {maze.info['one_goal'].count((a, e)):2d} goal(s); "
          f"held-out return per episode {held_out.mean():.3f}")
plot_case_study(maze)
plt.show()
learned, one_goal, default = maze.scores.values()
gain = paired_bootstrap_ci(learned.mean(axis=2), default.mean(axis=2), rng=0)
print("mean return per episode on held-out goals, meta-learned minus defaults:      ", gain)
print("mean return per episode on held-out goals, meta-learned minus tuned on 1 goal:",
      paired_bootstrap_ci(learned.mean(axis=2), one_goal.mean(axis=2), rng=0))
assert gain.low > 0

# %% [markdown]
# The gain over the defaults is large, and most of it is the gain of tuning *at all* for a short budget. Against the
# fair rival the gain is small, and in full mode (60 episodes, 10 seeds) its interval excludes 0. Read the choices
# printed above: the 15-goal average picks the largest step and no exploration ($\alpha = 1$, $\varepsilon = 0$:
# with a cost per step, untried actions look better than tried ones, so a greedy learner explores anyway). Searched
# on one goal alone, the same grid picks that setting for only 5 of the 15 goals in full mode; the others pick a
# smaller step or a little exploration, and two pick $\alpha = 0.1$, whose held-out return is clearly lower (about
# 0.80 against 0.89). One goal's runs rank settings that differ by a percent or two by chance, or by what suits that
# one goal; the average over 15 goals ranks them by what suits goals in general. That is what learning across tasks
# buys in this maze: a choice that transfers. The rival is not helpless: most of its choices do nearly as well, so
# the average gap is small (about 0.016 per episode in full mode), measured on 8 held-out goals (an interval over 8
# tasks; the robotics study below shows how few tasks can mislead). Two more caveats. The rival saw fewer runs in
# all (10 on its goal, against 10 on each of 15), so part of the gap is the count of runs rather than the variety of
# goals. And the plotted curves come together by the last block: the meta-learned setting learns a new goal faster,
# not better in the end. Lesson 05 showed when learning across tasks buys more: when the best setting moves with
# something the learner can see.

# %% [markdown]
# ## Case study: robotics, CartPole with an unseen pole
# A robot meets physics it was not trained on: a new payload, a worn joint. Our stand-in is lesson 03's CartPole
# with a pole whose half-length varies from 0.25 m to 1 m. Meta-training runs Q-learning on the training poles and
# **averages their Q-tables** into one initial table $q_0$: one starting point fitted to all training tasks at
# once, the tabular cousin of lesson 07's *pretrained* baseline, not of MAML (MAML chooses its start for where
# learning from it leads, which averaging does not). On each held-out pole, Q-learning starts from $q_0$, from a
# rival's table or from zeros, with the same settings; episodes are cut at 200 steps. The rival gets the **same
# number of episodes**: one Q-learning run that spends all the meta-training episodes on a single training pole
# (the one of median length; with an even number of poles, the longer of the middle two). A gain over zeros shows
# only that prior training pays, since zeros had none; a gain over the rival is what would show that learning
# *across* poles pays, as the same search on one goal did for the maze above. To keep the run short, meta-training
# uses the first 6 of the 8 training poles (2 in quick mode).

# %%
pole_tasks = [CartPoleTask(length=float(half)) for half in np.linspace(0.25, 1.0, 12)]
pole_train, pole_test = split(pole_tasks, 4, np.random.default_rng(1))
check_disjoint(pole_train, pole_test)
print("held-out half-lengths (m):", sorted(round(t.length, 3) for t in pole_test))
BLOCK = size(quick=10, full=20)  # training episodes per point of the curves
robot = cartpole_case_study(
    pole_train[: size(quick=2, full=6)], pole_test[: size(quick=2, full=4)], n_meta_episodes=size(quick=300, full=1000),
    n_episodes=size(quick=40, full=200), n_seeds=size(quick=2, full=3), block=BLOCK, seed=0, progress=True)
plot_case_study(robot)
plt.show()

# %%
warm, one_pole, cold = robot.scores.values()
rival = list(robot.scores)[1]
print(f"environment steps: meta-training {robot.info['meta_env_steps']:,}, the one-pole rival "
      f"{robot.info['one_pole_env_steps']:,}")
gain = paired_bootstrap_ci(warm.mean(axis=2), cold.mean(axis=2), rng=0)
print("mean return per episode, meta-learned start minus zero start:    ", gain)
over_rival = paired_bootstrap_ci(warm.mean(axis=2), one_pole.mean(axis=2), rng=0)
print(f"mean return per episode, meta-learned start minus {rival}:", over_rival)
per_run = (warm - one_pole).mean(axis=2)  # (poles, seeds)
for task, row in zip(pole_test, per_run, strict=False):
    print(f"  pole half-length {task.length:.3f} m: gain over the rival per seed {np.round(row, 1)}")
curve_warm, curve_rival = warm.mean(axis=(0, 1)), one_pole.mean(axis=(0, 1))  # mean over poles and seeds
level = np.flatnonzero(curve_warm <= curve_rival)  # blocks where the rival is level or ahead
print(f"first {BLOCK} episodes: meta-learned start {curve_warm[0]:.0f}, rival {curve_rival[0]:.0f}; the rival is "
      f"last level or ahead in the block ending at episode {(level.max() + 1) * BLOCK if level.size else 0}")
n_poles = len(per_run)
print(f"{int((per_run > 0).sum())} of {per_run.size} (pole, seed) runs beat the rival; "
      f"{int(((warm - cold).mean(axis=2) > 0).sum())} beat zeros; a bootstrap over {n_poles} poles has only "
      f"{comb(2 * n_poles - 1, n_poles)} distinct resamples")
assert gain.estimate > 0

# %% [markdown]
# **What the rival changes, and what 4 held-out poles cannot show.** At the lesson's full size (6 training poles of
# 1,000 episodes, 4 held-out poles x 3 seeds, `docs/RESULTS.md`) every one of the 12 runs gained over zeros, by
# about 124 steps per episode on average. Against the rival the picture changes: the averaged table's mean is about
# 9 steps per episode higher, but the paired interval includes 0, so it is not shown ahead, although the rival's
# 6,000 episodes on one pole took about 45 % more environment steps than meta-training (its episodes grow longer
# as it learns to balance).
# Read it per pole, since poles are what the bootstrap resamples: the averaged table is ahead with all 3 seeds on
# the 0.727 m and 1 m poles, the rival with all 3 on the 0.523 m pole (the one nearest its own 0.59 m), and the
# 0.795 m pole is split. The full-mode curves also cross: the one-pole table starts higher (182 steps against
# 157 in the first block), and the averaged table overtakes it after about 60 episodes on the new pole; the mean
# over all 200 episodes hides that. So the big gain is the value of *any* prior training on a pole; that averaging
# over many poles adds to it is not shown. In quick mode (2 training poles of 300 episodes) the rival is ahead on both
# held-out poles and the averaged table beats zeros by a few steps only, and not in every run (both printed above;
# its interval looks tight because it resamples just two poles), perhaps because two tables learned so briefly
# disagree on many states and their average keeps the choices of neither. What 4 tasks cannot give either way is a
# trustworthy interval for new poles: the bootstrap resamples the 4 poles as if they were the whole family (35
# distinct resamples), and a percentile interval from so few values is too narrow (the stability study further
# down shows the same for alpha = 0.5, with 3 seeds against 40). The poles also span only half-lengths 0.52 to 1 m:
# nothing is said about shorter poles, nor about a real robot. More held-out poles, not more seeds, would narrow
# what we do not know about the family.

# %% [markdown]
# ## Case study: healthcare, a toy dosing bandit
# Each simulated patient responds to each of $k = 5$ doses with an unknown probability; treating a patient
# repeatedly is a Bernoulli bandit, one per patient. Patients differ, but they come from one population: here the
# middle dose usually works best. Thompson sampling (lesson 09) with a flat Beta(1, 1) prior ignores that.
# **Empirical Bayes** learns the prior from past patients: from a past study in which each tried every dose a few
# times, fit a Beta prior per dose by the method of moments (`fit_beta_prior`), then use it for every new patient.
# The score is the cumulative regret: responses lost against the patient's best dose (lower is better).

# %%
population = DosingPopulation()
patients = list(population.sample(size(quick=80, full=400), np.random.default_rng(2)))
past, new = split(patients, size(quick=40, full=200), np.random.default_rng(3))
dosing = dosing_case_study(population, np.array(past), np.array(new), n_treatments=30,
                           n_seeds=size(quick=3, full=10), seed=0)
print("population's mean response per dose: ", population.mean)
print("prior mean per dose, learned from past:", np.round(dosing.info["alpha"] / (dosing.info["alpha"] + dosing.info["beta"]), 3))
plot_case_study(dosing)
plt.show()
learned, flat = dosing.scores.values()
saved = paired_bootstrap_ci(flat[:, :, -1], learned[:, :, -1], rng=0)
print("regret after 30 treatments, flat minus learned prior (responses saved per patient):", saved)
assert saved.low > 0

# %% [markdown]
# **This is a toy.** It shows why borrowing strength across patients helps, nothing about any real treatment.
# Real use would need, at least: safety constraints on which doses may be tried at all (exploration can harm a
# patient); off-policy evaluation on logged data before any patient is exposed; regulatory approval; clinicians in
# the loop who can overrule the algorithm; care about confounding in the historical data (who got which dose was
# not random); checks that new patients come from the same population as past ones (a prior learned on one
# population can hurt another); and outcomes richer than a yes/no response.
#
# ## Autonomous driving, discussed
# Driving is the case where meta-RL's promise (adapt fast to new roads, weather, vehicles) meets its hardest
# limits, so we do not simulate it here. Trial and error is not acceptable on public roads, so adaptation must be
# learned and validated in simulation and on logged data; the simulator-to-reality gap then becomes part of the
# task distribution; rare events dominate risk, so a mean return with a confidence interval is not the right
# measure (tail risk and worst cases are); and any adaptation at run time must keep safety guarantees.
#
# ## Stability: the same method, many seeds
# Meta-RL results are known to vary a lot from seed to seed (Henderson et al. 2018, *Deep Reinforcement Learning
# that Matters*, show it for deep RL in general). Here is plain Q-learning on one maze task (goal in the top-right corner,
# a slippery floor), 40 seeds per step size $\alpha$: the exact value of the greedy policy it learned in a short
# budget. Only the random numbers differ between the dots of one column.

# %%
far_slippery = GridTask(goal=(1, 7), slip=0.2)
values_by_seed = {
    f"alpha={alpha}": seed_spread(family, far_slippery, n_seeds=40, n_episodes=size(quick=30, full=40), alpha=alpha)
    for alpha in (0.1, 0.5)
}
plot_seed_spread(values_by_seed, ylabel="value of the learned greedy policy at the start",
                 title="Q-learning on one maze goal: 40 seeds per setting")
plt.show()
for name, v in values_by_seed.items():
    print(f"{name}: min {v.min():.3f}, max {v.max():.3f};  3 seeds: {library_bootstrap_ci(v[:3], rng=0)};"
          f"  40 seeds: {library_bootstrap_ci(v, rng=0)}")
assert max(v.max() - v.min() for v in values_by_seed.values()) > 0.05  # the seeds really disagree

# %% [markdown]
# With 3 seeds the interval can be far from the 40-seed one, and a percentile bootstrap of 3 values is itself
# unreliable (it tends to be too narrow for tiny samples): report many seeds, and say how many. Agarwal et al.
# (2021, *Deep reinforcement learning at the edge of the statistical precipice*) make the same case for deep RL
# benchmarks run on a handful of seeds, and recommend interval estimates and robust aggregates over point scores.
#
# ## Compute cost, measured here
# Each method of the course, timed on this machine (`measure_cost(fn)` runs `fn() -> (result, env_steps)` and
# returns `(seconds, env_steps, result)`). Quick mode runs small budgets; full mode larger ones (for MAML-RL, 10 of
# lesson 08's meta-iterations on 2D navigation, every sampled step counted).

# %%
with_torch = size(quick=False, full=True)  # importing torch alone takes seconds: quick mode skips those rows
costs = cost_table(course_methods(torch_methods=with_torch), progress=True)
print(format_cost_table(costs))
if not with_torch:
    print("(quick mode: the torch-based rows, MAML, MAML-RL and RL^2, are measured in full mode only)")

# %% [markdown]
# Steps per second differ by two orders of magnitude from the slowest row to the fastest: vectorised numpy over
# many tasks at once is far faster than a Python loop over one Gymnasium environment. MAML's steps are data points
# pushed through a network with second derivatives. MAML-RL pays for three batches of trajectories per task (two
# inner steps, then $\mathcal D'$, the trajectories sampled after adapting) and a second-order meta-gradient
# through them, yet it sits mid-table, above single-environment Q-learning, because it steps a whole batch of
# environments at once. Each of RL$^2$'s steps goes through a GRU several times: once to act, then once per pass
# of its policy-gradient update. A method's time to reach a result is the steps it needs divided by its steps per
# second.
#
# ## Algorithm complexity
# Complexity is also what a reader must understand and what can break. One crude but honest measure: the lines of
# each method's code in this library.

# %%
import inspect

import metarl_edu.agents as agents
import metarl_edu.bandits as bandits
import metarl_edu.fast.qlearning as fast_qlearning

for name, obj in [("Thompson sampling", bandits.ThompsonSampling), ("UCB1", bandits.UCB1),
                  ("Q-learning agent", agents.QLearningAgent), ("batched Q-learning", fast_qlearning.BatchedQLearning)]:
    print(f"{name:20s} {len(inspect.getsource(obj).splitlines()):4d} lines")
print("MAML (lessons 07-08) adds torch, a functional inner loop and second derivatives on top: see metarl_edu/maml.py")

# %% [markdown]
# ## Explore: how many seeds does a conclusion need?
# Pick a case study and a number of seeds per held-out task: the bands and the paired differences redraw (how much
# better the first method in the legend does than the second, over all steps and after the last one; for the
# dosing study's regret, the second's minus the first's). Watch which bands move: the bootstrap resamples held-out
# tasks, so more seeds narrow a band only as far as the tasks allow. Where tasks differ more than seeds do (the
# maze's goals), the bands narrow only a little from one seed to all of them, far less than one over the square
# root of the number of seeds; more held-out tasks would narrow them.

# %%
case_study_explorer({"game AI (maze)": maze, "robotics (CartPole)": robot, "healthcare (toy)": dosing}, n_seeds=1)

# %% [markdown]
# ## Summary and next
# - Meta-test on held-out tasks (`meta_test_split`, `check_disjoint`); report adaptation curves, over several seeds
#   per task, with bootstrap intervals that resample tasks, and compare methods pairwise.
# - Cost (wall time and steps), complexity and seed-to-seed spread belong in every comparison.
# - The case studies are small on purpose: each shows one kind of meta-learning (an initial table, hyperparameters,
#   a prior) on new tasks, and what it is compared with decides what it shows: the maze's meta-learned settings
#   beat the untuned defaults but not the same search on one goal, and the averaged CartPole table beats zeros by
#   far but a table learned on one pole with the same episodes by an amount the interval cannot tell from 0. Each
#   stops well short of a real robot, game or clinic.
# - Before the last lesson, go back to lessons 07-09 and evaluate MAML and RL$^2$ with this protocol (several
#   seeds per method, paired intervals), and add your own runs to the cost table with one line each (see
#   `metarl_edu/studies/costs.py`).
