# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: MAML on sinusoids
#     minutes: 60
#     prerequisites:
#     - 06 Policy gradients
#     objectives:
#     - state the MAML objective and its inner and outer updates
#     - write the inner update and one task's meta-loss with torch.func, second and first order
#     - meta-train MAML on the sinusoid tasks of Finn et al. (2017) and compare it with a pretrained network
#     - explain why vmap over tasks makes the meta-step fast
# ---

# %% [markdown]
# Lessons 04-05 learned an algorithm's *knobs* across tasks. MAML (model-agnostic meta-learning; Finn, Abbeel &
# Levine, 2017) learns something bigger: the network's **initial weights**, chosen so that a few gradient steps on
# a handful of examples of a new task already give a good model. This lesson uses the paper's simplest test bed,
# regression on random sinusoids, where everything trains in a minute on a laptop and the same functional inner
# loop serves lesson 08's reinforcement learning.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.func import functional_call, grad

from metarl_edu import size
from metarl_edu.studies.bench import bench_sinusoid
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.studies.sinusoid import (
    FINE_TUNING_STEPS,
    MAMLRegression,
    SinusoidConfig,
    SinusoidTasks,
    train_pair,
)
from metarl_edu.maml import maml_loss
from metarl_edu.studies.evaluation import paired_bootstrap_ci
from metarl_edu.notebook.maml import maml_fit_explorer, plot_adaptation_curves, plot_training_losses

torch.set_num_threads(1)  # networks this small run fastest on one thread (two threads wait on each other)
start_lesson("07_maml_sinusoid", kind="master")

# %% [markdown]
# ## The tasks
# Section 5.1 of the paper: each task is a sinusoid $y = A \sin(x - \varphi)$ with amplitude $A \sim U[0.1, 5]$
# and phase $\varphi \sim U[0, \pi]$; inputs are $x \sim U[-5, 5]$. A task gives $K$ **support** points to adapt
# on, and separate **query** points to score the adapted model. With $K = 5$ points and no prior knowledge, a
# network could fit almost anything through them; knowing that the task is *a sinusoid* is what makes it solvable.

# %%
tasks = SinusoidTasks()
rng = np.random.default_rng(0)
amplitude, phase = tasks.sample(4, rng)
x_s, y_s = tasks.points(amplitude, phase, 10, rng)
grid = np.linspace(-5, 5, 200)
fig, ax = plt.subplots(figsize=(7, 3.5))
for i in range(4):
    (line,) = ax.plot(grid, amplitude[i] * np.sin(grid - phase[i]), label=f"A = {amplitude[i]:.2f}, phi = {phase[i]:.2f}")
    ax.scatter(x_s[i, :, 0], y_s[i, :, 0], color=line.get_color(), s=15)
ax.set(xlabel="x", ylabel="y", title="Four sinusoid tasks and K = 10 support points each")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## The MAML objective
# The model $f_\theta$ is the paper's network: 1 input, two hidden layers of 40 ReLU units, 1 output. For a task
# $\mathcal T_i$ with loss $\mathcal L_i$ (the mean squared error), MAML adapts by one gradient step on the support
# set, then scores the adapted parameters $\theta'_i$ on the query set:
#
# $$\theta'_i = \theta - \alpha \nabla_\theta \mathcal L_i(\theta; \text{support}_i), \qquad
#   \theta \leftarrow \theta - \beta \nabla_\theta \frac{1}{n} \sum_{i=1}^{n} \mathcal L_i(\theta'_i; \text{query}_i)$$
#
# over a meta-batch of $n$ tasks (the paper writes the sum; the library averages, which for plain gradient descent only
# rescales $\beta$, and with Adam changes almost nothing).
#
# The outer gradient goes *through* the inner step. For one parameter,
# $\frac{d\theta'}{d\theta} = 1 - \alpha \frac{\partial^2 \mathcal L}{\partial \theta^2}$, so the meta-gradient
# holds second derivatives. **First-order MAML** (also in the paper) drops them by treating the inner gradient as
# a constant ($\frac{d\theta'}{d\theta} = 1$): cheaper, and usually almost as good.
#
# Parameters are dicts `name -> tensor`, and `torch.func.functional_call(model, params, (x,))` evaluates the
# network at any such dict without changing the module.
#
# **Exercise 1.** Write `inner_update(params, grads, alpha)`: return a **new** dict
# $\theta'[k] = \theta[k] - \alpha \, g[k]$ for every name $k$. Do not change `params` (MAML still needs
# $\theta$), and keep it differentiable (no `torch.no_grad()`).


# %%
def inner_update(params, grads, alpha):
    """theta'[k] = theta[k] - alpha * grads[k] for every name k; a new dict, params unchanged."""
    ### BEGIN SOLUTION id=inner_update points=2 replaces=metarl_edu.classroom.references.inner_update_reference hint="A dict comprehension over the names: one gradient step per tensor, against the gradient"
    return {k: params[k] - alpha * grads[k] for k in params}
    ### END SOLUTION


# %%
check("inner_update", inner_update)

# %%
### BEGIN HIDDEN TESTS id=inner_update
import torch
### PROBE
_new_a = float(inner_update({"a": torch.tensor(3.0)}, {"a": torch.tensor(-1.0)}, 0.5)["a"])
### JUDGE
assert abs(_new_a - 3.5) < 1e-12
### END HIDDEN TESTS

# %% [markdown]
# **Exercise 2.** Write one task's meta-loss `meta_loss(model, params, task, alpha, first_order=False)`, where
# `task = ((x_s, y_s), (x_q, y_q))` holds the support and query points, each of shape (K, 1):
# 1. a function `loss(p, x, y)`: the mean squared error of `functional_call(model, p, (x,))` against `y`;
# 2. the inner gradient on the **support** set with `torch.func.grad(loss)(params, x_s, y_s)`, a dict like
#    `params` (it stays differentiable, so the second-order terms come for free);
# 3. if `first_order`, detach every inner gradient (`g.detach()`);
# 4. $\theta'$ from your `inner_update`, and the loss of $\theta'$ on the **query** set.
#
# The check works a one-weight model $f(x) = w x$ by hand, where the second- and first-order meta-gradients
# differ by the factor $1 - 2\alpha\,\overline{x^2}$.


# %%
def meta_loss(model, params, task, alpha, first_order=False):
    """L(theta'; query) with theta' = theta - alpha grad L(theta; support); differentiable in params."""
    ### BEGIN SOLUTION id=meta_loss points=3 replaces=metarl_edu.classroom.references.meta_loss_reference hint="grad(loss)(params, x_s, y_s) gives the inner gradients; detach them only when first_order; score the result of inner_update on the query points"
    (x_s, y_s), (x_q, y_q) = task

    def loss(p, x, y):
        return torch.mean((functional_call(model, p, (x,)) - y) ** 2)

    grads = grad(loss)(params, x_s, y_s)
    if first_order:
        grads = {k: g.detach() for k, g in grads.items()}
    return loss(inner_update(params, grads, alpha), x_q, y_q)
    ### END SOLUTION


# %%
check("meta_loss", meta_loss)

# %%
### BEGIN HIDDEN TESTS id=meta_loss
import torch
### PROBE
_model = torch.nn.Linear(1, 1, bias=False).double()
_w = {"weight": torch.tensor([[2.0]], dtype=torch.float64, requires_grad=True)}
_x = torch.tensor([[1.0]], dtype=torch.float64)
_loss = meta_loss(_model, _w, ((_x, _x), (_x, 0 * _x)), 0.1)
_value = float(_loss.detach())
_meta_grad = float(torch.autograd.grad(_loss, _w["weight"])[0])
### JUDGE
# w' = 2 - 0.1 * 2 * (2 - 1) = 1.8; L = (1.8 - 0)^2 = 3.24; dL/dw = 2 * 1.8 * (1 - 0.2) = 2.88
assert abs(_value - 3.24) < 1e-9
assert abs(_meta_grad - 2.88) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# The library's `maml_loss` computes the same for a whole meta-batch at once: `torch.func.vmap` maps the per-task
# function over the task dimension, so 25 tasks become one batched computation instead of a Python loop. Your
# function, averaged over the tasks of a meta-batch, must agree with it:

# %%
task_meta_loss = pick("meta_loss", meta_loss)
learner = MAMLRegression(seed=0)
support, query = tasks.meta_batch(25, 10, np.random.default_rng(2))
mine = torch.stack([task_meta_loss(learner.net, learner.params, ((support[0][i], support[1][i]),
                                                                  (query[0][i], query[1][i])), 0.01)
                    for i in range(25)]).mean()
library = maml_loss(learner.net, learner.params, support, query, alpha=0.01)
whose = "your" if task_meta_loss is meta_loss else "the library's (your meta_loss is not solved yet)"
print(f"mean of {whose} per-task meta-losses: {mine.item():.6f}; vmapped maml_loss: {library.item():.6f}")
assert torch.allclose(mine, library, rtol=1e-5)

# %% [markdown]
# ## Meta-training
# The paper's settings (section 5.1), which are `SinusoidConfig`'s defaults: $K = 10$ support and 10 query points
# per task, one inner step with $\alpha = 0.01$, Adam as the outer optimiser. We use a meta-batch of 25 tasks and
# Adam's step size $\beta = 0.001$, the defaults of the authors' code (cbfinn/maml), whose usage notes run the
# sinusoid example for 70,000 meta-iterations (its flag's default is 15,000); we train for fewer (printed below).
#
# The **pretrained baseline** of the paper: the same network trained by plain regression on points pooled from
# many tasks (as many steps as MAML, and per step as many points: 20 per task, MAML's support and query), then
# fine-tuned on a new task's $K$ points by gradient steps. The paper tuned the fine-tuning step size (0.01 for
# $K = 5$, 0.02 for $K = 10$, per its Figure 2); we tune it too, below, on other tasks than the test's. The
# pretrained network learns the *average* task, shown after training.

# %%
config = SinusoidConfig()
print(config)
n_iterations = size(quick=300, full=12_000)
start = time.perf_counter()
run = train_pair(config, tasks, seed=0, n_iterations=n_iterations, progress=True)  # trains both, tunes, evaluates
maml, pretrained = run["maml"], run["pretrained"]
print(f"{n_iterations} meta-iterations of MAML and as many steps of the pretrained network, tuned and evaluated, in "
      f"{time.perf_counter() - start:.1f} s")

# %% [markdown]
# What did the pretrained network learn? A squared error pooled over all tasks is smallest for the average task,
# $\mathbb E[A \sin(x - \varphi)] = \mathbb E[A]\, \mathbb E[\sin(x - \varphi)]$ ($A$ and $\varphi$ are independent).
# For $\varphi \sim U[0, \pi]$, $\mathbb E[\sin(x - \varphi)] = \frac{1}{\pi} \int_0^\pi \sin(x - \varphi)\,
# d\varphi = -\frac{2}{\pi} \cos x$, and $\mathbb E[A] = 2.55$: the average task is $-\frac{5.1}{\pi} \cos x \approx
# -1.62 \cos x$, not $y = 0$, because the phases cover only half a period (`tasks.mean_function`). The next cell
# fits $c \cos x$ to the pretrained network's output by least squares, and draws MAML's initialisation next to it.

# %%
x_grid = torch.linspace(-5, 5, 201).reshape(-1, 1)
cos_x = np.cos(x_grid[:, 0].numpy())
average_task = tasks.mean_function(x_grid[:, 0].numpy())
fig, ax = plt.subplots(figsize=(7, 3.2))
for name, learner_ in (("pretrained", pretrained), ("MAML", maml)):
    output = learner_.predict(x_grid)[:, 0].numpy()
    c = output @ cos_x / (cos_x @ cos_x)
    ax.plot(x_grid[:, 0], output, label=f"{name} before adaptation")
    print(f"{name:>10}: output ~ {c:+.2f} cos x (least squares); largest distance to the average task "
          f"{np.abs(output - average_task).max():.2f}")
ax.plot(x_grid[:, 0], average_task, "k--", label=f"average task {-5.1 / np.pi:.2f} cos x")
ax.set(xlabel="x", ylabel="y", title="What each learner predicts before seeing a new task")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# At the lesson's full size (`docs/RESULTS.md`) the pretrained network's output is about $-1.6 \cos x$, within
# about 0.3 of the average task everywhere: it learned the best *single* answer. MAML's initialisation is close to
# the average task too (about $-1.6 \cos x$ as well): before adaptation the two guess alike, and their errors after
# 0 steps below are alike. What MAML chose is where one gradient step from that guess leads, which the
# next table shows.

# %% [markdown]
# ## Evaluation on new tasks
# `adaptation_mse` draws 100 new sinusoids (the same for both learners), adapts each learner from $K$ support points
# with 0 to 10 gradient steps, and measures the mean squared error on 100 query points per task. MAML steps with the
# $\alpha = 0.01$ it was meta-trained for. The pretrained network's step is tuned first, for each $K$, on 100 other
# sinusoids (seed 99): the step among four with the lowest mean error over steps 1 to 10. The table gives the mean
# over the test tasks; the plot adds one standard error of that mean (shaded).

# %%
print("pretrained fine-tuning step, tuned on other tasks:",
      ", ".join(f"K = {k}: {step}" for k, step in run["tuned"].items()), f"(tried {FINE_TUNING_STEPS})")
per_task = run["mse"]  # {"MAML": {K: (tasks, steps + 1)}, "pretrained": {...}}: tuned_step and adaptation_mse
results = {name: {k: mse.mean(axis=0) for k, mse in by_k.items()} for name, by_k in per_task.items()}
print("query MSE after   0 steps   1 step   5 steps   10 steps")
for name, by_k in results.items():
    for k, mse in by_k.items():
        print(f"{name:>10}, K = {k:2d}:  {mse[0]:6.3f}   {mse[1]:6.3f}   {mse[5]:6.3f}   {mse[10]:7.3f}")
later = per_task["pretrained"][5][:, 10] - per_task["pretrained"][5][:, 5]  # paired on the same tasks
print(f"pretrained, K = 5, 10 steps minus 5: {later.mean():+.3f} (one standard error "
      f"{later.std(ddof=1) / np.sqrt(later.size):.3f} over {later.size} tasks)")
plot_adaptation_curves(per_task)
plt.show()
maml_5_shot = results["MAML"][5]
assert maml_5_shot[1] < min(maml_5_shot[0], results["pretrained"][5][1])  # one step on 5 points: MAML's best use
assert maml_5_shot[10] < size(quick=np.inf, full=0.5)  # full mode: below 0.5 after 10 steps

# %% [markdown]
# One seed is one draw of the initial weights and of the training tasks. Four more seeds in full mode (one in quick
# mode), each trained, tuned and tested like seed 0 on the same 100 test tasks, and the training curves of all of
# them to the end (the mean loss of each stretch of 1% of the run):

# %%
runs = {0: run} | {seed: train_pair(config, tasks, seed, n_iterations) for seed in size(quick=(1,), full=(1, 2, 3, 4))}
print("query MSE after 1 step / 10 steps      K = 5              K = 10")
for seed, r in runs.items():
    for name in ("MAML", "pretrained"):
        print(f"seed {seed}, {name:>10}:   " + "   ".join(f"{r['mse'][name][k][:, 1].mean():6.3f} / "
                                                          f"{r['mse'][name][k][:, 10].mean():6.3f}" for k in (5, 10))
              + (f"   (tuned steps {r['tuned']})" if name == "pretrained" else ""))
for k in (5, 10):  # each task's error averaged over the seeds first, then tasks resampled
    seeds_of = {name: np.stack([r["mse"][name][k][:, 1] for r in runs.values()], axis=1)
                for name in ("MAML", "pretrained")}
    print(f"K = {k}, after one step, pretrained minus MAML over {len(runs)} seeds:",
          paired_bootstrap_ci(seeds_of["pretrained"], seeds_of["MAML"], rng=0))
plot_training_losses({"MAML: query loss after the inner step": {s: r["maml"] for s, r in runs.items()},
                      "pretrained: pooled regression loss": {s: r["pretrained"] for s, r in runs.items()}})
plt.show()
tenth = n_iterations // 10
for key in ("maml", "pretrained"):  # is the curve still falling at the end?
    ratios = [np.mean(r[key].losses[-tenth:]) / np.mean(r[key].losses[-2 * tenth:-tenth]) for r in runs.values()]
    print(f"{key}: training loss of the last tenth of the run / the tenth before, per seed: {np.round(ratios, 3)}")

# %% [markdown]
# Read the rows seed by seed: in full mode every seed tells seed 0's story. After one step MAML's error is 0.68 to
# 0.78 with $K = 5$ and 0.36 to 0.40 with $K = 10$, the tuned pretrained network's 2.4 to 2.9 and 2.4 to 2.7; with
# each task's error averaged over the five seeds first, the pretrained network is about 1.9 higher with $K = 5$ and
# 2.1 with $K = 10$, with intervals far from 0. The last lines ask whether training had ended: a ratio near 1 means
# the curve had flattened over the last fifth of the run, one below 1 that it was still falling. In full mode the
# pretrained network's ratios are within 1% of 1, and its curves are flat from about iteration 2,000. MAML's ratios
# lie between 0.94 and 1.04, yet its curves (log scale) still drift down slowly over the whole second half, from
# about 0.5 to about 0.4: a ratio over one tenth of the run is too noisy to show so slow a drift. MAML had not
# finished learning; the authors ran 70,000 iterations, and we did not train longer. The gap in test error, about
# 2, is far larger than that drift.

# %% [markdown]
# **What the paper reports.** Figure 2 of Finn et al. (2017) shows fits of MAML and of the pretrained network to new
# sinusoids with $K = 5$ and $K = 10$ points, before adaptation and after 1 and 10 gradient steps: after its steps
# MAML's curve follows the true sinusoid, the pretrained network's does not. The caption of its Figure 3 adds that MAML
# keeps improving with more gradient steps without overfitting the few points, reaching a loss substantially lower than
# fine-tuning the pretrained network. The paper reports these results as plots, so we compare qualitatively and quote no
# numbers. Our table shows the same picture (full mode): the pretrained network, with its tuned step, loses a fifth
# to a quarter of its error in the first step; with $K = 10$ it keeps improving slowly, with $K = 5$ it stalls between 5
# and 10 steps (the paired change is within about one standard error of 0, printed). MAML drops sharply after one
# step, keeps improving, and from the first step on stays about 3.5 to 14 times lower.
#
# ## Why vmap: the meta-step's speed
# The next cell times the vmapped meta-step against a plain Python loop over the 25 tasks with
# `torch.autograd.grad(create_graph=True)`, same network, same tasks (a small timing, not a benchmark: other
# programs running on your machine change it; `metarl-edu bench sinusoid` runs the full one). Why it can be faster:
# the loop builds 25 small graphs in Python, one per task, each a chain of tiny matrix products, and Python's and
# torch's fixed cost per operation dominates at this size; `vmap` stacks the 25 tasks along a new batch dimension,
# so each layer of the inner step and of its second-order backward pass is one operation on all tasks at once.

# %%
timing = bench_sinusoid(n_iterations=size(quick=10, full=200), repeats=1, warmup=size(quick=2, full=10), threads=1)
print(f"{timing['n_iterations']} meta-iterations: vmap {timing['vmap_s']:.2f} s, loop {timing['loop_s']:.2f} s; "
      f"vmap is {timing['speedup']:.1f}x faster")

# %% [markdown]
# ## Explore: K and the number of steps
# A new sinusoid, and the two trained learners adapted to its first $K$ points; the title scores each setting on 50
# other new sinusoids (the mean query MSE and its standard error), since one task can flatter either learner. With $K =
# 1$ or $2$, watch MAML still guess a sinusoid (it has learned what the tasks look like); with more steps, watch the
# pretrained network fit the points but not the curve between them. The explorer steps both networks with MAML's
# $\alpha = 0.01$ for every $K$ (the tuned steps above were chosen for $K = 5$ and $10$ only), so its pretrained
# scores are those of an untuned baseline.

# %%
maml_fit_explorer(maml, pretrained, k=5, steps=1, seed=0)

# %% [markdown]
# ## Summary and next
# - MAML learns an initialisation $\theta$ such that one step $\theta' = \theta - \alpha \nabla \mathcal L(\theta)$
#   on a few points of a new task does well; its meta-gradient differentiates through that step (second order),
#   or treats the inner gradient as a constant (first order).
# - With `torch.func`, adaptation is a pure function from a parameter dict to a parameter dict, and `vmap` turns a
#   loop over tasks into one batched computation.
# - On sinusoids MAML adapts from 5 points far better than a network pretrained on all tasks and then fine-tuned.
# - Next, **08 · MAML for RL**: the same inner loop with the REINFORCE loss of lesson 06 as $\mathcal L_i$, on 2D
#   navigation and on CartPole with varied physics, through `MAMLAgent(env).train()`.
