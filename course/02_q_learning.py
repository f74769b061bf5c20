# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Tabular Q-learning
#     minutes: 100
#     prerequisites:
#     - 01 Markov decision processes
#     objectives:
#     - implement epsilon-greedy action selection with random tie-breaking
#     - evaluate a policy from experience with TD(0), and say what the TD error is
#     - implement the Q-learning update, with termination and truncation handled correctly
#     - write the whole Q-learning loop, and check that it learns
#     - state the step-size (Robbins-Monro) and exploration (GLIE) conditions, and what constant settings give up
#     - train a Q-learning agent on a gridworld and on Gymnasium's FrozenLake and compare it with the exact optimum
#     - see live how alpha, epsilon and gamma change learning
#     - explain maximisation bias and how Double Q-learning removes it (Sutton & Barto's Figure 6.5)
#     - explain the on-policy (Sarsa) versus off-policy (Q-learning) result on cliff walking
# ---

# %% [markdown]
# In lesson 01 we knew the MDP's arrays `P` and `R` and computed exact answers. A real agent does not see them: it
# acts, observes the next state and a reward, and must **learn from experience**. Q-learning (Watkins, 1989;
# Sutton & Barto 2018, section 6.5) learns the optimal action values $q_*(s, a)$ from such samples alone. Because
# our environments are still small MDPs underneath, we can check every result against the exact optimum.

# %%
import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np

import metarl_edu  # noqa: F401  (registers the metarl_edu/ environments)
from metarl_edu import QLearningAgent, TabularMDP, policy_evaluation, q_from_v, size, value_iteration
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.mdp import evaluate_policies, finite_horizon_value, greedy_policy, uniform_policy
from metarl_edu.notebook.learning import plot_learning_curves, plot_paths_on_grid, q_learning_explorer, q_learning_seeds
from metarl_edu.studies.maximization_bias import left_from_a
from metarl_edu.td import td0_update

start_lesson("02_q_learning", kind="master")

# %% [markdown]
# ## The agent's view
# Lesson 01's gridworld, now as a Gymnasium environment. The agent gets a state index from `reset` and, after each
# action, the 5-tuple `(s_next, r, terminated, truncated, info)`. **terminated** means the episode really ended
# (goal or pit); **truncated** means a time limit cut it (here after 100 steps) although the task goes on.

# %%
env = gym.make("metarl_edu/GridWorld-v0", layout="small", slip=0.2, step_reward=-0.04)
mdp = env.unwrapped.grid.mdp  # for checking only: the agent never looks at it
s, info = env.reset(seed=0)
print(env.unwrapped.grid.render_text(s))
print("start state:", s, "| one step right ->", env.step(1))

# %% [markdown]
# ## Exploration: epsilon-greedy
# To learn about every action the agent must sometimes try actions that look worse. The simplest rule: with
# probability $\varepsilon$ take a uniformly random action, otherwise a **greedy** one, an action with the largest
# $q(s, a)$. When several actions tie for the largest value (as at the start, when all are 0), pick one of them at
# random: always taking the first would never try the others.
#
# **Exercise.** Write `epsilon_greedy(q_s, epsilon, rng)`: `q_s` is the row `q[s]` (shape (A,)), and all randomness
# must come from `rng` (a `np.random.Generator`: `rng.random()` gives a number in [0, 1), `rng.integers(n)` an
# integer in [0, n), `rng.choice(array)` an element). Return an `int`.


# %%
def epsilon_greedy(q_s, epsilon, rng):
    """With probability epsilon a uniformly random action; otherwise a maximal one of q_s, ties at random."""
    ### BEGIN SOLUTION id=epsilon_greedy points=2 replaces=metarl_edu.td.epsilon_greedy hint="Compare rng.random() with epsilon; explore with rng.integers, exploit with rng.choice over the indices of the maximal values"
    if rng.random() < epsilon:
        return int(rng.integers(len(q_s)))
    best = np.flatnonzero(q_s == np.max(q_s))
    return int(rng.choice(best))
    ### END SOLUTION


# %%
check("epsilon_greedy", epsilon_greedy)

# %%
### BEGIN HIDDEN TESTS id=epsilon_greedy
import numpy as np
### PROBE
_rng = np.random.default_rng(11)
_actions = [epsilon_greedy(np.array([1.0, 1.0, 1.0, 0.0, 1.0]), 0.0, _rng) for _ in range(3000)]
### JUDGE
_freq = np.bincount(_actions, minlength=5)
assert len(_actions) == 3000 and _freq[3] == 0 and np.all(np.abs(_freq[[0, 1, 2, 4]] / 3000 - 0.25) < 0.05)
### END HIDDEN TESTS

# %% [markdown]
# ## Learning values from experience: TD(0)
# Before learning to act, learn to *evaluate*: what is the random policy worth, when `P` and `R` are unknown? After
# each step $s \to s'$ with reward $r$, **TD(0)** (Sutton & Barto 2018, eq. 6.2) moves $v(s)$ a small step $\alpha$
# towards the one-sample target $r + \gamma v(s')$:
#
# $$v(s) \leftarrow v(s) + \alpha\, \delta, \qquad \delta = r + \gamma v(s') - v(s).$$
#
# $\delta$ is the **TD error** (eq. 6.5): how much better or worse the step went than $v$ predicted. It is lesson 01's
# expectation backup with the averages over $\pi$ and $P$ replaced by the one action taken and the one next state that
# happened, and the full replacement by a step of size $\alpha$; after a terminal step the target is $r$ alone. Here it
# evaluates the random policy on the gridworld, and we compare with lesson 01's exact answer, which the agent never
# sees:

# %%
v_true = policy_evaluation(mdp, uniform_policy(mdp))
rng = np.random.default_rng(0)
v_td, rms = np.zeros(mdp.n_states), []
env.reset(seed=0)
for _ in range(size(quick=150, full=1500)):
    s, _ = env.reset()
    done = False
    while not done:
        s_next, r, terminated, truncated, _ = env.step(int(rng.integers(mdp.n_actions)))  # the random policy
        v_td = td0_update(v_td, s, r, s_next, terminated, alpha=0.05, gamma=mdp.gamma)
        s, done = s_next, terminated or truncated
    rms.append(np.sqrt(np.mean((v_td - v_true)[~mdp.terminal] ** 2)))
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(np.arange(1, len(rms) + 1), rms)
ax.set(xlabel="episode", ylabel="RMS error of v over the states", title="TD(0), alpha = 0.05: the random policy")
plt.show()
print(f"RMS error: {rms[0]:.3f} after 1 episode, {rms[-1]:.3f} after {len(rms)}; "
      f"v(start) = {v_td[int(np.argmax(mdp.start))]:+.3f}, exact {v_true[int(np.argmax(mdp.start))]:+.3f}")
assert rms[-1] < 0.5 * rms[0]

# %% [markdown]
# The error falls fast at first, then the curve flattens: it cannot reach 0 with a constant $\alpha$, since each
# step moves $v(s)$ by a fraction of one noisy sample. The step-size section below says what removes that floor.
#
# ## The Q-learning update
# To *improve* a policy, not only evaluate it, learn action values. Q-learning is TD(0) for $q$, with the best
# next action in the target: after each step the agent moves its estimate a step $\alpha$ towards a **target**
# (Sutton & Barto 2018, eq. 6.8):
#
# $$q(s, a) \leftarrow q(s, a) + \alpha \Big( \underbrace{r + \gamma \max_{a'} q(s', a')}_{\text{target}} - q(s, a) \Big).$$
#
# The target bootstraps from the *best* next action, whatever the agent will actually do next: Q-learning is
# **off-policy**. If `s_next` is terminal the episode is over and the target is just `r`. If the episode was only
# truncated, the task goes on, so the target keeps its bootstrap term: that is why the update takes `terminated`,
# never `truncated`.
#
# **Exercise.** Write `q_learning_update`. Return a **new** table (start with `q = q.copy()`): the caller's `q`
# must stay unchanged.


# %%
def q_learning_update(q, s, a, r, s_next, terminated, alpha, gamma):
    """One Q-learning step on the table q (S, A); returns the updated copy."""
    ### BEGIN SOLUTION id=q_learning_update points=3 replaces=metarl_edu.td.q_learning_update hint="Copy q; the target is r alone after termination, else r plus gamma times the best value in row s_next; move q[s, a] a step alpha towards it"
    q = q.copy()
    target = r if terminated else r + gamma * np.max(q[s_next])
    q[s, a] += alpha * (target - q[s, a])
    return q
    ### END SOLUTION


# %%
check("q_learning_update", q_learning_update)

# %%
### BEGIN HIDDEN TESTS id=q_learning_update
import numpy as np
### PROBE
_q = np.arange(6.0).reshape(3, 2)
_new = q_learning_update(_q, 2, 0, -1.0, 2, False, 1.0, 0.5)
_q_after = _q
### JUDGE
assert np.isclose(_new[2, 0], -1.0 + 0.5 * 5.0) and np.array_equal(_q_after, np.arange(6.0).reshape(3, 2))
### END HIDDEN TESTS

# %% [markdown]
# ## The whole algorithm
# **Exercise.** Write the loop of Q-learning (Sutton & Barto 2018, the box of section 6.5):
#
# ```
# q = 0, shape (S, A)                      (env.observation_space.n, env.action_space.n)
# for each of n_episodes episodes:
#     s = env.reset()                      (no seed: the caller seeds the env once, before the loop)
#     until terminated or truncated:
#         a = choose(q[s], epsilon, rng)
#         s_next, r, terminated, truncated = env.step(a)
#         q = update(q, s, a, r, s_next, terminated, alpha, gamma)
#         s = s_next
# ```
#
# `choose` and `update` are passed in: your `epsilon_greedy` and `q_learning_update` (or the library's while yours
# do not pass), and the check passes its own. Return `(q, returns)`, the final table and the undiscounted return of
# every episode (an array of length `n_episodes`). Remember that `env.reset()` returns `(s, info)` and `env.step(a)`
# five values.


# %%
def run_q_learning(env, n_episodes, alpha, epsilon, gamma, rng, choose, update):
    """Q-learning for n_episodes episodes on env; returns (q, returns)."""
    ### BEGIN SOLUTION id=run_q_learning points=3 replaces=metarl_edu.classroom.references.run_q_learning hint="Start from a zero table (S, A) and zero returns; each episode: reset the env, then until terminated or truncated: choose an action from the row of s, step, update the table (with terminated, not truncated) and keep what update returns, add the reward to the return of this episode, move on to s_next"
    q = np.zeros((env.observation_space.n, env.action_space.n))
    returns = np.zeros(n_episodes)
    for episode in range(n_episodes):
        s, _ = env.reset()
        done = False
        while not done:
            a = choose(q[s], epsilon, rng)
            s_next, r, terminated, truncated, _ = env.step(a)
            q = update(q, s, a, r, s_next, terminated, alpha, gamma)  # bootstraps unless terminated
            returns[episode] += r
            s, done = s_next, terminated or truncated
    return q, returns
    ### END SOLUTION


# %%
check("run_q_learning", run_q_learning)

# %%
### BEGIN HIDDEN TESTS id=run_q_learning
import gymnasium as gym
import numpy as np
from metarl_edu.td import epsilon_greedy as _eg, q_learning_update as _qu
### PROBE
_runs = []
for _seed in (7, 8):
    _lake = gym.make("FrozenLake-v1")
    _lake.reset(seed=_seed)
    _runs.append(run_q_learning(_lake, 40, 0.3, 0.5, 0.95, np.random.default_rng(_seed), _eg, _qu))
### JUDGE
from metarl_edu.classroom.references import run_q_learning as _ref_loop

for _seed, _run in zip((7, 8), _runs, strict=True):
    _lake = gym.make("FrozenLake-v1")
    _lake.reset(seed=_seed)
    _want = _ref_loop(_lake, 40, 0.3, 0.5, 0.95, np.random.default_rng(_seed), _eg, _qu)
    assert np.allclose(_run[0], _want[0]) and np.allclose(_run[1], _want[1])
### END HIDDEN TESTS

# %% [markdown]
# ## Learning on the gridworld
# Your loop, with your two functions at its heart (each replaced by the library's while it does not pass its check):

# %%
choose, update = pick("epsilon_greedy", epsilon_greedy), pick("q_learning_update", q_learning_update)
loop = pick("run_q_learning", run_q_learning)
n_episodes = size(quick=300, full=3000)
env.reset(seed=0)
q, returns = loop(env, n_episodes, 0.2, 0.1, 0.9, np.random.default_rng(0), choose, update)
plot_learning_curves({"Q-learning": returns}, window=50, title="Q-learning on the gridworld (slip 0.2)")
plt.show()

# %% [markdown]
# The curve is noisy because the agent keeps exploring and the floor is slippery. What matters is the policy it
# learned. We can evaluate the greedy policy of `q` **exactly** with lesson 01's tools, and compare:

# %%
v_star, pi_star = value_iteration(mdp)
q_star = q_from_v(mdp, v_star)
start = int(np.argmax(mdp.start))
v_greedy = policy_evaluation(mdp, greedy_policy(q))
v_random = policy_evaluation(mdp, uniform_policy(mdp))
print(f"v(start): learned greedy policy {v_greedy[start]:.3f}, optimum {v_star[start]:.3f}, random {v_random[start]:.3f}")
error = np.abs(q - q_star)[~mdp.terminal]
greedy_error = np.abs(q - q_star)[np.arange(len(q)), q.argmax(axis=1)][~mdp.terminal]
print(f"largest |q - q*| over non-terminal states: {error.max():.3f} (on each state's greedy action: "
      f"{greedy_error.max():.3f})")
assert v_greedy[start] > v_random[start] + size(quick=0.3, full=0.5)
assert v_greedy[start] > v_star[start] - size(quick=0.4, full=0.02)

# %% [markdown]
# The largest error sits on an action the greedy policy does not take (0.58 in full mode, against at most 0.23 on
# each state's greedy action): an action tried once or twice, such as the step into the pit from the cell beside
# it, keeps the error of its few updates. Q-learning's values are accurate where it acts often, and the greedy
# policy needs only their order.
#
# ## Step sizes and exploration: what the convergence theorems ask
# Q-learning converges to $q_*$ with probability 1 if every $(s, a)$ is updated infinitely often and the step sizes
# of each pair satisfy the **Robbins-Monro conditions** (Watkins & Dayan 1992; Sutton & Barto 2018, eq. 2.7)
#
# $$\sum_{n} \alpha_n = \infty, \qquad \sum_{n} \alpha_n^2 < \infty:$$
#
# steps large enough to get anywhere, yet shrinking fast enough to average the noise away. $\alpha_n = 1/n$ (the
# $n$-th visit of the pair) satisfies both: it is the running average of the targets. A constant $\alpha$ fails the
# second: the estimate keeps moving by a fraction of each noisy sample. The cell estimates the mean (1) of a noisy
# reward, $\mathcal{N}(1, 1)$, both ways, over 200 runs:

# %%
rng = np.random.default_rng(0)
n_steps = size(quick=500, full=5000)
samples = rng.normal(1.0, 1.0, size=(200, n_steps))
estimates, errors = {"alpha = 0.1": np.zeros(200), "alpha_n = 1/n": np.zeros(200)}, {}
for name in estimates:
    errors[name] = np.empty(n_steps)
    for n in range(1, n_steps + 1):
        alpha = 0.1 if name == "alpha = 0.1" else 1.0 / n
        estimates[name] += alpha * (samples[:, n - 1] - estimates[name])
        errors[name][n - 1] = np.sqrt(np.mean((estimates[name] - 1.0) ** 2))
fig, ax = plt.subplots(figsize=(6, 3))
for name, err in errors.items():
    ax.loglog(np.arange(1, n_steps + 1), err, label=name)
ax.set(xlabel="samples n", ylabel="RMS error of the estimate", title="Estimating a mean from noisy samples")
ax.legend()
plt.show()
print(f"after {n_steps} samples: RMS error {errors['alpha = 0.1'][-1]:.3f} with alpha = 0.1 (the floor "
      f"sqrt(0.1 / 1.9) = {np.sqrt(0.1 / 1.9):.3f}), {errors['alpha_n = 1/n'][-1]:.3f} with 1/n (1/sqrt(n) = "
      f"{1 / np.sqrt(n_steps):.3f})")

# %% [markdown]
# The constant step stops improving at its floor, $\sigma \sqrt{\alpha / (2 - \alpha)}$ for the running
# exponential average; $1/n$ keeps shrinking as $1/\sqrt{n}$. For the *behaviour* to become optimal as well, the
# exploration must satisfy **GLIE**, greedy in the limit with infinite exploration (Singh, Jaakkola, Littman &
# Szepesvári 2000): every pair tried infinitely often, yet the policy greedy in the limit, for example
# $\varepsilon_k = 1/k$ in episode $k$. Q-learning's *values* converge under any behaviour that keeps visiting every
# pair (it is off-policy); Sarsa needs GLIE for its values too.
#
# The settings in this lesson satisfy neither, on purpose: a constant $\alpha$ keeps adapting, which suits tasks
# that change, and `QLearningAgent`'s $\varepsilon$ falls to 0.01 and stays there, which keeps exploring. They learn
# well on these small tasks, but carry no guarantee; which constant works best depends on the task, the theme of
# lessons 04 and 05.
#
# ## Explore: alpha, epsilon, gamma
# Each change trains five fresh learners (independent runs drawing from one generator with seed 0) and redraws their
# mean learning curve with its spread, and the exact values of their greedy policies. The slider's gamma is the
# *learner's* discount, a knob; the task keeps its own discount, 0.9, and every learned policy is scored with that one,
# so that turning the knob cannot move the goal. The title gives the mean and standard deviation over the runs of the
# exact value from the start, next to the best achievable. Try alpha 1.0 (the slippery floor makes single samples
# misleading), epsilon 0 (ties broken at random still explore a little), few episodes, and the learner's gamma at 0, 0.5
# and 0.99.

# %%
q_learning_explorer(alpha=0.2, epsilon=0.1, gamma=0.9, n_episodes=size(quick=50, full=500))

# %% [markdown]
# What does the learner's gamma change? Five runs for each of three values, from the same seed, each greedy policy
# scored at the task's gamma 0.9; and, for comparison, the exact optimal policy for a discount of 0.5, scored the same
# way:

# %%
for gamma_learner in (0.0, 0.5, 0.9):
    runs = q_learning_seeds(env.unwrapped.grid, 0.2, 0.1, gamma_learner, size(quick=50, full=500))
    print(f"learner's gamma {gamma_learner}: v(start) = {runs.v_start.mean():+.3f} ± sd {runs.v_start.std():.3f} "
          f"(5 runs; random policy {policy_evaluation(mdp, uniform_policy(mdp))[start]:+.3f})")
pi_half = value_iteration(mdp.with_gamma(0.5))[1]
print(f"optimal policy for gamma 0.5, scored at 0.9: {policy_evaluation(mdp, pi_half)[start]:+.3f}; "
      f"optimum {v_star[start]:+.3f}; it differs from the gamma-0.9 optimum in "
      f"{int((pi_half != pi_star).any(axis=1)[~mdp.terminal].sum())} cell(s)")

# %% [markdown]
# With a discount of 0.5 the goal seven steps away is worth $0.5^6 \approx 0.016$ now, still more than wandering,
# and the optimal policy is the same on the way from the start (it differs in one cell off the path, printed above):
# a learner with gamma 0.5 learns a policy about as good as one with 0.9 (they differ by about the spread between
# runs, one way in quick mode and the other in full mode). With a discount of 0
# only the next reward counts, every step costs the same 0.04, and nothing pulls the learner towards the goal: its
# greedy policies score far below the others, not much above the random policy. The learner's gamma matters where
# it changes which actions look best, as in lesson 05's tasks, where the step budget decides.

# %% [markdown]
# ## The library's agent on FrozenLake
# `QLearningAgent` is the same algorithm, written for speed, for any Gymnasium env with discrete actions: it updates
# with `td.q_learning_update` and chooses by `td.action_from_uniforms`, your `epsilon_greedy`'s rule with its two
# random numbers drawn ahead in blocks (the same distribution, not the same draws). On
# Gymnasium's `FrozenLake-v1` (4x4, slippery: the agent moves in the intended direction only a third of the
# time) the reward is 1 for reaching the goal. The best achievable success rate within the 100-step limit is the
# optimal finite-horizon value of the start state, computed exactly from the env's own transition table. The
# learned greedy policy's success rate within 100 steps can be computed exactly too (100 backups of its own values,
# `evaluate_policies(..., horizon=100)`), and so can the random policy's. Sampling episodes only estimates it:

# %%
lake = gym.make("FrozenLake-v1")
lake_mdp = TabularMDP.from_gymnasium(lake, gamma=1.0)
best = float(lake_mdp.start @ finite_horizon_value(lake_mdp, 100))
agent = QLearningAgent(lake, gamma=0.99, seed=0, progress=False)
agent.train(size(quick=2000, full=10000))


def success_within_100(pi):
    return float(lake_mdp.start @ evaluate_policies(lake_mdp.P, lake_mdp.r_sa, lake_mdp.terminal, 1.0, pi, 100))


exact = success_within_100(agent.greedy_policy())
sampled = agent.evaluate(n_lake := size(quick=300, full=2000), progress=False)
print(f"learned greedy policy: exact success rate {exact:.3f}; best achievable {best:.3f}; "
      f"random policy {success_within_100(uniform_policy(lake_mdp)):.3f}")
print(f"sampled over {n_lake} episodes: {sampled.mean():.3f} ± {1.96 * sampled.std() / np.sqrt(n_lake):.3f} (95%)")
assert exact <= best + 1e-12 and exact > size(quick=0.3, full=best - 0.05)

# %% [markdown]
# The exact rate never exceeds the best achievable one (the best may even look at the clock, which a stationary
# policy cannot). A sampled rate can land above it: it is an estimate with the noise printed next to it. Where the
# MDP is known, compare with the optimum exactly.

# %% [markdown]
# How close are the learned values to the exact $q_*$ (with $\gamma = 0.99$)? Each dot is one (state, action):

# %%
q_star_lake = q_from_v(lake_mdp.with_gamma(0.99), value_iteration(lake_mdp.with_gamma(0.99))[0])
live = ~lake_mdp.terminal[:, None]  # (S, 1): every action of a non-terminal state
fig, ax = plt.subplots(figsize=(4.5, 4))
greedy = agent.q == agent.q.max(axis=1, keepdims=True)  # the action(s) the greedy policy picks in each state
ax.scatter(q_star_lake[live & ~greedy], agent.q[live & ~greedy], s=12, c="tab:gray", label="other actions")
ax.scatter(q_star_lake[live & greedy], agent.q[live & greedy], s=16, c="tab:blue", label="greedy action")
ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="learned = exact")
ax.set(xlabel="exact q*(s, a)", ylabel="learned q(s, a)", title="FrozenLake: learned vs exact action values")
ax.legend()
plt.show()
error = np.abs(agent.q - q_star_lake)
print(f"mean |q - q*|: greedy actions {error[live & greedy].mean():.3f}, "
      f"other actions {error[live & ~greedy].mean():.3f}")

# %% [markdown]
# The actions the greedy policy takes (blue) are learned better than the others (grey), which it tries only when it
# explores: in full mode their mean error is about 0.025 against 0.040 (printed above). That is fine: Q-learning only
# needs the *best* action to stand out.
#
# ## Maximisation bias and Double Q-learning
# The max in Q-learning's target has a cost. If several actions are worth the same and their estimates are noisy,
# the largest *estimate* is above the largest *value* on average: $\mathbb{E}[\max_a \hat q(a)] \ge \max_a
# \mathbb{E}[\hat q(a)]$. Sutton & Barto (2018, Example 6.7) build a task where this bias misleads. Every episode
# starts in state A: `right` ends it with reward 0; `left` leads to state B, whose actions all end the episode
# with a reward drawn from $\mathcal{N}(-0.1, 1)$. So `left` is worth $-0.1$, `right` 0, and an $\varepsilon$-greedy
# agent that knows this takes `left` only while exploring: $\varepsilon / 2 = 5\%$ of the time.
#
# **Double Q-learning** (van Hasselt 2010; Sutton & Barto 2018, eq. 6.10, `metarl_edu.td.double_q_learning_update`)
# keeps two tables: on each step a fair coin picks the one to update; it chooses the best next action and the other
# table values it, so the noise that made an action look best is not counted again in its value. It acts on the sum
# of the two. The cell reruns the book's Figure 6.5 with its settings ($\alpha = 0.1$, $\varepsilon = 0.1$,
# $\gamma = 1$, values starting at 0, ties at random, 300 episodes; 10,000 runs in full mode, 1,000 in quick mode).
# The book says only that B has "many" actions; we give it 10, as the widely used reproduction of the book's
# figures does (S. Zhang, `reinforcement-learning-an-introduction`, chapter 6).

# %%
n_runs = size(quick=1000, full=10000)
left_pct = {name: 100 * left_from_a(method, n_runs, seed=0).mean(axis=0)
            for name, method in (("Q-learning", "q_learning"), ("Double Q-learning", "double_q_learning"))}
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, pct in left_pct.items():
    ax.plot(np.arange(1, 301), pct, label=name)
ax.axhline(5, color="black", linestyle="--", linewidth=1, label="optimal (5%: exploration only)")
ax.set(xlabel="episode", ylabel="% left actions from A", ylim=(0, 100),
       title=f"Maximisation bias (Sutton & Barto 2018, Figure 6.5), {n_runs} runs")
ax.legend()
plt.show()
for name, pct in left_pct.items():
    print(f"{name:>17}: peak {pct.max():.0f}% (episode {pct.argmax() + 1}), episodes 201-300: {pct[200:].mean():.1f}%")
q_pct, dq_pct = left_pct["Q-learning"], left_pct["Double Q-learning"]
assert q_pct[:50].max() > 60 and q_pct[200:].mean() > dq_pct[200:].mean() and dq_pct.max() < 60

# %% [markdown]
# As in the book's figure, Q-learning soon takes `left` far more often than the 5% that exploration forces, and
# still more often after 300 episodes: at first the max over B's untried and lucky estimates makes `left` look
# better than the certain 0 of `right`, and only many visits to B pull every estimate down. Double Q-learning takes
# `left` about half the time in its first, untrained episodes, never more beyond noise, and settles near the 5%
# floor (slightly above it in our runs). QLearningAgent and the rest of the course use plain Q-learning; where the
# targets are noisy maxima, remember this bias.
#
# ## On-policy versus off-policy: cliff walking
# Sutton & Barto (2018), Example 6.6: on a 4x12 grid, every step costs -1 and stepping into the cliff costs -100
# and sends the agent back to the start (`CliffWalking-v1`). With $\varepsilon = 0.1$ and $\gamma = 1$, the graph
# in that example shows the return *during* training: Sarsa around -25, Q-learning around -50. The book gives no
# step size; we use $\alpha = 0.5$, as the widely used reproduction by Shangtong Zhang does.
# **Sarsa** (eq. 6.7) bootstraps from the action it will actually take, exploration included; `QLearningAgent`
# runs it with `method="sarsa"`.

# %%
n_seeds, n_cliff = size(quick=3, full=20), size(quick=150, full=500)
curves, agents = {}, {}
for method in ("q_learning", "sarsa"):
    runs = []
    for seed in range(n_seeds):
        agents[method] = QLearningAgent(gym.make("CliffWalking-v1"), alpha=0.5, gamma=1.0, epsilon=0.1, seed=seed,
                                        method=method, progress=False)
        runs.append(agents[method].train(n_cliff))
    curves[method] = np.array(runs)
plot_learning_curves({"Q-learning": curves["q_learning"], "Sarsa": curves["sarsa"]}, window=20, ylim=(-120, 0),
                     title="Cliff walking, epsilon = 0.1 (Sutton & Barto 2018, Example 6.6)")
plt.show()
late = {m: c[:, -50:].mean() for m, c in curves.items()}
print(f"mean return over the last 50 episodes: Q-learning {late['q_learning']:.1f}, Sarsa {late['sarsa']:.1f}")
assert late["sarsa"] > late["q_learning"]

# %% [markdown]
# Where do the two agents walk when they stop exploring? The greedy paths of the last seed's tables:

# %%
def cliff_step(s, a):
    row, col = divmod(s, 12)
    row, col = min(max(row + (-1, 0, 1, 0)[a], 0), 3), min(max(col + (0, 1, 0, -1)[a], 0), 11)
    s_next = 36 if row == 3 and 0 < col < 11 else row * 12 + col  # the cliff sends you back to the start
    return s_next, s_next == 47


paths = {}
for method, name in (("q_learning", "Q-learning"), ("sarsa", "Sarsa")):
    s, cells = 36, [(3, 0)]
    for _ in range(40):
        s, done = cliff_step(s, int(np.argmax(agents[method].q[s])))
        cells.append(divmod(s, 12))
        if done:
            break
    paths[name] = cells
special = {"cliff": [(3, c) for c in range(1, 11)], "start": [(3, 0)], "goal": [(3, 11)]}
plot_paths_on_grid(paths, (4, 12), special, title="Greedy paths after training")
plt.show()
assert paths["Q-learning"][-1] == (3, 11) and len(paths["Q-learning"]) == 14  # the optimal 13 steps

# %% [markdown]
# Q-learning learns the values of the *greedy* policy, so it finds the shortest path, right along the cliff edge.
# But while training it still explores, and a random step there costs -100: its online return is worse. Sarsa
# learns the values of the policy it actually follows, exploration included, so it prefers the safer path further
# from the edge. Which is "better" depends on whether exploration continues when it matters.
#
# ## Summary and next
# - TD(0) evaluates a policy from samples by the TD error $\delta = r + \gamma v(s') - v(s)$.
# - Q-learning learns $q_*$ from samples: $q(s,a) \leftarrow q(s,a) + \alpha\,(r + \gamma \max_{a'} q(s',a') - q(s,a))$,
#   with no bootstrap after termination (but bootstrapping after truncation); you wrote its whole loop.
# - Convergence asks for Robbins-Monro step sizes and, for optimal behaviour, GLIE exploration; constant settings
#   give up the guarantee for adaptivity.
# - The max in the target is biased upwards on noisy estimates; Double Q-learning removes the upward bias (it can err
#   low instead: van Hasselt 2010).
# - Epsilon-greedy with random tie-breaking keeps every action in play.
# - Its knobs, alpha, epsilon and gamma, change what and how fast it learns; the widget showed how much. A good
#   setting for one task may be poor for another, which is what lessons 04 and 05 learn across many tasks.
#
# Next, **03 · Q-learning on CartPole**: a continuous state, turned into a table by a discretiser.
