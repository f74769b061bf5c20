"""RL^2's reproducible training runs, the shipped agents, and the per-episode reset ablation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metarl_edu.classroom import cli
from metarl_edu.rl2 import RL2Agent, RL2Config, RL2Error, collect_trials
from metarl_edu.studies.rl2 import (
    course_agents,
    evaluate_rl2,
    evaluate_seeds,
    load_agent,
    pretrained,
    pretrained_name,
    read_rl2_run,
    shipped_rl2_runs,
    train_run,
)


def test_the_train_command_writes_checkpoint_log_and_evaluation(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "rl2", "--task", "bandit", "--episodes", "10", "--seed", "3", "--iterations", "4",
                     "--set", "hidden_size=16", "--out", str(out)]) == 0
    record = read_rl2_run(out)
    assert record["config"]["seed"] == 3 and record["config"]["hidden_size"] == 16
    assert "--set hidden_size=16" in record["command"] and "--seed 3" in record["command"]
    assert list(record["log"]["iteration"]) == [1, 2, 3, 4]
    assert np.all(record["log"]["kl"] >= 0) and np.all(np.diff(record["log"]["seconds"]) >= 0)
    assert len(record["totals"]) == record["eval_tasks"]
    # the checkpoint is the evaluated agent: the same held-out tasks give the same totals
    again = evaluate_rl2(load_agent(out), n_tasks=record["eval_tasks"], rng=record["eval_seed"])
    np.testing.assert_allclose(again.totals, record["totals"], atol=1e-3)
    assert "held-out tasks" in capsys.readouterr().out


def test_training_runs_are_reproducible_by_seed(tmp_path):
    a = train_run("mdp", 2, 0, tmp_path / "a", n_iterations=2, progress=False, n_states=3, n_actions=2, horizon=3)
    b = train_run("mdp", 2, 0, tmp_path / "b", n_iterations=2, progress=False, n_states=3, n_actions=2, horizon=3)
    c = train_run("mdp", 2, 1, tmp_path / "c", n_iterations=2, progress=False, n_states=3, n_actions=2, horizon=3)
    assert a["totals"] == b["totals"] and a["totals"] != c["totals"]


def test_pretrained_names_and_errors():
    assert pretrained_name("bandit", 100) == "bandit-n100-k5-seed0"
    assert pretrained_name("mdp", 25, seed=4) == "mdp-n25-seed4"
    with pytest.raises(RL2Error, match="no shipped RL\\^2 agent 'mdp-n7-seed0'"):
        pretrained("mdp", 7)
    with pytest.raises(RL2Error, match="task must be"):
        pretrained("maze", 10)
    import metarl_edu.rl2

    assert metarl_edu.rl2.pretrained is pretrained  # the loader is also found under the algorithm's module
    with pytest.raises(AttributeError, match="no attribute 'pretrianed'"):
        metarl_edu.rl2.pretrianed  # noqa: B018


RUNS = shipped_rl2_runs()


def test_agents_are_shipped_for_the_lesson_settings():
    names = {p.name for p in RUNS}
    for name in ("bandit-n10-k5-seed{}", "bandit-n100-k5-seed{}", "mdp-n10-seed{}", "mdp-n25-seed{}"):
        assert {name.format(s) for s in range(5)} <= names, name  # seeds 0-4 of every lesson setting
    for path in RUNS:
        assert sum(f.stat().st_size for f in path.iterdir()) < 2_000_000


@pytest.mark.parametrize("path", RUNS, ids=[p.name for p in RUNS])
def test_a_shipped_agent_reproduces_its_recorded_evaluation_and_does_well_on_fresh_tasks(path):
    record = read_rl2_run(path)
    config = record["config"]
    agent = pretrained(config["task"], config["n_episodes"], config["k"] if config["task"] == "bandit" else None,
                           config["seed"])
    assert agent.iteration == config["n_iterations"] and len(record["log"]["iteration"]) == config["n_iterations"]
    want = np.asarray(record["totals"], dtype=float)
    same = evaluate_rl2(agent, n_tasks=record["eval_tasks"], rng=record["eval_seed"])
    # the same tasks and seeds: the same totals here; another CPU's rounding may flip a sampled action, so the
    # mean is compared within three standard errors (or 1%)
    se = want.std() / np.sqrt(len(want))
    assert abs(same.mean_total - want.mean()) <= max(3 * se, 0.01 * abs(want.mean()))
    # fresh tasks: within four standard errors of the recorded mean (sampling noise, not a worse agent)
    fresh = evaluate_rl2(agent, n_tasks=300, rng=2024)
    assert abs(fresh.mean_total - want.mean()) < 4 * (want.std() / np.sqrt(300))
    # the training log ends better than it started (learning happened)
    totals = record["log"]["mean_total"]
    assert totals[-20:].mean() > totals[:5].mean()


def test_per_episode_reset_forgets_and_per_trial_reset_does_not():
    config = RL2Config(task="mdp", n_episodes=3, n_states=3, n_actions=2, horizon=2, hidden_size=8, n_tasks=4,
                       n_iterations=0)
    agent = RL2Agent(config)
    tasks = config.sample_tasks(4, np.random.default_rng(0))
    kept = collect_trials(agent.policy, tasks, 3, np.random.default_rng(1))
    reset = collect_trials(agent.policy, tasks, 3, np.random.default_rng(1), reset_each_episode=True)
    # the first episode is the same; episode 2 starts from an empty memory and with an all-zero previous step
    torch.testing.assert_close(kept.h[:2], reset.h[:2])
    assert torch.all(reset.x[2, :, 3:] == 0) and torch.all(kept.x[2, :, -1] == 1)
    _, _, h_fresh = agent.policy(reset.x[2:3])
    torch.testing.assert_close(reset.h[2], h_fresh[0])
    assert not torch.allclose(kept.h[2], reset.h[2])


def test_seeds_are_scored_on_the_same_tasks_and_averaged_task_by_task():
    config = RL2Config(task="bandit", n_episodes=4, k=3, hidden_size=8, n_tasks=4, n_iterations=0)
    agents = [RL2Agent(config), RL2Agent(RL2Config(**{**config.__dict__, "seed": 1}))]
    result, per_seed = evaluate_seeds(agents, n_tasks=50, rng=7)
    singles = [evaluate_rl2(a, n_tasks=50, rng=7) for a in agents]
    np.testing.assert_allclose(result.totals, (singles[0].totals + singles[1].totals) / 2)
    np.testing.assert_allclose(per_seed, [s.mean_total for s in singles])
    np.testing.assert_allclose(result.best_means, singles[0].best_means)  # the same bandits for every seed
    assert result.regrets.shape == (50,)


def test_quick_mode_scores_the_first_shipped_agent_only(monkeypatch):
    monkeypatch.setenv("METARL_EDU_QUICK", "1")
    [agent] = course_agents("bandit", 10)
    assert agent.config.seed == 0 and agent.iteration == agent.config.n_iterations >= 100  # trained, not a stub
    monkeypatch.setenv("METARL_EDU_QUICK", "0")
    assert [a.config.seed for a in course_agents("bandit", 10, seeds=range(1, 3))] == [1, 2]
    with pytest.raises(RL2Error, match="no shipped agents"):
        course_agents("bandit", 7)
