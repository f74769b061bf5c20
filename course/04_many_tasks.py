# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Many tasks
#     minutes: 60
#     prerequisites:
#     - 02 Tabular Q-learning
#     objectives:
#     - describe a task distribution p(T) by its task type, its sampler and the features a model may see
#     - sample and draw gridworld, FrozenLake and random-MDP tasks, reproducibly from a seed
#     - split tasks into meta-training and held-out tasks that can never mix
#     - run Q-learning on hundreds of tasks at once and measure how much faster that is
#     - show with a sweep that the best alpha and epsilon differ from task to task
# ---

# %% [markdown]
# Lessons 02 and 03 tuned Q-learning on *one* task. Meta-RL starts from a **distribution of tasks** $p(\mathcal{T})$
# (Finn, Abbeel & Levine 2017, section 2.1): gridworlds whose goal and floor vary, lakes with more or fewer holes,
# random MDPs. An algorithm, or its hyperparameters, is then judged by how well it does on *new* tasks drawn from
# the same distribution. This lesson builds the tools for that: task families, held-out tasks, and a way to run
# Q-learning on hundreds of tasks in seconds. At the end we see the fact that lesson 05 exploits: the best
# hyperparameters move from task to task.

# %%
import time

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np

from metarl_edu import BatchedQLearning, size
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.studies.bench import textbook_q_learning
from metarl_edu.envs import FrozenLakeFamily, GridWorldFamily, RandomMDPFamily, finite_horizon_value, task_key
from metarl_edu.studies.evaluation import TaskLeakError, check_disjoint, split_tasks
from metarl_edu.studies.hyperparams import setting_grid, sweep
from metarl_edu.notebook.hyperparams import plot_best_settings, plot_task_gallery, sweep_heatmap

start_lesson("04_many_tasks", kind="master")

# %% [markdown]
# ## Task families
# Every family in `metarl_edu.envs` has the same small interface:
#
# | call | gives |
# |---|---|
# | `family.sample(n, rng)` | `n` tasks drawn with the `np.random.Generator` you pass |
# | `family.features(task)`, `family.feature_names` | what a hyperparameter model may see *before* training |
# | `family.to_mdp(task)` | the exact `TabularMDP`, so that every score can be computed exactly |
# | `family.make_env(task)` | a Gymnasium environment that plays the task |
#
# A gridworld family: the goal lies on a random floor cell and the floor is slippery with a random probability.

# %%
grids = GridWorldFamily(slip_range=(0.0, 0.5))
grid_tasks = grids.sample(8, np.random.default_rng(0))
plot_task_gallery(grids, grid_tasks, title="GridWorldFamily: random goal, slip ~ U[0, 0.5]")
plt.show()
print("features:", grids.feature_names)
print("task 0:", grid_tasks[0], "->", grids.features(grid_tasks[0]))
assert [task_key(t) for t in grid_tasks] == [task_key(t) for t in grids.sample(8, np.random.default_rng(0))]

# %% [markdown]
# The same seed gives the same tasks (the assertion above). FrozenLake maps of one size, with a hole density drawn
# per task (Gymnasium's map generator, which redraws a map until a path to the goal exists):

# %%
lakes = FrozenLakeFamily(size=4, hole_prob_range=(0.0, 0.4))
lake_tasks = lakes.sample(8, np.random.default_rng(1))
plot_task_gallery(lakes, lake_tasks, title="FrozenLakeFamily (4 x 4): hole probability ~ U[0, 0.4]")
plt.show()

# %% [markdown]
# Random MDPs as in RL$^2$ (Duan et al. 2016, section 3.2): 10 states, 5 actions, every transition row drawn from a
# flat Dirichlet, reward means from $\mathcal{N}(1, 1)$, episodes of 10 steps. There is no map to draw. What may a
# model see before training? Only the horizon: the transitions and the reward means are what the agent has to find
# out by acting, so `features` returns the horizon alone (10 for every task of this family; lesson 05 draws it from
# 1 to 20). A statistic of the hidden arrays, such as the average reward mean, would hand a model the answer it is
# meant to learn without. The hidden arrays still make the tasks differ, as their exact optimal return shows:

# %%
mdps = RandomMDPFamily()
mdp_tasks = mdps.sample(size(quick=50, full=500), np.random.default_rng(2))
print("features:", mdps.feature_names, "of task 0:", mdps.features(mdp_tasks[0]))
best = [mdps.to_mdp(t).start @ finite_horizon_value(mdps.to_mdp(t), t.horizon) for t in mdp_tasks]
fig, ax = plt.subplots(figsize=(5.5, 3))
ax.hist(best, bins=20, color="tab:blue", alpha=0.8)
ax.set(xlabel="optimal expected 10-step return (exact)", ylabel="tasks",
       title=f"{len(mdp_tasks)} random MDPs: hidden from the features")
plt.show()
print(f"optimal 10-step return: mean {np.mean(best):.2f}, from {np.min(best):.2f} to {np.max(best):.2f}")

# %% [markdown]
# ## Held-out tasks
# To measure what was *learned from* tasks, we must score on tasks that the learning never saw: **meta-training**
# tasks to tune on, **held-out** (meta-test) tasks to report. A task seen in both would measure memory.
#
# **Exercise.** Write `held_out_split(tasks, n_test, rng)`: choose `n_test` *different* tasks uniformly at random with
# `rng` as held-out tasks, and return `(train, test)`, where `train` keeps every other task of the list. A list can hold
# copies of a task (a family with few distinct tasks, or a list assembled from several sources), and a copy of a
# held-out task must not stay in `train`. Two tasks are the same when `task_key(a) == task_key(b)`. So that a seed gives
# the same split on every machine, number the distinct tasks in the order they first appear in the list, draw `n_test`
# of those numbers with `rng.choice(n, size=n_test, replace=False)`, where `n` is the number of distinct tasks (`n_test`
# different indices), list the test tasks in the order drawn, and keep `train` in the list's own order.

# %%
from metarl_edu.envs import task_key


def held_out_split(tasks, n_test, rng):
    """(train, test): n_test distinct tasks drawn with rng for test; train keeps every other task, copies too."""
    ### BEGIN SOLUTION id=held_out_split points=2 replaces=metarl_edu.classroom.references.held_out_split hint="Collect the distinct tasks by task_key, draw n_test of them without replacement with rng.choice, then keep in train only the tasks whose key is not a test key"
    distinct = list({task_key(t): t for t in tasks}.values())
    chosen = rng.choice(len(distinct), size=n_test, replace=False)
    test = [distinct[i] for i in chosen]
    test_keys = {task_key(t) for t in test}
    train = [t for t in tasks if task_key(t) not in test_keys]
    return train, test
    ### END SOLUTION


# %%
check("held_out_split", held_out_split)

# %%
### BEGIN HIDDEN TESTS id=held_out_split
import numpy as np
from metarl_edu.envs.tasks import GridTask

_tasks = [GridTask((1, 3), 0.1), GridTask((2, 2), 0.0), GridTask((3, 1), 0.2)] * 3
### PROBE
_train, _test = held_out_split(list(_tasks), 2, np.random.default_rng(5))
### JUDGE
from metarl_edu.studies.evaluation import check_disjoint

check_disjoint(_train, _test)
assert len(_test) == 2 and len(_train) == 3
### END HIDDEN TESTS

# %% [markdown]
# Why copies matter: shuffle a list with copies and cut it in two, and a task can land on both sides. The library
# checks every split it makes with `check_disjoint`, which raises `TaskLeakError` on a leak:

# %%
split_fn = pick("held_out_split", held_out_split)
listed = grid_tasks[:4] + grid_tasks[:2]  # tasks 0 and 1 listed twice
shuffled = [listed[i] for i in np.random.default_rng(3).permutation(len(listed))]
try:
    check_disjoint(shuffled[:4], shuffled[4:])
    print("this shuffle happened not to leak")
except TaskLeakError as leak:
    print("shuffle and cut:", str(leak)[:90], "...")
train, test = split_fn(listed, 2, np.random.default_rng(3))
check_disjoint(train, test)
print(f"held_out_split: {len(train)} training entries, {len(test)} held-out tasks, no leak")

# %% [markdown]
# For a family, `split_tasks(family, n_train, n_test, seed)` draws both sets from independent random streams and
# guarantees the same: its `TaskSplit` refuses to exist if a test task equals a training task.

# %%
split = split_tasks(lakes, n_train=size(quick=20, full=200), n_test=size(quick=10, full=100), seed=0)
print(f"{len(split.train)} training maps, {len(split.test)} held-out maps, seed {split.seed}")

# %% [markdown]
# ## Hundreds of tasks in seconds
# Tuning across tasks means running Q-learning many times: every task with every setting, several times each. The loop
# of lesson 02 takes one step of one task per Python iteration. `BatchedQLearning` runs many tasks (each with its own
# alpha, epsilon and gamma) in lockstep: every step is a handful of numpy operations over all of them. It makes the same
# updates as `QLearningAgent` (lesson 02) given the same random numbers (the tests replay it); the plain loop timed
# below is the textbook one, which breaks ties and draws its random numbers its own way. The speed, on your machine:

# %%
env = gym.make("FrozenLake-v1")
env.reset(seed=0)
start = time.perf_counter()
_, n_loop = textbook_q_learning(env, size(quick=200, full=2000), 0.1, 0.99, 0.1, np.random.default_rng(0))
loop_rate = n_loop / (time.perf_counter() - start)
maps = [lakes.to_mdp(t) for t in split.train]
batch = BatchedQLearning(maps, alpha=0.1, gamma=0.99, epsilon=0.1, seed=0, progress=False)
start = time.perf_counter()
batch.train(size(quick=20, full=100))
batched_rate = batch.n_transitions / (time.perf_counter() - start)
print(f"plain loop, one task:      {loop_rate:>12,.0f} transitions per second")
print(f"batched, {len(maps)} tasks at once: {batched_rate:>12,.0f} transitions per second "
      f"({batched_rate / loop_rate:.0f} times faster)")

# %% [markdown]
# ## The best setting moves from task to task
# A **sweep** runs Q-learning with every setting of a grid on every task, several times (seeds), and scores each
# run. The score of a run: train for a fixed number of episodes, take the greedy policy of the learned table and
# compute its expected discounted return *exactly* on the task's MDP, with the task's own discount (0.99 here,
# fixed: it defines the task, while the learner's gamma is a knob). Then rescale, so that 0 is the uniformly random
# policy and 1 the optimal one, which makes tasks comparable. Exact evaluation means that the only noise left is
# the learning run's own.

# %%
alphas, epsilons = [0.03, 0.1, 0.3, 1.0], [0.01, 0.1, 0.3, 1.0]
grid = setting_grid(alphas, epsilons, gammas=[0.99], schedules=["constant"])
sweep_tasks = split.train[: size(quick=4, full=40)]
n_seeds = size(quick=2, full=6)
start = time.perf_counter()
result = sweep(lakes, sweep_tasks, grid, n_episodes=size(quick=40, full=200), n_seeds=n_seeds, seed=0)
seconds = time.perf_counter() - start
print(f"{result.scores.size} runs ({len(sweep_tasks)} tasks x {len(grid)} settings x {n_seeds} seeds) in "
      f"{seconds:.1f} s: {result.scores.size / seconds:.0f} task x setting evaluations per second")

# %% [markdown]
# Pick a task: the heatmap shows its mean score over the grid, each cell with the standard deviation over the
# seeds below it; the star marks its best setting and the circle the setting that is best on average over all
# tasks. The colour scale is the same for every task, so a colour means the same score on every map. It starts on
# the map with the fewest holes; then look at maps with many holes (their hole fraction is in the menu). Where two
# cells differ by less than their spread, the seeds cannot tell them apart.

# %%
sweep_heatmap(result, task=int(np.argmin(result.X[:, 1])))

# %% [markdown]
# How much is there to gain from choosing per task? We pick each task's best setting on half of the seeds and
# score it on the other half, so that luck in the choice does not count as gain (lesson 05 does this properly,
# on held-out tasks). Compare the two numbers:

# %%
half = n_seeds // 2
choose_on, score_on = result.scores[:, :, :half].mean(axis=2), result.scores[:, :, half:].mean(axis=2)
per_task = score_on[np.arange(len(sweep_tasks)), choose_on.argmax(axis=1)]
overall = score_on[:, choose_on.mean(axis=0).argmax()]
print(f"{len(set(choose_on.argmax(axis=1)))} different best settings among {len(sweep_tasks)} tasks")
print(f"mean score, one setting for all tasks: {overall.mean():.3f}; each task's own best: {per_task.mean():.3f}")
assert result.mean_scores.max() > size(quick=0.3, full=0.8)  # learning happened: some runs are near optimal

# %% [markdown]
# Each task's best exploration rate against its fraction of holes (from all seeds):

# %%
plot_best_settings(result, "hole_fraction", "epsilon", title="Best epsilon per map (FrozenLake 4 x 4)")
plt.show()

# %% [markdown]
# On maps without holes, acting at random ($\varepsilon = 1$) explores everything, and Q-learning is off-policy, so
# it learns the greedy policy anyway. On maps with many holes, random walks fall in before they get far, so less
# exploration does better.
#
# Two lessons for the next step. First, the best setting of a task, chosen from a few runs of that task alone, is
# noisy: scored on fresh runs it need not beat the one setting chosen from the runs of *all* tasks (the numbers two
# cells above), because a per-task choice among 16 settings picks up that task's lucky runs. Second, a task's
# *features* (here its holes) hint at its best setting. A model from features to settings, trained on many tasks,
# pools the runs of similar tasks and so *can* use the differences without the noise, where the best setting moves
# with a feature; lesson 05 tests whether it does (for these lakes, it does not beat the best single setting).
#
# ## Summary and next
# - A task family is a sampler plus features plus an exact MDP; the same seed gives the same tasks.
# - Held-out tasks must be new: split distinct tasks, and check the split (`check_disjoint`, `TaskSplit`).
# - Batched Q-learning runs hundreds of tasks in lockstep on arrays, faster than a loop that steps each task's
#   Gymnasium env (measured above: about 10 to 20 times with 200 tasks on two cores in full mode).
# - The best alpha and epsilon differ from task to task, and a task's features say something about them.
#
# Next, **05 · Learning hyperparameters**: learn a model from features to settings on training tasks, use it on
# held-out tasks, and see honestly when it beats the best single setting.
