# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Learning hyperparameters
#     minutes: 90
#     prerequisites:
#     - 04 Many tasks
#     objectives:
#     - follow the three steps of learning hyperparameters across tasks - learn a model, use it on new tasks, evaluate it on held-out tasks
#     - fit a ridge regression in closed form and read what it learned
#     - write a held-out evaluation loop that refuses a split leaking test tasks into training
#     - compare defaults, the best single setting, learned models and a per-task oracle with bootstrap intervals and the gap closed
#     - learn alpha and gamma by gradient ascent through unrolled expected Q-learning (meta-gradients)
#     - say when a learned model beats the best single setting, and when it cannot
# ---

# %% [markdown]
# Lesson 04 showed that the best alpha, epsilon and gamma move from task to task, and that a task's features hint
# at where. This lesson turns that into meta-learning, in the three steps of the article the course follows
# (lesson 00 introduces it):
#
# 1. **learn** a model of the algorithm's hyperparameters across many training tasks: from a task's features to
#    a setting;
# 2. **use** it to configure Q-learning on a new task, before any training on that task;
# 3. **evaluate** it on held-out tasks that step 1 never saw, against fair baselines.
#
# The baselines: `QLearningAgent`'s **defaults** (fixed long before this experiment); the **best constant**, the
# one setting that does best on average over the training tasks (itself meta-learned, but blind to features);
# and an **oracle** that searches the grid on each held-out task itself, with two runs per setting: a search no
# method could afford on a new task, used for nothing else. It is a reference, **not an upper bound**: two runs
# per setting are a noisy guide to a task's best setting, so a method that pools the runs of many training tasks
# can beat it (the tables below show where).

# %%
import matplotlib.pyplot as plt
import numpy as np

from metarl_edu import size, value_iteration
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.envs import FrozenLakeFamily, GridWorldFamily, RandomMDPFamily
from metarl_edu.studies.evaluation import check_disjoint, paired_bootstrap_ci, split_tasks
from metarl_edu.studies.two_goals import TwoGoalsFamily, TwoGoalsTask
from metarl_edu.studies.hyperparams import (BestConstant, MLPScores, NearestNeighbours, RidgePerHyperparameter,
                                    compare_on_held_out, score_runs, setting_grid, sweep, task_objective)
from metarl_edu.notebook.hyperparams import (held_out_explorer, plot_best_settings, plot_held_out, plot_meta_gradient,
                                             plot_task_gallery)

start_lesson("05_learning_hyperparameters", kind="master")

# %% [markdown]
# ## A family whose features matter
# A room with two goals: one two moves from the start pays a small reward, the other eight moves away pays 1. An
# episode ends at a goal or when its **step budget** (horizon $H$) runs out, and the task's return is the sum of
# its rewards. So with a small budget the near goal is the best one can do, with a large one the far goal. Each
# task draws $H$, the near reward and a slip probability; all three are features.

# %%
family = TwoGoalsFamily()
plot_task_gallery(family, family.sample(4, np.random.default_rng(0)), title="TwoGoalsFamily: H, near reward, slip")
plt.show()
print(f"near goal {family.goal_distances[0]} moves from the start, far goal {family.goal_distances[1]}")

# %% [markdown]
# Q-learning's greedy policy is stationary: it does not see how many steps are left. What it learns to prefer is
# set by its discount $\gamma$: entering the far goal is worth $\gamma^{7}$ from the start, the near one
# $r_\text{near}\,\gamma$. With perfect learning (the exact $q_*$ of each $\gamma$), here is what each discount
# earns on a short and on a long budget (score 0 = random policy, 1 = the best any policy can do):

# %%
for horizon in (6, 20):
    task = TwoGoalsTask(horizon=horizon, near_reward=0.3, slip=0.1)
    objective = task_objective(family, task)
    scores = {g: objective.score(value_iteration(objective.mdp.with_gamma(g))[1]) for g in (0.5, 0.8, 0.95)}
    print(f"H = {horizon:2d}: " + ", ".join(f"gamma {g}: {s:.2f}" for g, s in scores.items()))

# %% [markdown]
# No single $\gamma$ is right for both budgets, and the budget is a feature a model can read. That is the kind of
# family where learning hyperparameters from features can pay; the end of the lesson looks at families where it
# does not.
#
# ## Step 1: learn
# Meta-training and held-out tasks from independent random streams, then a sweep over a grid of settings on the
# training tasks only (lesson 04 explains the score: the exact return of the greedy policy after a fixed budget of
# episodes, 0 for a random policy, 1 for the best possible). The grid crosses alpha, epsilon, gamma and the epsilon
# schedule (constant, or decaying from 1 over the first half of training as in `QLearningAgent`'s default);
# `random_settings(n, rng)` would draw a random sample instead, which tries more distinct values of each
# hyperparameter for the same number of runs (Bergstra & Bengio 2012).

# %%
split = split_tasks(family, n_train=size(quick=16, full=150), n_test=size(quick=10, full=100), seed=0)
settings = setting_grid(alphas=size(quick=[0.3, 1.0], full=[0.1, 0.3, 1.0]),
                        epsilons=size(quick=[0.3, 1.0], full=[0.1, 0.3, 1.0]),
                        gammas=size(quick=[0.5, 0.9, 0.99], full=[0.5, 0.7, 0.8, 0.9, 0.95, 0.99]),
                        schedules=size(quick=["linear"], full=["constant", "linear"]))
n_episodes = size(quick=40, full=100)
result = sweep(family, split.train, settings, n_episodes=n_episodes, n_seeds=2, seed=0)
print(f"{result.scores.size} runs: {len(split.train)} training tasks x {len(settings)} settings x 2 seeds, "
      f"{n_episodes} episodes each")
print("best constant:", result.settings[result.best_constant()])

# %% [markdown]
# Each training task's own best discount against its step budget:

# %%
plot_best_settings(result, "horizon", "gamma", title="Best gamma per training task")
plt.show()

# %% [markdown]
# ### A model you can read: ridge regression
# A linear model per hyperparameter, from standardised features $Z$ (each feature minus its mean, divided by its
# standard deviation) to a transformed hyperparameter $y$, with an intercept $b$ and a penalty $\lambda$ that keeps
# the weights $W$ small (Hoerl & Kennard 1970; Hastie, Tibshirani & Friedman 2009, section 3.4.1):
#
# $$\min_{W, b}\ \lVert Y - X W - b \rVert^2 + \lambda \lVert W \rVert^2 ,$$
#
# written for any feature matrix $X$; the model below fits it with $X = Z$. Centring removes the intercept from the
# problem: with $X_c = X - \bar X$ and $Y_c = Y - \bar Y$ (column means), $W = (X_c^\top X_c + \lambda I)^{-1}
# X_c^\top Y_c$ and $b = \bar Y - \bar X W$. The intercept is not penalised.
#
# **Exercise.** Write `ridge_fit(X, Y, lam)` for `X` of shape (n, F) and `Y` of shape (n, K); return `(W, b)` with
# shapes (F, K) and (K,). Use `np.linalg.solve` rather than an explicit inverse.


# %%
def ridge_fit(X, Y, lam):
    """Ridge regression in closed form: (W, b) minimising ||Y - X W - b||^2 + lam ||W||^2."""
    ### BEGIN SOLUTION id=ridge_fit points=3 replaces=metarl_edu.classroom.references.ridge_fit hint="Centre X and Y with their column means, solve (Xc^T Xc + lam I) W = Xc^T Yc with np.linalg.solve, then b = mean(Y) - mean(X) @ W"
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - x_mean, Y - y_mean
    W = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ Yc)
    return W, y_mean - x_mean @ W
    ### END SOLUTION


# %%
check("ridge_fit", ridge_fit)

# %%
### BEGIN HIDDEN TESTS id=ridge_fit
import numpy as np

_X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
_Y = np.array([[1.0], [2.0], [4.0], [4.0]])
### PROBE
_W, _b = ridge_fit(_X.copy(), _Y.copy(), 0.0)
### JUDGE
assert np.allclose(_X @ _W + _b, _Y, atol=0.5)
assert _W.shape == (2, 1) and _b.shape == (1,)
### END HIDDEN TESTS

# %% [markdown]
# Regress each training task's best discount, on the scale of its effective horizon,
# $y = \log(1.001 - \gamma)$, on the standardised features:

# %%
fit_ridge = pick("ridge_fit", ridge_fit)
best = [result.settings[k] for k in result.best_per_task()]
Z = (result.X - result.X.mean(axis=0)) / result.X.std(axis=0)
y = np.log(1.001 - np.array([s.gamma for s in best]))[:, None]
W, b = fit_ridge(Z, y, 1.0)
for name, w in zip(result.feature_names, W[:, 0], strict=True):
    print(f"weight of {name:>11}: {w:+.3f}")
ridge_model = RidgePerHyperparameter(lam=1.0).fit(result)
assert np.allclose(W[:, 0], ridge_model.coefficients["gamma"], atol=1e-8)  # the library's model learned the same

# %% [markdown]
# A negative weight makes $1.001 - \gamma$ smaller, so $\gamma$ larger: the weights above say how the best discount
# moves with the budget, the near reward and the slip. `RidgePerHyperparameter` fits one such regression for each
# of alpha, epsilon, gamma and the schedule (the assertion checks that it found your weights). Three more ways to
# choose, all fitted on the same sweep:
#
# - **k-nearest neighbours**: the setting with the best mean score over the $k$ training tasks most similar to
#   the new one (distance between standardised features). It *can* follow a sharp threshold that a linear model
#   cannot, but each choice rests on only $k$ tasks' runs; whether that pays on a family is for the held-out table
#   to say (a cell below compares the two directly).
# - **MLP**: a small torch network from features to the predicted score of every setting; it takes the best.
# - **best constant**: ignores the features.
#
# ## Step 2: use
# The settings each model chooses for a few held-out tasks, from their features alone:

# %%
models = [BestConstant(), NearestNeighbours(k=size(quick=3, full=10)), ridge_model,
          MLPScores(epochs=size(quick=200, full=2000))]
for model in models:
    model.fit(result)
X_new = family.feature_matrix(split.test[:3])
for task, x in zip(split.test[:3], X_new, strict=True):
    print(f"H {task.horizon:2d}, near reward {task.near_reward:.2f}, slip {task.slip:.2f}:")
    for model in models:
        print(f"    {model.name:>24}: {model.predict(x[None])[0]}")

# %% [markdown]
# ## Step 3: evaluate on held-out tasks
# The evaluation loop is short, but each line guards against a way of fooling oneself: refuse a split that leaks
# a test task into training; fit on the training tasks only; choose for each held-out task from that task alone.
#
# **Exercise.** Write `held_out_scores(fit, split, run)`. `split` has `train` and `test` (sequences of tasks);
# `fit(train_tasks)` returns a function `choose(task) -> Setting`; `run(tasks, settings)` runs one setting per
# task and returns their scores, shape (n_tasks, n_seeds). Refuse a leaking split with
# `check_disjoint(split.train, split.test)` (it raises `TaskLeakError`), then return the scores of the settings
# chosen for `split.test`, in order.

# %%
from metarl_edu.studies.evaluation import check_disjoint


def held_out_scores(fit, split, run):
    """Scores (n_test, n_seeds) of the settings that a model fitted on split.train chooses for split.test."""
    ### BEGIN SOLUTION id=held_out_scores points=2 replaces=metarl_edu.classroom.references.held_out_scores hint="Refuse a leaking split before anything else, fit on the training tasks only, then run the held-out tasks with the setting chosen for each, in order"
    check_disjoint(split.train, split.test)
    choose = fit(list(split.train))
    return run(list(split.test), [choose(task) for task in split.test])
    ### END SOLUTION


# %%
check("held_out_scores", held_out_scores)

# %%
### BEGIN HIDDEN TESTS id=held_out_scores
from types import SimpleNamespace as _NS

import numpy as np
from metarl_edu.envs.tasks import GridTask

_task = GridTask((2, 3), 0.1)
### PROBE
try:
    held_out_scores(lambda train: (lambda task: None), _NS(train=[_task], test=[_task]), lambda t, s: np.zeros((1, 1)))
    _refused = None
except Exception as _error:  # the split leaks: it must be refused with TaskLeakError
    _refused = type(_error).__name__
### JUDGE
assert _refused == "TaskLeakError", "a leaking split was accepted"
### END HIDDEN TESTS

# %% [markdown]
# Your loop, used on the nearest-neighbours model and on the best constant, with the same held-out tasks and the
# same number of runs each.
#
# **How sure is a difference?** Both methods ran on the same held-out tasks, so compare them task by task: the
# difference of their scores on one task cancels that task's own difficulty. The mean of those differences over
# the held-out tasks is the estimate; other held-out tasks would have given another mean. A **paired bootstrap
# interval** (`paired_bootstrap_ci`) measures how much: draw as many tasks as there are *with replacement* from the
# held-out tasks (each with all its runs), take the mean difference, repeat 2000 times, and keep the middle 95 % of
# those means. An interval that excludes 0 says the difference is unlikely to come from which tasks happened to
# be held out. Lesson 10 builds the bootstrap itself and says when it can be trusted (Efron & Tibshirani 1993).

# %%
evaluate_held_out = pick("held_out_scores", held_out_scores)
n_runs = size(quick=2, full=3)


def run(tasks, chosen):
    flat = score_runs(family, [t for t in tasks for _ in range(n_runs)], [s for s in chosen for _ in range(n_runs)],
                      n_episodes, seed=1)
    return flat.reshape(len(tasks), n_runs)


def fitter(make_model):
    def fit(train):
        model = make_model().fit(result.subset(train))  # the sweep's rows of these training tasks only
        return lambda task: model.predict(family.features(task)[None])[0]
    return fit


knn_scores = evaluate_held_out(fitter(lambda: NearestNeighbours(k=size(quick=3, full=10))), split, run)
constant_scores = evaluate_held_out(fitter(BestConstant), split, run)
print(f"nearest neighbours {knn_scores.mean():.3f}, best constant {constant_scores.mean():.3f}")
print("difference:", paired_bootstrap_ci(knn_scores, constant_scores, rng=0))

# %% [markdown]
# The library's `compare_on_held_out` runs the same protocol for all methods at once, adds the defaults and the
# oracle (which sweeps the grid on each held-out task with runs of its own, then is scored on fresh runs like
# everyone), and scores every choice with fresh runs in one batch. Fresh runs: the best constant's mean below
# differs from the one above by run-to-run noise alone, which is why every number comes with an interval.

# %%
comparison = compare_on_held_out(family, split, result, models, n_seeds=size(quick=2, full=3), oracle_seeds=2)
print(comparison.table())
plot_held_out(comparison, title=f"TwoGoalsFamily: {len(split.test)} held-out tasks x {size(quick=2, full=3)} runs")
plt.show()

# %% [markdown]
# "Gap closed" is $(\text{method} - \text{defaults}) / (\text{oracle} - \text{defaults})$: 0 is no better than the
# defaults, 1 as good as searching on the task itself with two runs per setting, and above 1 better than that
# search (possible, since the oracle is no upper bound). Each learned model against the best constant, and the
# two models that read features against each other, paired over held-out tasks and runs:

# %%
learned = [m.name for m in models[1:]]
for name in learned:
    print(f"{name:>24} - best constant: {comparison.paired(name, 'best constant')}")
print(f"{models[2].name:>24} - {models[1].name}: {comparison.paired(models[2].name, models[1].name)}")
above = [row.name for row in comparison.summary() if row.name != "oracle" and row.gap_closed > 1]
print("methods above the oracle:", ", ".join(above) or "none")
ci = comparison.paired(models[1].name, "best constant")
assert ci.low > size(quick=-1.0, full=0.0)  # full mode: nearest neighbours beats the best constant, 95% CI > 0

# %% [markdown]
# Read the last lines before any story about the models. At the lesson's full size (`docs/RESULTS.md`) ridge and
# nearest neighbours differ on the two-goal rooms by less than their noise (the interval of their difference
# contains 0): that nearest neighbours *could* follow a threshold did not make them better here. And some methods
# score as high as the oracle, or a hair above it (by far less than their noise): its two runs per setting pick a
# task's best setting less reliably than pooling many training tasks does.
#
# Pick a held-out task: the table shows what each method predicts for it; the plot, its learning curves (score
# after a growing number of episodes: the mean of several runs with one standard error shaded, on the same score
# axis for every task). Try a short budget ($H$ below 8), then a long one.

# %%
held_out_explorer(family, comparison, methods=["defaults", "best constant", models[1].name],
                  n_episodes=n_episodes, n_points=size(quick=3, full=10), n_seeds=size(quick=2, full=6))

# %% [markdown]
# ## Other families
# The same protocol on lesson 04's families, each with a training budget at which the settings differ: gridworlds
# with a random goal and slip (20 episodes), FrozenLake 4 x 4 with a random hole density (150 episodes), and RL$^2$'s
# random MDPs with a horizon drawn from 1 to 20 steps (50 episodes).

# %%
from tqdm.auto import tqdm

others = {"gridworld": (GridWorldFamily(slip_range=(0.0, 0.5)), 20),
          "FrozenLake 4 x 4": (FrozenLakeFamily(size=4, hole_prob_range=(0.0, 0.4)), 150),
          "random MDP": (RandomMDPFamily(horizon_range=(1, 20)), 50)}
small_grid = setting_grid(alphas=[0.1, 0.3, 1.0], epsilons=[0.1, 0.3, 1.0],
                          gammas=size(quick=[0.8, 0.99], full=[0.5, 0.8, 0.95, 0.99]),
                          schedules=size(quick=["constant"], full=["constant", "linear"]))
results = {}
for name, (other, episodes) in tqdm(others.items(), desc="families"):
    other_split = split_tasks(other, n_train=size(quick=8, full=80), n_test=size(quick=6, full=50), seed=0)
    other_sweep = sweep(other, other_split.train, small_grid, n_episodes=size(quick=10, full=episodes), n_seeds=2,
                        progress=False)
    results[name] = compare_on_held_out(other, other_split, other_sweep,
                                        [BestConstant(), NearestNeighbours(k=size(quick=3, full=10)),
                                         RidgePerHyperparameter(lam=1.0)], n_seeds=size(quick=2, full=3),
                                        progress=False)
for name, out in results.items():
    print(f"== {name}\n{out.table()}")
    for method in out.methods[2:-1]:
        print(f"{method:>26} - best constant: {out.paired(method, 'best constant')}")

# %% [markdown]
# ## Meta-gradients: learning alpha and gamma by gradient ascent
# A sweep tries every setting of a grid. Xu, van Hasselt & Silver (2018, *Meta-Gradient Reinforcement Learning*)
# instead differentiate the agent's performance *through its own update* with respect to the discount, and follow
# the gradient. We do it exactly on one small task:
#
# 1. $K$ **expected** Q-learning updates from $q_0 = 0$, for every $(s, a)$ at once:
#    $q_{k+1} = q_k + \alpha\,\big(r + \gamma P \max_{a'} q_k - q_k\big)$ (no bootstrap after a terminal state);
# 2. a **softmax policy** $\pi(a \mid s) \propto \exp(q_K(s, a) / \tau)$;
# 3. the **meta-objective** $J(\alpha, \gamma)$: that policy's exact value under a fixed meta-discount 0.9 (the goal,
#    not a knob), $J = \text{start}^\top (I - 0.9\,P_\pi)^{-1} r_\pi$, a linear solve torch can differentiate;
# 4. gradient ascent on $\theta = (\operatorname{logit} \alpha, \operatorname{logit} \gamma)$, so that $\alpha$ and
#    $\gamma$ stay in (0, 1). The tests check this gradient against finite differences.
#
# The heatmap is $J$ over a grid (the sweep the gradient replaces); the white lines are two ascents from different
# starting points.

# %%
from metarl_edu.studies.meta_gradient import meta_gradient_ascent, objective_grid

mg_task = TwoGoalsTask(horizon=20, near_reward=0.3, slip=0.1)
mg_mdp = family.to_mdp(mg_task)
alphas, gammas = np.linspace(0.05, 0.99, size(quick=6, full=20)), np.linspace(0.3, 0.99, size(quick=6, full=24))
J = objective_grid(mg_mdp, alphas, gammas, K=10, meta_gamma=0.9, tau=0.05)
paths = {f"start alpha {a0}, gamma {g0}": meta_gradient_ascent(mg_mdp, K=10, meta_gamma=0.9, tau=0.05, lr=2.0,
                                                      n_steps=size(quick=20, full=200), alpha0=a0, gamma0=g0)
         for a0, g0 in ((0.1, 0.5), (0.5, 0.9))}
plot_meta_gradient(alphas, gammas, J, paths, title="J(alpha, gamma) after K = 10 expected updates")
plt.show()
i, j = np.unravel_index(np.argmax(J), J.shape)
print(f"grid search: best J {J.max():.3f} at alpha {alphas[i]:.2f}, gamma {gammas[j]:.2f}")
for label, path in paths.items():
    print(f"{label}: J {path.objectives[0]:.3f} -> {path.objective:.3f} at alpha {path.alpha:.2f}, gamma {path.gamma:.2f}")
assert paths["start alpha 0.5, gamma 0.9"].objective > J.max() - size(quick=0.2, full=0.01)
print("the sweep-trained nearest neighbours choose for this task:", models[1].predict(family.features(mg_task)[None])[0])

# %% [markdown]
# From one start the ascent climbs to the value of the best grid cell (the assertion checks it), in a few hundred cheap
# steps and without a grid. From the other it stalls (the line above prints where): there gamma is too small for the far
# goal to be worth more than the near one, whatever alpha is, and alpha too small for 10 updates to carry the far goal's
# value back to the start, so the policy heads for the near goal. Raising either one alone does not help; only a joint
# move of both would, and the gradient there is nearly zero. A meta-gradient is *local*; a sweep is global but coarse.
# Xu et al. adapt the discount online while the agent trains, from a sensible start, where a local method is what one
# wants. Note the two methods optimise different things (expected updates and a meta-discount of 0.9 here; sampled
# updates and the sum of 20 rewards in the sweep), so compare the discounts they choose, printed above, as directions
# rather than equal answers.
#
# ## When does a learned model beat the best constant?
# Read the tables of this lesson with these questions.
#
# - **Do the best settings differ, and does a compromise cost much?** In the two-goal rooms the discount that is
#   right for a short budget is wrong for a long one (the exact scores at the start of the lesson): the best
#   constant must give up one side. When one setting is near the best for almost every task, there is little to
#   gain, however good the model.
# - **Do the features predict the difference?** The step budget does, and it is a feature. Random MDPs with a
#   horizon from 1 to 20 steps have the same structure in a milder form, yet in full mode neither model beats the
#   best constant there: nearest neighbours' interval includes 0 and ridge is below it, an interval that excludes
#   0 (the last two questions below are possible reasons). A gridworld's goal cell and slip matter less at this
#   budget.
# - **Is there enough data to learn the mapping?** A task's own best setting, picked from 2 runs among dozens of
#   settings, is noisy: the oracle, which searches each held-out task with 2 runs of its own, can even score below
#   the best constant (compare their rows in each table; the next cell counts where). Nearest neighbours average
#   the runs of 10 similar tasks before choosing; the best constant averages all of them, which is why it is so hard
#   to beat with few tasks or runs.
# - **Does the model fit the shape?** A linear model per hyperparameter cannot follow a threshold, and it predicts
#   each hyperparameter alone although they interact; it can then lose to the constant.
#
# The honest protocol (held-out tasks, fresh runs, paired intervals) is what lets us tell these cases apart.

# %%
for name, out in [("two goals", comparison), *results.items()]:
    rows = {row.name: row.ci.estimate for row in out.summary()}
    print(f"{name:>16}: oracle {rows['oracle']:.3f} vs best constant {rows['best constant']:.3f} "
          f"({'below' if rows['oracle'] < rows['best constant'] else 'above'})")

# %% [markdown]
# ## Summary and next
# - Learning hyperparameters across tasks: sweep settings on training tasks, fit a model from task features to a
#   setting, and judge it on held-out tasks against the defaults, the best constant and an oracle (a noisy
#   per-task search, not an upper bound).
# - Ridge regression in closed form, $W = (X_c^\top X_c + \lambda I)^{-1} X_c^\top Y_c$, gives a readable model;
#   nearest neighbours can follow thresholds, from fewer tasks per choice; a small network predicts every
#   setting's score. Which wins is a question for held-out tasks, not for the model's description.
# - A held-out evaluation refuses leaking splits, fits on training tasks only and reports paired intervals.
# - A learned model beats the best constant when the best setting changes with something the features show, and
#   the data suffice to learn it; elsewhere the best constant is a strong baseline.
# - Meta-gradients tune alpha and gamma by differentiating through the learning updates: cheap and exact here,
#   but local.
#
# Next, **06 · Policy gradients**: REINFORCE in torch, the inner loop that MAML (lessons 07 and 08) differentiates
# through, as the meta-gradient did here.
