"""A class on one machine: the hub that `metarl-edu hub-config` writes, driven over its REST API and a browser.

A hub on free loopback ports in a temporary folder; two learners log in and their servers are spawned at the same
time (one through the hub's login page in chromium, which opens JupyterLab on the lessons); each gets their own
lesson copies and cannot reach the other's; a check cell runs through the kernel API; the instructor (an admin)
collects the learners' lessons and grades them with `metarl-edu grade`, one gradebook row per learner; and no
process of the hub is left afterwards. The hub test is skipped when the hub extra is not installed.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import nbformat
import psutil
import pytest
import websocket

from metarl_edu.classroom import cli
from metarl_edu.classroom.hub import collect, hub_config
from metarl_edu.classroom.limits import default_memory_mb

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LESSON = "00_welcome"
LEARNER_PASSWORD = "learners-password"
INSTRUCTOR_PASSWORD = "instructor-password-of-32-characters!"
MEMORY_MB = default_memory_mb("none") * 3 // 4  # passed on explicitly; room for the torch installed (CUDA: GBs)


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Hub:
    def __init__(self, folder: Path):
        self.folder, self.homes = folder, folder / "users"
        port, hub_port, api_port = free_ports(3)
        self.url = f"http://127.0.0.1:{port}"
        config = folder / "jupyterhub_config.py"
        assert cli.main(["hub-config", "--out", str(config), "--learners", "alice,bob", "--instructor", "teacher",
                         "--homes", str(self.homes), "--port", str(port), "--memory-mb", str(MEMORY_MB),
                         "--learner-password", LEARNER_PASSWORD, "--instructor-password", INSTRUCTOR_PASSWORD]) == 0
        env = {k: v for k, v in os.environ.items() if k != "METARL_EDU_STRICT"}
        env.update(PATH=f"{BIN}{os.pathsep}{env['PATH']}",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
        self.log = (folder / "hub.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config), f"--JupyterHub.hub_port={hub_port}",
             f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}"],
            cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_for(lambda: httpx.get(f"{self.url}/hub/api", timeout=2).status_code == 200, 40, "the hub to start")

    def log_tail(self) -> str:
        self.log.flush()
        return (self.folder / "hub.log").read_text()[-4000:]

    def wait_for(self, ready, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the hub exited while waiting for {what}:\n{self.log_tail()}"
            try:
                if ready():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log_tail()}")

    def login(self, name: str, password: str) -> tuple[httpx.Client, str]:
        """Log in through the hub's login form, as a browser does; return the session and an API token."""
        client = httpx.Client(base_url=self.url, timeout=30)
        client.get("/hub/login")
        xsrf = client.cookies["_xsrf"]
        response = client.post("/hub/login", data={"username": name, "password": password, "_xsrf": xsrf})
        assert response.status_code == 302, f"{name} could not log in: {response.status_code}"
        client.get("/hub/home")  # the session changed at login, and with it the xsrf token
        xsrf = client.cookies["_xsrf"]
        response = client.post(f"/hub/api/users/{name}/tokens", headers={"X-XSRFToken": xsrf}, json={"note": "test"})
        assert response.status_code == 201, response.text
        token = response.json()["token"]
        client.headers["Authorization"] = f"token {token}"
        return client, token

    def stop(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        """Stop the hub as Ctrl-C would; return the processes it had started (the proxy, the learners' servers,
        their kernels) and those of them still alive afterwards."""
        started = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        finally:
            self.log.close()
        _, alive = psutil.wait_procs(started, timeout=10)
        for process in alive:
            process.kill()
        return started, alive


def browser_login(url: str, name: str, password: str, screenshot: Path) -> str:
    """Log ``name`` in through the hub's login page in chromium, as a learner does; the hub starts their server and
    JupyterLab opens on their lessons. Returns the URL JupyterLab opened at; saves a screenshot on failure."""
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/hub/login")
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", password)
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{name}/lab/tree/lessons**", timeout=90_000)
            page.get_by_text(f"{LESSON}.ipynb").first.wait_for(timeout=60_000)
            return page.url
        except Exception:
            page.screenshot(path=str(screenshot))
            print(f"screenshot of {name}'s browser: {screenshot}")
            raise
        finally:
            browser.close()


def execute(token: str, url: str, user: str, code: str) -> tuple[str, str]:
    """Run ``code`` in a new kernel of ``user``'s server through the kernel REST and websocket API; return the
    output text and the reply's status (the reply and the idle status may come in either order)."""
    client = httpx.Client(base_url=url, headers={"Authorization": f"token {token}"}, timeout=30)
    kernel = client.post(f"/user/{user}/api/kernels", json={"name": "python3"}).json()["id"]
    ws = websocket.create_connection(f"{url.replace('http', 'ws')}/user/{user}/api/kernels/{kernel}/channels",
                                     header=[f"Authorization: token {token}"], timeout=60)
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": user, "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    output, status, idle = [], None, False
    while status is None or not idle:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            output.append(content["text"])
        elif kind in ("execute_result", "display_data"):
            output.append(content["data"].get("text/plain", ""))
        elif kind == "error":
            output.append("\n".join(content["traceback"]))
        elif kind == "execute_reply":
            status = content["status"]
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
    ws.close()
    client.delete(f"/user/{user}/api/kernels/{kernel}")
    return "".join(output), status


CHECK_CELL = """\
import os, resource
from metarl_edu.classroom import check, start_lesson
start_lesson("00_welcome", kind="lesson")
def discounted_return(rewards, gamma):
    g = 0.0
    for r in reversed(rewards):
        g = r + gamma * g
    return g
print("quick", os.environ.get("METARL_EDU_QUICK"), "limit", resource.getrlimit(resource.RLIMIT_AS)[0], os.getcwd())
check("discounted_return", discounted_return)
"""


def test_hub_config_is_python_and_names_its_choices():
    text, passwords = hub_config(learners=["bob", "alice"], learner_password="12345678", homes="/srv/x")
    compile(text, "jupyterhub_config.py", "exec")
    assert passwords == {"learners": "12345678", "instructor": passwords["instructor"]}
    assert len(passwords["instructor"]) >= 32 and repr(passwords["instructor"]) in text
    assert "allowed_users = {'alice', 'bob'}" in text and "admin_users = {'instructor'}" in text
    assert '"shared-password"' in text and '"simple"' in text and "/srv/x/{username}" in text
    assert '"METARL_EDU_QUICK": "1"' in text and "copy-lessons" in text
    assert f"--as={{{default_memory_mb('none')} * 2**20}}" in text  # the default for the torch installed
    pam, none = hub_config(auth="pam", mode="full", memory_mb=2048)
    compile(pam, "jupyterhub_config.py", "exec")
    assert none == {} and '"pam"' in pam and '"localprocess"' in pam and "allow_all = True" in pam
    assert '"METARL_EDU_QUICK": "0"' in pam and "user_password" not in pam


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "fast"}, "mode must be one of"),
    ({"auth": "ldap"}, "auth must be one of"),
    ({"memory_mb": 100}, "memory_mb must be at least 512"),
    ({"learners": ["Alice"]}, "user names are lowercase"),
    ({"learner_password": "short"}, "8 characters or more"),
])
def test_hub_config_rejects_bad_input(options, message):
    with pytest.raises(ValueError, match=message):
        hub_config(**options)


def test_hub_config_never_overwrites_without_force(tmp_path, capsys):
    out = tmp_path / "jupyterhub_config.py"
    out.write_text("mine")
    assert cli.main(["hub-config", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "mine"


def test_collect_takes_each_learners_lessons_only(tmp_path):
    for name in ("alice", "bob"):
        (tmp_path / name / "lessons").mkdir(parents=True)
        (tmp_path / name / "lessons" / f"{LESSON}.ipynb").write_text(name)
    (tmp_path / "alice" / "lessons" / "Untitled.ipynb").write_text("scratch")
    (tmp_path / "carol").mkdir()
    copied, notes = collect(tmp_path / "submitted", [tmp_path / n for n in ("alice", "bob", "carol")])
    assert sorted(p.relative_to(tmp_path / "submitted").as_posix() for p in copied) == [
        f"alice/{LESSON}.ipynb", f"bob/{LESSON}.ipynb"]
    assert (tmp_path / "submitted" / "bob" / f"{LESSON}.ipynb").read_text() == "bob"
    assert len(notes) == 1 and "carol" in notes[0]
    with pytest.raises(ValueError, match="unknown lesson"):
        collect(tmp_path / "x", [tmp_path / "alice"], ["99_nope"])


def test_collect_refuses_symbolic_links_so_no_one_hands_in_another_file(tmp_path):
    secret = tmp_path / "alice" / "lessons" / f"{LESSON}.ipynb"
    secret.parent.mkdir(parents=True)
    secret.write_text("alice's work")
    (tmp_path / "bob" / "lessons").mkdir(parents=True)
    (tmp_path / "bob" / "lessons" / f"{LESSON}.ipynb").symlink_to(secret)  # a link to alice's notebook
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "lessons").symlink_to(secret.parent)  # a linked lessons/ folder
    copied, notes = collect(tmp_path / "submitted", [tmp_path / n for n in ("alice", "bob", "carol")])
    assert [p.relative_to(tmp_path / "submitted").as_posix() for p in copied] == [f"alice/{LESSON}.ipynb"]
    assert not (tmp_path / "submitted" / "bob").exists() and not (tmp_path / "submitted" / "carol").exists()
    assert any("bob" in n and "not a regular file" in n for n in notes)
    assert any("carol" in n and "symbolic link" in n for n in notes)


def test_a_class_on_one_hub(tmp_path):
    pytest.importorskip("jupyterhub", reason="the hub extra is not installed (pip install -c constraints.txt '.[hub]')")
    if not (BIN / "configurable-http-proxy").exists():
        pytest.skip("the hub extra's configurable-http-proxy is not installed")
    hub = Hub(tmp_path)
    try:
        learners = {name: hub.login(name, LEARNER_PASSWORD) for name in ("alice", "bob")}
        teacher, _ = hub.login("teacher", INSTRUCTOR_PASSWORD)
        with pytest.raises(AssertionError, match="could not log in"):
            hub.login("mallory", LEARNER_PASSWORD)  # not on the class list
        # Two spawns at once, each with its pre-spawn hook copying that learner's lessons: alice's through the
        # REST API, bob's by logging in through the hub's page in a browser, which opens JupyterLab on his lessons.
        with ThreadPoolExecutor(2) as pool:
            alice_spawn = pool.submit(learners["alice"][0].post, "/hub/api/users/alice/server")
            bob_lab = pool.submit(browser_login, hub.url, "bob", LEARNER_PASSWORD, tmp_path / "bob.png")
            assert alice_spawn.result().status_code in (201, 202)
            assert "/user/bob/lab/tree/lessons" in bob_lab.result()
        for name, (client, _) in learners.items():
            hub.wait_for(lambda c=client, n=name: c.get(f"/hub/api/users/{n}").json()["servers"][""]["ready"],
                         60, f"{name}'s server")

        lessons = sorted(p.name for p in (ROOT / "lessons").glob("*.ipynb"))
        for name, (client, _) in learners.items():
            listing = client.get(f"/user/{name}/api/contents/lessons").json()["content"]
            assert sorted(item["name"] for item in listing) == lessons
            other = "bob" if name == "alice" else "alice"
            assert client.get(f"/user/{other}/api/contents/lessons").status_code in (302, 403)

        # alice works: her exercise cell, saved through the contents API, reaches only her copy.
        alice, alice_token = learners["alice"]
        path = f"/user/alice/api/contents/lessons/{LESSON}.ipynb"
        nb = nbformat.from_dict(alice.get(path).json()["content"])
        solution = nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4)
        solved = {c.id: c.source for c in solution.cells if c.metadata.get("metarl_edu", {}).get("role") == "exercise"}
        for cell in nb.cells:
            cell.source = solved.get(cell.get("id"), cell.source)
        assert alice.put(path, json={"type": "notebook", "content": nb}).status_code == 200
        stub = (ROOT / "lessons" / f"{LESSON}.ipynb").read_bytes()
        assert (hub.homes / "bob" / "lessons" / f"{LESSON}.ipynb").read_bytes() == stub
        assert (hub.homes / "alice" / "lessons" / f"{LESSON}.ipynb").read_bytes() != stub

        output, status = execute(alice_token, hub.url, "alice", CHECK_CELL)
        assert status == "ok", output
        assert "✅ discounted_return" in output
        assert f"quick 1 limit {MEMORY_MB * 2**20} {hub.homes / 'alice'}" in output

        users = {u["name"]: u["admin"] for u in teacher.get("/hub/api/users").json()}
        assert users == {"alice": False, "bob": False, "teacher": True}
        assert learners["bob"][0].get("/hub/api/users").status_code == 403
    finally:
        started, survivors = hub.stop()
    assert len(started) >= 3, f"expected the proxy and two learners' servers: {started}"
    assert survivors == [], f"processes left after the hub stopped: {survivors}"

    submitted = tmp_path / "submitted"
    homes = [str(hub.homes / name) for name in ("alice", "bob")]
    assert cli.main(["collect", str(submitted), *homes, "--lessons", LESSON]) == 0
    gradebook = tmp_path / "gradebook.csv"
    env = {k: v for k, v in os.environ.items() if k != "METARL_EDU_STRICT"}
    from metarl_edu.classroom.jail import unavailable

    grade = ["grade", str(submitted), "--out", str(gradebook), "--jobs", "2",
             *(["--trusted-class"] if unavailable() else [])]  # jailed wherever a jail can be made
    done = subprocess.run([sys.executable, "-m", "metarl_edu.classroom.cli", "--root", str(ROOT), *grade], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["submission"]: row for row in csv.DictReader(gradebook.open())}
    assert {k: (r["total"], r["status"]) for k, r in rows.items()} == {
        f"alice/{LESSON}.ipynb": ("1", "ok"), f"bob/{LESSON}.ipynb": ("0", "ok")}
