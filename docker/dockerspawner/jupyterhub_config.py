# DockerSpawner for metarl-edu: each learner in their own container from the course image, with a volume for their
# home folder. Append this to the jupyterhub_config.py that `metarl-edu hub-config` writes, on a hub that has
# dockerspawner installed (pip install dockerspawner) and can reach the Docker daemon; build the image with
# docker/singleuser/Dockerfile first. It replaces hub-config's spawner, lesson hook and prlimit.
c = get_config()  # noqa: F821

c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.image = "metarl-edu-singleuser:0.1.0"
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.DockerSpawner.pre_spawn_hook = None  # the lessons are copied inside the container, below
c.DockerSpawner.post_start_cmd = "metarl-edu copy-lessons /home/jovyan/lessons"
c.DockerSpawner.notebook_dir = "/home/jovyan"
c.DockerSpawner.volumes = {"metarl-edu-{username}": "/home/jovyan"}
c.DockerSpawner.remove = True  # containers go, the volumes with the learners' work stay
# Containers reach the hub over a Docker network (docker network create metarl-edu). The hub listens on every
# address; set hub_connect_ip to the name of the hub's container on that network, or, with the hub on the host, to
# the host's address on it.
c.DockerSpawner.network_name = "metarl-edu"
c.JupyterHub.hub_ip = "0.0.0.0"
# c.JupyterHub.hub_connect_ip = "jupyterhub"
# Limits enforced by Docker: see docker/z2jh/config.yaml for how they were chosen.
c.DockerSpawner.mem_limit = "3G"
c.DockerSpawner.cpu_limit = 2.0
c.DockerSpawner.environment = {"METARL_EDU_QUICK": "0"}
