"""The lessons' exercises and their check cases, one module per lesson.

Each module registers its exercises with :func:`metarl_edu.classroom.cases.register` and imports nothing else from
the classroom, so that :mod:`metarl_edu.classroom.checks` can load them without an import cycle. References are
bound at import time, so the checks and the fallbacks keep working even if a learner shadows or patches the
library name.
"""

from metarl_edu.classroom.exercises import (  # noqa: F401
    l00_welcome,
    l01_mdp,
    l02_q_learning,
    l03_cartpole,
    l04_many_tasks,
    l05_learning_hyperparameters,
    l06_policy_gradients,
    l07_maml_sinusoid,
    l08_maml_rl,
    l09_rl2,
    l10_evaluation,
    l11_inferring_the_task,
)
