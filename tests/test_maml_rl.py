"""Tests of MAML for RL: the article's four lines, clear errors, the inner step worked by hand, the batched CartPole
against Gymnasium's, per-task baselines against the one-task baseline, adaptation that helps on 2D navigation,
adapt() that leaves the policy alone, and seeded determinism."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from metarl_edu.envs.cartpole import CartPoleTask, CartPoleTaskEnv
from metarl_edu.envs.navigation import Navigation2DEnv, Navigation2DFamily
from metarl_edu.envs.tasks import BanditFamily, CartPoleFamily
from metarl_edu.fast.envs import BatchedCartPole
from metarl_edu.maml_rl import (
    MAMLAgent,
    MAMLRLConfig,
    TaskDistributionError,
    adapt_step,
    advantages,
    inner_loss,
    meta_loss,
    task_column,
    task_distribution,
)
from metarl_edu.nets import CategoricalMLPPolicy
from metarl_edu.pg import Episodes, PolicyError, linear_baseline
from metarl_edu.studies.evaluation import paired_bootstrap_ci
from metarl_edu.studies.maml_rl import PretrainedAgent

SMALL = MAMLRLConfig(meta_batch=4, n_traj=5, hidden_sizes=(16,), n_iterations=2, quick_iterations=2, eval_tasks=8)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_articles_four_lines_run_in_quick_mode(monkeypatch, capsys):
    monkeypatch.setenv("METARL_EDU_QUICK", "1")
    import gymnasium as gym

    from metarl_edu import MAMLAgent

    env = gym.make('CartPole-v1')
    agent = MAMLAgent(env)
    agent.train()
    out = capsys.readouterr().out
    assert "CartPoleFamily" in out and "pole length" in out and "gravity" in out  # says what it built
    assert "swap the two actions" in out and "fails on half of them" in out  # ... and why adaptation can matter
    assert len(agent.history) == agent.config.quick_iterations
    assert isinstance(agent.family, CartPoleFamily) and agent.family.max_episode_steps == 500
    assert agent.family.mirror_prob == 0.5


def test_plain_envs_it_cannot_vary_get_a_clear_error():
    for env_id in ("MountainCar-v0", "FrozenLake-v1"):
        with pytest.raises(TaskDistributionError, match="needs a distribution of tasks.*TaskFamily"):
            MAMLAgent(gym.make(env_id))


def test_a_categorical_policy_on_continuous_actions_is_a_clear_error():
    with pytest.raises(PolicyError, match="discrete actions.*GaussianMLPPolicy"):
        MAMLAgent(Navigation2DEnv(), SMALL, policy=CategoricalMLPPolicy(2, 4))


def test_task_distributions_it_recognises():
    assert isinstance(task_distribution(Navigation2DEnv(max_episode_steps=30)), Navigation2DFamily)
    assert task_distribution(gym.make("metarl_edu/CartPoleTasks-v0"), verbose=False) == CartPoleFamily()
    assert task_distribution(gym.make("CartPole-v1", max_episode_steps=200), verbose=False).max_episode_steps == 200
    family = BanditFamily(n_arms=3, horizon=5)
    assert task_distribution(family) is family


def test_adapt_step_by_hand():
    # A linear softmax policy pi(a|s) = softmax(W s + c) with W = c = 0 over 2 actions, obs s = 1 (1-dim), three
    # one-step episodes: actions 0, 0, 1 with rewards 1, 1, 0, so G = (1, 1, 0). With s and t constant the linear
    # baseline is the mean return, b = 2/3, and A = G - b = (1/3, 1/3, -2/3): mean 0, std sqrt(2/9), so
    # normalised A = (1, 1, -2) / sqrt(2). Score d log pi(a) / d logits = onehot(a) - (1/2, 1/2):
    # grad L = -(1/3) sum A score = -(1/3)(2 (1/sqrt2)(1/2, -1/2) + (-2/sqrt2)(-1/2, 1/2)) = -(1/3) sqrt2 (1, -1).
    # theta' = theta - alpha grad L = alpha sqrt2 / 3 (1, -1) for both W (times s = 1) and c.
    policy = CategoricalMLPPolicy(1, 2, hidden_sizes=())
    params = {k: torch.zeros_like(v) for k, v in policy.params().items()}
    ones = torch.ones((1, 3))
    episodes = Episodes(obs=torch.ones((1, 3, 1)), actions=torch.tensor([[0, 0, 1]]),
                        rewards=torch.tensor([[1.0, 1, 0]]), terminated=ones.bool(), truncated=~ones.bool(),
                        mask=ones, next_obs=torch.ones((1, 3, 1)))
    theta_prime = adapt_step(policy, params, episodes, alpha=0.5)
    expected = 0.5 * np.sqrt(2) / 3 * np.array([1.0, -1.0])
    np.testing.assert_allclose(theta_prime["logits.0.weight"].detach().numpy().ravel(), expected, atol=1e-4)
    np.testing.assert_allclose(theta_prime["logits.0.bias"].detach().numpy(), expected, atol=1e-4)
    assert all(float(v.abs().sum()) == 0 for v in params.values())  # params untouched


def _meta_batch(seed: int = 3, n_tasks: int = 3, n_traj: int = 6):
    agent = MAMLAgent(Navigation2DEnv(), SMALL, seed=seed)
    env = agent._env(agent.family.sample(n_tasks, agent.rng), n_traj)
    return agent, env


def test_the_agent_adapts_every_task_with_the_lessons_adapt_step():
    agent, env = _meta_batch()
    e = agent._sample(env, None, False, agent.generator)
    theta = {k: v.detach().expand(3, *v.shape) for k, v in agent.params.items()}
    batched = agent.adapt_tasks(theta, e)
    for i in range(3):
        one = adapt_step(agent.policy, {k: v.detach() for k, v in agent.params.items()}, task_column(e, i),
                         agent.config.alpha, agent.config.gamma)
        for k in one:
            torch.testing.assert_close(batched[k][i], one[k], atol=1e-5, rtol=1e-4)


def test_the_agents_meta_gradient_equals_the_lesson_functions_on_a_fixed_batch():
    agent, env = _meta_batch()
    _, episodes = agent._adapt_batch(env, agent.config.inner_steps, agent.generator)
    got = {k: g.clone() for k, g in agent.meta_gradient(episodes).items()}
    params = {k: v.detach().requires_grad_(True) for k, v in agent.params.items()}
    c = agent.config
    alphas = [c.step_size(k) for k in range(1, len(episodes))]
    losses = [meta_loss(agent.policy, params, [task_column(e, i) for e in episodes[:-1]], task_column(episodes[-1], i),
                        alphas, c.gamma, every_step=c.loss_every_step) for i in range(3)]
    expected = torch.autograd.grad(torch.stack(losses).mean(), list(params.values()))
    for (k, g), want in zip(got.items(), expected, strict=True):
        torch.testing.assert_close(g, want, atol=1e-5, rtol=1e-4, msg=k)


def test_the_multi_step_meta_loss_scores_every_step_on_the_next_batch():
    agent, env = _meta_batch()
    _, episodes = agent._adapt_batch(env, 2, agent.generator)
    one = [task_column(e, 0) for e in episodes]
    params = {k: v.detach() for k, v in agent.params.items()}
    alphas = [0.1, 0.05]
    theta1 = adapt_step(agent.policy, params, one[0], 0.1)
    theta2 = adapt_step(agent.policy, theta1, one[1], 0.05)

    def score(theta, e):
        return inner_loss(agent.policy.log_prob(e.obs, e.actions, params=theta), advantages(e, 0.99), e.mask)

    both = meta_loss(agent.policy, params, one[:2], one[2], alphas, every_step=True)
    torch.testing.assert_close(both, (score(theta1, one[1]) + score(theta2, one[2])) / 2)
    last = meta_loss(agent.policy, params, one[:2], one[2], alphas)
    torch.testing.assert_close(last, score(theta2, one[2]))


def test_one_meta_iteration_runs_the_taught_adapt_step(monkeypatch):
    import metarl_edu.maml_rl as maml_rl

    calls = []
    taught = maml_rl.adapt_step

    def counting(*args, **kwargs):
        calls.append(1)
        return taught(*args, **kwargs)

    monkeypatch.setattr(maml_rl, "adapt_step", counting)
    agent = MAMLAgent(Navigation2DEnv(), SMALL, seed=0)
    agent.train(1, progress=False)
    # vmapped: one traced call per chunk of tasks, for the sampling step and again inside the meta-loss
    chunks = -(-SMALL.meta_batch // SMALL.tasks_per_backward)
    assert len(calls) == 2 * chunks * SMALL.inner_steps


def test_a_vmapped_baseline_is_each_tasks_own_baseline():
    agent, env = _meta_batch()
    e = agent._sample(env, None, False, agent.generator)
    G = torch.randn(e.mask.shape, generator=torch.Generator().manual_seed(0)) * e.mask
    batched = torch.func.vmap(linear_baseline, in_dims=1, out_dims=1)(e.obs, G, e.mask)
    for i in range(3):
        torch.testing.assert_close(batched[:, i], linear_baseline(e.obs[:, i], G[:, i], e.mask[:, i]),
                                   atol=1e-4, rtol=1e-4)


def test_a_mirrored_task_swaps_the_actions_and_nothing_else():
    plain, mirrored = CartPoleTaskEnv(CartPoleTask(0.5, 0.1, 9.8)), CartPoleTaskEnv(CartPoleTask(0.5, 0.1, 9.8, True))
    for env in (plain, mirrored):
        env.reset(seed=3)
    for a in (0, 1, 1, 0, 1):
        o1, *_ = plain.step(a)
        o2, *_ = mirrored.step(1 - a)
        np.testing.assert_array_equal(o1, o2)
    family = CartPoleFamily(mirror_prob=0.5)
    tasks = family.sample(400, np.random.default_rng(0))
    assert 0.4 < np.mean([t.mirrored for t in tasks]) < 0.6
    # without mirrors, the task stream is the physics-only one: no extra random draw
    assert CartPoleFamily().sample(5, np.random.default_rng(1)) == CartPoleFamily(mirror_prob=0.0).sample(
        5, np.random.default_rng(1))
    with pytest.raises(ValueError, match="mirror_prob"):
        CartPoleFamily(mirror_prob=1.5)


def test_batched_cartpole_matches_the_gymnasium_env_step_by_step():
    tasks = [CartPoleTask(0.3, 0.05, 5.0), CartPoleTask(0.9, 0.2, 14.0, mirrored=True)]
    batched = BatchedCartPole(tasks, n_traj=2, max_episode_steps=60, generator=torch.Generator().manual_seed(1))
    obs = batched.reset()
    singles = [[CartPoleTaskEnv(task) for _ in range(2)] for task in tasks]
    for i, row in enumerate(singles):
        for j, env in enumerate(row):
            env.reset(seed=0)
            env.state = batched.state[i, j].numpy().copy()
    rng = np.random.default_rng(0)
    for _ in range(60):
        a = torch.as_tensor(rng.integers(0, 2, size=(2, 2)))
        was_done = batched.done.clone()
        obs, r, terminated, truncated = batched.step(a)
        for i, row in enumerate(singles):
            for j, env in enumerate(row):
                if was_done[i, j]:
                    assert r[i, j] == 0 and not terminated[i, j] and not truncated[i, j]
                    continue
                o, r1, term, _, _ = env.step(int(a[i, j]))
                np.testing.assert_allclose(obs[i, j].numpy(), o, rtol=1e-6, atol=1e-6)
                assert float(r[i, j]) == r1 and bool(terminated[i, j]) == term
    assert batched.done.all()  # all fell or hit the 60-step limit


def test_a_cart_position_shifts_the_start_and_is_checked():
    tasks = [CartPoleTask(0.5, 0.1, 9.8), CartPoleTask(0.5, 0.1, 9.8, mirrored=True)]
    plain = BatchedCartPole(tasks, 3, generator=torch.Generator().manual_seed(2)).reset()
    shifted = BatchedCartPole(tasks, 3, generator=torch.Generator().manual_seed(2), cart_position=-1.5).reset()
    torch.testing.assert_close(shifted[..., 0], plain[..., 0] - 1.5)
    torch.testing.assert_close(shifted[..., 1:], plain[..., 1:])
    for bad in (2.4, -2.4, -3.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="cart_position"):
            BatchedCartPole(tasks, 3, cart_position=bad)


def test_adaptation_helps_on_2d_navigation():
    config = MAMLRLConfig(meta_batch=10, n_traj=10, hidden_sizes=(32, 32), outer_lr=0.02)
    agent = MAMLAgent(Navigation2DEnv(), config, seed=0)
    agent.train(8, progress=False)
    result = agent.evaluate(n_tasks=20, steps=1, n_traj=10)
    # post-adaptation beats pre-adaptation on held-out tasks, 95% CI
    assert paired_bootstrap_ci(result.returns[:, 1], result.returns[:, 0], rng=0).low > 0, str(result)


def test_adapt_returns_new_params_and_leaves_the_policy_alone():
    agent = MAMLAgent(Navigation2DEnv(), SMALL, seed=0)
    before = {k: v.detach().clone() for k, v in agent.params.items()}
    task = agent.family.sample(1, np.random.default_rng(5))[0]
    assert agent.env_steps == 0
    theta_prime = agent.adapt(task, steps=1, n_traj=3)
    assert 2 * 3 <= agent.env_steps <= 2 * 3 * 100  # two batches of 3 trajectories of at most 100 steps: counted
    assert theta_prime.keys() == before.keys()
    assert any(not torch.equal(theta_prime[k], before[k]) for k in before)  # it moved
    assert all(torch.equal(v.detach(), before[k]) for k, v in agent.params.items())  # the module did not
    assert all(theta_prime[k] is not v for k, v in agent.params.items())
    assert all(torch.equal(agent.adapt(task, steps=0)[k], before[k]) for k in before)


def test_training_is_seeded():
    def run(seed: int, cls=MAMLAgent) -> tuple[np.ndarray, torch.Tensor]:
        agent = cls(Navigation2DEnv(), SMALL, seed=seed)
        history = agent.train(2, progress=False)
        return history, torch.cat([v.detach().ravel() for v in agent.params.values()])

    (h0, p0), (h1, p1), (_, p2) = run(0), run(0), run(1)
    np.testing.assert_array_equal(h0, h1)
    assert torch.equal(p0, p1)
    assert not torch.equal(p0, p2)
    (h3, _), (h4, _) = run(0, PretrainedAgent), run(0, PretrainedAgent)
    np.testing.assert_array_equal(h3, h4)
    np.testing.assert_array_equal(h3[:, 0], h3[:, 1])  # the pretrained policy is not adapted while it trains


def test_first_order_changes_the_meta_gradient_but_not_the_samples():
    second = MAMLAgent(Navigation2DEnv(), SMALL, seed=0)
    first = MAMLAgent(Navigation2DEnv(), MAMLRLConfig(**{**SMALL.__dict__, "first_order": True}), seed=0)
    h2, h1 = second.train(1, progress=False), first.train(1, progress=False)
    np.testing.assert_array_equal(h2, h1)  # same episodes: sampling does not depend on the order
    assert any(not torch.equal(a, b) for a, b in zip(second.params.values(), first.params.values(), strict=True))


def test_other_task_families_run_through_the_gymnasium_loop():
    agent = MAMLAgent(BanditFamily(n_arms=3, horizon=5), SMALL, seed=0)
    agent.train(1, progress=False)
    result = agent.evaluate(n_tasks=4, steps=1, n_traj=3)
    assert result.returns.shape == (4, 2) and np.all((result.returns >= 0) & (result.returns <= 5))


def test_lesson_plots_show_what_they_computed():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metarl_edu.notebook.maml_rl import (
        navigation_trajectories,
        plot_adaptation_curves,
        plot_navigation_trajectories,
    )

    agent = MAMLAgent(Navigation2DEnv(max_episode_steps=10), SMALL, seed=0)
    tasks = agent.family.sample(2, np.random.default_rng(0))
    data = navigation_trajectories(agent, tasks, steps=1, n_traj=3)
    assert data.paths.shape == (2, 2, 3, 11, 2) and np.all(data.paths[:, :, :, 0] == 0)  # every path starts at 0
    # each step moves at most 0.1 per coordinate (actions are clipped)
    assert np.all(np.abs(np.diff(data.paths, axis=3)) <= 0.1 + 1e-6)
    axes = plot_navigation_trajectories(data, n_show=2)
    assert len(axes) == 2 and axes[0].get_title().startswith("after 0 inner steps\nmean return")
    assert len(axes[1].get_legend().get_texts()) == 2
    result = agent.evaluate(n_tasks=4, steps=2, n_traj=3)
    ax = plot_adaptation_curves({"MAML": result}, title="t")
    assert ax.get_xlabel() and ax.get_ylabel() and len(ax.get_lines()) == 1
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), result.returns.mean(0))
    plt.close("all")


def test_chunking_tasks_changes_memory_not_results():
    """Adapting and back-propagating a few tasks at a time gives the same parameters as all tasks at once."""
    def run(tasks_per_backward: int) -> tuple[torch.Tensor, np.ndarray]:
        config = MAMLRLConfig(meta_batch=4, n_traj=5, hidden_sizes=(16,), tasks_per_backward=tasks_per_backward)
        agent = MAMLAgent(Navigation2DEnv(), config, seed=0, verbose=False)
        agent.train(2, progress=False)
        returns = agent.evaluate(n_tasks=5, steps=2, n_traj=3).returns
        return torch.cat([v.detach().ravel() for v in agent.params.values()]), returns

    (p1, r1), (p3, r3), (p4, r4) = run(1), run(3), run(4)
    torch.testing.assert_close(p1, p4, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(p3, p4, rtol=1e-5, atol=1e-6)  # a last chunk smaller than the others
    np.testing.assert_allclose(r1, r4, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(r3, r4, rtol=1e-4, atol=1e-4)


def test_the_paper_units_policy_acts_in_a_tenth_of_its_outputs():
    agent = MAMLAgent(Navigation2DEnv(), MAMLRLConfig(hidden_sizes=(16,)), seed=1, verbose=False)
    policy = agent.policy
    obs = torch.rand((100, 2)) - 0.5
    with torch.no_grad():
        mu, log_std = policy(obs)
    assert float(mu.abs().max()) < 0.05  # the mean starts inside [-0.1, 0.1] for every state
    np.testing.assert_allclose(log_std.exp().detach().numpy(), 0.1 * agent.config.init_std, rtol=1e-6)
    # the log-probability of env actions is that of the normalised actions, less log(0.1) per dimension
    a = torch.full((100, 2), 0.05)
    z = (a / 0.1 - mu / 0.1) / agent.config.init_std
    expected = (-0.5 * z**2 - np.log(agent.config.init_std) - 0.5 * np.log(2 * np.pi)).sum(-1) - 2 * np.log(0.1)
    torch.testing.assert_close(policy.log_prob(obs, a), expected, atol=1e-4, rtol=1e-5)
    raw = MAMLAgent(Navigation2DEnv(), MAMLRLConfig(hidden_sizes=(16,), normalise_actions=False, init_std=1.0),
                    seed=1, verbose=False)
    # raw units: a standard deviation of 1, ten times the action range
    assert float(raw.policy(obs)[1].detach().exp().mean()) == pytest.approx(1.0)
