# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Welcome
#     minutes: 20
#     prerequisites:
#     - Python with numpy (arrays, indexing, loops)
#     objectives:
#     - run cells, move a widget's slider and read what changes
#     - write a function in an exercise cell and read the feedback of its check
#     - tell quick mode from full mode, and know where your work is saved
#     - compute a discounted return by hand and in code
# ---

# %% [markdown]
# Welcome to **metarl-edu**, a course on *meta-reinforcement learning*: algorithms that use many tasks to learn
# how to learn, so that a new task is solved quickly. Think of an agent that has already solved a hundred mazes:
# it should need only a few tries for the hundred-and-first. This first notebook shows how the course works. It
# has one small exercise.
#
# ## The article this course follows
# The course grew out of one article on meta-RL, which later lessons call *the article*. Its claim: a
# reinforcement-learning algorithm has knobs (the step size, the exploration rate, the discount, the initial
# weights of a network), the best setting depends on the task, and meta-RL *learns* these settings, or the
# learning algorithm itself, from many tasks, so that a new task is solved fast. It proceeds in three steps:
# learn a model of the algorithm's hyperparameters across many training tasks, use it to configure the algorithm on
# a new task, and evaluate the result on tasks that the learning never saw. And it gives two examples in code, which
# this course makes work exactly as written:
#
# | the article's code | what it does | lesson |
# |---|---|---|
# | `QLearningAgent(gym.make('CartPole-v1'))` | tabular Q-learning on CartPole | 03 |
# | `agent = MAMLAgent(env)`, then `agent.train()` | MAML on a distribution of tasks built around `env` | 08 |
#
# The course tests the article's claims rather than taking them on trust: lesson 05 runs its three steps and
# measures, on held-out tasks, where a learned model of the hyperparameters beats the best single setting and where
# it does not.
#
# ## How a notebook works
# A notebook is a list of cells. Click a cell and press **Shift+Enter** to run it and move to the next one.
# Run the cells in order from the top; if something looks wrong, use *Kernel → Restart Kernel and Run All Cells*.
#
# The cell below starts the lesson: it prints which notebook this is and which *mode* it runs in.

# %%
import numpy as np

from metarl_edu import size
from metarl_edu.classroom import check, pick, start_lesson

start_lesson("00_welcome", kind="master")

# %% [markdown]
# ## Quick mode and full mode
# Some lessons train agents for thousands of episodes. In **full mode** (the default) a notebook runs at the size
# the text describes. In **quick mode** (environment variable `METARL_EDU_QUICK=1`) the same code runs with small
# budgets; the test suite, the grader and the self-check use it. Lessons choose their sizes with one helper:

# %%
n_episodes = size(quick=20, full=500)
print(f"This notebook would train for {n_episodes} episodes.")

# %% [markdown]
# ## Rewards and the discounted return
# In reinforcement learning an agent acts, and the world answers with a reward $r_{t+1}$ after each action. One
# episode yields rewards $r_1, r_2, \dots, r_T$. The agent's goal is a large **discounted return**
#
# $$G_0 = r_1 + \gamma r_2 + \gamma^2 r_3 + \dots = \sum_{t=0}^{T-1} \gamma^t r_{t+1},$$
#
# where the **discount** $\gamma \in [0, 1]$ says how much a reward one step later is worth
# (Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., 2018, eq. 3.8; for an episode that ends
# at step $T$, eq. 3.11). For rewards $1, 1, 1$ and $\gamma = 0.5$: $G_0 = 1 + 0.5 + 0.25 = 1.75$.
#
# ## A widget
# Widgets are controls that redraw a result. Move the slider: each bar is the weight $\gamma^t$ of reward
# $r_{t+1}$. With $\gamma$ close to 1 the agent cares about the far future; with $\gamma = 0$ only the next reward
# counts. The title shows the *effective horizon* $1/(1-\gamma) = \sum_t \gamma^t$: a reward of 1 on every step
# is worth $1/(1-\gamma)$ in total (Sutton & Barto 2018, eq. 3.10), roughly how far ahead the agent looks.

# %%
from metarl_edu.notebook.discount import discount_explorer

discount_explorer(gamma=0.9)

# %% [markdown]
# ## Your first exercise
# Complete `discounted_return(rewards, gamma)` so that it returns $G_0$ for a list of rewards: `rewards[0]` is
# $r_1$, `rewards[1]` is $r_2$, and so on. The cell holds a stub that raises `NotImplementedError`; replace that
# line with your code and run the cell. An empty list of rewards has return 0.
#
# *Tip:* working backwards is neat: $G_t = r_{t+1} + \gamma G_{t+1}$, starting from $G_T = 0$
# (Sutton & Barto 2018, eq. 3.9).


# %%
def discounted_return(rewards, gamma):
    """G_0 = sum_t gamma**t * rewards[t] for one episode's rewards (a list of floats)."""
    ### BEGIN SOLUTION id=discounted_return points=1 replaces=metarl_edu.mdp.discounted_return hint="Loop over the rewards and add gamma**t * reward"
    g = 0.0
    for r in reversed(rewards):
        g = r + gamma * g
    return g
    ### END SOLUTION


# %% [markdown]
# ## Checks
# Run the next cell. A **check** calls your function on small cases whose answers are known. It prints ✅ when
# all pass, ⏳ while the exercise is not attempted, and ❌ with one hint per failed case (the input, what was
# expected, what came back). Checks never stop the notebook; fix and re-run the exercise cell, then the check.

# %%
check("discounted_return", discounted_return)

# %%
### BEGIN HIDDEN TESTS id=discounted_return
### PROBE
_fifty = discounted_return([2.0] * 50, 0.9)
_one = discounted_return([3.0], 0.0)
### JUDGE
assert abs(_fifty - 2.0 * (1 - 0.9**50) / (1 - 0.9)) < 1e-9
assert _one == 3.0
### END HIDDEN TESTS

# %% [markdown]
# Cells after an exercise keep working even if it is unsolved: `pick` returns your function when it passed its
# check, and otherwise the library's reference implementation, with a line saying so.

# %%
G = pick("discounted_return", discounted_return)
rewards = [0.0, 0.0, 0.0, 1.0]
for gamma in (0.5, 0.9, 1.0):
    print(f"gamma = {gamma}: G_0 = {G(rewards, gamma):.3f}")
assert np.isclose(G(rewards, 0.9), 0.9**3)

# %% [markdown]
# ## Where your work is saved, and how to check it
# `make lab` copies each lesson into the `work/` folder and opens JupyterLab there. Your edits live in `work/`
# and are never overwritten: a lesson is copied only when `work/` does not have it yet. To start a lesson afresh,
# delete or rename your copy in `work/` and run `make lab` again.
#
# To see what the grader would say, run in a terminal:
#
#     .venv/bin/metarl-edu check work/00_welcome.ipynb
#
# It runs a copy of your notebook in a fresh kernel, in quick mode, and prints each exercise's result and points.
#
# ## Getting help
# In the full course checkout, each lesson's complete version is in `solutions/` for self-study (try the exercise
# first), and `course/syllabus.md` lists objectives, times and points; a class release leaves both out, and your
# instructor says where to ask. The README lists the lessons. Reading the library's version of an exercise is fine once
# you have tried; *calling* it (or the library function the exercise replaces) from your answer is not: the grader
# scores that exercise 0, and the check cell warns you when it sees it. Every library function has a docstring: run
# `help(pick)`, or `import metarl_edu.mdp` and then `help(metarl_edu.mdp.discounted_return)` for the reference version
# of this exercise, or put a `?` after a name.
#
# ## Summary and next
# You ran cells, moved a slider, wrote and checked a function, and met the discounted return. Next,
# **01 · Markov decision processes** writes a whole decision problem as arrays and computes exact values of
# policies with dynamic programming.
