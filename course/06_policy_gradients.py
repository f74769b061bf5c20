# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Policy gradients
#     minutes: 60
#     prerequisites:
#     - 03 Q-learning on CartPole
#     objectives:
#     - derive the REINFORCE gradient with the log-derivative trick
#     - write the REINFORCE loss with a baseline and a mask as a torch function
#     - train neural-network policies on CartPole-v1 (discrete actions) and 2D navigation (continuous actions)
#     - measure how a baseline reduces the variance of the gradient estimate
# ---

# %% [markdown]
# Lesson 03 ended with what a table cannot do: generalise between states or carry over to a new task. From here on
# the policy is a **neural network** $\pi_\theta(a \mid s)$, and we improve it by gradient ascent on its expected
# return. This is REINFORCE (Williams, 1992), the simplest policy-gradient method, and the inner loop that MAML
# adapts in lesson 08: there, "learning a new task" means a few REINFORCE steps.

# %%
import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch

from metarl_edu import size
from metarl_edu.classroom import check, pick, start_lesson
from metarl_edu.fast.envs import BatchedNavigation2D
from metarl_edu.notebook.pg import plot_reinforce_curves, reinforce_explorer
from metarl_edu.nets import CategoricalMLPPolicy, GaussianMLPPolicy
from metarl_edu.pg import (discounted_returns, linear_baseline, sample_batched_episodes, sample_episodes,
                           train_reinforce)
from metarl_edu.studies.policy_gradients import policy_gradient_samples

torch.set_num_threads(1)  # networks this small run fastest on one thread (two threads wait on each other)
start_lesson("06_policy_gradients", kind="master")

# %% [markdown]
# ## The gradient of the expected return
# A trajectory $\tau = (s_0, a_0, r_0, s_1, \dots)$ has probability
# $p_\theta(\tau) = p(s_0) \prod_t \pi_\theta(a_t \mid s_t)\, p(s_{t+1} \mid s_t, a_t)$, and we want to maximise
# $J(\theta) = \mathbb E_{\tau \sim p_\theta}[R(\tau)]$. The **log-derivative trick**
# $\nabla_\theta p_\theta = p_\theta \nabla_\theta \log p_\theta$ turns the gradient into an expectation we can
# sample:
#
# $$\nabla_\theta J = \mathbb E_\tau\big[R(\tau)\, \nabla_\theta \log p_\theta(\tau)\big]
#   = \mathbb E_\tau\Big[\sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\, G_t\Big].$$
#
# The dynamics $p(s_{t+1} \mid s_t, a_t)$ do not depend on $\theta$, so their log-gradient vanishes: we need no
# model. Rewards paid before $t$ cannot depend on $a_t$, so only the **reward-to-go** $G_t = \sum_{k \ge t}
# \gamma^{k-t} r_k$ remains. One sampled step gives Sutton & Barto's (2018, section 13.3, eq. 13.8) update
# $\theta \leftarrow \theta + \alpha\, G_t \nabla \pi(a_t \mid s_t) / \pi(a_t \mid s_t)$, the same thing since
# $\nabla \pi / \pi = \nabla \log \pi$.
#
# **A baseline.** For any $b(s_t)$ that does not depend on $a_t$,
# $\mathbb E_{a_t}[\nabla \log \pi(a_t \mid s_t)\, b(s_t)] = b(s_t) \nabla \sum_a \pi(a \mid s_t) = b(s_t) \nabla 1
# = 0$, so $G_t - b(s_t)$ gives the same expected gradient (section 13.4 of the book) with, for a good $b$, much
# less variance. We use the MAML paper's **linear baseline**, a least-squares fit of $G_t$ on features of $s_t$
# and $t$ (`linear_baseline`).

# %% [markdown]
# ## The loss that autograd differentiates
# Torch minimises, so we write a **surrogate loss** whose gradient is $-\nabla J$. Over a batch of $N$ episodes
# padded to a common length $T$ (mask $m_t = 1$ on real steps, 0 after an episode ended):
#
# $$L(\theta) = -\frac{1}{N} \sum_{i=1}^{N} \sum_{t} m^i_t \, \log \pi_\theta(a^i_t \mid s^i_t)\,
#   \big(G^i_t - b^i_t\big).$$
#
# The weight $G - b$ is **data**: it must not be differentiated (detach it), otherwise the optimiser would also
# "improve" the returns and the baseline.
#
# **Exercise.** Write `reinforce_loss(log_probs, returns, baseline=None, mask=None)`. All tensors have shape
# $(T, \ldots)$, time first; every entry of the remaining batch dimensions is one episode, so
# $N = $ `log_probs[0].numel()`. `baseline=None` means $b = 0$; `mask=None` means every step counts.


# %%
def reinforce_loss(log_probs, returns, baseline=None, mask=None):
    """-(1/N) sum_episodes sum_t mask * log_probs * (returns - baseline), the weight detached."""
    ### BEGIN SOLUTION id=reinforce_loss points=3 replaces=metarl_edu.classroom.references.reinforce_loss_reference hint="Detach the weight G - b, multiply by log_probs and the mask, sum over everything and divide by the number of episodes; mind the sign"
    weight = returns if baseline is None else returns - baseline
    weighted = log_probs * weight.detach()
    if mask is not None:
        weighted = weighted * mask
    return -weighted.sum() / log_probs[0].numel()
    ### END SOLUTION


# %%
check("reinforce_loss", reinforce_loss)

# %%
### BEGIN HIDDEN TESTS id=reinforce_loss
import torch
### PROBE
_lp = torch.tensor([[-1.0], [-1.0]], requires_grad=True)
_loss = reinforce_loss(_lp, torch.tensor([[2.0], [1.0]]), torch.tensor([[1.0], [1.0]]))
_value = float(_loss)
_grad = torch.autograd.grad(_loss, _lp)[0]
### JUDGE
assert abs(_value - 1.0) < 1e-6  # -(-1 * 1 + -1 * 0) / 1
assert torch.allclose(_grad, torch.tensor([[-1.0], [0.0]]))
### END HIDDEN TESTS

# %% [markdown]
# ## One batch on CartPole, by hand
# The policy: a network with one hidden layer of 32 ReLU units whose two outputs are the logits of *push left*
# and *push right* (`CategoricalMLPPolicy`). We play 10 episodes, then build every term of the loss.
#
# How an episode ended matters for $G_t$: CartPole **terminates** when the pole falls (no future reward) and is
# **truncated** at 500 steps (the future is unseen). `discounted_returns` restarts $G$ after either; given value
# estimates it would bootstrap on truncation only. Without a value function we simply stop at the cut.

# %%
env = gym.make("CartPole-v1")
policy = CategoricalMLPPolicy(obs_dim=4, n_actions=2, hidden_sizes=(32,), seed=0)
episodes = sample_episodes(env, policy, 10, generator=torch.Generator().manual_seed(0), seed=0)
G = discounted_returns(episodes.rewards, episodes.terminated, episodes.truncated, gamma=0.99)
b = linear_baseline(episodes.obs, G, episodes.mask)
log_probs = policy.log_prob(episodes.obs, episodes.actions)
loss_fn = pick("reinforce_loss", reinforce_loss)
print("batch shapes (T, N):", tuple(episodes.mask.shape), "| episode lengths:", episodes.lengths.int().tolist())
print(f"loss without baseline {float(loss_fn(log_probs, G, None, episodes.mask)):.3f}, "
      f"with the linear baseline {float(loss_fn(log_probs, G, b, episodes.mask)):.3f}")

# %% [markdown]
# ## Does the baseline help? Measure the variance
# Both estimators have the same expectation; what differs is how much one batch's estimate scatters around it.
# The next cell draws many independent batches with the same (untrained) policy and computes each batch's
# gradient twice, without and with the baseline, then sums the per-parameter variances across batches.

# %%
samples = policy_gradient_samples(env, policy, size(quick=8, full=100), batch_size=10, seed=1)
variance = {name: float(g.var(dim=0).sum()) for name, g in samples.items()}
print(f"total gradient variance over {len(samples['baseline'])} batches: no baseline {variance['no baseline']:.1f}, "
      f"baseline {variance['baseline']:.1f}; the baseline divides it by {variance['no baseline'] / variance['baseline']:.1f}")
assert variance["baseline"] < variance["no baseline"]

# %% [markdown]
# ## Training on CartPole
# `train_reinforce` repeats: play a batch with $\pi_\theta$, compute $G$ and $b$, one Adam step on your loss. Each
# update uses 10 fresh episodes: REINFORCE is **on-policy**, a batch is only valid for the policy that played it.
# A random policy lasts about 22 steps; 500 is perfect.

# %%
policy = CategoricalMLPPolicy(obs_dim=4, n_actions=2, hidden_sizes=(32,), seed=0)
n_updates = size(quick=6, full=40)
cartpole_returns = train_reinforce(env, policy, n_updates, batch_size=10, lr=0.02, loss_fn=loss_fn, seed=0)
plot_reinforce_curves({"REINFORCE, linear baseline": (cartpole_returns, 10)}, title="CartPole-v1")
plt.show()
print(f"mean return of the first batch {cartpole_returns[0]:.1f}, of the last three {cartpole_returns[-3:].mean():.1f}")
assert cartpole_returns[-3:].mean() > size(quick=1.3, full=5.0) * cartpole_returns[:2].mean()

# %% [markdown]
# ## Continuous actions: walking to a goal
# The 2D navigation task of the MAML paper (section 5.3): a point starts at the origin and moves by an action
# $(dx, dy)$ clipped to $[-0.1, 0.1]$; the reward is minus the distance to a goal it cannot see; an episode lasts
# 100 steps unless the point comes within 0.01 of the goal. The policy is Gaussian, $a \sim \mathcal N(\mu_\theta(s),
# \sigma^2)$ with a learned $\sigma$ (started at 0.1, the size of a step). `BatchedNavigation2D` steps 20 episodes
# of one goal as one tensor operation.

# %%
goal = [0.3, -0.4]
nav = BatchedNavigation2D(goals=[goal], n_traj=20)
nav_policy = GaussianMLPPolicy(obs_dim=2, action_dim=2, hidden_sizes=(32,), init_std=0.1, seed=0)
before = sample_batched_episodes(nav, nav_policy, generator=torch.Generator().manual_seed(1))
nav_returns = train_reinforce(nav, nav_policy, size(quick=15, full=100), batch_size=None, lr=0.01,
                              loss_fn=loss_fn, seed=0)
after = sample_batched_episodes(nav, nav_policy, generator=torch.Generator().manual_seed(1))
fig, (ax_curve, ax_paths) = plt.subplots(1, 2, figsize=(11, 3.8))
plot_reinforce_curves({"REINFORCE, linear baseline": (nav_returns, 20)}, ax=ax_curve, title="2D navigation, one goal")
for label, batch, colour in (("before training", before, "tab:grey"), ("after training", after, "tab:blue")):
    for j in range(5):
        n = int(batch.mask[:, 0, j].sum())
        path = np.vstack([[0.0, 0.0], batch.next_obs[:n, 0, j].numpy()])
        ax_paths.plot(path[:, 0], path[:, 1], color=colour, alpha=0.7, label=label if j == 0 else None)
ax_paths.scatter(*goal, marker="*", s=200, color="tab:red", zorder=3, label="goal")
ax_paths.set(xlabel="x", ylabel="y", title="Five trajectories", aspect="equal")
ax_paths.legend(fontsize=8)
plt.show()
print(f"mean return before {before.total_rewards().mean():.1f}, after {after.total_rewards().mean():.1f}")
assert after.total_rewards().mean() > before.total_rewards().mean() + size(quick=5.0, full=20.0)

# %% [markdown]
# ## Explore: learning rate and batch size
# Each change trains a fresh policy on CartPole with the same budget of episodes, so a larger batch means fewer
# updates. Try a learning rate of 0.0001 (almost nothing happens) and 0.3 (what do steps that large do?), then
# batch sizes 1 and 50: tiny batches give many noisy updates, large ones few accurate ones.

# %%
reinforce_explorer(lr=0.02, batch_size=10, n_episodes=size(quick=30, full=200))

# %% [markdown]
# ## Summary and next
# - REINFORCE follows $\nabla J = \mathbb E[\sum_t \nabla \log \pi_\theta(a_t \mid s_t)(G_t - b(s_t))]$, estimated
#   from sampled episodes; the dynamics need not be known.
# - In torch it is a surrogate loss with the weight $G - b$ detached, summed over steps, averaged over episodes,
#   with a mask for padding.
# - A baseline leaves the expected gradient unchanged and cuts its variance (measured above).
# - Next, **07 · MAML on sinusoids**: learn an initialisation from which a few gradient steps solve a new task,
#   first on regression, then (lesson 08) with this REINFORCE loss as the inner step.
