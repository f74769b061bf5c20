"""A class on one machine with JupyterHub: ``metarl-edu hub-config`` writes a commented ``jupyterhub_config.py``,
and ``metarl-edu collect`` gathers the learners' lessons for ``metarl-edu grade``.

The hub (the ``hub`` extra: jupyterhub and the Python port of configurable-http-proxy, so no node is needed) logs
learners in, starts one Jupyter server per learner, and before each start copies the lessons that learner lacks
into their ``lessons/`` folder with ``metarl-edu copy-lessons`` (their work there is never overwritten).
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from pathlib import Path
from string import Template

from metarl_edu.classroom.limits import default_memory_mb
from metarl_edu.config import QUICK_VAR

AUTHENTICATORS = ("shared", "pam")
MODES = ("quick", "full")

CONFIG = Template('''\
# JupyterHub for the metarl-edu course, written by `metarl-edu hub-config`. Start it from the folder where the
# hub should keep its database and cookie secret:
#
#     jupyterhub -f jupyterhub_config.py
#
# then open http://$ip:$port/ . Everything below is ordinary JupyterHub configuration: edit it freely.
import asyncio
import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821
BIN = Path(sys.executable).parent  # the environment with jupyterhub and metarl-edu installed

c.JupyterHub.bind_url = "http://$ip:$port"
# The proxy: the pure-Python configurable-http-proxy from PyPI (the hub extra), so no node.js is needed.
c.ConfigurableHTTPProxy.command = [str(BIN / "configurable-http-proxy")]

# ---------------------------------------------------------------------------------------------- who logs in
# The instructor is an admin: sees every learner on the Admin page, can start, stop and open their servers.
c.Authenticator.admin_users = {$instructor}
$allowed
$auth

# ---------------------------------------------------------------------------------------------- learners' servers
$spawner


c.Spawner.default_url = "/lab/tree/lessons"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
# Quick mode shrinks every training run so a lesson runs in seconds ($quick_var=1); full mode is the size
# the lessons describe. This hub: $mode mode.
c.Spawner.environment = {"$quick_var": "$quick"}
# Memory: container spawners (DockerSpawner, KubeSpawner) enforce mem_limit. On one machine, prlimit caps the
# address space of each process of a learner (their server and each kernel) at $memory_mb MiB. A lesson's kernel
# peaks at 1.3-1.6 GiB of address space with the CPU build of torch and 3.8-4.1 GiB with the CUDA build (it maps
# its GPU libraries even without a GPU): `metarl-edu hub-config` defaults to 4096 or 8192, for the build installed.
c.Spawner.mem_limit = "${memory_mb}M"
SINGLEUSER = [str(BIN / "jupyterhub-singleuser")]
if shutil.which("prlimit"):
    SINGLEUSER = ["prlimit", f"--as={$memory_mb * 2**20}", *SINGLEUSER]
c.Spawner.cmd = SINGLEUSER


# ---------------------------------------------------------------------------------------------- lessons
async def give_lessons(spawner):
    """Before a learner's server starts, copy each lesson they lack into <home>/lessons: `metarl-edu copy-lessons`
    takes the lessons shipped in the installed package and never overwrites a learner's file."""
    home, user = learner_home(spawner)
    os.makedirs(home, exist_ok=True)
    command = [sys.executable, "-m", "metarl_edu.classroom.cli", "copy-lessons", os.path.join(home, "lessons")]
    process = await asyncio.create_subprocess_exec(*command, user=user, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"copy-lessons failed for {spawner.user.name}: {err.decode()[-2000:]}")
    spawner.log.info("%s: %s", spawner.user.name, out.decode().strip())


c.Spawner.pre_spawn_hook = give_lessons

# ---------------------------------------------------------------------------------------------- grading
# As the instructor, on this machine, from the course checkout (the grader needs course/ for the hidden tests):
#
#     metarl-edu collect submitted/ $collect_homes
#     metarl-edu grade submitted/ --out gradebook.csv --jobs 2
#
# collect copies each learner's lessons/<lesson>.ipynb to submitted/<learner>/ (add --lessons 01_mdp,02_q_learning
# to take only some); grade writes one gradebook row per learner and lesson, and a feedback file for each.
''')

SHARED = '''\
# Trial default: one shared password for the learners and a separate one for the instructor
# (SharedPasswordAuthenticator). Anyone who knows the learners' password can log in as any learner, so use it for
# a trial or a workshop on a closed network only. For a class, choose one of:
#   - real accounts on this machine: `metarl-edu hub-config --auth pam` (PAMAuthenticator with
#     LocalProcessSpawner; the hub runs as root and each learner's server runs as that learner);
#   - your institution's login: OAuthenticator (GitHub, Google, generic OAuth2/OIDC) or LTIAuthenticator (from
#     an LMS), installed separately; set c.JupyterHub.authenticator_class to it.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = $learner_password
c.SharedPasswordAuthenticator.admin_password = $instructor_password'''

PAM = '''\
# Real accounts on this machine (PAMAuthenticator): each learner logs in with their own system user and password.
# The hub must run as root to start each learner's server as that user.
c.JupyterHub.authenticator_class = "pam"'''

SIMPLE_SPAWNER = '''\
# Every learner's server runs as the user who runs the hub, in its own home folder $homes/<learner>
# (SimpleLocalProcessSpawner). Learners can read each other's files through a terminal or a kernel: fine for a
# trial; for a class use --auth pam (system users) or containers (DockerSpawner, Zero to JupyterHub).
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "$homes/{username}"
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]


def learner_home(spawner):
    return spawner.home_dir, None'''

LOCAL_SPAWNER = '''\
# Each learner's server runs as their own system user in their home folder (LocalProcessSpawner).
c.JupyterHub.spawner_class = "localprocess"


def learner_home(spawner):
    import pwd

    return pwd.getpwnam(spawner.user.name).pw_dir, spawner.user.name'''


def hub_config(*, auth: str = "shared", instructor: str = "instructor", learners: list[str] | None = None,
               homes: str = "/srv/metarl-edu/users", mode: str = "quick", memory_mb: int | None = None,
               ip: str = "127.0.0.1", port: int = 8000, learner_password: str | None = None,
               instructor_password: str | None = None) -> tuple[str, dict[str, str]]:
    """The text of a jupyterhub_config.py, and the passwords it sets (empty for PAM). ``memory_mb``: the address
    space of each of a learner's processes; ``None`` for the grader's default without a jail, which depends on the
    build of torch installed (:func:`~metarl_edu.classroom.limits.default_memory_mb`)."""
    if memory_mb is None:
        memory_mb = default_memory_mb("none")
    if auth not in AUTHENTICATORS:
        raise ValueError(f"auth must be one of {AUTHENTICATORS}; got {auth!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if memory_mb < 512:
        raise ValueError(f"memory_mb must be at least 512 (a kernel with numpy needs more); got {memory_mb}")
    learners = list(learners or [])
    for name in [instructor, *learners]:
        if not name or not name.replace("-", "").replace("_", "").isalnum() or name != name.lower():
            raise ValueError(f"user names are lowercase letters, digits, '-' and '_'; got {name!r}")
    passwords: dict[str, str] = {}
    if auth == "shared":
        passwords = {"learners": learner_password or secrets.token_urlsafe(9),
                     "instructor": instructor_password or secrets.token_urlsafe(32)}
        if len(passwords["learners"]) < 8 or len(passwords["instructor"]) < 32:
            raise ValueError("the learners' password needs 8 characters or more, the instructor's 32 or more")
        auth_text = Template(SHARED).substitute(learner_password=repr(passwords["learners"]),
                                                instructor_password=repr(passwords["instructor"]))
        spawner = Template(SIMPLE_SPAWNER).substitute(homes=homes.rstrip("/"))
        collect_homes = f"{homes.rstrip('/')}/*"
    else:
        auth_text, spawner, collect_homes = PAM, LOCAL_SPAWNER, "/home/*"
    if learners:
        allowed = ("# Only these learners (and the instructor) may log in.\n"
                   "c.Authenticator.allowed_users = {" + ", ".join(map(repr, sorted(set(learners)))) + "}")
    else:
        allowed = ("# Anyone who can log in may use the hub (name learners with --learners to restrict it).\n"
                   "c.Authenticator.allow_all = True")
    text = CONFIG.substitute(ip=ip, port=port, instructor=repr(instructor), allowed=allowed, auth=auth_text,
                             spawner=spawner, mode=mode, quick_var=QUICK_VAR, quick="1" if mode == "quick" else "0",
                             memory_mb=memory_mb, collect_homes=collect_homes)
    return text, passwords


def collect(dest: Path, homes: list[Path], lessons: list[str] | None = None) -> tuple[list[Path], list[str]]:
    """Copy each learner's ``<home>/lessons/<lesson>.ipynb`` to ``dest/<learner>/`` (the learner is the home
    folder's name), for ``metarl-edu grade``. Only the course's lesson notebooks are taken, ``lessons`` (stems such
    as ``01_mdp``) narrows them. Returns the copies and one note per home that had none, and per file skipped.

    Only regular files are taken, never through a symbolic link (a learner's ``lessons/`` or notebook that links
    elsewhere could hand in another learner's work, or any file the collector may read): those are skipped with
    a note."""
    from metarl_edu.classroom.cli import shipped_lessons

    known = sorted(p.stem for p in shipped_lessons().glob("*.ipynb"))
    wanted = known if not lessons else lessons
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"unknown lesson(s) {unknown}; the lessons are {known}")
    copied, notes = [], []
    for home in homes:
        home = Path(home)
        folder = home / "lessons"
        if folder.is_symlink():
            notes.append(f"{home}: skipped: {folder} is a symbolic link")
            continue
        found = []
        for stem in wanted:
            path = folder / f"{stem}.ipynb"
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode):
                found.append(path)
            else:
                notes.append(f"{path}: skipped: not a regular file (a symbolic link?)")
        if not found:
            notes.append(f"{home}: no lesson notebooks in {folder}")
            continue
        for src in found:
            try:
                fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError as exc:
                notes.append(f"{src}: skipped: {exc.strerror}")
                continue
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    notes.append(f"{src}: skipped: not a regular file")
                    continue
                data = f.read()
            dst = Path(dest) / home.name / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
            shutil.copystat(src, dst, follow_symlinks=False)
            copied.append(dst)
    return copied, notes
