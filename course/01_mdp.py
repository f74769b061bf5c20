# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Markov decision processes
#     minutes: 60
#     prerequisites:
#     - 00 Welcome
#     - numpy broadcasting and matrix products
#     objectives:
#     - write states, actions, rewards, transitions and policies of a gridworld as numpy arrays
#     - evaluate a policy with the Bellman expectation backup, and exactly with a linear solve
#     - find optimal values and an optimal policy with value iteration
#     - explain how the discount, the slip and the policy change the values
# ---

# %% [markdown]
# A **Markov decision process** (MDP) is the standard model of a decision problem in reinforcement learning.
# In this lesson an MDP is just a few numpy arrays, which means we can compute exact answers. Every later lesson
# leans on these answers: Q-learning (02) is checked against them, and meta-learning (04-10) asks how fast an
# agent gets close to them on a *new* task.

# %%
import matplotlib.pyplot as plt
import numpy as np

from metarl_edu import policy_evaluation, size
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.envs import GridWorld
from metarl_edu.mdp import uniform_policy
from metarl_edu.notebook import plot_value_history, plot_values, value_explorer

start_lesson("01_mdp", kind="master")

# %% [markdown]
# ## A gridworld
# The agent walks on a grid: `S` is the start, `G` a goal (reward +1, the episode ends), `P` a pit (reward -1, the
# episode ends), `#` a wall. Each step costs 0.04, which rewards short paths. The floor is slippery: with
# probability `slip` the agent moves sideways instead of where it meant to go.

# %%
grid = GridWorld.from_layout("small", slip=0.2, step_reward=-0.04, gamma=0.9)
mdp = grid.mdp
print(grid.render_text())
print(mdp)
print("actions:", mdp.action_names)

# %% [markdown]
# ## The MDP as arrays
# | symbol | shape | meaning |
# |---|---|---|
# | `P` | (S, A, S) | `P[s, a, s2]` = Pr(next state `s2` given state `s`, action `a`); each row sums to 1 |
# | `R` | (S, A, S) | reward of the transition `s, a -> s2`; `mdp.r_sa[s, a]` is its expectation $r(s,a)$ |
# | `gamma` | scalar | discount |
# | `terminal` | (S,) | `True` where the episode ends; a terminal state's value is 0 |
#
# States are the floor cells, numbered row by row. Here is where "up" from the start can lead:

# %%
s = grid.state_of(4, 1)  # the start cell, row 4, column 1
a = 0  # up
for s2 in np.flatnonzero(mdp.P[s, a]):
    print(f"P[{s}, up, {s2}] = {mdp.P[s, a, s2]:.2f}  -> cell {grid.cells[s2]},  reward {mdp.R[s, a, s2]:+.2f}")
print("row sum:", mdp.P[s, a].sum(), "| terminal states:", np.flatnonzero(mdp.terminal))

# %% [markdown]
# ## Policies as arrays
# A (stochastic) policy is an array `pi` of shape (S, A) with `pi[s, a]` = Pr(action `a` in state `s`). The
# uniformly random policy puts 1/4 on each action; a deterministic policy is one-hot.

# %%
pi_random = uniform_policy(mdp)
pi_right = np.zeros((mdp.n_states, mdp.n_actions))
pi_right[:, 1] = 1.0  # always "right"
print(pi_random[:3], pi_right[:3], sep="\n")

# %% [markdown]
# ## What is a policy worth? Sampling first
# The **value** $v_\pi(s)$ is the expected discounted return when starting in $s$ and following $\pi$. We can
# estimate it by running episodes, with a seeded random generator so the numbers repeat:

# %%
def sample_return(mdp, pi, rng, max_steps=200):
    s, g, discount = mdp.sample_start(rng), 0.0, 1.0
    for _ in range(max_steps):
        a = rng.choice(mdp.n_actions, p=pi[s])
        s, r, terminated = mdp.sample_transition(s, a, rng)
        g, discount = g + discount * r, discount * mdp.gamma
        if terminated:
            break
    return g


rng = np.random.default_rng(0)
n = size(quick=300, full=5000)
returns = [sample_return(mdp, pi_random, rng) for _ in range(n)]
print(f"Monte Carlo estimate of v_random(start) from {n} episodes: {np.mean(returns):.3f} "
      f"± {1.96 * np.std(returns) / np.sqrt(n):.3f} (95% interval)")

# %% [markdown]
# ## The Bellman expectation equation
# Sampling is noisy. Because we know `P` and `R`, we can do better: the value satisfies
# (Sutton & Barto 2018, eq. 4.4)
#
# $$v_\pi(s) = \sum_a \pi(a \mid s) \Big( r(s,a) + \gamma \sum_{s'} P(s' \mid s,a)\, v_\pi(s') \Big),
# \qquad v_\pi(s) = 0 \text{ for terminal } s.$$
#
# **Exercise.** Write one *sweep* of this backup: given any array `v` (S,), return `v_new` (S,) computed with the
# right-hand side. Use `mdp.r_sa` (S, A), `mdp.P` (S, A, S), `mdp.gamma` and `mdp.terminal` (S,). Two details
# matter: never bootstrap from a terminal state (treat `v[s2]` as 0 there), and set `v_new` to 0 on terminal
# states. No loops are needed: `mdp.P @ v` has shape (S, A).


# %%
def bellman_expectation_backup(mdp, v, pi):
    """One sweep: v_new[s] = sum_a pi[s, a] (r_sa[s, a] + gamma sum_s2 P[s, a, s2] v[s2]); 0 on terminal states."""
    ### BEGIN SOLUTION id=bellman_expectation_backup points=2 replaces=metarl_edu.mdp.bellman_expectation_backup hint="Compute q[s, a] from mdp.r_sa, mdp.gamma, mdp.P and v (0 on terminal states), then average q over pi[s]"
    v_next = np.where(mdp.terminal, 0.0, v)
    q = mdp.r_sa + mdp.gamma * mdp.P @ v_next
    v_new = np.sum(pi * q, axis=1)
    return np.where(mdp.terminal, 0.0, v_new)
    ### END SOLUTION


# %%
check("bellman_expectation_backup", bellman_expectation_backup)

# %%
### BEGIN HIDDEN TESTS id=bellman_expectation_backup
from metarl_edu.mdp import TabularMDP as _MDP, bellman_expectation_backup as _ref_backup

_rng = np.random.default_rng(2024)
for _ in range(5):
    _terminal = np.append(False, _rng.random(3) < 0.4)  # state 0, where episodes start, is never terminal
    _m = _MDP(P=_rng.dirichlet(np.ones(4), size=(4, 3)), R=_rng.normal(size=(4, 3, 4)), gamma=0.8,
              terminal=_terminal, start=np.eye(4)[0])
    _v, _pi = _rng.normal(size=4), _rng.dirichlet(np.ones(3), size=4)
    assert np.allclose(bellman_expectation_backup(_m, _v, _pi), _ref_backup(_m, _v, _pi))
### END HIDDEN TESTS

# %% [markdown]
# ## Iterative policy evaluation
# Repeating the backup from `v = 0` converges to $v_\pi$ when $\gamma < 1$ (the backup is a contraction;
# Sutton & Barto 2018, section 4.1). The plot shows the distance to the exact answer after each sweep.

# %%
backup = pick("bellman_expectation_backup", bellman_expectation_backup)
v, history = np.zeros(mdp.n_states), [np.zeros(mdp.n_states)]
for _ in range(200):
    v = backup(mdp, v, pi_random)
    history.append(v)
v_exact = policy_evaluation(mdp, pi_random)
plot_value_history(history, v_ref=v_exact, title="Iterative policy evaluation of the random policy")
plt.show()
print(f"after {len(history) - 1} sweeps: max |v - v_exact| = {np.abs(v - v_exact).max():.2e}")

# %% [markdown]
# `policy_evaluation` solves the same equations exactly as the linear system $(I - \gamma P_\pi)\, v = r_\pi$ on
# the non-terminal states. The Monte Carlo estimate above should sit within its interval of the exact value:

# %%
start = grid.state_of(4, 1)
print(f"exact v_random(start) = {v_exact[start]:.3f};  Monte Carlo: {np.mean(returns):.3f}")
assert abs(v_exact[start] - np.mean(returns)) < 4 * np.std(returns) / np.sqrt(n)
assert np.allclose(v, v_exact, atol=1e-6)

# %% [markdown]
# ### A published table to check against
# Sutton & Barto (2018), Example 4.1 and Figure 4.1: a 4x4 grid with terminal corners, reward -1 on every step,
# $\gamma = 1$, and the random policy. Their converged values are -14, -18, -20 and -22. Our exact solver gives:

# %%
sb = GridWorld.from_layout("G...\n.S..\n....\n...G", step_reward=-1.0, goal_reward=0.0, gamma=1.0)
v_sb = policy_evaluation(sb.mdp, uniform_policy(sb.mdp))
table = np.zeros(sb.shape)
for state, (row, col) in enumerate(sb.cells):
    table[row, col] = v_sb[state]
print(table)
assert np.allclose(table[0], [0, -14, -20, -22]) and np.allclose(table[1], [-14, -18, -20, -20])

# %% [markdown]
# ## Optimal values: value iteration
# The best achievable values $v_*$ satisfy the Bellman *optimality* equation (Sutton & Barto 2018, eq. 4.1)
#
# $$v_*(s) = \max_a \Big( r(s,a) + \gamma \sum_{s'} P(s' \mid s,a)\, v_*(s') \Big).$$
#
# **Value iteration** repeats this backup from `v = 0` until the largest change is below `theta`, then acts
# greedily: `pi[s]` is one-hot on the best action, with **ties going to the lowest action** (as `np.argmax`
# does). **Exercise:** write it. Return the pair `(v, pi)`; `pi` has shape (S, A). Terminal states keep value 0.


# %%
def value_iteration(mdp, theta=1e-10):
    """Optimal values v (S,) and a one-hot greedy policy pi (S, A) by value iteration."""
    ### BEGIN SOLUTION id=value_iteration points=3 replaces=metarl_edu.mdp.value_iteration hint="Loop: q = r_sa + gamma P v (v = 0 on terminal states); v_new = q.max(axis=1); stop when the change < theta; pi one-hot at q.argmax(axis=1)"
    v = np.zeros(mdp.n_states)
    while True:
        q = mdp.r_sa + mdp.gamma * mdp.P @ np.where(mdp.terminal, 0.0, v)
        v_new = np.where(mdp.terminal, 0.0, q.max(axis=1))
        done = np.max(np.abs(v_new - v)) < theta
        v = v_new
        if done:
            break
    pi = np.zeros((mdp.n_states, mdp.n_actions))
    pi[np.arange(mdp.n_states), q.argmax(axis=1)] = 1.0
    return v, pi
    ### END SOLUTION


# %%
check("value_iteration", value_iteration)

# %%
### BEGIN HIDDEN TESTS id=value_iteration
import itertools as _it

_rng = np.random.default_rng(7)
for _ in range(3):
    _m = _MDP(P=_rng.dirichlet(np.ones(3), size=(3, 2)), R=_rng.normal(size=(3, 2)), gamma=0.7)
    _best = np.max([policy_evaluation(_m, np.eye(2)[list(_acts)]) for _acts in _it.product(range(2), repeat=3)], 0)
    assert np.allclose(value_iteration(_m)[0], _best, atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# The greedy policy of $v_*$ is optimal: evaluating it exactly must give back $v_*$.

# %%
solve = pick("value_iteration", value_iteration)
v_star, pi_star = solve(mdp)
assert np.allclose(policy_evaluation(mdp, pi_star), v_star, atol=1e-6)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
plot_values(grid, v_exact, pi_random, ax=axes[0], title="Random policy: v_random")
plot_values(grid, v_star, pi_star, ax=axes[1], title="Optimal policy: v* (value iteration)")
plt.show()

# %% [markdown]
# Look at the optimal arrows next to the pit: with `slip = 0.2`, stepping along the pit risks sliding in, so the
# optimal policy may prefer a longer path. Every optimal value is at least the random policy's value:

# %%
print(f"v*(start) = {v_star[start]:.3f}  vs  v_random(start) = {v_exact[start]:.3f}")
assert np.all(v_star >= v_exact - 1e-9)

# %% [markdown]
# ## Explore: discount, slip and policy
# The widget redraws the exact values whenever you change a control. Try these, and explain what you see:
# - set `gamma` to 0: only the next reward counts, so most cells show the step cost -0.04;
# - raise `slip`: values near the pit drop, and the optimal arrows move away from it;
# - pick "always right": cells from which going right never ends the episode pay the step cost forever,
#   $-0.04 / (1 - \gamma)$.

# %%
value_explorer(grid, gamma=0.9, policy="optimal")

# %% [markdown]
# ## Summary and next
# - An MDP is data: `P` (S, A, S), `R`, `gamma`, a terminal mask; a policy is an (S, A) array.
# - The Bellman expectation backup evaluates a policy; repeated, it converges to the exact `policy_evaluation`.
# - Value iteration finds $v_*$ and a greedy optimal policy; ties go to the lowest action.
# - The best behaviour depends on the task's settings (slip, step cost, discount). That is the seed of
#   meta-learning: an agent facing *many* such tasks can learn what tends to work.
#
# Next, **02 · Tabular Q-learning**: the agent no longer sees `P` and `R`, and must learn from experience alone.
