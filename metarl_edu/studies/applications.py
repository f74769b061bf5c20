"""Three small case studies of meta-learning, each a task family, a meta-learner and a held-out evaluation.

==============  ================================  ==============================  ================================
case study      task family                       meta-learned                    baseline
==============  ================================  ==============================  ================================
robotics        CartPole, pole length varies      initial Q-table (mean of the    a table learned on one train
                                                  tables learned on train poles)  pole, same episodes; zeros
game AI         a maze, the goal cell varies      Q-learning's alpha and epsilon  the same search on one goal;
                                                  (best on the train goals)       the library defaults
healthcare      Bernoulli dosing bandit per       Thompson sampling's Beta prior  a flat Beta(1, 1) prior
(toy)           patient, k doses                  of every dose (empirical Bayes
                                                  from past patients)
==============  ================================  ==============================  ================================

Every study takes its meta-train and meta-test tasks as arguments, so the split is the caller's (lesson 10 does it
with the learner's own split function), and returns a :class:`CaseStudy`: one array of scores of shape
(n_test_tasks, n_seeds, n_steps) per method, ready for :func:`~metarl_edu.studies.evaluation.adaptation_curve`.

The healthcare study is a toy: it shows the statistics of borrowing strength across patients, nothing about a
real treatment. Real use would need safety constraints on the doses tried, off-policy evaluation on logged data
before any patient is exposed, regulatory approval, clinicians in the loop and care about confounding.

References:
    Thompson (1933); Chapelle & Li (2011) (Thompson sampling). Efron & Morris (1975), *Data analysis using Stein's
    estimator and its generalizations*, JASA 70 (empirical Bayes). Casella (1985), *An introduction to empirical
    Bayes data analysis*, The American Statistician 39 (the beta-binomial moment estimates used here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from metarl_edu._checks import check_number
from metarl_edu.agents import LinearSchedule, QLearningAgent
from metarl_edu.bandits import Strategy, ThompsonSampling, run_strategy
from metarl_edu.envs.cartpole import CartPoleTask
from metarl_edu.envs.tasks import CartPoleFamily, GridTask, GridWorldFamily
from metarl_edu.fast.qlearning import BatchedQLearning
from metarl_edu.studies.evaluation import spawn_seeds

__all__ = [
    "MAZE",
    "CaseStudy",
    "DosingPopulation",
    "PriorThompsonSampling",
    "cartpole_case_study",
    "dosing_case_study",
    "fit_beta_prior",
    "maze_case_study",
    "maze_family",
    "seed_spread",
]


@dataclass(frozen=True)
class CaseStudy:
    """Scores of several methods on the same held-out tasks and seeds.

    Attributes:
        name: a title for plots.
        scores: method -> array (n_tasks, n_seeds, n_steps); ``scores[m][i, j, k]`` is method m's score on test
            task i with seed j after k steps of adaptation (``xlabel`` says what a step is). Every method sees
            the same tasks and seeds, so differences can be paired.
        xlabel, ylabel: what the step axis and the score are, with units.
        higher_is_better: False for costs such as regret.
        info: extra numbers the study found (for example the meta-learned setting).
    """

    name: str
    scores: dict[str, np.ndarray]
    xlabel: str
    ylabel: str
    higher_is_better: bool = True
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        shapes = {np.shape(s) for s in self.scores.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 3:
            raise ValueError(f"every method needs scores of one shape (n_tasks, n_seeds, n_steps); got {shapes}")

    @property
    def n_seeds(self) -> int:
        return next(iter(self.scores.values())).shape[1]


def _blocks(returns: np.ndarray, block: int) -> np.ndarray:
    """Mean of consecutive blocks of ``block`` episodes along the last axis: (..., n) -> (..., n // block)."""
    n = returns.shape[-1] // block
    return returns[..., : n * block].reshape(*returns.shape[:-1], n, block).mean(axis=-1)


# ============================================================================================ robotics: CartPole
def cartpole_case_study(
    train_tasks: Sequence[CartPoleTask],
    test_tasks: Sequence[CartPoleTask],
    n_meta_episodes: int,
    n_episodes: int,
    n_seeds: int,
    block: int = 10,
    max_episode_steps: int = 200,
    seed: int = 0,
    progress: bool = False,
) -> CaseStudy:
    """Adapt to unseen pole lengths: Q-learning from a meta-learned table, from a table learned on one pole with
    the same budget, and from zeros.

    Meta-training learns one table per training task (``n_meta_episodes`` episodes of :class:`QLearningAgent`
    with its defaults) and averages them: ``q_0 = mean_i q_i``. The rival with the same budget is one
    :class:`QLearningAgent` (the same defaults) that spends all ``n_meta_episodes * len(train_tasks)`` episodes on
    one training pole, the one of median length (the longer of the middle two). On each test task and seed, every
    method then learns for ``n_episodes`` episodes from its table with the same settings (alpha 0.1, epsilon from
    0.2 down to 0.01); the score after step k is the mean return of the k-th block of ``block`` training episodes.
    Episodes are cut after ``max_episode_steps`` steps (a truncation), so the best score is ``max_episode_steps``.

    ``info``: ``q_0``, the environment steps spent in meta-training (``meta_env_steps``) and by the one-pole rival
    (``one_pole_env_steps``), and the rival's pole (``one_pole``).
    """
    if not train_tasks:
        raise ValueError("cartpole_case_study needs at least one training task")
    family = CartPoleFamily(max_episode_steps=max_episode_steps)
    n_train = len(train_tasks)
    seeds = spawn_seeds(seed, n_train + 2)  # one per training pole, the test runs' root, the one-pole rival
    tables, meta_steps = [], 0
    for task, s in tqdm(list(zip(train_tasks, seeds, strict=False)), desc="meta-train", disable=not progress):
        agent = QLearningAgent(family.make_env(task), seed=s, progress=False)
        agent.train(n_meta_episodes)
        tables.append(agent.q.copy())
        meta_steps += agent.n_transitions
    q_0 = np.mean(tables, axis=0)
    one_pole = sorted(train_tasks, key=lambda task: task.length)[n_train // 2]
    rival = QLearningAgent(family.make_env(one_pole), seed=seeds[n_train + 1], progress=False)
    rival.train(n_meta_episodes * n_train, progress=progress)

    test_seeds = spawn_seeds(seeds[n_train], n_seeds)
    starts = {"meta-learned initial table": q_0, f"one pole ({one_pole.length:.2f} m), same episodes": rival.q.copy(),
              "zero table": np.zeros_like(q_0)}
    scores: dict[str, list] = {name: [] for name in starts}
    with tqdm(total=len(starts) * len(test_tasks) * n_seeds, desc="meta-test", disable=not progress) as bar:
        for task in test_tasks:
            for name, start in starts.items():
                runs = []
                for s in test_seeds:
                    agent = QLearningAgent(family.make_env(task), epsilon=LinearSchedule(0.2, 0.01), seed=s,
                                           progress=False)
                    agent.q[:] = start
                    runs.append(_blocks(agent.train(n_episodes), block))
                    bar.update()
                scores[name].append(runs)
    return CaseStudy("Robotics: CartPole with an unseen pole length",
                     {name: np.array(runs) for name, runs in scores.items()},
                     xlabel=f"training episodes on the new pole (blocks of {block})",
                     ylabel="return per episode (steps balanced)",
                     info={"q_0": q_0, "meta_env_steps": meta_steps, "one_pole_env_steps": rival.n_transitions,
                           "one_pole": one_pole})


# ============================================================================================ game AI: mazes
MAZE = """
    #########
    #S..#...#
    #.#.#.#.#
    #.#...#.#
    #.###.#.#
    #.....#.#
    #########
"""


def maze_family() -> GridWorldFamily:
    """The maze of :data:`MAZE` with a goal anywhere on its floor, 1 % cost per step, no slip."""
    return GridWorldFamily(layout=MAZE, slip_range=(0.0, 0.0), step_reward=-0.01, goal_reward=1.0, gamma=0.95,
                           max_episode_steps=100)


ALPHAS = (0.1, 0.3, 0.5, 0.9, 1.0)
EPSILONS = (0.0, 0.01, 0.05, 0.1, 0.3)  # the grid reaches the ends of the legal ranges: alpha 1, epsilon 0


def _grid_scores(family: GridWorldFamily, tasks: Sequence[GridTask], alphas: Sequence[float],
                 epsilons: Sequence[float], n_episodes: int, n_seeds: int, seed: int) -> np.ndarray:
    """The mean return over all episodes of batched Q-learning with every (alpha, epsilon) of the grid on each of
    ``tasks`` (``n_seeds`` runs each), shape (n_tasks, n_alphas, n_epsilons): each task's own search."""
    pairs = [(a, e) for a in alphas for e in epsilons]
    mdps = [family.to_mdp(task) for task in tasks for _ in pairs for _ in range(n_seeds)]
    alpha = np.tile(np.repeat([a for a, _ in pairs], n_seeds), len(tasks))
    epsilon = np.tile(np.repeat([e for _, e in pairs], n_seeds), len(tasks))
    batch = BatchedQLearning(mdps, alpha=alpha, epsilon=epsilon, max_steps=family.max_episode_steps,
                             seed=seed, progress=False)
    returns = batch.train(n_episodes).reshape(len(tasks), len(pairs), n_seeds, n_episodes)
    return returns.mean(axis=(2, 3)).reshape(len(tasks), len(alphas), len(epsilons))


def _best(scores: np.ndarray, alphas: Sequence[float], epsilons: Sequence[float]) -> tuple[float, float]:
    """The (alpha, epsilon) of the highest score of a grid (n_alphas, n_epsilons); the first one on ties."""
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return alphas[i], epsilons[j]


def maze_case_study(
    family: GridWorldFamily,
    train_tasks: Sequence[GridTask],
    test_tasks: Sequence[GridTask],
    n_episodes: int,
    n_seeds: int,
    block: int = 5,
    alphas: Sequence[float] = ALPHAS,
    epsilons: Sequence[float] = EPSILONS,
    seed: int = 0,
) -> CaseStudy:
    """New goals in a maze: Q-learning with hyperparameters meta-learned on many training goals, against the same
    search on a single training goal, and against the library's defaults.

    Meta-training runs batched Q-learning with every pair (alpha, epsilon) of the grid on every training task
    (``n_seeds`` rows each) for ``n_episodes`` episodes and keeps the pair with the highest mean return over all
    episodes and tasks: the area under the learning curve, which rewards fast learning. The tuned baseline is the
    usual practice without meta-learning: the same grid, budget and criterion on one level only. Which level is
    chance, so every training goal takes its turn: each one's own search (its rows of the same runs) picks a
    setting, and the baseline's score on a test task is the mean over the training goals of their settings'
    scores, what a developer who tunes on one level can expect. The defaults (alpha 0.1, epsilon from 1 down to
    0.01 over the first half) were fixed for long runs and tuned for nothing here: a reference, not a fair rival.
    Every setting then runs on the test tasks with the same seeds; the score after step k is the mean return of
    the k-th block of ``block`` episodes.

    ``info``: ``alpha``, ``epsilon`` and ``grid_scores`` (n_alphas, n_epsilons, the mean over training tasks) of
    the meta-learner; ``goal_scores`` (n_train, n_alphas, n_epsilons), each training goal's own grid; ``one_goal``,
    the (alpha, epsilon) each training goal picks alone, in their order; and ``setting_scores``, each chosen
    setting's scores on the test tasks (n_test, n_seeds, n_blocks).
    """
    if not train_tasks:
        raise ValueError("maze_case_study needs at least one training task")
    train_seed, test_seed = spawn_seeds(seed, 2)
    per_goal = _grid_scores(family, train_tasks, alphas, epsilons, n_episodes, n_seeds, train_seed)
    best_alpha, best_epsilon = _best(per_goal.mean(axis=0), alphas, epsilons)
    one_goal = [_best(scores, alphas, epsilons) for scores in per_goal]

    mdps = [family.to_mdp(task) for task in test_tasks for _ in range(n_seeds)]

    def run(alpha: float, epsilon: float | LinearSchedule) -> np.ndarray:
        batch = BatchedQLearning(mdps, alpha=alpha, epsilon=epsilon, max_steps=family.max_episode_steps,
                                 seed=test_seed, progress=False)
        return _blocks(batch.train(n_episodes).reshape(len(test_tasks), n_seeds, n_episodes), block)

    setting_scores = {pair: run(*pair) for pair in sorted({(best_alpha, best_epsilon), *one_goal})}
    scores = {
        f"meta-learned on {len(train_tasks)} goals (alpha={best_alpha}, epsilon={best_epsilon})":
            setting_scores[best_alpha, best_epsilon],
        f"tuned on 1 goal (mean over the {len(one_goal)} goals as that goal)":
            np.mean([setting_scores[pair] for pair in one_goal], axis=0),
        "defaults (alpha=0.1, epsilon 1 -> 0.01)": run(0.1, LinearSchedule(1.0, 0.01)),
    }
    return CaseStudy("Game AI: a maze with new goals", scores,
                     xlabel=f"training episodes on the new goal (blocks of {block})",
                     ylabel="return per episode (1 - 0.01 per step)",
                     info={"alpha": best_alpha, "epsilon": best_epsilon, "grid_scores": per_goal.mean(axis=0),
                           "goal_scores": per_goal, "one_goal": one_goal, "setting_scores": setting_scores})


# ============================================================================================ healthcare (toy)
@dataclass(frozen=True)
class DosingPopulation:
    """A toy population of patients: patient i responds to dose a with probability ``p[i, a]``, drawn as

        p[i, a] ~ Beta(kappa * mean[a], kappa * (1 - mean[a]))     independently,

    so ``mean[a]`` is the population's response rate to dose a and ``kappa`` (> 0) how alike patients are (large
    kappa: everyone responds like the average).

    Attributes:
        mean: (k,) population response rate of each dose, each in (0, 1). Default: rising, then falling with
            the dose (more effect, then more side effects).
        kappa: concentration > 0. Default 6.
    """

    mean: tuple[float, ...] = (0.15, 0.35, 0.6, 0.45, 0.25)
    kappa: float = 6.0

    def __post_init__(self) -> None:
        if not self.mean or not all(0.0 < m < 1.0 for m in self.mean):
            raise ValueError(f"mean must hold one response rate in (0, 1) per dose; got {self.mean!r}")
        check_number("kappa", self.kappa, 0.0, low_open=True)

    @property
    def k(self) -> int:
        return len(self.mean)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` patients' response probabilities, shape (n, k)."""
        m = np.asarray(self.mean)
        return rng.beta(self.kappa * m, self.kappa * (1.0 - m), size=(n, self.k))


def fit_beta_prior(successes: np.ndarray, n_trials: int, kappa_range: tuple[float, float] = (0.5, 50.0)
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Empirical Bayes: a Beta(alpha_a, beta_a) prior for each dose a from past patients' outcomes.

    ``successes`` (n_patients, k) counts responses out of ``n_trials`` tries of each dose per patient. With
    ``phat = successes / n_trials``, the method of moments for the beta-binomial (Casella 1985):

        m = mean(phat),    Var(phat) = Var(p) (1 - 1/n) + m (1 - m) / n       (binomial noise on top of Var(p))
        Var(p) = (var(phat) - m (1 - m) / n) / (1 - 1/n),    kappa = m (1 - m) / Var(p) - 1
        alpha = kappa m,   beta = kappa (1 - m)

    ``kappa`` is clipped to ``kappa_range``: an estimated Var(p) <= 0 (patients look alike) gives the upper end.
    Returns ``(alpha, beta)``, each (k,).
    """
    successes = np.asarray(successes, dtype=float)
    if successes.ndim != 2 or successes.shape[0] < 2:
        raise ValueError(f"successes must be (n_patients >= 2, k); got shape {successes.shape}")
    if n_trials < 2 or successes.min() < 0 or successes.max() > n_trials:
        raise ValueError(f"successes must be counts in [0, n_trials] with n_trials >= 2; got n_trials={n_trials}")
    n = float(n_trials)
    phat = successes / n
    m = np.clip(phat.mean(axis=0), 1e-3, 1.0 - 1e-3)
    var_p = (phat.var(axis=0, ddof=1) - m * (1.0 - m) / n) / (1.0 - 1.0 / n)
    with np.errstate(divide="ignore"):
        kappa = np.where(var_p > 0, m * (1.0 - m) / var_p - 1.0, np.inf)
    kappa = np.clip(kappa, *kappa_range)
    return kappa * m, kappa * (1.0 - m)


@dataclass(frozen=True)
class PriorThompsonSampling(Strategy):
    """Thompson sampling with its own Beta(alpha_0[a], beta_0[a]) prior for each arm a (compare
    :class:`~metarl_edu.bandits.ThompsonSampling`, one prior for all arms): the posterior of arm a is
    ``Beta(alpha_0[a] + S_a, beta_0[a] + n_a - S_a)``; pull the arm with the largest posterior sample."""

    alpha_0: tuple[float, ...]
    beta_0: tuple[float, ...]

    def select(self, state, rng: np.random.Generator) -> np.ndarray:
        alpha = np.asarray(self.alpha_0) + state.sums
        beta = np.asarray(self.beta_0) + (state.counts - state.sums)
        return np.argmax(rng.beta(alpha, beta), axis=1)


def dosing_case_study(
    population: DosingPopulation,
    past_patients: np.ndarray,
    new_patients: np.ndarray,
    n_treatments: int,
    n_seeds: int,
    n_history: int = 4,
    seed: int = 0,
) -> CaseStudy:
    """A personalised dosing bandit per patient: Thompson sampling with a prior learned from past patients
    against a flat Beta(1, 1) prior, scored by regret on new patients.

    Past patients (n_past, k) each tried every dose ``n_history`` times in a past study; :func:`fit_beta_prior`
    turns their outcomes into a prior per dose. Every new patient (n_new, k) is treated ``n_treatments`` times by
    each method, ``n_seeds`` times with independent random numbers. The score after t = 0, 1, ..., n_treatments
    treatments is the expected cumulative regret ``sum_{u <= t} (max_a p[a] - p[a_u])``: response probability
    lost against the patient's best dose, which nobody knows in advance (lower is better). ``population`` only
    names the number of doses.

    ``info``: the fitted ``alpha`` and ``beta`` (k,).
    """
    past_patients, new_patients = np.asarray(past_patients, float), np.asarray(new_patients, float)
    if past_patients.shape[1] != population.k or new_patients.shape[1] != population.k:
        raise ValueError(f"patients must have one response probability per dose (k={population.k})")
    history_seed, *method_seeds = spawn_seeds(seed, 3)
    history = np.random.default_rng(history_seed).binomial(n_history, past_patients)  # (n_past, k)
    alpha, beta = fit_beta_prior(history, n_history)
    p = np.repeat(new_patients, n_seeds, axis=0)  # row i * n_seeds + j: patient i, seed j
    scores = {}
    for (name, strategy), s in zip(
        (("learned prior (empirical Bayes)", PriorThompsonSampling(tuple(alpha), tuple(beta))),
         ("flat prior Beta(1, 1)", ThompsonSampling())), method_seeds, strict=True,
    ):
        # the same seed for both methods would couple their draws in a misleading way; independent streams
        actions, _ = run_strategy(strategy, p, n_treatments, np.random.default_rng(s))
        lost = p.max(axis=1) - p[np.arange(len(p)), actions]  # (n_treatments, B): expected regret of each step
        regret = np.cumsum(lost, axis=0).T.reshape(len(new_patients), n_seeds, n_treatments)
        scores[name] = np.concatenate([np.zeros((len(new_patients), n_seeds, 1)), regret], axis=2)  # 0 before any
    return CaseStudy("Healthcare (toy): a dosing bandit per new patient", scores, xlabel="treatments given",
                     ylabel="cumulative regret (responses lost)", higher_is_better=False,
                     info={"alpha": alpha, "beta": beta})


# ============================================================================================ stability
def seed_spread(family: GridWorldFamily, task: GridTask, n_seeds: int, n_episodes: int, alpha: float = 0.1,
                seed: int = 0) -> np.ndarray:
    """The same method on the same task with ``n_seeds`` seeds: the exact value from the start state of the greedy
    policy that Q-learning (alpha, the default epsilon schedule) learned in ``n_episodes`` episodes, shape
    (n_seeds,). Only the random numbers differ between entries."""
    from metarl_edu.mdp import policy_evaluation

    mdp = family.to_mdp(task)
    batch = BatchedQLearning([mdp] * n_seeds, alpha=alpha, max_steps=family.max_episode_steps, seed=seed,
                             progress=False)
    batch.train(n_episodes)
    return np.array([mdp.start @ policy_evaluation(mdp, pi) for pi in batch.greedy_policies()])
