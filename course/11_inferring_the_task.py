# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: 'Inferring the task: Bayes-optimal behaviour and meta-exploration'
#     minutes: 95
#     prerequisites:
#     - '09 Learning to explore: RL^2'
#     - 10 Evaluating meta-RL
#     objectives:
#     - describe a meta-learner as an agent that infers which task it is in, and the belief MDP whose optimal policy
#       is the best any such agent can do
#     - write the Beta posterior update and the one-step Bayes backup, and solve a two-armed bandit's belief MDP exactly
#     - measure how far Gittins, Thompson sampling, UCB1 and RL^2 are from the Bayes-optimal total, with paired
#       intervals
#     - write the Gaussian goal-posterior update from two observed distances, and compare a belief-based agent with
#       RL^2, MAML and a goal-aware oracle on the same held-out 2D navigation goals
#     - compute the value of information in a signpost gridworld and explain why greedy exploitation ignores the sign
# ---

# %% [markdown]
# A meta-learned agent dropped into a new task does not know which task it is in. Everything it has seen so far,
# the actions, rewards and observations of the trial, narrows that down. An agent that acted on the posterior over
# tasks given its history, and planned ahead for what it will learn next, would be the best possible agent for the
# task distribution: the **Bayes-optimal** agent. RL$^2$ (lesson 09) never computes a posterior; but its hidden state
# is a summary of the history, and training across tasks rewards it for acting as if it had one. This lesson
# computes the Bayes-optimal agent **exactly** where that is possible, and measures how close the others come.
#
# The idea is old. Bellman (1956) and Duff (2002) cast learning under uncertainty as planning in a **belief MDP**
# (Duff calls it the Bayes-adaptive MDP): its state is the belief, the posterior over tasks; its transitions are
# Bayes' rule applied to what the agent observes next; its reward is the expected reward under the belief. Its
# optimal policy is the Bayes-optimal policy. The survey by Ghavamzadeh, Mannor, Pineau & Tamar (2015, *Bayesian
# reinforcement learning: a survey*) covers the exact and approximate ways to solve it; for most tasks the belief
# space is far too large to solve exactly, and meta-RL can be read as one way to approximate it.

# %%
import itertools

import matplotlib.pyplot as plt
import numpy as np
import torch

from metarl_edu import size
from metarl_edu.bandits import UCB1, Random, ThompsonSampling
from metarl_edu.bayes import BayesOptimal, bayes_optimal_bandit, solve_signpost
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.envs.signpost import SignpostWorld
from metarl_edu.notebook.bayes import bayes_bandit_explorer, format_table, policy_tree
from metarl_edu.notebook.rl2 import format_results, format_seeds, plot_results
from metarl_edu.notebook.belief import belief_path, plot_belief_steps
from metarl_edu.studies.bandit_baselines import Gittins, evaluate_strategy, grid_search
from metarl_edu.studies.belief import compare as compare_belief
from metarl_edu.studies.belief import held_out_goals, load_run, paired_table, shipped_belief_runs
from metarl_edu.studies.evaluation import paired_bootstrap_ci
from metarl_edu.studies.maml_rl import load_run as load_maml_run
from metarl_edu.studies.maml_rl import shipped_run
from metarl_edu.studies.meta_exploration import rollout, signpost_table
from metarl_edu.studies.rl2 import course_agents, evaluate_seeds

torch.set_num_threads(1)
start_lesson("11_inferring_the_task", kind="master")

# %% [markdown]
# ## The belief of a bandit player
# Lesson 09's family, with $k = 2$ arms: a bandit's arm means $p_1, p_2$ are drawn uniformly from $[0, 1]$, and a
# trial is $n$ pulls. The uniform distribution is the Beta(1, 1) distribution, and the Beta family is **conjugate**
# to Bernoulli rewards: if the belief about $p_i$ is $\mathrm{Beta}(\alpha_i, \beta_i)$ and arm $i$ pays $r \in \{0, 1\}$,
# the posterior is $\mathrm{Beta}(\alpha_i + r, \beta_i + 1 - r)$. A success adds one to $\alpha$, a failure one to
# $\beta$, and the arm that was not pulled keeps its belief. After $s_i$ successes and $f_i$ failures the belief
# is $\mathrm{Beta}(1 + s_i, 1 + f_i)$, with mean $\mu_i = (1 + s_i)/(2 + s_i + f_i)$: the probability that
# arm $i$ pays on its next pull. The counts $(s_1, f_1, s_2, f_2)$ are the whole belief.
#
# **Exercise 1.** Write `beta_update(alpha, beta, arm, reward)` for B bandits at once: `alpha` and `beta` of shape
# (B, k) are the Beta parameters of every arm, `arm` (B,) the arm each bandit pulled, `reward` (B,) what it paid,
# 0 or 1. Return the new `(alpha, beta)` as new arrays; leave the arrays passed in unchanged. For example, with
# Beta(1, 1) on both arms of one bandit, `arm = [1]` paying 1 gives `alpha = [[1, 2]]`, `beta = [[1, 1]]`: the code
# counts arms from 0, so index 1 is the second arm (the prose counts from 1: arm 1 and arm 2).
# (`alpha[np.arange(B), arm]` is one entry per row: bandit b's pulled arm.)


# %%
def beta_update(alpha, beta, arm, reward):
    """Bayes' rule for Beta beliefs: the pulled arm's alpha gains the reward, its beta 1 - reward; new arrays."""
    ### BEGIN SOLUTION id=beta_update points=2 replaces=metarl_edu.classroom.references.beta_update_reference hint="Copy alpha and beta, then add reward to alpha[rows, arm] and 1 - reward to beta[rows, arm], with rows = np.arange(B)"
    alpha, beta = np.array(alpha, dtype=float), np.array(beta, dtype=float)
    rows = np.arange(alpha.shape[0])
    alpha[rows, arm] += reward
    beta[rows, arm] += 1 - np.asarray(reward, dtype=float)
    return alpha, beta
    ### END SOLUTION


# %%
check("beta_update", beta_update)

# %%
### BEGIN HIDDEN TESTS id=beta_update
import numpy as np
### PROBE
_a, _b = beta_update(np.array([[1.0, 4.0]]), np.array([[2.0, 1.0]]), np.array([0]), np.array([0.0]))
### JUDGE
assert np.allclose(_a, [[1, 4]]) and np.allclose(_b, [[3, 1]])
### END HIDDEN TESTS

# %% [markdown]
# Your update against the counts: one bandit played for 8 pulls, each arm's posterior read off your updates, then
# compared with $\mathrm{Beta}(1 + s_i, 1 + f_i)$ from its pull counts.

# %%
update = pick("beta_update", beta_update)
rng = np.random.default_rng(0)
p = np.array([[0.3, 0.7]])
alpha, beta = np.ones((1, 2)), np.ones((1, 2))
pulls = rng.integers(0, 2, size=8)
rewards = (rng.random(8) < p[0, pulls]).astype(float)
for a, r in zip(pulls, rewards, strict=True):
    alpha, beta = update(alpha, beta, np.array([a]), np.array([r]))
s = np.array([rewards[pulls == i].sum() for i in range(2)])
f = np.array([(pulls == i).sum() for i in range(2)]) - s
print(f"pulls (0 = arm 1, 1 = arm 2) {pulls.tolist()}, rewards {rewards.astype(int).tolist()}")
print(f"posterior: arm 1 Beta({alpha[0, 0]:g}, {beta[0, 0]:g}), arm 2 Beta({alpha[0, 1]:g}, {beta[0, 1]:g}); "
      f"means {np.round(alpha / (alpha + beta), 3)[0].tolist()}")
assert np.allclose(alpha[0], 1 + s) and np.allclose(beta[0], 1 + f)

# %% [markdown]
# ## The belief MDP and its Bayes backup
# Plan in the space of beliefs. With $t = s_1 + f_1 + s_2 + f_2$ pulls made and $n$ in all, the value $V(b)$ of a
# belief $b$ is the expected reward of the pulls still to come, when the player acts optimally from there on. Pulling
# arm $i$ pays 1 with probability $\mu_i$ and moves the belief to $b^{+i}$ (a success added to arm $i$), or pays 0 and
# moves it to $b^{-i}$:
#
# $$Q(b, i) = \mu_i \left(1 + V(b^{+i})\right) + (1 - \mu_i)\, V(b^{-i}), \qquad V(b) = \max_i Q(b, i),$$
#
# and $V = 0$ once $t = n$. This is the Bellman optimality backup of lesson 01, on an MDP whose states are beliefs:
# the only uncertainty left in it is the next reward, whose probability the belief gives. Solving it backwards from
# $t = n$ gives the **Bayes-optimal** policy: the highest expected total over bandits drawn from the prior, by
# construction, since it optimises exactly that.
#
# **Exercise 2.** Write the backup `bayes_backup(alpha, beta, v_success, v_failure)`: all four arrays have the arms on
# their last axis, shape (..., k); `v_success[..., i]` is $V(b^{+i})$ and `v_failure[..., i]` is $V(b^{-i})$.
# Return `(q, v)`: `q` of shape (..., k), and `v`, the best arm's value, of shape (...). Example: $\alpha = (3, 1)$,
# $\beta = (1, 1)$, so $\mu = (3/4, 1/2)$; with $V(b^{+}) = (1, 2)$ and $V(b^{-}) = (0.5, 0)$,
# $Q = (3/4 \cdot 2 + 1/4 \cdot 0.5,\ 1/2 \cdot 3 + 1/2 \cdot 0) = (1.625, 1.5)$ and $V = 1.625$.


# %%
def bayes_backup(alpha, beta, v_success, v_failure):
    """Q_i = mu_i (1 + V_success_i) + (1 - mu_i) V_failure_i with mu_i = alpha_i / (alpha_i + beta_i); V = max_i Q_i."""
    ### BEGIN SOLUTION id=bayes_backup points=3 replaces=metarl_edu.classroom.references.bayes_backup_reference hint="Take the posterior mean of each arm from alpha and beta, weigh 1 + v_success by it and v_failure by one minus it, then take the best arm along the last axis"
    mu = alpha / (alpha + beta)
    q = mu * (1 + v_success) + (1 - mu) * v_failure
    return q, q.max(axis=-1)
    ### END SOLUTION


# %%
check("bayes_backup", bayes_backup)

# %%
### BEGIN HIDDEN TESTS id=bayes_backup
import numpy as np
### PROBE
_q, _v = bayes_backup(np.array([[1.0, 1.0]]), np.array([[3.0, 1.0]]), np.array([[4.0, 0.0]]), np.array([[0.0, 2.0]]))
### JUDGE
assert np.allclose(_q, [[0.25 * 5, 0.5 * 1 + 0.5 * 2]]) and np.allclose(_v, [1.5])
### END HIDDEN TESTS

# %% [markdown]
# Your backup solves the whole belief MDP: one belief at a time, from the last pull back to the first. The values
# worked by hand: $n = 1$ is one pull at the prior mean, $1/2$. For $n = 2$, pull either arm; if it paid (probability
# $1/2$) its mean is now $2/3$, so pull it again; if not, switch to the other arm at $1/2$:
# $V = 1/2 + 1/2 \cdot 2/3 + 1/2 \cdot 1/2 = 13/12$.

# %%
backup = pick("bayes_backup", bayes_backup)


def solve_with(backup, n, prior=(1.0, 1.0)):
    """V of the empty belief: the Bayes-optimal expected total of n pulls, one belief at a time."""
    a, b = prior
    v_next = {}  # V at depth t + 1, keyed by the counts (s1, f1, s2, f2); empty (all 0) at depth n
    for t in range(n - 1, -1, -1):
        v = {}
        for s1, f1, s2 in itertools.product(range(t + 1), repeat=3):
            f2 = t - s1 - f1 - s2
            if f2 < 0:
                continue
            after_success = [v_next.get((s1 + 1, f1, s2, f2), 0.0), v_next.get((s1, f1, s2 + 1, f2), 0.0)]
            after_failure = [v_next.get((s1, f1 + 1, s2, f2), 0.0), v_next.get((s1, f1, s2, f2 + 1), 0.0)]
            _, v[s1, f1, s2, f2] = backup(np.array([a + s1, a + s2]), np.array([b + f1, b + f2]),
                                          np.array(after_success), np.array(after_failure))
        v_next = v
    return float(v_next[0, 0, 0, 0])


# %%
for n in (1, 2, 3, 6):
    print(f"n = {n}: your backup gives V = {solve_with(backup, n):.6f}; the library's "
          f"bayes_optimal_bandit: {bayes_optimal_bandit(n).value:.6f}")
assert abs(solve_with(backup, 2) - 13 / 12) < 1e-9
assert abs(solve_with(backup, 6) - bayes_optimal_bandit(6).value) < 1e-9

# %% [markdown]
# ## The exact ceiling
# The loop above visits one belief at a time. `metarl_edu.bayes.bayes_optimal_bandit(n, prior)` does the same
# backward induction a whole depth at a time: the beliefs with $t$ pulls made form a cube indexed by
# $(s_1, f_1, s_2)$ (then $f_2 = t - s_1 - f_1 - s_2$), and their successors are the same cube of depth $t + 1$
# shifted by one along an axis, so each depth is a few numpy operations. There are $\binom{t + 3}{3}$ beliefs at depth
# $t$ and $\binom{n + 3}{4}$ in all.

# %%
exact = {n: bayes_optimal_bandit(n) for n in (10, 20, 30)}
for n, solution in exact.items():
    print(f"n = {n}: Bayes-optimal expected total {solution.value:.4f} ({solution.value / n:.4f} per pull; random "
          f"play {n / 2:.1f}, always the better arm {2 * n / 3:.2f}); {solution.n_states:,} beliefs, solved in "
          f"{solution.seconds * 1000:.0f} ms")
print()
print(policy_tree(exact[10], depth=3))

# %% [markdown]
# Read the tree: at the start both arms are equal. After a success the player stays; after a failure it switches to
# the untried arm, whose mean $1/2$ is above the failed arm's $1/3$. After one success and one failure on arm 1 the
# two arms have the same mean $1/2$, yet the player switches: the untried arm is worth more, because pulling it
# **teaches** more. That is exploration, and here it is not a heuristic bonus but a consequence of planning over
# beliefs.
#
# **The widget.** Pick the horizon $n$ and the prior $\mathrm{Beta}(a, b)$ of both arms. The map shows, for each
# count of arm 1's successes (rows) and failures (columns), with arm 2 at the counts set by the lower sliders, which arm
# the Bayes-optimal player pulls next (blue: arm 1, red: arm 2; the colour is $Q_1 - Q_2$). Beside it, the tree of
# its first pulls. Move $n$ from 2 to 30 with arm 2 untried: with more pulls ahead, the player tries arm 2 after
# fewer failures of arm 1, since what it learns has more pulls to pay off in. The prior acts through the untried
# arm: a strongly pessimistic one (such as Beta(1, 3)) makes the untried arm look poor, so the player keeps pulling
# an arm that has paid before through more failures (with $n = 20$, after 3 successes it switches only after 5
# failures, against 2 with the flat prior); a strongly optimistic one (such as Beta(3, 1)) makes it switch after the
# first failure. Mild priors (such as Beta(5, 3)) behave like the flat one.

# %%
bayes_bandit_explorer(horizon=10)

# %% [markdown]
# ## How close do the others come?
# All players on the same held-out two-armed bandits (lesson 09's protocol): the Bayes-optimal policy played by
# `BayesOptimal(horizon=n)`, the Gittins index with $\gamma = 0.9$, Thompson sampling, both UCB1 variants with $c$
# tuned on other bandits, random play, and RL$^2$ trained on this family ($k = 2$ arms, trials of $n$ pulls). The
# exact Bayes-optimal total $V^*$ is the ceiling; the **gap** of a player is how much of the way from random play
# to that ceiling it leaves: (the played Bayes-optimal player's total minus the player's, paired on each bandit)
# $/ (V^* - n/2)$, in %. Random play's gap is therefore about 100%, give or take the noise of the played optimum.
#
# Every comparison is **paired**: each player's total minus the Bayes-optimal policy's total on the same bandit,
# with a bootstrap interval over bandits (lesson 10). The Bayes-optimal player's own mean is close to the exact value
# but not equal to it (it is a sample); the pairing removes most of that noise.
#
# In full mode RL$^2$ is the three agents per horizon shipped with the package (each made by
# `metarl-edu train rl2 --task bandit --episodes N --k 2 --seed S`, lesson 09's bandit preset; the command is in
# each run's `eval.json`), averaged per bandit. Quick mode scores seed 0 alone on fewer bandits; its numbers are not
# the lesson's results.

# %%
K, HORIZONS = 2, (10, 20)
N_BANDITS = size(quick=300, full=4000)
EVAL_SEED, TUNE_SEED = 0, 1
C_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
PRIORS = {"UCB1 (textbook)": None, "UCB1 with Beta(1,1) statistics": (1, 1)}

results, per_seed = {}, {}
for n in HORIZONS:
    results[n] = {"Bayes-optimal (played)": evaluate_strategy(BayesOptimal(horizon=n), n, K, N_BANDITS, rng=EVAL_SEED)}
    agents = course_agents("bandit", n, k=K, seeds=range(3))
    results[n]["RL^2"], per_seed[n] = evaluate_seeds(agents, n_tasks=N_BANDITS, rng=EVAL_SEED)
    for variant, prior in PRIORS.items():
        c, _ = grid_search(lambda c, prior=prior: UCB1(c=c, prior=prior), C_GRID, n_pulls=n, k=K,
                           n_bandits=N_BANDITS, rng=TUNE_SEED)
        results[n][f"{variant}, c={c}"] = evaluate_strategy(UCB1(c=c, prior=prior), n, K, N_BANDITS, rng=EVAL_SEED)
    for strategy in (Gittins(gamma=0.9, horizon=n), ThompsonSampling(), Random()):
        results[n][strategy.name] = evaluate_strategy(strategy, n, K, N_BANDITS, rng=EVAL_SEED)
    print(format_results(results[n], f"n = {n}, k = {K}, {N_BANDITS} held-out bandits; exact Bayes-optimal "
                                     f"total {exact[n].value:.3f}"))
    print(format_seeds(per_seed[n], digits=3) + "\n")

# %%
print(size(quick="Quick mode: RL^2 is one seed on few bandits; these numbers are quick mode's, the prose below quotes "
                 "full mode's.", full="Full mode."))
gaps = {}
for n in HORIZONS:
    optimum, played = exact[n].value, results[n]["Bayes-optimal (played)"].totals
    print(f"n = {n}: each player minus the Bayes-optimal player on the same bandits, and its gap to the optimum "
          f"in % of (optimum - random = {optimum - n / 2:.3f})")
    for name, result in results[n].items():
        if name == "Bayes-optimal (played)":
            continue
        diff = paired_bootstrap_ci(result.totals, played, rng=0)
        gaps[n, name] = [100 * -x / (optimum - n / 2) for x in (diff.estimate, diff.high, diff.low)]
        print(f"  {name:<40} {diff.estimate:+7.3f} [{diff.low:+.3f}, {diff.high:+.3f}]   gap {gaps[n, name][0]:5.1f}% "
              f"[{gaps[n, name][1]:.1f}, {gaps[n, name][2]:.1f}]")
assert results[10]["RL^2"].mean_total > size(quick=-np.inf, full=results[10]["Random()"].total_ci[1])

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for ax, n in zip(axes, HORIZONS, strict=True):
    plot_results(results[n], ax=ax, title=f"n = {n}, k = {K}: mean total (95% CI)")
    ax.axvline(exact[n].value, color="black", linestyle="--", linewidth=1, label="exact Bayes-optimal")
    ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What this shows.** Read the gaps printed above. In full mode, the Gittins index (Bayes-optimal only for
# infinitely many discounted pulls) and UCB1 with Beta(1,1) statistics and a tuned $c$ come within about 1% of the
# way from random play to the finite-horizon optimum, with intervals that include no gap at all; on two arms and
# these horizons they are indistinguishable from optimal. Thompson sampling, which explores by sampling its belief rather than
# by planning with it, leaves a quarter or more of the way; textbook UCB1, which must pull both arms first, 5-10%.
# RL$^2$ (lesson 09's preset, two to seven minutes of training per agent on one CPU core) cannot be told apart
# from the Bayes-optimal player at $n = 10$ or $n = 20$ with 4,000 bandits: its paired interval includes 0, and its
# gap interval spans about -8% to +4% at $n = 10$ and -3% to +4% at $n = 20$. On this small family, the mean total of
# RL$^2$ trained from reward alone cannot be told from the exact Bayes-optimal player's, within a few percent of the
# way from random play, which is what the theory below says it approximates; whether it makes the same pulls is
# not measured here (its gap interval is also several times wider than Gittins'). On
# lesson 09's five-armed bandits with 10 pulls it ended 0.03 below the exact optimum (6.660), tied with UCB1 with
# Beta(1,1) statistics. For 100 pulls, and for random MDPs, there is no exact ceiling to compare with: there it stayed
# behind Gittins on long bandit trials, and passed the counting planners on random MDPs with 10 episodes only when
# trained on large batches for 2,000 iterations (about 149 against greedy's 135 and PSRL's 138), still below a planner
# that knows the task prior (about 157); with 25 episodes it passes greedy (about 376 against 361) and stays behind PSRL
# (406).
#
# **Approximately Bayes-optimal meta-learners.** Ortega et al. (2019, *Meta-learning of sequential strategies*)
# argue that a memory-based meta-learner trained to maximise return over a task distribution is pushed towards the
# Bayes-optimal policy of that distribution, its memory towards a sufficient statistic of the history; Mikulik et al.
# (2020, *Meta-trained agents implement Bayes-optimal agents*) compared recurrent meta-trained agents with exactly
# solved Bayes-optimal ones on small bandit and prediction tasks and found them behaving alike. Our RL$^2$ gap is a
# measurement of the same kind, on one task family. **VariBAD** (Zintgraf et al. 2020, *VariBAD: a very good method
# for Bayes-adaptive deep RL via meta-learning*) makes the belief explicit: a recurrent encoder maps the trial's
# history to a Gaussian posterior over a latent task variable, trained with a variational objective to predict
# rewards and transitions, and the policy acts on the state and that posterior; the authors describe it as
# approximately Bayes-optimal. **PEARL** (Rakelly et al. 2019, *Efficient off-policy meta-reinforcement learning via
# probabilistic context variables*) also infers a posterior over a latent context, but acts by **posterior
# sampling**: it draws one task hypothesis and acts as if it were true, as Thompson sampling does for bandits (and
# PSRL for MDPs, lesson 09); its abstract reports that it outperforms prior algorithms in meta-training sample
# efficiency by 20-100x. Posterior sampling does not plan to gather information, which is why Thompson sampling's
# gap above is larger than Gittins'.
#
# ## A belief-based agent on 2D navigation
# RL$^2$ keeps its belief implicit, in a recurrent state. The other route makes it explicit: an **encoder** turns
# the transitions seen so far into a posterior over the task, and the **policy** acts on the state *and* that
# posterior. Take lesson 08's 2D navigation: a point starts at the origin, each step moves it by at most 0.1 per
# coordinate, and it is paid $r = -\lVert p - g \rVert$, minus its distance to a goal $g$ drawn uniformly in
# $[-0.5, 0.5]^2$ that it cannot see. Everything the agent learns about $g$ comes from these distances.
#
# One distance says only that $g$ lies on a circle. Two distances $d, d'$ at consecutive positions $p, p'$ say one
# **linear** thing: subtract $d^2 = \lVert p\rVert^2 - 2\,p\cdot g + \lVert g\rVert^2$ from
# $d'^2 = \lVert p'\rVert^2 - 2\,p'\cdot g + \lVert g\rVert^2$ and $\lVert g\rVert^2$ cancels:
#
# $$u \cdot g = y, \qquad u = p' - p, \qquad y = \tfrac12\left(d^2 - d'^2 + \lVert p'\rVert^2 - \lVert p\rVert^2\right).$$
#
# If $y$ is observed with Gaussian noise of std $\sigma$, a Gaussian belief $\mathcal N(\mu, \Lambda^{-1})$ over the goal
# stays Gaussian. In natural parameters (the precision $\Lambda$ and $\Lambda\mu$) Bayes' rule is an addition:
#
# $$\Lambda' = \Lambda + \frac{u u^\top}{\sigma^2}, \qquad \Lambda' \mu' = \Lambda \mu + \frac{u\, y}{\sigma^2}.$$
#
# The step teaches the belief about the goal only along the direction moved, $u$; across it the belief keeps what it
# had. Two steps in different directions pin the goal down.
#
# **Exercise 3. The Gaussian goal-posterior update.** Write `goal_update(mean, precision, p, p_next, d, d_next,
# noise)`: `mean` (2,) and `precision` (2, 2) are the belief, `p` and `p_next` (2,) the positions before and after a
# step, `d` and `d_next` the distances to the goal observed there, `noise` the std $\sigma$ of $y$. Return the new
# `(mean, precision)` as new arrays. Example: mean $(0, 0.1)$, precision $10 I$, a step from $(0.1, 0)$ to
# $(0.2, 0)$ with distances $0.3 \to 0.2$ and $\sigma = 0.01$: $u = (0.1, 0)$, $y = 0.04$ (the goal's $x$ would be
# 0.4), $\Lambda' = \mathrm{diag}(110, 10)$ and $\mu' = (40/110, 0.1)$. (`np.outer(u, u)` is $u u^\top$;
# `np.linalg.solve(A, b)` solves $A x = b$.)


# %%
def goal_update(mean, precision, p, p_next, d, d_next, noise):
    """Bayes' rule for a Gaussian belief over the goal after one step: u.g = y observed with noise std `noise`."""
    ### BEGIN SOLUTION id=goal_update points=3 replaces=metarl_edu.classroom.references.goal_update_reference hint="u is the step p_next - p and y half of d^2 - d_next^2 + |p_next|^2 - |p|^2; add the outer product of u with itself, over noise squared, to the precision; then solve the new precision against precision @ mean + u * y / noise**2 for the new mean"
    u = p_next - p
    y = (d**2 - d_next**2 + p_next @ p_next - p @ p) / 2
    new_precision = precision + np.outer(u, u) / noise**2
    return np.linalg.solve(new_precision, precision @ mean + u * y / noise**2), new_precision
    ### END SOLUTION


# %%
check("goal_update", goal_update)

# %%
### BEGIN HIDDEN TESTS id=goal_update
import numpy as np
### PROBE
_mean, _precision = goal_update(np.array([0.1, 0.0]), 4 * np.eye(2), np.array([0.0, 0.0]), np.array([0.0, 0.1]),
                                0.5, 0.4, 0.1)
### JUDGE
# u = (0, 0.1), y = (0.25 - 0.16 + 0.01) / 2 = 0.05; precision diag(4, 4 + 1); mean (0.4 / 4, 0.5 / 5)
assert np.allclose(_precision, [[4.0, 0.0], [0.0, 5.0]]) and np.allclose(_mean, [0.1, 0.1])
### END HIDDEN TESTS

# %% [markdown]
# Your update on a walk: three steps from the origin towards a hidden goal, starting from the prior (mean 0, variance
# $1/12$ per coordinate, that of the uniform distribution) and $\sigma = 0.001$. The first step gives no pair of
# distances yet; the next two, in different directions, pin the goal down (with a larger $\sigma$ the prior would
# pull the mean towards the origin).

# %%
update = pick("goal_update", goal_update)
hidden_goal = np.array([0.31, -0.22])
walk = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [0.2, -0.1]])
mean, precision = np.zeros(2), 12 * np.eye(2)
for p, p_next in zip(walk[1:-1], walk[2:], strict=True):
    mean, precision = update(mean, precision, p, p_next, np.linalg.norm(p - hidden_goal),
                             np.linalg.norm(p_next - hidden_goal), 0.001)
    std = np.sqrt(np.diag(np.linalg.inv(precision)))
    print(f"after the step to {p_next}: mean {np.round(mean, 3)}, std {np.round(std, 4)}")
assert np.allclose(mean, hidden_goal, atol=0.01)

# %% [markdown]
# **The agent.** `metarl_edu.belief` builds a small agent on this idea, in the style of PEARL's product of Gaussian
# factors (Rakelly et al. 2019): each transition contributes one factor of exactly the shape above, and a small
# network $f$ learns its precision, $1/\sigma^2 = \exp f(\lVert u\rVert, d, d')$, that is how much to trust it. The
# encoder is trained by **maximum likelihood of the true goal** under the posterior after every step, the
# privileged task supervision of Humplik et al. (2019, *Meta reinforcement learning as task inference*), not with
# VariBAD's reward decoder. The posterior is carried across the episodes of a trial: episode 2 starts with the belief
# episode 1 ended with. The policy is lesson 06's Gaussian MLP policy on $(p, \mu, \sigma)$: position, belief mean and
# belief std per coordinate, trained with lesson 06's REINFORCE loss, linear baseline and normalised advantages, one
# loss per episode. The **oracle** is the same network fed the true goal with zero std, $(p, g, 0)$.
#
# This is a structured encoder: the shape of each factor comes from the algebra above, only its weight is learned.
# When we gave an unstructured factor network the raw $(p, p', d, d')$ instead, it did not learn a useful posterior
# in a comparable few minutes of training; the price of the structure is that this encoder suits this task family
# only.
#
# Why give the policy the belief's **std** and not only its mean? At the start the mean is the origin, where the
# agent already stands. A certainty-equivalent policy, one that acts as if the mean were the goal, would stand still,
# observe the same distance again and again, and learn nothing. With the std in its input the policy can tell "I am
# at the goal" from "I have no idea where the goal is", and learns to move, in a direction that informs, while it
# is unsure.
#
# Three agents were trained with `metarl-edu train belief --seed S --out DIR` (1,000 iterations of 20 goals x 5
# trials of 2 episodes, one to six minutes on one CPU core each, depending on the machine's load; the command is in each run's `eval.json`) and ship
# with the package. The picture below follows one episode of the seed-0 agent on a held-out goal: in grey the exact
# posterior over the goal on a $101 \times 101$ grid (uniform prior, each distance observed with Gaussian noise of std
# 0.01, every distance so far), in blue the encoder's Gaussian (1 and 2 std).

# %%
belief_runs = shipped_belief_runs()
belief_agents = [load_run(run) for run in size(quick=belief_runs[:1], full=belief_runs)]
path = belief_path(belief_agents[0], held_out_goals(1)[0], seed=0)
shown = (1, 2, 3, 4, len(path.distances))  # the last: the step that reached the goal (or step 100)
plot_belief_steps(path, steps=shown)
plt.show()
for t in shown:
    std = np.sqrt(np.diag(path.covs[t - 1]))
    print(f"after step {t:3d}: distance {path.distances[t - 1]:.3f}; encoder's mean {np.round(path.means[t - 1], 3)}, "
          f"{np.linalg.norm(path.means[t - 1] - path.goal):.4f} from the goal, std {np.array2string(std, precision=4)}")

# %% [markdown]
# Read the panels with the printed lines. After one step the exact posterior is a ring around the first position:
# one distance, every direction possible. The encoder, which needs a pair of distances, still holds the prior. The
# agent then turns: its second step goes off at an angle to its first, and after it the encoder's Gaussian is a thin
# line across the direction of that step (it knows $u \cdot g$, nothing else), lying along the arc where the exact
# posterior's two rings nearly touch. A third step in yet another direction pins the goal down, and from there
# the agent walks straight to it and the episode ends. The agent was never told to turn; it learned that turning
# early is what makes the rest of the episode cheap.
#
# The exact posterior assumes each distance is measured with noise of std 0.01, so that there is something to
# see: the environment's distances are exact, and without noise the exact posterior after three steps is a single
# point. Under that noise it still keeps a faint second guess after step 3 (top of that panel), which the encoder
# does not: the encoder has learned from its training data that distances are exact, and its std after three steps
# is a few thousandths.
#
# **The comparison.** The same held-out goals as lesson 08 (`held_out_goals` draws exactly the goals
# `MAMLAgent.evaluate(n_tasks, seed=77)` draws, none a training goal), every agent with sampled actions:
#
# - the belief agent's returns in episodes 1, 2 and 3 of a trial on a new goal, 20 trials per goal;
# - RL$^2$'s returns in the same three episodes, 20 trials per goal (the agent is described below);
# - MAML after 0, 1 and 2 inner gradient steps (lesson 08's shipped runs, `nav2d-seed0..2`), 20 trajectories per goal
#   and step (lesson 08 tests with 40, the paper's test batch: MAML after two steps scores about -3.6 there, -4.3
#   here; the comparison below does not turn on that);
# - the oracle: the belief agent's network told the goal; and the straight-line oracle of lesson 08, which walks
#   straight at the goal and is the best return possible.
#
# **Mind the data.** MAML's one inner step uses a batch of 20 episodes on the new goal; the belief agent's
# "episode 2" has seen one. Both numbers are about the first episodes played *after* that data. Every difference is
# paired by goal, with a bootstrap interval over goals (lesson 10). Quick mode uses one seed of each and a handful of
# goals; full mode, every shipped seed of each (averaged per goal) and 100 goals.
#
# **RL$^2$ on 2D navigation.** Lesson 09's recurrent agent with a Gaussian head instead of a categorical one
# (`RL2Policy(..., continuous=True)`, `metarl_edu.studies.rl2_nav`): at every step the GRU reads the position, the
# previous displacement, the previous reward (minus the distance to the goal) and the flag that an episode just
# ended, and proposes the next displacement; its std is a learned parameter, as in lesson 06's Gaussian policy. The
# hidden state is carried across the episodes of a trial and emptied at the next trial, on a new goal. It is
# trained with lesson 09's PPO update (GAE over the whole trial of 2 episodes, so that what episode 1 finds out pays
# in episode 2), 64 goals per batch, and nothing else: no encoder, no goal supervision, no structure. It has to
# learn from reward alone both what to infer and how.

# %%
import json

from metarl_edu.studies.rl2_nav import load_run as load_rl2_nav
from metarl_edu.studies.rl2_nav import shipped_rl2_nav_runs

rl2_nav_runs = shipped_rl2_nav_runs()
rl2_nav_agents = [load_rl2_nav(run) for run in size(quick=rl2_nav_runs[:1], full=rl2_nav_runs)]
minutes = [json.loads((run / "eval.json").read_text())["train_seconds"] / 60 for run in rl2_nav_runs]
print(f"RL^2 on 2D navigation: {len(rl2_nav_runs)} shipped seed(s), each trained for "
      f"{np.round(minutes, 1).tolist()} minutes on one core")
configs = {name: [json.loads((run / "eval.json").read_text())["config"] for run in runs]
           for name, runs in (("RL^2", rl2_nav_runs), ("belief", belief_runs))}
print("training trials of 2 episodes per agent: RL^2", [c["n_iterations"] * c["n_tasks"] for c in configs["RL^2"]],
      "belief", [c["n_iterations"] * c["meta_batch"] * c["n_traj"] for c in configs["belief"]])

# %%
n_goals = size(quick=4, full=100)
maml_agents = [load_maml_run(shipped_run(f"nav2d-seed{s}")) for s in size(quick=(0,), full=(0, 1, 2))]
nav = compare_belief(belief_agents, maml_agents, n_goals, rl2=rl2_nav_agents)
print(f"{n_goals} held-out goals, {len(belief_agents)} belief agent(s), {len(rl2_nav_agents)} RL^2 agent(s), "
      f"{len(maml_agents)} MAML run(s)")
print(paired_table(nav, against="oracle (belief net told g)"))
print()
for first, second in [(f"belief, episode {k}", f"RL^2, episode {k}") for k in (1, 2, 3)] + [
        ("belief, episode 2", "MAML, 1 step"), ("belief, episode 2", "MAML, 2 steps"),
        ("belief, episode 1", "MAML, 2 steps"), ("RL^2, episode 2", "MAML, 2 steps")]:
    diff = paired_bootstrap_ci(nav[first], nav[second], rng=0)
    print(f"{first} minus {second}: {diff.estimate:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]")
ratio = nav["belief, episode 2"].mean() / nav["oracle (belief net told g)"].mean()
print(f"belief episode 2 / oracle (same net): {ratio:.2f}; / straight-line oracle: "
      f"{nav['belief, episode 2'].mean() / nav['oracle (straight line)'].mean():.2f}")
assert nav["belief, episode 2"].mean() > size(quick=-np.inf, full=nav["MAML, 1 step"].mean())

# %% [markdown]
# **What this shows.** Read the table printed above; in full mode (100 goals, three agents of each kind) the belief
# agent's second episode returns about $-0.50$: the same as its own network told the goal (the paired difference is
# within a hundredth either way) and within about 10% of the straight-line oracle ($-0.46$), the best return
# possible. (The tests ask less of every shipped belief agent: a second episode within 20% of its own network told
# the goal.) Its first episode, in which it has to find the goal, costs about one unit
# more ($-1.43$). MAML stays far behind after one inner step ($-11.5$) and after two ($-4.3$): the belief agent's
# second episode is ahead of both, with paired intervals far from 0. Mind the data again: each MAML step used 20
# episodes of the new goal, the belief agent's second episode has seen one, and even its first episode, having
# seen nothing, does better than MAML after two steps.
#
# **RL$^2$** learns, and its memory works: after four to nine minutes of training on one core (printed above; the time
# depends on the machine's load), its episode 2 returns about $-1.0$ in full mode, against $-2.7$ in episode 1, since
# the trial's memory carries what episode 1 found about the goal; episode 2 is far ahead of MAML after two inner steps
# ($+3.3$, paired). But it stays behind the belief agent in every episode, by about 1.3 in episode 1 and 0.5 in
# episode 2, with paired intervals well away from 0: its episode 2 costs about twice the oracle's, where the belief
# agent's matches it, and the belief agents trained for one to six minutes each. RL$^2$ has to learn from reward
# alone what the belief agent was given: the form of the posterior and a goal label to fit it to. Its episode 3, a
# length of trial it never met in training (its trials had two episodes), is no better than episode 2 ($-1.1$); the
# belief agent, trained on two-episode trials too, keeps its posterior and its return. The two did not train on equal
# data: each belief agent met 100,000 trials, each RL$^2$ agent 38,400 (printed above), so whether the structure
# also makes learning faster per trial, and how close RL$^2$ would come with as many trials, a larger network or
# longer trials, this lesson does not measure.
#
# Why is the gap to MAML so large? MAML must write what it learns about the goal into the policy's weights, from one
# noisy policy-gradient step on 20 episodes. The belief agent's encoder does the inference in closed form, with the
# structure we gave it, so three steps are enough to pin the goal down; after that, acting is easy, and the same
# network told the goal does no better. That structure is the comparison's main caveat: VariBAD's recurrent encoder
# and PEARL's unstructured factors must learn the form of the likelihood too, and we have not measured how close
# such an encoder would come in the same few minutes. What the comparison does show is how much is gained when
# adapting to a task is done as inference about the task.
#
# ## Meta-exploration: information and reward in different places
# In a bandit, pulling an arm both pays and informs. Many tasks separate the two. A gridworld family
# (`metarl_edu.envs.signpost`): five candidate goals `G` at the ends of five corridors; the true goal is one of
# them, drawn uniformly, and only it pays 1 (the episode then ends). Two steps behind the start `S`, in a dead end
# that pays nothing, a sign `I` says which candidate is the goal. A trial is $E$ episodes of at most $H = 7$ steps on
# the same task; the agent keeps what it learned from one episode to the next, and each episode starts at `S`.
#
# The belief is the set of candidates not yet ruled out (stepping on a wrong candidate rules it out; the sign leaves
# one). Here the belief MDP is small: cells $\times$ $2^5$ sets $\times$ steps, so `metarl_edu.bayes.solve_signpost`
# solves it exactly, and evaluates any fixed policy exactly as well (no sampling: every number below is an
# expectation over the five tasks). The players: **greedy** walks to the nearest candidate still possible and never
# to the sign; it exploits its belief and ignores where information lies. **Sign first** walks to the sign while more
# than one candidate is left, then to the goal: a hand-written explore-then-exploit plan. **Random** moves at
# random. The **oracle** is told the goal.

# %%
world = SignpostWorld.from_layout("comb")
H, EPISODES = 7, (1, 2, 4)
print(world.render_text(), "\n")
tables = {E: signpost_table(world, E, H) for E in EPISODES}
print(format_table({player: {f"E = {E}": tables[E][player] for E in EPISODES} for player in tables[1]},
                   title=f"expected total reward of a trial of E episodes, H = {H} steps each (exact)"))

# %% [markdown]
# With one episode the sign is worth nothing: from the sign there are 5 steps left, enough to reach only the middle
# goal, so the Bayes-optimal player earns the same $1/5$ with or without the sign. With two or more episodes it reads
# the sign in the first one and scores in every episode after it: the sign doubles what it earns in two episodes,
# and greedy, which never goes there, ends up where the Bayes-optimal player would be without the sign. Whether to
# explore depends on how long the trial lasts, as with the bandit widget above. Here the hand-written sign-first plan
# happens to be exactly optimal; the exact solution is what says so.
#
# The Bayes-optimal player's path for each true goal, in a trial of 2 episodes (cells as (row, column)). After the
# sign, 5 steps are left in episode 1: enough for the middle goal only. When the goal is another one, nothing the
# player does in the rest of episode 1 changes its total, and it walks up the middle corridor.

# %%
solution = solve_signpost(world, 2, H)
for g in range(world.n_goals):
    paths = rollout(solution, g)
    shown = ["->".join(f"{world.cells[c]}" for c in path) for path in paths]
    print(f"goal {g} at {world.cells[world.goals[g]]}:\n  episode 1: {shown[0]}\n  episode 2: {shown[1]}")
assert all(world.sign in rollout(solution, g)[0] for g in range(world.n_goals))
assert abs(solution.value - tables[2]["Bayes-optimal"]) < 1e-12

# %% [markdown]
# **Exercise 4. The value of information.** Standing on the sign, the agent has just learned the goal $g$, which it
# expected to be each candidate with its belief's probability $b(g)$; from there it is worth $V(\text{knowing } g)$.
# Had the sign been blank, the same cell with the same steps left would be worth $V(\text{not knowing})$. The value of
# the information is what it adds on average:
#
# $$\mathrm{VOI} = \sum_g b(g)\, V(\text{knowing } g) - V(\text{not knowing}).$$
#
# Write `information_value(belief, v_informed, v_uninformed)`: `belief` (G,) sums to 1 (0 for a candidate already
# ruled out), `v_informed` (G,), `v_uninformed` a number; return a number. For example $b = (1/2, 1/2, 0)$,
# $V(\text{knowing}) = (3, 1, 9)$ and $V(\text{not knowing}) = 1.5$ give $1.5 + 0.5 - 1.5 = 0.5$.


# %%
def information_value(belief, v_informed, v_uninformed):
    """sum_g b(g) V(knowing g) - V(not knowing)."""
    ### BEGIN SOLUTION id=information_value points=2 replaces=metarl_edu.classroom.references.information_value_reference hint="np.dot(belief, v_informed) is the expected informed value; subtract v_uninformed"
    return float(np.dot(belief, v_informed) - v_uninformed)
    ### END SOLUTION


# %%
check("information_value", information_value)

# %%
### BEGIN HIDDEN TESTS id=information_value
import numpy as np
### PROBE
_value = information_value(np.array([0.25, 0.75]), np.array([2.0, 4.0]), 3.0)
### JUDGE
assert abs(_value - 0.5) < 1e-12
### END HIDDEN TESTS

# %% [markdown]
# Your function on the solved belief MDPs: the value of reading the sign on arrival there in the first episode,
# against a blank sign (the same world with the sign removed), for trials of 1, 2 and 4 episodes. The arrays `v` of
# a solution hold $V$ for each (episode, steps left, cell, belief); a belief is a bit mask over the candidates, so
# $\{g\}$ is `1 << g` and "all five possible" is `2**5 - 1`.

# %%
voi = pick("information_value", information_value)
G, all_goals = world.n_goals, 2 ** world.n_goals - 1
steps_left = H - int(world.distance[world.start, world.sign])  # on arriving at the sign in episode 1
for E in EPISODES:
    with_sign, blank = solve_signpost(world, E, H), solve_signpost(world.without_sign(), E, H)
    v_informed = np.array([with_sign.v[0, steps_left, world.sign, 1 << g] for g in range(G)])
    value = voi(np.full(G, 1 / G), v_informed, blank.v[0, steps_left, world.sign, all_goals])
    print(f"E = {E}: value of reading the sign = {value:.3f}   (Bayes-optimal with the sign minus without: "
          f"{tables[E]['Bayes-optimal'] - tables[E]['Bayes-optimal without the sign']:.3f})")

# %% [markdown]
# The information is worth nothing in a trial of one episode and 0.6 or more from two episodes on. An agent that
# weighs each detour by what it pays **in reward** never finds this: walking to the sign pays 0, and its worth shows
# only in later episodes, through the belief. **DREAM** (Liu, Raghunathan, Liang & Finn 2021, *Decoupling
# exploration and exploitation for meta-reinforcement learning without sacrifices*) names the difficulty for
# end-to-end meta-RL such as RL$^2$: learning to explore needs an agent that already exploits what exploration
# finds, and learning to exploit needs data from an agent that already explores, so training started from scratch
# can settle on ignoring the information (a chicken-and-egg problem). DREAM trains the two apart: an exploitation
# policy conditioned on a learned task representation, and an exploration policy rewarded for the information its
# trajectory carries about that representation. Our sign-first player is the hand-written version of such a
# decoupled plan; on this family it is exactly optimal.
#
# ## What this lesson reproduces, and what it does not
# - **Reproduced here, exactly:** the Bayes-optimal expected total of two-armed Bernoulli bandits with uniform priors
#   for any $n \le 100$ (the values above, checked against a hand calculation for $n \le 3$, an independent recursion
#   and Monte Carlo of the policy in `tests/test_bayes.py`); the exact optimum of a small signpost family and the
#   exact values of greedy, sign-first and random play on it.
# - **Measured here:** the gaps of Gittins, Thompson sampling, UCB1 and our RL$^2$ to that optimum on held-out
#   bandits, with paired intervals. Our RL$^2$ is lesson 09's small agent, not the paper's. A small belief-based
#   agent (a structured product-of-Gaussians encoder trained on the true goal, a policy on state and belief) against
#   RL$^2$ (lesson 09's GRU with a Gaussian head, trained for minutes on one core), MAML and a goal-aware oracle on
#   the same held-out 2D navigation goals, with paired intervals.
# - **Not reproduced:** the results of VariBAD, PEARL, DREAM, Ortega et al. or Mikulik et al. The lesson quotes what
#   they report; it trains none of their agents: our belief agent borrows PEARL's product of factors and the
#   supervised task inference of Humplik et al., but is neither PEARL (no posterior sampling, no off-policy training)
#   nor VariBAD (no reward decoder, no KL term). Our RL$^2$ on 2D navigation is a small GRU trained briefly, not
#   the paper's agent or budget, and no RL$^2$ agent is trained on the signpost family.
#
# ## Summary
# - A meta-learner facing a new task is, at best, a Bayes-optimal agent: it acts on the posterior over tasks given
#   its history, and values what each action will teach it. The belief MDP makes that precise.
# - For Bernoulli bandits the belief is four counts; the Beta update is conjugate, and the Bayes backup
#   $Q = \mu (1 + V^+) + (1 - \mu) V^-$ solves the belief MDP exactly, depth by depth.
# - Exploration falls out of planning on beliefs, and depends on the horizon: with more pulls or more episodes
#   ahead, information is worth more.
# - Where the belief is too large to plan on exactly, an encoder can learn it: on 2D navigation, a Gaussian posterior
#   over the goal whose update is a sum of factors, and a policy that acts on its mean and its std (the std is what
#   makes it move while it is unsure). RL$^2$, learning the same from reward alone, carries what episode 1 found into
#   episode 2 but, in minutes of training, stays behind it.
# - Where information and reward are in different places, greedy exploitation ignores the information; its value
#   shows only through the belief, which is what makes it hard to learn end to end.
