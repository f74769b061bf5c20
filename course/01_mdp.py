# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Markov decision processes
#     minutes: 70
#     prerequisites:
#     - 00 Welcome
#     - numpy broadcasting and matrix products
#     objectives:
#     - write states, actions, rewards, transitions and policies of a gridworld as numpy arrays
#     - evaluate a policy with the Bellman expectation backup, and compare with the exact linear solve
#     - find optimal values and an optimal policy with value iteration, and say why it converges (a contraction)
#     - compare value iteration with policy iteration, and name both as generalised policy iteration
#     - explain how the discount, the slip and the policy change the values
# ---

# %% [markdown]
# A **Markov decision process** (MDP) is the standard model of a decision problem in reinforcement learning.
# *Markov* means that the next state and reward depend only on the current state and action, not on the history.
# In this lesson an MDP is just a few numpy arrays, which means we can compute exact answers. The lessons that
# follow lean on these answers: tabular Q-learning is checked against them, and meta-learning asks how fast an
# agent gets close to them on a *new* task.

# %%
import matplotlib.pyplot as plt
import numpy as np

from metarl_edu import policy_evaluation, size
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.envs import GridWorld
from metarl_edu.mdp import bellman_optimality_backup, policy_iteration, uniform_policy
from metarl_edu.notebook import plot_value_history, plot_values, value_explorer

start_lesson("01_mdp", kind="master")

# %% [markdown]
# ## A gridworld
# The agent walks on a grid: `S` is the start, `G` a goal (+1 on top of the step cost, the episode ends), `P` a
# pit (-1 on top of the step cost, the episode ends), `#` a wall. Each step costs 0.04, which rewards short
# paths. The floor is slippery: with probability `slip` the agent moves sideways instead of where it meant to go,
# each of the two perpendicular directions with probability `slip / 2`. A move into a wall leaves the agent
# where it is.

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
# | `r_sa` | (S, A) | $r(s, a) = \sum_{s2} P[s, a, s2]\, R[s, a, s2]$, computed once when the MDP is made |
# | `gamma` | scalar | discount |
# | `terminal` | (S,) | `True` where the episode ends; a terminal state's value is 0 |
#
# Every MDP in this lesson and in its checks has `R` of shape (S, A, S), so
# `np.einsum("sat,sat->sa", mdp.P, mdp.R)` and `mdp.r_sa` give the same array. (The library also accepts `R` of
# shape (S, A), the expected rewards themselves; `mdp.r_sa` has shape (S, A) either way, so code that reads it works
# for both.)
#
# States are all non-wall cells (`S`, `G` and `P` included), numbered row by row; rows and columns count from 0,
# walls included. Here is where "up" from the start can lead:

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
# Sampling is noisy. Because we know `P` and `R`, we can do better. The bracket below is the **action value**
# $q(s, a)$: the expected return for taking $a$ in $s$ and continuing with values $v$. The value of a policy
# satisfies (Sutton & Barto 2018, eq. 4.4, written with $r(s,a)$ and $P(s' \mid s,a)$)
#
# $$v_\pi(s) = \sum_a \pi(a \mid s) \Big( r(s,a) + \gamma \sum_{s'} P(s' \mid s,a)\, v_\pi(s') \Big),
# \qquad v_\pi(s) = 0 \text{ for terminal } s.$$
#
# Turned into an update (eq. 4.5), it computes new values $v_{k+1}$ from old ones $v_k$:
# $v_{k+1}(s) = \sum_a \pi(a \mid s) \big( r(s,a) + \gamma \sum_{s'} P(s' \mid s,a)\, v_k(s') \big)$.
# Using the value of the next state inside an update is called **bootstrapping**; one pass over all states is a
# **sweep**; the update itself is a **backup**.
#
# **Exercise.** Write one sweep: given any array `v` (S,), return a new array `v_new` (S,), every entry computed
# from the old `v`. Use `mdp.r_sa` (S, A), `mdp.P` (S, A, S), `mdp.gamma` and `mdp.terminal` (S,, booleans).
# Two details matter: never bootstrap from a terminal state (treat `v[s2]` as 0 there), and set `v_new` to 0 on
# terminal states. No loops are needed: `mdp.P @ v` has shape (S, A).


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
import numpy as np
from metarl_edu.mdp import TabularMDP as _MDP

_rng = np.random.default_rng(2024)
_cases = []
for _ in range(5):
    _m = _MDP(P=_rng.dirichlet(np.ones(4), size=(4, 3)), R=_rng.normal(size=(4, 3, 4)), gamma=0.8,
              terminal=_rng.random(4) < 0.3)
    _cases.append((_m, _rng.normal(size=4), _rng.dirichlet(np.ones(3), size=4)))
### PROBE
_backups = [bellman_expectation_backup(_m, _v.copy(), _pi.copy()) for _m, _v, _pi in _cases]
### JUDGE
from metarl_edu.mdp import bellman_expectation_backup as _ref_backup

for (_m, _v, _pi), _got in zip(_cases, _backups, strict=True):
    assert np.allclose(_got, _ref_backup(_m, _v, _pi))
### END HIDDEN TESTS

# %% [markdown]
# ## Iterative policy evaluation
# Repeating the backup from `v = 0` converges to $v_\pi$ when $\gamma < 1$, or when the policy ends every episode
# (Sutton & Barto 2018, section 4.1). With $\gamma < 1$ each sweep shrinks the largest error by at least a factor
# $\gamma$: that is the straight line on the log plot below.

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
# The equations are linear in $v$, so they can also be solved exactly. With the policy's transition matrix
# $P_\pi[s, s'] = \sum_a \pi(a \mid s) P(s' \mid s, a)$ and reward vector $r_\pi[s] = \sum_a \pi(a \mid s)\, r(s, a)$,
# they read $(I - \gamma P_\pi)\, v = r_\pi$ on the non-terminal states. This is what `policy_evaluation` does:

# %%
live = ~mdp.terminal
P_pi = np.einsum("sa,sat->st", pi_random, mdp.P)
r_pi = np.sum(pi_random * mdp.r_sa, axis=1)
v_solve = np.zeros(mdp.n_states)
v_solve[live] = np.linalg.solve(np.eye(live.sum()) - mdp.gamma * P_pi[live][:, live], r_pi[live])
assert np.allclose(v_solve, v_exact)

# %% [markdown]
# The Monte Carlo estimate from the start of the lesson should sit within its interval of the exact value:

# %%
start = grid.state_of(4, 1)
print(f"exact v_random(start) = {v_exact[start]:.3f};  Monte Carlo: {np.mean(returns):.3f}")
assert abs(v_exact[start] - np.mean(returns)) < 4 * np.std(returns) / np.sqrt(n)
assert np.allclose(v, v_exact, atol=1e-6)

# %% [markdown]
# ### A published table to check against
# Sutton & Barto (2018), Example 4.1 and Figure 4.1: a 4x4 grid with terminal corners, reward -1 on every step,
# $\gamma = 1$, and the random policy. First your backup: after sweeps $k = 1, 2, 3$ the figure shows the cell next
# to a corner at -1.0, -1.7 (exactly -1.75) and -2.4 (exactly -2.4375).

# %%
sb = GridWorld.from_layout("G...\n.S..\n....\n...G", step_reward=-1.0, goal_reward=0.0, gamma=1.0)
v_k = np.zeros(sb.mdp.n_states)
for k in (1, 2, 3):
    v_k = backup(sb.mdp, v_k, uniform_policy(sb.mdp))
    print(f"k = {k}: v(cell next to the top-left corner) = {v_k[sb.state_of(0, 1)]:.4f}")
assert np.isclose(v_k[sb.state_of(0, 1)], -2.4375)

# %% [markdown]
# The converged values in the figure are -14, -18, -20 and -22. Our exact solver gives:

# %%
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
# **Value iteration** (section 4.4, update eq. 4.10) repeats the update
# $v_{k+1}(s) = \max_a \big( r(s,a) + \gamma \sum_{s'} P(s' \mid s,a)\, v_k(s') \big)$ from `v = 0` until the
# largest change is below `theta`, then acts **greedily**: `pi[s]` is one-hot on the action with the largest
# $q(s, a)$, with **ties going to the lowest action** (as `np.argmax` does). **Exercise:** write it. Return the
# pair `(v, pi)`; `pi` has shape (S, A) and every row is one-hot, terminal states included (any action there: it
# is never used). Terminal states keep value 0.


# %%
def value_iteration(mdp, theta=1e-10):
    """Optimal values v (S,) and a one-hot greedy policy pi (S, A) by value iteration."""
    ### BEGIN SOLUTION id=value_iteration points=3 replaces=metarl_edu.mdp.value_iteration hint="Loop from v = 0: q = r_sa + gamma P v (v = 0 on terminal states); v_new = q.max(axis=1), then 0 on terminal states (they keep value 0); stop when max |v_new - v| < theta; pi one-hot at q.argmax(axis=1)"
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

import numpy as np
from metarl_edu.mdp import TabularMDP as _MDP

_rng = np.random.default_rng(7)
_mdps = [_MDP(P=_rng.dirichlet(np.ones(3), size=(3, 2)), R=_rng.normal(size=(3, 2, 3)), gamma=0.7)
         for _ in range(3)]
### PROBE
_values = [value_iteration(_m)[0] for _m in _mdps]
### JUDGE
from metarl_edu.mdp import policy_evaluation as _evaluate

for _m, _v in zip(_mdps, _values, strict=True):
    _best = np.max([_evaluate(_m, np.eye(2)[list(_acts)]) for _acts in _it.product(range(2), repeat=3)], 0)
    assert np.allclose(_v, _best, atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# The greedy policy of $v_*$ is optimal: evaluating it exactly must give back $v_*$.

# %%
solve = pick("value_iteration", value_iteration)
v_star, pi_star = solve(mdp)
assert np.allclose(policy_evaluation(mdp, pi_star), v_star, atol=1e-6)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
scale = np.abs(np.concatenate([v_exact, v_star])).max()  # one colour scale for both plots
plot_values(grid, v_exact, pi_random, ax=axes[0], title="Random policy: v_random", vmax=scale)
plot_values(grid, v_star, pi_star, ax=axes[1], title="Optimal policy: v* (value iteration)", vmax=scale)
plt.show()

# %% [markdown]
# Look at cell (2, 4), left of the pit: at `slip = 0.2` its arrow still points up, past the pit. A 10% risk of
# sliding in costs less than a two-step detour. From `S` the policy takes the left column and the top row, which
# is just as short (7 steps) and never passes the pit. How slippery must the floor be before the detour wins? The
# next cell solves the gridworld for slips 0, 0.01, ..., 0.6 and reads that cell's arrow:

# %%
cell = grid.state_of(2, 4)
slips = np.round(np.arange(0.0, 0.601, 0.01), 2)
arrows = [mdp.action_names[int(solve(GridWorld.from_layout("small", slip=p, step_reward=-0.04, gamma=0.9).mdp)[1]
                                [cell].argmax())] for p in slips]
turn = slips[arrows.index("left")]
print(f"cell (2, 4): {sorted(set(arrows[:arrows.index('left')]))} for slip < {turn:.2f}, "
      f"{sorted(set(arrows[arrows.index('left'):]))} from slip {turn:.2f} to {slips[-1]:.2f}")
assert 0.25 <= turn <= 0.35 and set(arrows[arrows.index("left"):]) == {"left"}

# %% [markdown]
# So the arrow turns away from the pit at a slip just below 0.3 (the exact step is printed above) and stays turned.
# Every optimal value is at least the random policy's value:

# %%
print(f"v*(start) = {v_star[start]:.3f}  vs  v_random(start) = {v_exact[start]:.3f}")
assert np.all(v_star >= v_exact - 1e-9)

# %% [markdown]
# ## Why value iteration converges
# Write one sweep of value iteration as an operator: $(Tv)(s) = \max_a \big( r(s,a) + \gamma \sum_{s'} P(s' \mid s,a)\,
# v(s') \big)$. For any two value arrays $v$ and $u$, and any state $s$,
#
# $$|(Tv)(s) - (Tu)(s)| \le \max_a \gamma \Big|\sum_{s'} P(s' \mid s,a)\,\big(v(s') - u(s')\big)\Big| \le \gamma\,
# \max_{s'} |v(s') - u(s')|,$$
#
# because two maxima differ by at most the largest difference of their terms, and an average of differences is at most
# the largest one. So $\lVert Tv - Tu \rVert_\infty \le \gamma \lVert v - u \rVert_\infty$: each sweep shrinks the
# distance between any two value arrays by the factor $\gamma$, a **contraction** (proved in Puterman 1994, section
# 6.2.3; Sutton & Barto 2018, section 4.4, state it without proof). Apply it to $u = v_*$, which $T$ leaves unchanged:
# from any start, the error after $k$ sweeps is at most $\gamma^k$ times the first error. The same argument, without the
# max, covers the expectation backup. The plot runs value iteration from two random starts and draws their distance
# against the bound:

# %%
rng = np.random.default_rng(1)
v_a, v_b = rng.normal(scale=5, size=mdp.n_states), rng.normal(scale=5, size=mdp.n_states)
v_a[mdp.terminal] = v_b[mdp.terminal] = 0.0
gaps = [np.abs(v_a - v_b).max()]
for _ in range(60):
    v_a, v_b = bellman_optimality_backup(mdp, v_a), bellman_optimality_backup(mdp, v_b)
    gaps.append(np.abs(v_a - v_b).max())
bound = gaps[0] * mdp.gamma ** np.arange(len(gaps))
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogy(gaps, label="max |v_k - u_k| (two starts)")
ax.semilogy(bound, "k--", label="gamma^k max |v_0 - u_0|")
ax.set(xlabel="sweep k", ylabel="largest difference", title="Value iteration is a gamma-contraction")
ax.legend()
plt.show()
assert np.all(np.array(gaps) <= bound + 1e-12)
print(f"after 60 sweeps the two runs differ by {gaps[-1]:.1e}; the bound allows {bound[-1]:.1e}")

# %% [markdown]
# The gap falls faster than the bound here (the dashed line is only the worst case). Both runs keep the goal and the pit
# at 0, and the greedy policies reach one of them within a few steps, so part of every difference drains away there and
# each sweep passes on less than $\gamma$ of it. (Without terminal states, two starts that differ by the same constant
# everywhere would see their distance shrink by exactly the factor $\gamma$ each sweep.) The bound also gives the
# stopping rule its meaning: once a sweep changes no value by more than `theta`, the array that sweep produced is within
# $\gamma\,\theta / (1 - \gamma)$ of $v_*$.
#
# ## Policy iteration, and generalised policy iteration
# Value iteration improves the values a little on every sweep. **Policy iteration** (Howard 1960; Sutton & Barto
# 2018, section 4.3) takes two whole steps in turn: *evaluate* the current policy exactly (the linear solve above),
# then *improve* it by acting greedily on its values. The greedy policy is at least as good in every state (the
# policy improvement theorem, section 4.2), and there are finitely many deterministic policies, so the loop stops,
# at an optimal policy. `metarl_edu.mdp.policy_iteration` starts from the random policy:

# %%
v_pi_star, pi_pi_star, policies = policy_iteration(mdp)
print(f"policy iteration evaluated {len(policies)} policies (the random one first); same v* as value iteration: "
      f"{np.allclose(v_pi_star, v_star, atol=1e-6)}, same policy: {np.array_equal(pi_pi_star, pi_star)}")
for k, pi_k in enumerate(policies):
    print(f"  policy {k}: v(start) = {policy_evaluation(mdp, pi_k)[start]:+.3f}")
v_k, n_sweeps = np.zeros(mdp.n_states), 0
while True:  # value iteration from v = 0, counting sweeps until no value changes by 1e-10
    v_next, n_sweeps = bellman_optimality_backup(mdp, v_k), n_sweeps + 1
    if np.abs(v_next - v_k).max() < 1e-10:
        break
    v_k = v_next
print(f"value iteration: {n_sweeps} sweeps to change no value by more than 1e-10")
assert np.allclose(v_pi_star, v_star, atol=1e-6) and len(policies) < n_sweeps

# %% [markdown]
# A few exact evaluations replace value iteration's many sweeps (each solve costs more than a sweep, though). Both are
# instances of one pattern that Sutton & Barto call **generalised policy iteration** (section 4.6): keep a value
# estimate and a policy, and let each pull the other, evaluation making the values fit the policy and improvement making
# the policy greedy on the values. Policy iteration finishes each step; value iteration does one sweep of evaluation
# between improvements; the Q-learning of lesson 02 does one *sampled* update of one (state, action) pair between
# improvements. With step sizes that shrink the right way and every pair tried infinitely often, that still converges to
# $q_*$ (Watkins & Dayan 1992); lesson 02's constant settings come close but carry no such guarantee.

# %% [markdown]
# ## Explore: discount, slip and policy
# Each setting of (slip, $\gamma$, step cost) is a different *task* from one family, and the best behaviour changes
# with it: exactly what meta-RL trains on later. The widget redraws the exact values whenever you change a
# control. Try these, and explain what you see:
# - set `gamma` to 0: only the next reward counts, so nearly every cell shows the step cost -0.04, and nearly every
#   arrow points up (all actions tie, and ties go to "up");
# - raise `slip`: up to a slip of about 0.65 every value drops, because slipping wastes steps; from a slip just
#   below 0.3 (the scan above) the arrow left of the pit turns away from it. Past 2/3 a sideways move is likelier
#   than the intended one, the arrows turn to exploit that, and some values rise again;
# - pick "always right" and set `slip` to 0: cells from which going right only bumps into a wall pay the step cost
#   forever, $-0.04 / (1 - \gamma) = -0.4$ at $\gamma = 0.9$. Raise `slip` again and slips end those episodes,
#   often in the pit.

# %%
value_explorer(grid, gamma=0.9, policy="optimal")

# %% [markdown]
# ## Summary and next
# - An MDP is data: `P` (S, A, S), `R`, `gamma`, a terminal mask; a policy is an (S, A) array.
# - The Bellman expectation backup evaluates a policy; repeated, it converges to the exact `policy_evaluation`.
# - Value iteration finds $v_*$ and a greedy optimal policy; ties go to the lowest action. It converges because
#   each sweep is a $\gamma$-contraction in the max norm.
# - Policy iteration alternates exact evaluation and greedy improvement and stops after a few policies; both are
#   generalised policy iteration.
# - The best behaviour depends on the task's settings (slip, step cost, discount). That is the seed of
#   meta-learning: an agent facing *many* such tasks can learn what tends to work.
#
# Next, **02 · Tabular Q-learning** (see the course map in the README): the agent no longer sees `P` and `R`, and
# must learn from experience alone.
