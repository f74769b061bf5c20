# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   metarl_edu:
#     title: Policy gradients
#     minutes: 90
#     prerequisites:
#     - 03 Q-learning on CartPole
#     objectives:
#     - derive the REINFORCE gradient with the log-derivative trick
#     - compute the discounted reward-to-go of a padded batch of episodes
#     - write the REINFORCE loss with a baseline and a mask as a torch function
#     - write REINFORCE itself and train neural-network policies on CartPole-v1 and 2D navigation
#     - measure how a baseline reduces the variance of the gradient estimate, and what fitting it on the same batch costs
#     - write generalised advantage estimation (GAE) and train with it
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
from metarl_edu.pg import linear_baseline, sample_batched_episodes, sample_episodes, train_reinforce
from metarl_edu.studies.policy_gradients import mean_shift, policy_gradient_samples

torch.set_num_threads(1)  # networks this small run fastest on one thread (two threads wait on each other)
start_lesson("06_policy_gradients", kind="master")

# %% [markdown]
# ## The gradient of the expected return
# A trajectory $\tau = (s_0, a_0, r_0, s_1, \dots)$ has probability
# $p_\theta(\tau) = p(s_0) \prod_t \pi_\theta(a_t \mid s_t)\, p(s_{t+1} \mid s_t, a_t)$, and we want to maximise
# the expected discounted return $J(\theta) = \mathbb E_{\tau \sim p_\theta}[R(\tau)]$ with
# $R(\tau) = \sum_k \gamma^k r_k$. The **log-derivative trick** $\nabla_\theta p_\theta = p_\theta \nabla_\theta
# \log p_\theta$ turns the gradient into an expectation we can sample:
#
# $$\nabla_\theta J = \mathbb E_\tau\big[R(\tau)\, \nabla_\theta \log p_\theta(\tau)\big]
#   = \mathbb E_\tau\Big[\sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\, \gamma^t G_t\Big],
#   \qquad G_t = \sum_{k \ge t} \gamma^{k-t} r_k .$$
#
# The dynamics $p(s_{t+1} \mid s_t, a_t)$ do not depend on $\theta$, so their log-gradient vanishes: we need no model.
# Rewards paid before $t$ cannot depend on $a_t$, so of $R(\tau)$ only $\sum_{k \ge t} \gamma^k r_k = \gamma^t G_t$
# remains, the discounted **reward-to-go**. Sutton & Barto's REINFORCE (2018, section 13.3) takes one sampled step
# $\theta \leftarrow \theta + \alpha\, G_t \nabla \pi(a_t \mid s_t) / \pi(a_t \mid s_t)$ (eq. 13.8, derived for $\gamma
# = 1$); their boxed algorithm, for any $\gamma$, writes it $\theta \leftarrow \theta + \alpha\, \gamma^t G_t \nabla \ln
# \pi(a_t \mid s_t)$, the same thing since $\nabla \pi / \pi = \nabla \ln \pi$.
#
# **The factor $\gamma^t$ is usually dropped.** Almost every implementation, this library and the MAML paper's
# code included, weights step $t$ by $G_t$ alone. With $\gamma = 1$ the two agree; with $\gamma < 1$ the dropped
# factor counts late steps as much as early ones, so the update is no longer exactly the gradient of $J$ (Nota &
# Thomas 2020, *Is the policy gradient a gradient?*). It is best read as aiming at the *undiscounted* return, the
# one we report, with $\gamma = 0.99$ in $G_t$ cutting the variance that rewards far in the future add, at the
# price of a small bias. The rest of the course does the same.
#
# **A baseline.** For any $b(s_t)$ that does not depend on $a_t$,
# $\mathbb E_{a_t}[\nabla \log \pi(a_t \mid s_t)\, b(s_t)] = b(s_t) \nabla \sum_a \pi(a \mid s_t) = b(s_t) \nabla 1
# = 0$, so $G_t - b(s_t)$ gives the same expected gradient (section 13.4 of the book) with, for a good $b$, much
# less variance. We use the MAML paper's **linear baseline**, a least-squares fit of $G_t$ on features of $s_t$
# and $t$ (`linear_baseline`). Fitted to the batch it is then subtracted from, as the library does, it has seen
# each $G_t$, which depends on $a_t$: the condition above then holds only approximately. A cell below measures
# what that costs.

# %% [markdown]
# ## The reward-to-go of a batch
# A batch holds $N$ episodes side by side, time first: `rewards[t, i]` is $r_t$ of episode $i$, padded with zeros
# after the episode ended. Two flags say how a step ended its episode: `terminated` (the task is over: the pole
# fell) and `truncated` (a time limit cut it: CartPole stops at 500 steps, the future is unseen). Without a value
# estimate we stop at either: the reward-to-go restarts there. Computed from the end,
#
# $$G_t = r_t + \gamma\, G_{t+1} \quad\text{within an episode}, \qquad G_t = r_t \quad\text{where it ended.}$$
#
# **Exercise.** Write `reward_to_go(rewards, terminated, truncated, gamma)` for tensors of shape $(T, \ldots)$
# (time first, any batch shape); return $G$ of the same shape. Several episodes may follow each other along the
# time axis of one column: restart after every end. Do not change the inputs.


# %%
def reward_to_go(rewards, terminated, truncated, gamma):
    """G_t = r_t + gamma * G_(t+1) within an episode, G_t = r_t where an episode ended; computed from the end."""
    ### BEGIN SOLUTION id=reward_to_go points=2 replaces=metarl_edu.classroom.references.reward_to_go_reference hint="Loop t from T - 1 down to 0: G[t] = rewards[t] + gamma * G_next, where G_next is 0 where terminated[t] or truncated[t], else G[t + 1]"
    ended = terminated | truncated
    G = torch.zeros_like(rewards)
    G_next = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        G[t] = rewards[t] + gamma * torch.where(ended[t], 0.0, G_next)
        G_next = G[t]
    return G
    ### END SOLUTION


# %%
check("reward_to_go", reward_to_go)

# %%
### BEGIN HIDDEN TESTS id=reward_to_go
import torch
### PROBE
_G = reward_to_go(torch.tensor([[1.0], [2.0]]), torch.tensor([[False], [True]]), torch.tensor([[False], [False]]), 0.5)
### JUDGE
assert torch.allclose(torch.as_tensor(_G, dtype=torch.float32), torch.tensor([[2.0], [2.0]]))
### END HIDDEN TESTS

# %% [markdown]
# ## The loss that autograd differentiates
# Torch minimises, so we write a **surrogate loss** whose gradient is $-\nabla J$. Over a batch of $N$ episodes
# padded to a common length $T$ (mask $m_t = 1$ on real steps, 0 after an episode ended):
#
# $$L(\theta) = -\frac{1}{N} \sum_{i=1}^{N} \sum_{t} m^i_t \, \log \pi_\theta(a^i_t \mid s^i_t)\,
#   \big(G^i_t - b^i_t\big).$$
#
# (The factor $\gamma^t$ of the exact gradient is left out, as announced.) The weight $G - b$ is **data**: it must
# not be differentiated (detach it), otherwise the optimiser would also "improve" the returns and the baseline.
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
_value = float(_loss.detach())
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
# The reward-to-go comes from your `reward_to_go` (`returns_fn` below: yours once it passes its check, else the
# library's `discounted_returns`, which can also bootstrap from value estimates where an episode was truncated).

# %%
env = gym.make("CartPole-v1")
policy = CategoricalMLPPolicy(obs_dim=4, n_actions=2, hidden_sizes=(32,), seed=0)
episodes = sample_episodes(env, policy, 10, generator=torch.Generator().manual_seed(0), seed=0)
returns_fn = pick("reward_to_go", reward_to_go)
loss_fn = pick("reinforce_loss", reinforce_loss)
G = returns_fn(episodes.rewards, episodes.terminated, episodes.truncated, 0.99)
b = linear_baseline(episodes.obs, G, episodes.mask)
log_probs = policy.log_prob(episodes.obs, episodes.actions)
print("batch shapes (T, N):", tuple(episodes.mask.shape), "| episode lengths:", episodes.lengths.int().tolist())
print(f"loss without baseline {float(loss_fn(log_probs, G, None, episodes.mask).detach()):.3f}, "
      f"with the linear baseline {float(loss_fn(log_probs, G, b, episodes.mask).detach()):.3f}")

# %% [markdown]
# ## Does the baseline help, and what does it cost? Measure it
# A good baseline leaves the expected gradient alone and cuts how much one batch's estimate scatters around it. The next
# cell draws many independent batches with the same (untrained) policy and computes each batch's gradient four ways:
# without a baseline; with the linear baseline fitted to the same batch (what training does); the same with a ridge
# penalty; and with it fitted to the batch drawn *before*, another sample of the same policy, so that it cannot depend
# on this batch's actions. It sums the per-parameter variances across batches, then measures how far each estimator's
# mean gradient moves from the no-baseline one, along the no-baseline mean's direction (`mean_shift`: the batches are
# shared, so the difference is measured batch by batch; 0 means no bias, within the ± standard error).
#
# The fit on another batch must *predict* returns of episodes it never saw: with 12 features and 10 short
# episodes, the almost unpenalised fit extrapolates its cubic in $t$ wildly, so it uses a ridge penalty of 1
# (lesson 05's $\lambda$). The third row fits the same batch with that same penalty, so that comparing rows changes
# one thing at a time.

# %%
n_batches = size(quick=8, full=100)
samples = policy_gradient_samples(env, policy, n_batches, batch_size=10, seed=1)
variance = {name: float(g.var(dim=0).sum()) for name, g in samples.items()}
print(f"total gradient variance over {n_batches} batches of 10 episodes:")
for name, v in variance.items():
    print(f"  {name:>27}: {v:7.1f}")
for name, (shift, se) in mean_shift(samples).items():
    print(f"mean gradient, {name}: {100 * shift:+.0f} % ± {100 * se:.0f} % of the no-baseline one")
resampled = np.random.default_rng(0).integers(0, n_batches, size=(1000, n_batches))  # batches drawn again
for num, den in (("baseline", "no baseline"), ("baseline from another batch", "no baseline"),
                 ("baseline, penalised", "baseline")):
    ratios = [float(samples[num][i].var(dim=0).sum() / samples[den][i].var(dim=0).sum()) for i in resampled]
    low, high = np.percentile(ratios, [2.5, 97.5])
    print(f"variance of {num} / {den}: {variance[num] / variance[den]:.2f} [{low:.2f}, {high:.2f}] (95% bootstrap)")
assert variance["baseline"] < variance["no baseline"]

# %% [markdown]
# At the lesson's full size (100 batches, `docs/RESULTS.md`) the same-batch baseline roughly halves the variance,
# but its mean gradient is about a fifth shorter than the no-baseline one, several standard errors away from 0:
# it has seen the $G_t$ it subtracts, so part of each step's own return is subtracted with it. That is the price
# of fitting on the same batch, and it shrinks as the batch grows (12 weights against a few hundred steps here).
# Fitted on another batch, the baseline's mean gradient agrees with the no-baseline one within its error, and its
# variance estimate is lower too, by less. The penalised same-batch row separates the two changes: the penalty alone
# halves the bias (to about a tenth, less than two standard errors), so the rest of the other-batch fit's missing
# bias comes from not having seen this batch's returns. Its variance estimate sits a little below the unpenalised
# one. Mind the variances' own noise: the ratio lines resample the 100 batches. In full mode only the same-batch
# baseline's halving has an interval clear of 1; the other two ratios are point estimates that 100 batches do not
# resolve. The library fits on the same batch, almost unpenalised, as lesson 08's
# MAML does; with small batches, a penalised or other-batch fit is the cleaner choice.

# %% [markdown]
# ## REINFORCE, the whole algorithm
# Now the loop that trains a policy. Each iteration plays a batch with $\pi_\theta$, computes $G$ and $b$, and
# takes one Adam step on the loss. Each update uses fresh episodes: REINFORCE is **on-policy**, a batch is only
# valid for the policy that played it.
#
# **Exercise.** Write `reinforce(env, policy, n_iterations, batch_size=10, lr=0.01, gamma=0.99, seed=0)`. It
# trains `policy` in place and returns the mean (undiscounted) return of each iteration's batch, a numpy array of
# length `n_iterations`. Follow this recipe, which is also what makes your run comparable, number for number, with
# the library's `train_reinforce` on the same seed:
#
# 1. once: `generator = torch.Generator().manual_seed(seed)` (it draws the actions) and
#    `optimizer = torch.optim.Adam(policy.parameters(), lr=lr)`;
# 2. for `i` in `range(n_iterations)`:
#    `episodes = sample_episodes(env, policy, batch_size, generator=generator, seed=seed if i == 0 else None)`;
#    `G` from `returns_fn` (your reward-to-go) with `gamma`; `b = linear_baseline(episodes.obs, G, episodes.mask)`;
#    the loss `loss_fn(policy.log_prob(episodes.obs, episodes.actions), G, b, episodes.mask)`; then
#    `optimizer.zero_grad()`, `loss.backward()`, `optimizer.step()`; and record
#    `float(episodes.total_rewards().mean())`.


# %%
def reinforce(env, policy, n_iterations, batch_size=10, lr=0.01, gamma=0.99, seed=0):
    """REINFORCE with the reward-to-go and the linear baseline; returns the mean return of each iteration's batch."""
    ### BEGIN SOLUTION id=reinforce points=3 replaces=metarl_edu.classroom.references.reinforce_reference hint="Make the generator and the Adam optimizer once; per iteration: sample_episodes, G = returns_fn(...), b = linear_baseline(obs, G, mask), loss = loss_fn(policy.log_prob(obs, actions), G, b, mask), zero_grad, backward, step, record the mean total reward of the batch"
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    mean_returns = []
    for i in range(n_iterations):
        episodes = sample_episodes(env, policy, batch_size, generator=generator, seed=seed if i == 0 else None)
        G = returns_fn(episodes.rewards, episodes.terminated, episodes.truncated, gamma)
        b = linear_baseline(episodes.obs, G, episodes.mask)
        loss = loss_fn(policy.log_prob(episodes.obs, episodes.actions), G, b, episodes.mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        mean_returns.append(float(episodes.total_rewards().mean()))
    return np.array(mean_returns)
    ### END SOLUTION


# %%
check("reinforce", reinforce)

# %%
### BEGIN HIDDEN TESTS id=reinforce
import gymnasium as gym
import numpy as np
from metarl_edu.nets import CategoricalMLPPolicy
### PROBE
_policy = CategoricalMLPPolicy(obs_dim=4, n_actions=2, hidden_sizes=(4,), seed=5)
_curve = reinforce(gym.make("CartPole-v1"), _policy, 2, batch_size=2, lr=0.05, seed=5)
### JUDGE
from metarl_edu.pg import train_reinforce

_reference = CategoricalMLPPolicy(obs_dim=4, n_actions=2, hidden_sizes=(4,), seed=5)
assert np.allclose(_curve, train_reinforce(gym.make("CartPole-v1"), _reference, 2, batch_size=2, lr=0.05, seed=5,
                                           progress=False), atol=1e-3)
### END HIDDEN TESTS

# %% [markdown]
# ## Training on CartPole
# Your `reinforce` (or the library's, if it does not pass its check yet) on CartPole, 10 episodes per update. A
# random policy lasts about 22 steps; 500 is perfect. The last line is a learning test: the returns must go up.

# %%
my_reinforce = pick("reinforce", reinforce)
whose = "your" if my_reinforce is reinforce else "the library's (your reinforce is not solved yet)"
policy = CategoricalMLPPolicy(obs_dim=4, n_actions=2, hidden_sizes=(32,), seed=0)
n_updates = size(quick=6, full=40)
cartpole_returns = my_reinforce(env, policy, n_updates, batch_size=10, lr=0.02, seed=0)
plot_reinforce_curves({f"{whose} REINFORCE, linear baseline": (cartpole_returns, 10)}, title="CartPole-v1")
plt.show()
print(f"{whose} REINFORCE: mean return of the first batch {cartpole_returns[0]:.1f}, of the last three "
      f"{cartpole_returns[-3:].mean():.1f}")
assert cartpole_returns[-3:].mean() > size(quick=1.3, full=5.0) * cartpole_returns[:2].mean()

# %% [markdown]
# ## Continuous actions: walking to a goal
# The 2D navigation task of the MAML paper (section 5.3): a point starts at the origin and moves by an action
# $(dx, dy)$ clipped to $[-0.1, 0.1]$; the reward is minus the distance to a goal it cannot see (the paper's text
# says minus the *squared* distance; its code, and this library, use the distance); an episode lasts
# 100 steps unless the point comes within 0.01 of the goal. The policy is Gaussian, $a \sim \mathcal N(\mu_\theta(s),
# \sigma^2)$ with a learned $\sigma$ (started at 0.1, the size of a step). `BatchedNavigation2D` steps 20 episodes
# of one goal as one tensor operation, which the library's `train_reinforce` (the same loop as yours, with your
# loss) accepts as a batch.

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
# ## Generalised advantage estimation
# The weight $G_t - V(s_t)$ uses the whole future of an episode: unbiased, but every later reward adds noise.
# The **TD error** $\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$ uses one reward and trusts the value estimate
# for the rest: much less noise, but biased wherever $V$ is wrong. **GAE** (Schulman et al. 2016, *High-dimensional
# continuous control using generalized advantage estimation*, eq. 16) mixes them with a parameter $\lambda$:
#
# $$A_t = \sum_{l \ge 0} (\gamma \lambda)^l\, \delta_{t+l}, \qquad\text{computed from the end as}\qquad
#   A_t = \delta_t + \gamma \lambda\, A_{t+1}.$$
#
# $\lambda = 0$ gives $\delta_t$; $\lambda = 1$ gives $G_t - V(s_t)$ (the $\delta$'s telescope), the baseline's
# REINFORCE again. After the last step of an episode nothing follows: $V = 0$ and $A = 0$ there, and a padding
# step (mask 0) counts as after the end. Here $V(s_t)$ is the linear baseline, fitted to $G$.
#
# **Exercise.** Write `gae(rewards, values, gamma, lam, mask=None)` for tensors of shape $(T, \ldots)$, one episode
# per column, padded after its end (`mask` 1 on real steps, 0 on padding; `None`: every step is real). Return the
# advantages, of the rewards' shape, 0 on padding.


# %%
def gae(rewards, values, gamma, lam, mask=None):
    """A_t = delta_t + gamma * lam * A_(t+1), delta_t = r_t + gamma V_(t+1) - V_t; V and A are 0 after the end."""
    ### BEGIN SOLUTION id=gae points=3 replaces=metarl_edu.classroom.references.gae_reference hint="Loop t from T - 1 down to 0 keeping next_v and next_a (both 0 at first): A[t] = mask[t] * (r[t] + gamma * next_v - v[t] + gamma * lam * next_a); then next_v = mask[t] * v[t], next_a = A[t]"
    mask = torch.ones_like(rewards) if mask is None else mask
    advantages = torch.zeros_like(rewards)
    next_v, next_a = torch.zeros_like(rewards[0]), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_v - values[t]
        advantages[t] = mask[t] * (delta + gamma * lam * next_a)
        next_v, next_a = mask[t] * values[t], advantages[t]
    return advantages
    ### END SOLUTION


# %%
check("gae", gae)

# %%
### BEGIN HIDDEN TESTS id=gae
import torch
### PROBE
_A = gae(torch.tensor([[1.0], [1.0]]), torch.tensor([[0.0], [0.0]]), 0.5, 1.0)
### JUDGE
assert torch.allclose(torch.as_tensor(_A, dtype=torch.float32), torch.tensor([[1.5], [1.0]]))
### END HIDDEN TESTS

# %% [markdown]
# Your GAE in training, on the navigation task: `train_reinforce(..., lam=..., gae_fn=...)` weights each step by
# GAE($\lambda$) advantages instead of $G - b$. $\lambda = 1$ is exactly the run above (the library's tests check
# that), so only $\lambda = 0.95$ and $\lambda = 0$ are trained here, from the same start and seed. One seed: a
# glimpse, not a result. The last line is a learning test for your `gae`.

# %%
gae_fn = pick("gae", gae)
curves = {"lam = 1 (G - V, the run above)": (nav_returns, 20)}
finals = {"lam = 1": nav_returns[-5:].mean()}
for lam in (0.95, 0.0):
    lam_policy = GaussianMLPPolicy(obs_dim=2, action_dim=2, hidden_sizes=(32,), init_std=0.1, seed=0)
    lam_returns = train_reinforce(nav, lam_policy, len(nav_returns), batch_size=None, lr=0.01, loss_fn=loss_fn,
                                  seed=0, lam=lam, gae_fn=gae_fn, progress=False)
    curves[f"lam = {lam}"] = (lam_returns, 20)
    finals[f"lam = {lam}"] = lam_returns[-5:].mean()
plot_reinforce_curves(curves, title="2D navigation: REINFORCE weighted by GAE(lambda)")
plt.show()
print("mean return of the last 5 batches:", ", ".join(f"{name} {value:.1f}" for name, value in finals.items()))
assert curves["lam = 0.95"][0][-5:].mean() > curves["lam = 0.95"][0][:2].mean() + size(quick=5.0, full=20.0)

# %% [markdown]
# At full size (100 updates, `docs/RESULTS.md`) the runs with $\lambda < 1$ end a little higher than $\lambda = 1$
# on this one seed; one seed ranks nothing, and a ranking would need several seeds and paired differences. Which
# $\lambda$ is best depends on how good $V$ is: a poor value estimate makes small $\lambda$ biased, and large
# $\lambda$ pays in variance. PPO and TRPO implementations commonly use $\lambda$ around 0.95; lesson 09's RL$^2$
# uses GAE over whole trials.
#
# ## Explore: learning rate and batch size
# Each change trains fresh policies on CartPole (seeds 0, 1, ...) with the same budget of episodes, so a larger batch
# means fewer updates; the plot shows their mean with one standard error shaded, on axes that stay fixed. Try a learning
# rate of 0.0001 (almost nothing happens) and 0.3 (what do steps that large do?), then batch sizes 1 and 50: tiny
# batches give many noisy updates, large ones few accurate ones. Batch size 1 has a catch: the linear baseline is fitted
# to the one episode it is subtracted from, and a CartPole episode's returns-to-go lie on a smooth curve in $t$ that its
# cubic fits almost exactly, so almost nothing is left of the advantages (the same-batch bias measured above, at its
# extreme). What learning you see there comes from that small remainder, rescaled by Adam.

# %%
reinforce_explorer(lr=0.02, batch_size=10, n_episodes=size(quick=30, full=200), n_seeds=size(quick=2, full=3))

# %% [markdown]
# ## Summary and next
# - REINFORCE steps along $\mathbb E[\sum_t \nabla \log \pi_\theta(a_t \mid s_t)(G_t - b(s_t))]$, estimated
#   from sampled episodes (the factor $\gamma^t$ of the exact gradient dropped, as everyone does); the dynamics
#   need not be known.
# - The reward-to-go is computed from the end of each episode; in torch the update is a surrogate loss with the
#   weight $G - b$ detached, summed over steps, averaged over episodes, with a mask for padding; the loop samples
#   fresh episodes for every step.
# - A baseline cuts the gradient's variance; fitted on the same batch it also shortens the mean gradient a little
#   (measured above).
# - GAE($\lambda$) trades the variance of $G_t - V(s_t)$ against the bias of TD errors.
# - Next, **07 · MAML on sinusoids**: learn an initialisation from which a few gradient steps solve a new task,
#   first on regression, then (lesson 08) with this REINFORCE loss as the inner step.
