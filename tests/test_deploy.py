"""The files for a hub beyond one machine: the learners' Docker image, the Zero to JupyterHub values and the
DockerSpawner snippet. Nothing here needs Docker or a cluster: the YAML is linted, the Dockerfile's copied files
exist, and the commands the containers run are real `metarl-edu` commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from metarl_edu.classroom import cli

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "singleuser" / "Dockerfile"
VALUES = ROOT / "docker" / "z2jh" / "config.yaml"
SNIPPET = ROOT / "docker" / "dockerspawner" / "jupyterhub_config.py"


class StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""


def _no_duplicates(loader, node, deep=False):
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    twice = sorted({str(k) for k in keys if keys.count(k) > 1})
    if twice:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate key(s) {twice}", node.start_mark)
    return loader.construct_mapping(node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def values() -> dict:
    return yaml.load(VALUES.read_text(), Loader=StrictLoader)


def test_the_strict_loader_catches_a_duplicate_key():
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate"):
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=StrictLoader)


def test_z2jh_values_lint():
    text = VALUES.read_text()
    assert "\t" not in text and all(line == line.rstrip() for line in text.splitlines())
    config = values()
    assert set(config) <= {"hub", "proxy", "singleuser", "cull", "scheduling", "prePuller", "ingress"}
    single = config["singleuser"]
    assert single["image"]["name"] and re.fullmatch(r"[\w.-]+", str(single["image"]["tag"]))
    assert single["memory"]["limit"].endswith("G") and single["memory"]["guarantee"].endswith("G")
    assert float(single["memory"]["guarantee"][:-1]) <= float(single["memory"]["limit"][:-1])
    assert 0 < single["cpu"]["guarantee"] <= single["cpu"]["limit"]
    assert single["storage"]["capacity"].endswith("Gi") and single["defaultUrl"] == "/lab/tree/lessons"
    assert single["extraEnv"]["METARL_EDU_QUICK"] in ("0", "1")
    assert config["hub"]["config"]["Authenticator"]["admin_users"]


def _metarl_edu_command(argv: list[str]) -> None:
    """Fail unless ``argv`` is a `metarl-edu` command line that the CLI accepts."""
    assert argv[0] == "metarl-edu", argv
    args = cli.parser().parse_args(argv[1:])
    assert args.func is cli.cmd_copy_lessons and args.dest == "/home/jovyan/lessons"


def test_containers_copy_the_lessons_with_a_real_command():
    _metarl_edu_command(values()["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"])
    snippet = SNIPPET.read_text()
    compile(snippet, str(SNIPPET), "exec")
    _metarl_edu_command(shlex.split(re.search(r'post_start_cmd = "([^"]+)"', snippet).group(1)))
    image = values()["singleuser"]["image"]
    local = image["name"].rsplit("/", 1)[-1]  # the same image, built locally rather than pulled from a registry
    assert f'c.DockerSpawner.image = "{local}:{image["tag"]}"' in snippet


def test_the_dockerfile_copies_files_that_exist():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE=quay\.io/jupyter/[\w-]+-notebook:\S+$", text, re.MULTILINE)  # Jupyter docker-stacks
    copies = re.findall(r"^COPY (?:--\S+ )*(.+) (\S+)$", text, re.MULTILINE)
    sources = [s for line, _ in copies for s in line.split()]
    assert {"constraints.txt", "setup.py", "metarl_edu", "lessons"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the checkout"
    assert "download.pytorch.org/whl/cpu" in text and "-c constraints.txt" in text and "jupyterhub" in text
    assert "grep '^torch==' constraints.txt" in text and re.search(r"^torch==", (ROOT / "constraints.txt").read_text(),
                                                                  re.MULTILINE)
    assert "copy-lessons" in text
