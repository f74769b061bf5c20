"""Ships the lesson notebooks inside the package, so that ``metarl-edu copy-lessons DEST`` works without a checkout.

A wheel built from the checkout (or from its sdist, which carries ``lessons/`` through MANIFEST.in) holds a copy of
``lessons/*.ipynb`` as ``metarl_edu/data/lessons/``. The repository keeps one copy, ``lessons/``, generated from
``course/`` by ``metarl-edu build``; ``tests/test_package.py`` builds a wheel and checks that it ships those files.
Everything else about the package is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithLessons(build_py):
    def run(self):
        super().run()
        lessons = sorted((Path(__file__).resolve().parent / "lessons").glob("*.ipynb"))
        if not lessons:
            raise SystemExit("error: no lessons/*.ipynb to ship; run `metarl-edu build` first")
        target = Path(self.build_lib) / "metarl_edu" / "data" / "lessons"
        target.mkdir(parents=True, exist_ok=True)
        for path in lessons:
            shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": BuildWithLessons})
