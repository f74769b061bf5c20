# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Tabular Q-learning
#     minutes: 75
#     prerequisites:
#     - 01 Markov decision processes
#     objectives:
#     - implement epsilon-greedy action selection with random tie-breaking
#     - implement the Q-learning update, with termination and truncation handled correctly
#     - train a Q-learning agent on a gridworld and on Gymnasium's FrozenLake and compare it with the exact optimum
#     - see live how alpha, epsilon and gamma change learning
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
from metarl_edu.mdp import finite_horizon_value, greedy_policy, uniform_policy
from metarl_edu.notebook.learning import plot_learning_curves, plot_paths_on_grid, q_learning_explorer

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
# ## The Q-learning update
# After each step the agent moves its estimate a step $\alpha$ towards a **target** (Sutton & Barto 2018, eq. 6.8):
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
# ## Learning on the gridworld
# Here is the whole algorithm: a loop over episodes and steps, your two functions at its heart.

# %%
choose, update = pick("epsilon_greedy", epsilon_greedy), pick("q_learning_update", q_learning_update)


def run_q_learning(env, n_episodes, alpha, epsilon, gamma, seed):
    rng = np.random.default_rng(seed)
    q = np.zeros((env.observation_space.n, env.action_space.n))
    returns = np.zeros(n_episodes)
    env.reset(seed=seed)
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


n_episodes = size(quick=300, full=3000)
q, returns = run_q_learning(env, n_episodes, alpha=0.2, epsilon=0.1, gamma=0.9, seed=0)
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
print(f"largest |q - q*| over non-terminal states: {np.abs(q - q_star)[~mdp.terminal].max():.3f}")
assert v_greedy[start] > v_random[start] + size(quick=0.3, full=0.5)
assert v_greedy[start] > v_star[start] - size(quick=0.4, full=0.02)

# %% [markdown]
# ## Explore: alpha, epsilon, gamma
# Each change retrains a fresh agent (same seed) and redraws the learning curve and the greedy policy, whose exact
# value from the start is in the title. Try: alpha 1.0 (the slippery floor makes single samples misleading);
# epsilon 0 (ties broken at random still explore a little, but often not enough); gamma 0.5 (the goal is too far
# away to matter, so the agent dawdles); few episodes.

# %%
q_learning_explorer(alpha=0.2, epsilon=0.1, gamma=0.9, n_episodes=size(quick=50, full=500))

# %% [markdown]
# ## The library's agent on FrozenLake
# `QLearningAgent` is the same algorithm, written for speed, for any Gymnasium env with discrete actions. On
# Gymnasium's `FrozenLake-v1` (4x4, slippery: the agent moves in the intended direction only a third of the
# time) the reward is 1 for reaching the goal. The best achievable success rate within the 100-step limit is the
# optimal finite-horizon value of the start state, computed exactly from the env's own transition table:

# %%
lake = gym.make("FrozenLake-v1")
lake_mdp = TabularMDP.from_gymnasium(lake, gamma=1.0)
best = float(lake_mdp.start @ finite_horizon_value(lake_mdp, 100))
agent = QLearningAgent(lake, gamma=0.99, seed=0, progress=False)
agent.train(size(quick=2000, full=10000))
success = agent.evaluate(size(quick=300, full=2000), progress=False).mean()
print(f"greedy success rate {success:.3f}; best achievable {best:.3f}; random policy about 0.015")
assert success > size(quick=0.3, full=best - 0.05)

# %% [markdown]
# How close are the learned values to the exact $q_*$ (with $\gamma = 0.99$)? Each dot is one (state, action):

# %%
q_star_lake = q_from_v(lake_mdp.with_gamma(0.99), value_iteration(lake_mdp.with_gamma(0.99))[0])
live = ~lake_mdp.terminal
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(q_star_lake[live].ravel(), agent.q[live].ravel(), s=12)
ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="learned = exact")
ax.set(xlabel="exact q*(s, a)", ylabel="learned q(s, a)", title="FrozenLake: learned vs exact action values")
ax.legend()
plt.show()

# %% [markdown]
# The actions the greedy policy takes are learned well; actions it rarely tries keep rougher estimates, which is
# fine: Q-learning only needs the *best* action to stand out.
#
# ## On-policy versus off-policy: cliff walking
# Sutton & Barto (2018), Example 6.6: on a 4x12 grid, every step costs -1 and stepping into the cliff costs -100
# and sends the agent back to the start (`CliffWalking-v1`). With $\varepsilon = 0.1$, $\alpha = 0.5$ and
# $\gamma = 1$, their Figure 6.4 shows the return *during* training: Sarsa around -25, Q-learning around -50.
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
# - Q-learning learns $q_*$ from samples: $q(s,a) \leftarrow q(s,a) + \alpha\,(r + \gamma \max_{a'} q(s',a') - q(s,a))$,
#   with no bootstrap after termination (but bootstrapping after truncation).
# - Epsilon-greedy with random tie-breaking keeps every action in play.
# - Its knobs, alpha, epsilon and gamma, change what and how fast it learns; the widget showed how much. A good
#   setting for one task may be poor for another, which is what lessons 04 and 05 learn across many tasks.
#
# Next, **03 · Q-learning on CartPole**: a continuous state, turned into a table by a discretiser.
