"""Lesson 11's belief agent on 2D navigation: the Gaussian goal update, the encoder, the exact grid posterior,
training, the shipped runs and the comparison protocol."""

import json

import numpy as np
import pytest
import torch
from reevaluation import assert_reevaluated

from metarl_edu.belief import (
    GoalEncoder,
    beliefs_along,
    gaussian_goal_update,
    grid_posterior,
    linear_observation,
    make_policy,
    mean_and_std,
    play,
    prior,
)
from metarl_edu.classroom.cli import main
from metarl_edu.studies.belief import (
    EVAL,
    BeliefAgent,
    BeliefConfig,
    evaluate,
    held_out_goals,
    load_run,
    shipped_belief_runs,
    train_run,
)


# --------------------------------------------------------------------------------------------- Bayes' rule
def test_goal_update_worked_by_hand():
    # prior N((0, 0.1), I/10); step (0.1, 0) -> (0.2, 0), distances 0.3 -> 0.2, noise 0.01:
    # u = (0.1, 0), y = (0.09 - 0.04 + 0.04 - 0.01) / 2 = 0.04; Lambda' = diag(10 + 0.01 / 1e-4, 10) = diag(110, 10);
    # Lambda' mean' = (0, 1) + (0.1 * 0.04 / 1e-4, 0) = (40, 1) -> mean' = (40 / 110, 0.1)
    mean, precision = gaussian_goal_update(np.array([0.0, 0.1]), 10 * np.eye(2), np.array([0.1, 0.0]),
                                           np.array([0.2, 0.0]), 0.3, 0.2, noise=0.01)
    assert mean == pytest.approx([40 / 110, 0.1])
    assert precision == pytest.approx(np.diag([110.0, 10.0]))


def test_two_steps_in_different_directions_find_the_goal():
    goal = np.array([0.31, -0.22])
    mean, precision = np.zeros(2), 12 * np.eye(2)
    path = np.array([[0.0, 0.0], [0.1, 0.0], [0.1, 0.1]])
    for p, p_next in zip(path[:-1], path[1:], strict=True):
        mean, precision = gaussian_goal_update(mean, precision, p, p_next, np.linalg.norm(p - goal),
                                               np.linalg.norm(p_next - goal), noise=1e-4)
    assert mean == pytest.approx(goal, abs=1e-5)
    # the linear observation holds exactly for any goal, in numpy and in torch
    d1, d2 = (torch.tensor(np.linalg.norm(p - goal)) for p in path[1:])
    u, y = linear_observation(torch.tensor(path[1]), torch.tensor(path[2]), d1, d2)
    assert float(u @ torch.tensor(goal)) == pytest.approx(float(y))


def test_encoder_factors_have_the_shape_of_bayes_rule():
    encoder = GoalEncoder(seed=1)
    p, p_next = torch.tensor([[0.1, -0.2]]), torch.tensor([[0.15, -0.1]])
    d, d_next = torch.tensor([0.4]), torch.tensor([0.33])
    eta, precision = encoder.factors(p, p_next, d, d_next, torch.ones(1))
    u, y = linear_observation(p, p_next, d, d_next)
    w = precision[0, 0, 0] / u[0, 0] ** 2  # the learned precision of y
    assert w > 0
    assert torch.allclose(precision[0], w * torch.outer(u[0], u[0]), rtol=1e-5)
    assert torch.allclose(eta[0], w * y[0] * u[0], rtol=1e-5)
    eta0, precision0 = encoder.factors(p, p_next, d, d_next, torch.zeros(1))  # masked: no information
    assert not eta0.any() and not precision0.any()
    mean, std = mean_and_std(*prior((3,)))
    assert not mean.any() and torch.allclose(std, torch.full((3, 2), 1 / 12**0.5))


def test_grid_posterior_concentrates_on_the_goal():
    goal = np.array([0.2, -0.3])
    positions = np.array([[0.1, 0.0], [0.1, 0.1], [0.0, 0.1]])
    post = grid_posterior(positions, np.linalg.norm(positions - goal, axis=1), noise=0.01)
    assert post.shape == (101, 101) and post.sum() == pytest.approx(1.0)
    row, col = np.unravel_index(post.argmax(), post.shape)
    assert (np.linspace(-0.5, 0.5, 101)[col], np.linspace(-0.5, 0.5, 101)[row]) == pytest.approx(goal, abs=0.011)
    one = grid_posterior(positions[:1], np.linalg.norm(positions[:1] - goal, axis=1), noise=0.01)
    assert one.max() < 0.05  # one distance is a ring: no single cell is likely


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="mean must be"):
        gaussian_goal_update(np.zeros(3), np.eye(2), np.zeros(2), np.ones(2), 0.1, 0.1, 0.01)
    with pytest.raises(ValueError, match="noise must be positive"):
        gaussian_goal_update(np.zeros(2), np.eye(2), np.zeros(2), np.ones(2), 0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="positions must be"):
        grid_posterior(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="n_iterations"):
        BeliefConfig(n_iterations=0)
    with pytest.raises(ValueError, match="lr"):
        BeliefConfig(lr=-1.0)
    with pytest.raises(ValueError, match="n_episodes"):
        play(make_policy(), GoalEncoder(), np.zeros((1, 2)), 0, 1, generator=torch.Generator())
    with pytest.raises(ValueError, match="goals must be"):
        play(make_policy(), GoalEncoder(), np.zeros((1, 3)), 1, 1, generator=torch.Generator())


# --------------------------------------------------------------------------------------------- training
def test_a_short_training_run_learns():
    torch.set_num_threads(1)
    agent = BeliefAgent(BeliefConfig(meta_batch=10, n_traj=4), seed=0)
    stats = [agent.train_step() for _ in range(40)]
    error = np.array([s["goal_error"] for s in stats])
    returns = np.array([s["return_ep2"] for s in stats])
    assert error[-10:].mean() < 0.5 * error[:5].mean()
    assert returns[-10:].mean() > returns[:5].mean() + 10


def test_the_same_seed_gives_the_same_numbers(tmp_path):
    records = [train_run(3, tmp_path / name, n_iterations=3, progress=False, meta_batch=4, n_traj=2)
               for name in ("a", "b")]
    assert records[0]["returns"] == records[1]["returns"] and records[0]["oracle"] == records[1]["oracle"]
    assert (tmp_path / "a" / "log.csv").read_text().splitlines()[1].split(",")[:-1] == \
        (tmp_path / "b" / "log.csv").read_text().splitlines()[1].split(",")[:-1]  # all but the wall time
    other = train_run(4, tmp_path / "c", n_iterations=3, progress=False, meta_batch=4, n_traj=2)
    assert other["returns"] != records[0]["returns"]


def test_the_cli_writes_a_run(tmp_path, capsys):
    assert main(["train", "belief", "--seed", "1", "--iterations", "2", "--set", "meta_batch=3",
                 "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / EVAL).read_text())
    assert record["command"].startswith("metarl-edu train belief --seed 1 --iterations 2 --set meta_batch=3")
    assert np.shape(record["returns"]) == (40, 3) and np.shape(record["oracle"]) == (40,)
    assert "held-out goals" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- shipped runs
def test_shipped_runs_reproduce_their_recorded_evaluation():
    runs = shipped_belief_runs()
    assert [p.name for p in runs][:1] == ["nav2d-seed0"]
    for run in runs:
        record = json.loads((run / EVAL).read_text())
        assert record["command"].startswith("metarl-edu train belief --seed ")
        agent = load_run(run)
        goals = held_out_goals(record["eval_tasks"], record["eval_seed"])
        returns, oracle = evaluate(agent, goals, n_traj=record["eval_traj"], seed=record["eval_seed"])
        assert_reevaluated(returns, record["returns"])  # 2 of 120 moved on a CPU with other vector instructions
        assert_reevaluated(oracle, record["oracle"])
        assert returns[:, 1].mean() > 1.2 * oracle.mean()  # within 20% of the oracle by episode 2


def test_shipped_runs_are_small_and_carry_their_belief():
    runs = shipped_belief_runs()
    assert sum(f.stat().st_size for run in runs for f in run.iterdir()) < 400_000
    agent = load_run(runs[0])
    trial = play(agent.policy, agent.encoder, held_out_goals(4), 2, 2, generator=torch.Generator().manual_seed(0))
    # episode 2 starts with the posterior episode 1 ended with, not with the prior
    assert torch.equal(trial.means[1][0], trial.means[0][-1]) and torch.equal(trial.stds[1][0], trial.stds[0][-1])
    assert float(trial.stds[1][0].max()) < 0.05 < float(trial.stds[0][0].min())
    etas, precisions = beliefs_along(agent.encoder, trial.episodes)  # recomputed from the data: the same belief
    assert torch.allclose(mean_and_std(etas[1][-1], precisions[1][-1])[0], trial.means[1][-1], atol=1e-4)


def test_held_out_goals_are_mamls():
    from metarl_edu.studies.maml_rl import load_run as load_maml
    from metarl_edu.studies.maml_rl import shipped_run

    agent = load_maml(shipped_run("nav2d-seed0"))
    result = agent.evaluate(n_tasks=3, steps=0, n_traj=1, seed=77)
    assert np.array([t.goal for t in result.tasks]) == pytest.approx(held_out_goals(3, 77))
