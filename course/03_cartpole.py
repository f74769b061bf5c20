# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Q-learning on CartPole
#     minutes: 50
#     prerequisites:
#     - 02 Tabular Q-learning
#     objectives:
#     - describe CartPole's observation, actions, reward and episode end
#     - write a discretiser that maps a continuous observation to a table row
#     - train QLearningAgent on CartPole-v1 and judge it against CartPole's solved threshold
#     - explain what a table cannot do here, and why that motivates the rest of the course
# ---

# %% [markdown]
# Lesson 02's tasks had a few dozen states. Gymnasium's `CartPole-v1` (Barto, Sutton & Anderson, 1983) has a
# *continuous* state: a pole hinged on a cart must be kept upright by pushing the cart left or right. This lesson
# runs the first example of the article the course follows (lesson 00 introduces it),
# `QLearningAgent(gym.make('CartPole-v1'))`, and looks at what it takes to make a table work for a continuous state.

# %%
import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np

from metarl_edu import QLearningAgent, size
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.notebook.cartpole import bins_runs, cartpole_bins_explorer, plot_frames, rollout_frames
from metarl_edu.notebook.learning import plot_learning_curves
from metarl_edu.agents import Discretizer

start_lesson("03_cartpole", kind="master")

# %% [markdown]
# ## The task
# | | CartPole-v1 |
# |---|---|
# | observation | cart position $x$, cart velocity $\dot x$, pole angle $\theta$, angular velocity $\dot\theta$ (4 floats) |
# | actions | 0 push left, 1 push right |
# | reward | +1 for every step the pole stays up |
# | terminated | $\lvert\theta\rvert > 12°$ (0.21 rad) or $\lvert x\rvert > 2.4$ |
# | truncated | after 500 steps: a return of 500 is perfect |
#
# Gymnasium registers CartPole-v1 with a *reward threshold* of 475, the average return at which it counts as solved;
# the older CartPole-v0 used 195 (both printed below from Gymnasium's registry). A random policy lasts about 22
# steps:

# %%
env = gym.make("CartPole-v1")
rng = np.random.default_rng(0)
random_returns = []
for episode in range(size(quick=30, full=200)):
    obs, _ = env.reset(seed=episode)
    done, G = False, 0.0
    while not done:
        obs, r, terminated, truncated, _ = env.step(int(rng.integers(2)))
        G, done = G + r, terminated or truncated
    random_returns.append(G)
random_mean = float(np.mean(random_returns))
print(f"random policy: mean return {random_mean:.1f} over {len(random_returns)} episodes")
print("reward thresholds:", gym.spec("CartPole-v1").reward_threshold, "(v1),", gym.spec("CartPole-v0").reward_threshold, "(v0)")
print("one observation:", obs)

# %% [markdown]
# ## From a continuous state to a table row
# A table needs a finite number of states. A **discretiser** cuts each dimension $i$ of the observation into `bins[i]`
# equal intervals between `low[i]` and `high[i]` (values outside fall into the first or last bin), then numbers the
# combinations **row-major**, like `np.ravel_multi_index`: if the observation falls in bin $b_i$ of dimension $i$, which
# has $n_i$ = `bins[i]` bins, the index is $b_0 \cdot n_1 n_2 \cdots n_{d-1} + b_1 \cdot n_2 \cdots n_{d-1} + \dots +
# b_{d-1}$, the last dimension varying fastest. For example, with 2 x 3 bins over $[0,1] \times [0,3]$, the observation
# $(0.9, 1.5)$ falls in bins $(1, 1)$, so its index is $1 \cdot 3 + 1 = 4$.
#
# **Exercise.** Write `discretize(obs, low, high, bins)` (all arrays of shape (d,); `bins` holds integers) and
# return an `int` in `[0, prod(bins))`.


# %%
def discretize(obs, low, high, bins):
    """Row-major index of the bins that contain obs; each dimension clipped to [low, high]."""
    ### BEGIN SOLUTION id=discretize points=3 replaces=metarl_edu.agents.discretize hint="For each dimension take floor((x - low) / (high - low) * bins), clip it to [0, bins - 1], then combine row-major"
    b = np.floor((np.asarray(obs) - low) / (high - low) * bins).astype(int)
    b = np.clip(b, 0, np.asarray(bins) - 1)
    return int(np.ravel_multi_index(tuple(b), tuple(bins)))
    ### END SOLUTION


# %%
check("discretize", discretize)

# %%
### BEGIN HIDDEN TESTS id=discretize
import numpy as np
### PROBE
_cube = discretize(np.array([0.5, 0.5, 0.5]), np.zeros(3), np.ones(3), np.array([2, 2, 2]))
_outside = discretize(np.array([-1.0, 9.0]), np.zeros(2), np.ones(2), np.array([5, 5]))
### JUDGE
assert _cube == 7
assert _outside == 4
### END HIDDEN TESTS

# %% [markdown]
# Which ranges and bins? The angle and the angular velocity say most about where the pole is heading, so they get
# the most bins (6 and 12); the velocities are unbounded, so we clip them; the cart position gets a single bin (it
# is ignored) to keep the table small, and the frames further down show what that costs. These are the defaults of
# `Discretizer.for_cartpole()`: 1 x 4 x 6 x 12 = 288 states.

# %%
cartpole_bins = Discretizer.for_cartpole()
print(cartpole_bins)
to_state = pick("discretize", discretize)
low, high, bins = np.array(cartpole_bins.low), np.array(cartpole_bins.high), np.array(cartpole_bins.bins)
print("state of the last observation:", to_state(obs, low, high, bins), "of", cartpole_bins.n_states)

# %% [markdown]
# ## The article's example
# These two lines are the article's first example (lesson 00): a Gymnasium env and a `QLearningAgent`. For
# continuous observations the agent builds the discretiser above by itself. Its other defaults: $\alpha = 0.1$,
# $\gamma = 0.99$, and $\varepsilon$ falling linearly from 1 to 0.01 over the first half of the training episodes.

# %%
env = gym.make("CartPole-v1")
agent = QLearningAgent(env, seed=0)
returns = agent.train(size(quick=400, full=2000))
greedy = agent.evaluate(100)
plot_learning_curves({"Q-learning, seed 0": returns}, window=50, title="CartPole-v1: return per training episode")
plt.show()
print(f"greedy policy: mean return {greedy.mean():.1f} over 100 episodes (random: {random_mean:.1f})")
assert greedy.mean() >= 2 * random_mean

# %% [markdown]
# Your own discretiser plugs in too: the agent accepts any object with `n_states` and a call `obs -> index`.

# %%
class MyDiscretizer:
    n_states = int(np.prod(bins))

    def __call__(self, obs):
        return to_state(obs, low, high, bins)


n_check = size(quick=50, full=200)
mine = QLearningAgent(gym.make("CartPole-v1"), seed=0, discretizer=MyDiscretizer(), progress=False)
library = QLearningAgent(gym.make("CartPole-v1"), seed=0, progress=False)  # the default discretiser
same = np.array_equal(mine.train(n_check), library.train(n_check))
print(f"your discretiser and the library's give identical training runs over {n_check} episodes: {same}")

# %% [markdown]
# ## Watch the learned policy
# Frames of one greedy episode, drawn with matplotlib (no display needed). If the episode ends before step 500,
# look at the last frame: the cart has usually run off the edge of the track. Our discretiser ignores the cart's
# position (a single bin), which keeps the table small but leaves the agent blind to the edge.

# %%
viewer = gym.make("CartPole-v1", render_mode="rgb_array")
frames, steps, G = rollout_frames(viewer, lambda o: agent.act(o, greedy=True), n_frames=6, seed=123)
plot_frames(frames, steps, title=f"Greedy policy after training: return {G:.0f}")
plt.show()

# %% [markdown]
# ## How reliable is it?
# One seed is an anecdote. Our acceptance test for this lesson: `QLearningAgent(gym.make('CartPole-v1'), seed=s)`
# trained for 2000 episodes should reach a greedy mean return of at least 195 over 100 episodes for at least 4 of
# the seeds 0-4; 475 is what we aim for. Seed 0 is the agent trained above; in full mode the next cell trains
# seeds 1-4 the same way (well under a minute), quick mode none.

# %%
results = [greedy.mean()]  # seed 0: the article's agent above, trained and evaluated exactly this way
print(f"seed 0: greedy mean return {results[0]:.1f}")
for seed in range(1, size(quick=1, full=5)):
    agent_s = QLearningAgent(gym.make("CartPole-v1"), seed=seed, progress=False)
    agent_s.train(size(quick=400, full=2000))
    results.append(agent_s.evaluate(100, progress=False).mean())
    print(f"seed {seed}: greedy mean return {results[-1]:.1f}")
print(f"seeds at or above 195: {sum(r >= 195 for r in results)} of {len(results)}; at or above 475: "
      f"{sum(r >= 475 for r in results)}")
assert sum(r >= size(quick=2 * random_mean, full=195) for r in results) >= size(quick=1, full=4)

# %% [markdown]
# ## How many bins?
# Few bins merge states that need different actions; many bins make a huge table whose entries are each visited
# rarely, so learning slows down. Three discretisations, each trained on several seeds for the same number of
# episodes (the angle bins x angular-velocity bins are named; the cart velocity keeps its 4 bins):

# %%
settings = {"default, 6 x 12": (1, 4, 6, 12), "1 angle bin": (1, 4, 1, 12), "20 x 24": (1, 4, 20, 24)}
n_bin_episodes, bin_seeds = size(quick=60, full=500), range(size(quick=2, full=5))
for name, bins_k in settings.items():
    _, greedy_k = bins_runs(lambda: gym.make("CartPole-v1"), bins_k, n_bin_episodes, bin_seeds,
                            n_eval=size(quick=3, full=20))
    print(f"{name:>16} ({np.prod(bins_k):4d} states): greedy return {greedy_k.mean():5.1f} ± {greedy_k.std():5.1f} "
          f"(mean ± sd over seeds {list(bin_seeds)}); per seed {np.round(greedy_k).tolist()}")

# %% [markdown]
# In full mode (500 episodes, seeds 0-4; quick mode prints fewer episodes and seeds) the spread between seeds is
# about as large as the differences between the settings: one seed of one setting says little. Averaged over seeds,
# the table with a single angle bin (48 states) scores higher than the default (288 states) after 500 episodes,
# about 143 against 91, but the seed-by-seed differences range from -11 to +150: five seeds hint at the effect
# without establishing it. The hint has a reason: a small table learns faster, and the angular velocity alone says
# much about where the pole is heading. The largest table (1920 states) scores lowest on average (about 58), with
# the same caveat: most of its entries have hardly been visited. Fewer states are not the whole story, though: given
# 2000 episodes (full mode) the default balances the pole for 436 to 500 steps (the five seeds above). Does one
# angle bin get there too? Try it below with 2000 episodes.
#
# ## Explore: how many bins?
# Each change trains three fresh agents (seeds 0-2) and redraws their mean learning curve with its spread, and each
# seed's greedy return; the axes stay fixed. Try 1 angle bin with 2000 episodes, or 20 x 24 bins.

# %%
cartpole_bins_explorer(lambda: gym.make("CartPole-v1"), n_episodes=size(quick=50, full=500),
                       n_eval=size(quick=3, full=20), n_seeds=size(quick=2, full=3))

# %% [markdown]
# ## What a table cannot do
# - **It does not generalise.** Two nearby observations in different bins share nothing: whatever the agent learns
#   in one bin teaches it nothing about the next. With $k$ bins in each of $d$ dimensions the table has $k^d$ rows,
#   the *curse of dimensionality* (Bellman, 1957): 10 bins for a 17-dimensional robot would be $10^{17}$ rows.
# - **It starts from scratch on every task.** A table holds one answer. If a new task needs different behaviour
#   (say the two pushes are swapped, so "left" moves the cart right), the agent must unlearn and relearn it, with
#   nothing that tells it which task it is in or how to switch quickly.
# - **Its knobs were tuned by hand.** The bins, ranges, $\alpha$ and the $\varepsilon$ schedule above came from
#   trial and error on this one task.
#
# The rest of the course attacks these in turn: lessons 04-05 learn the knobs across many tasks; 06-08 replace the
# table by a neural network and learn an initialisation that adapts to a new task (a new goal, or swapped pushes) in
# a few steps; lesson 08 also shows a family (poles of other lengths and masses) where one policy suits every task
# and adapting buys nothing; 09 learns the whole learning procedure.
#
# ## Summary and next
# - A discretiser turns a continuous observation into a row of a table: clip, bin, flatten row-major.
# - `QLearningAgent(gym.make('CartPole-v1'))` learns to balance the pole with the defaults: after 2000 episodes its
#   greedy policy scores 436 to 500 over five seeds in full mode (four of five pass Gymnasium's 475 threshold).
# - Next, **04 · Many tasks**: task distributions, and why the best hyperparameters move from task to task.
