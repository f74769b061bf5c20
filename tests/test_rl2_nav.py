"""RL^2 with a Gaussian head on 2D navigation (lesson 11): the memory across episodes and trials, the packed replay,
training, the shipped runs."""

import json

import numpy as np
import pytest
import torch
from reevaluation import assert_reevaluated

from metarl_edu.classroom.cli import main
from metarl_edu.rl2 import RL2Error, RL2Policy
from metarl_edu.studies.belief import held_out_goals
from metarl_edu.studies.rl2_nav import (
    EVAL,
    RL2NavAgent,
    RL2NavConfig,
    collect,
    evaluate,
    load_run,
    pack,
    shipped_rl2_nav_runs,
    train_run,
)


def small_policy(seed: int = 0) -> RL2Policy:
    return RL2Policy(6, 2, 8, torch.Generator().manual_seed(seed), 1.0, continuous=True)


# --------------------------------------------------------------------------------------------- the memory
def test_hidden_state_is_carried_across_episodes_and_reset_between_trials():
    policy = small_policy()
    trials = collect(policy, held_out_goals(3), 3, 2, torch.Generator().manual_seed(0))
    x, mask, h = trials.batch.x, trials.batch.mask, trials.batch.h
    assert torch.equal(trials.h_start[0], torch.zeros_like(trials.h_start[0]))  # a trial starts with no memory
    for row in range(6):
        starts = torch.nonzero(x[:, row, 5] * mask[:, row]).flatten()  # the 'done' flag: episodes 2 and 3 begin
        assert len(starts) == 2
        for k, t in enumerate(starts, start=1):  # episode k + 1 starts from the memory episode k ended with
            assert torch.equal(trials.h_start[k][row], h[t - 1, row])
            assert float(h[t - 1, row].abs().max()) > 0
    assert torch.equal(x[0, :, 2:], torch.zeros(6, 4))  # no previous action, reward or episode end at the start
    # the next trial starts from zero again: replaying its packed steps from h = 0 gives the log-probs it played
    again = collect(policy, held_out_goals(3), 3, 2, torch.Generator().manual_seed(1))
    out, _, h_replay = policy(again.batch.x)
    logp, _ = policy.log_prob_and_entropy(out, again.batch.a)
    m = again.batch.mask
    torch.testing.assert_close(logp * m, again.batch.logp * m)
    torch.testing.assert_close(h_replay * m.unsqueeze(-1), again.batch.h * m.unsqueeze(-1))


def test_the_memory_matters():
    # the same steps replayed with the memory emptied at episode 2's start give other action probabilities
    policy = small_policy(1)
    trials = collect(policy, held_out_goals(2), 2, 1, torch.Generator().manual_seed(0))
    x, mask = trials.batch.x, trials.batch.mask
    second = int(torch.nonzero(x[:, 0, 5] * mask[:, 0])[0])  # row 0's first step of episode 2
    out_carried, _, _ = policy(x[second:, :1], trials.batch.h[second - 1, :1])
    out_reset, _, _ = policy(x[second:, :1])
    assert not torch.allclose(out_carried, out_reset)
    torch.testing.assert_close(out_carried[0, 0], policy(x[: second + 1, :1])[0][-1, 0])


def test_pack_moves_real_steps_first():
    mask = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    values = torch.arange(8.0).reshape(4, 2)
    packed_mask, packed = pack(mask, values)
    assert torch.equal(packed_mask, torch.tensor([[1.0, 1.0], [1.0, 1.0]]))
    assert torch.equal(packed, torch.tensor([[0.0, 1.0], [4.0, 3.0]]))


def test_returns_are_the_rewards_of_each_episode():
    trials = collect(small_policy(), held_out_goals(2), 2, 3, torch.Generator().manual_seed(0))
    torch.testing.assert_close(trials.returns.sum(0).flatten(), trials.batch.r.sum(0))
    assert trials.returns.shape == (2, 2, 3) and bool((trials.returns < 0).all())


def test_bad_input_is_a_clear_error():
    with pytest.raises(RL2Error, match="continuous"):
        collect(RL2Policy(6, 2, 4, torch.Generator()), held_out_goals(1), 1, 1, torch.Generator())
    with pytest.raises(RL2Error, match="n_minibatches"):
        RL2NavConfig(n_tasks=2, n_minibatches=4)
    with pytest.raises(RL2Error, match="init_std"):
        RL2Policy(6, 2, 4, torch.Generator(), continuous=True, init_std=0.0)
    with pytest.raises(RL2Error, match="no RL"):
        load_run("/nonexistent")


# --------------------------------------------------------------------------------------------- training
def test_a_short_training_run_learns():
    # Scored on 20 held-out goals x 5 trials before and after 20 updates: a random walk returns about -53 per
    # episode; 20 updates bring it to about -40 (seeds 0-2 gain 12 to 16), far beyond the noise of this evaluation.
    torch.set_num_threads(1)
    goals = held_out_goals(20)
    agent = RL2NavAgent(RL2NavConfig(n_tasks=16, hidden_size=32, n_iterations=20), seed=0)
    before = evaluate(agent, goals, n_episodes=2, n_traj=5)
    for _ in range(20):
        agent.train_step()
    after = evaluate(agent, goals, n_episodes=2, n_traj=5)
    assert after.mean() > before.mean() + 8, (before.mean(0), after.mean(0))


def test_the_same_seed_gives_the_same_numbers(tmp_path):
    small = {"n_tasks": 4, "hidden_size": 8, "n_minibatches": 2}
    records = [train_run(3, tmp_path / name, n_iterations=2, progress=False, **small) for name in ("a", "b")]
    assert records[0]["returns"] == records[1]["returns"]
    assert (tmp_path / "a" / "log.csv").read_text().splitlines()[1].split(",")[:-1] == \
        (tmp_path / "b" / "log.csv").read_text().splitlines()[1].split(",")[:-1]  # all but the wall time
    other = train_run(4, tmp_path / "c", n_iterations=2, progress=False, **small)
    assert other["returns"] != records[0]["returns"]


def test_the_cli_writes_a_run(tmp_path, capsys):
    assert main(["train", "rl2-nav", "--seed", "1", "--iterations", "1", "--set", "n_tasks=4", "--set",
                 "hidden_size=8", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / EVAL).read_text())
    assert record["command"].startswith("metarl-edu train rl2-nav --seed 1 --iterations 1 --set n_tasks=4")
    assert np.shape(record["returns"]) == (40, 3)
    assert "held-out goals" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- shipped runs
def test_shipped_runs_reproduce_their_recorded_evaluation():
    runs = shipped_rl2_nav_runs()
    assert [p.name for p in runs][:1] == ["nav2d-seed0"]
    assert sum(f.stat().st_size for run in runs for f in run.iterdir()) < 1_000_000
    for run in runs:
        record = json.loads((run / EVAL).read_text())
        assert record["command"].startswith("metarl-edu train rl2-nav --seed ")
        returns = evaluate(load_run(run), held_out_goals(record["eval_tasks"], record["eval_seed"]),
                           n_traj=record["eval_traj"], seed=record["eval_seed"])
        assert_reevaluated(returns, record["returns"])
        assert returns.mean() > -20  # far better than a random walk (about -50 an episode)
