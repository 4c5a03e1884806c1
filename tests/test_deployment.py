"""Deployment: make install-system into a temporary root, the units, the container image's rules.

The install test runs packaging/install-system.sh for real, with --deps-from
this test's virtualenv so it needs no package index (only swarmd itself is
built and installed); it then checks the layout the systemd units expect and
drives the installed copy: `swarmd --check` per GPU instance, a daemon started
from it, and the image's HEALTHCHECK command against that daemon.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from swarmd.tools import healthcheck
from tests.support.daemons import DaemonProcess

REPO = Path(__file__).resolve().parents[1]
PREFIX = "/opt/swarmd"
UNITS = ("swarmd.service", "swarmd@.service")


def _unit(path: Path) -> dict[str, list[str]]:
    """key -> values of a unit's [Service] and [Unit] sections (keys repeat in units)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values.setdefault(f"{section}.{key}", []).append(value)
    return values


def _env_file(path: Path) -> dict[str, str]:
    """A systemd EnvironmentFile: KEY=VALUE lines, '#' comments, shell-style quotes."""
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = shlex.split(value)[0] if value.strip() else ""
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- units --------------------------------------------------------------------------------


def test_template_unit_differs_from_the_single_unit_only_per_instance() -> None:
    single = _unit(REPO / "systemd" / "swarmd.service")
    template = _unit(REPO / "systemd" / "swarmd@.service")
    per_instance = {"Unit.Description", "Unit.Documentation", "Service.ExecStart", "Service.StateDirectory",
                    "Service.Environment", "Service.EnvironmentFile"}
    for key in set(single) | set(template):
        if key not in per_instance:
            assert single.get(key) == template.get(key), f"{key} differs between the two units"
    env = dict(v.split("=", 1) for v in template["Service.Environment"])
    assert env["CUDA_VISIBLE_DEVICES"] == "%i"
    assert env["SWARMD_NODE__DATA_DIR"] == "/var/lib/swarmd/%i"
    assert template["Service.StateDirectory"] == ["swarmd/%i"]
    assert template["Service.EnvironmentFile"] == ["/etc/swarmd/%i.env"]  # required: it holds the ports
    assert template["Service.ExecStart"] == [f"{PREFIX}/.venv/bin/swarmd --config ${{SWARMD_CONFIG}}"]
    # Everything the single unit sets in its environment, the template sets too.
    single_env = dict(v.split("=", 1) for v in single["Service.Environment"])
    assert set(single_env) <= set(env)


# -- install-system -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary root after two runs of install-system (the second must change nothing)."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("needs to run from a virtualenv (install-system --deps-from)")
    if shutil.which("systemd-sysusers") is None:
        pytest.skip("systemd-sysusers is not installed")
    root = tmp_path_factory.mktemp("root")
    cmd = [str(REPO / "packaging" / "install-system.sh"), "--root", str(root), "--deps-from", sys.prefix,
           "--gpus", "2"]
    env = {k: v for k, v in os.environ.items() if k not in ("DESTDIR", "PYTHON", "TORCH_SPEC")}
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    # An operator's edit survives a second run, which upgrades swarmd in place.
    config = root / "etc/swarmd/config.toml"
    config.write_text(config.read_text() + "\n# edited by the operator\n")
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "wrote /etc/swarmd" not in second.stdout
    assert [line.split(":")[0] for line in (root / "etc/passwd").read_text().splitlines()].count("swarmd") == 1
    assert config.read_text().endswith("# edited by the operator\n")
    return root


def _installed_python(root: Path) -> str:
    return str(root / PREFIX.lstrip("/") / ".venv/bin/python")


@pytest.mark.process
def test_install_system_lays_out_what_the_units_expect(installed: Path) -> None:
    root = installed
    passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    groups = {line.split(":")[0]: line.split(":") for line in (root / "etc/group").read_text().splitlines()}
    assert passwd["swarmd"][5:] == ["/var/lib/swarmd", "/usr/sbin/nologin"]
    assert int(passwd["swarmd"][2]) < 1000, "a system user"
    uid, gid = int(passwd["swarmd"][2]), int(groups["swarmd"][2])
    assert (root / "etc/sysusers.d/swarmd.conf").read_text() == (REPO / "systemd/swarmd.sysusers").read_text()

    for unit_name in UNITS:
        installed_unit = root / "etc/systemd/system" / unit_name
        assert installed_unit.read_text() == (REPO / "systemd" / unit_name).read_text()
        unit = _unit(installed_unit)
        assert unit["Service.User"] == ["swarmd"] and unit["Service.Group"] == ["swarmd"]
        program = unit["Service.ExecStart"][0].split()[0]
        target = root / program.lstrip("/")
        assert target.is_file() and os.access(target, os.X_OK), program
        # The scripts name the interpreter where the tree is meant to run, not the staging root.
        assert target.read_text().splitlines()[0] == f"#!{PREFIX}/.venv/bin/python"
        doc = unit["Unit.Documentation"][0].removeprefix("file://")
        assert (root / doc.lstrip("/")).is_file(), doc
    assert os.access(_installed_python(root), os.X_OK)
    assert os.readlink(root / "usr/local/bin/swarmctl") == f"{PREFIX}/.venv/bin/swarmctl"

    def mode(path: str) -> int:
        return stat.S_IMODE((root / path).stat().st_mode)

    assert mode("etc/swarmd") == 0o750 and mode("etc/swarmd/config.toml") == 0o640
    assert mode("var/lib/swarmd") == 0o750 and mode("var/cache/swarmd") == 0o750
    if os.geteuid() == 0:  # ownership is only set by a root install
        assert ((root / "var/lib/swarmd").stat().st_uid, (root / "var/lib/swarmd").stat().st_gid) == (uid, gid)
        assert (root / "etc/swarmd/config.toml").stat().st_gid == gid
        assert (root / "etc/swarmd/config.toml").stat().st_uid == 0


@pytest.mark.process
def test_installed_package_is_the_checkout_with_its_proto_files(installed: Path) -> None:
    code = (
        "import importlib.resources as r, json, swarmd\n"
        "base = r.files('swarmd') / 'proto'\n"
        "files = {str(p.relative_to(base)): p.read_text() for p in base.rglob('*.proto')}\n"
        "print(json.dumps({'module': swarmd.__file__, 'protos': files}))"
    )
    # Run from / so the checkout on the current directory cannot be what gets imported.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([_installed_python(installed), "-c", code], capture_output=True, text=True, timeout=60,
                       cwd="/", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["module"].startswith(str(installed / PREFIX.lstrip("/")))
    expected = {str(p.relative_to(REPO / "proto")): p.read_text() for p in (REPO / "proto").rglob("*.proto")}
    assert expected and out["protos"] == expected


@pytest.mark.process
def test_each_gpu_instance_resolves_its_own_ports(installed: Path, tmp_path: Path) -> None:
    template = _unit(installed / "etc/systemd/system/swarmd@.service")
    resolved = {}
    for gpu in ("0", "1"):
        # What systemd hands swarmd@N: the unit's Environment= lines, then N.env over them.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMD_") and k != "PYTHONPATH"}
        for assignment in template["Service.Environment"]:
            key, value = assignment.split("=", 1)
            env[key] = value.replace("%i", gpu)
        env.update(_env_file(installed / f"etc/swarmd/{gpu}.env"))
        env["SWARMD_CONFIG"] = str(installed / env["SWARMD_CONFIG"].lstrip("/"))
        env["SWARMD_NODE__DATA_DIR"] = str(tmp_path / gpu)  # /var/lib/swarmd/N on the real system
        env["SWARMD_TRAINER__CACHE_DIR"] = str(tmp_path / "models")
        assert env["CUDA_VISIBLE_DEVICES"] == gpu
        r = subprocess.run([_installed_python(installed), "-m", "swarmd", "--config", env["SWARMD_CONFIG"],
                            "--check"], capture_output=True, text=True, timeout=60, env=env, cwd="/")
        assert r.returncode == 0, r.stderr
        listen = re.search(r'^listen = \["/ip4/127\.0\.0\.1/tcp/(\d+)"\]', r.stdout, re.M)
        port = re.search(r"^port = (\d+)", r.stdout.split("[web]")[1], re.M)
        assert listen and port, r.stdout
        resolved[gpu] = (int(listen.group(1)), int(port.group(1)))
    assert resolved == {"0": (4001, 8080), "1": (4002, 8081)}


@pytest.mark.process
def test_healthcheck_command_probes_a_daemon_run_from_the_install(installed: Path, short_tmp: Path) -> None:
    """The container's HEALTHCHECK command, against a daemon run from the installed tree."""
    web_port = _free_port()
    daemon = DaemonProcess(short_tmp / "node", config={"trainer": {"enabled": False}, "web": {"port": web_port}},
                    command=[_installed_python(installed), "-m", "swarmd"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMD_") and k != "PYTHONPATH"}

    def probe(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([_installed_python(installed), "-m", "swarmd.tools.healthcheck",
                               "--config", str(daemon.config_path), *args],
                              capture_output=True, text=True, timeout=60, env=env, cwd="/")

    try:
        daemon.start(timeout=90)
        r = probe("--probe", "live")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"127.0.0.1:{web_port}/healthz?probe=live: healthy" in r.stdout
    finally:
        daemon.stop(timeout=30)
    r = probe()
    assert r.returncode == 1 and "unreachable" in r.stdout, r.stdout + r.stderr


def test_healthcheck_refuses_what_it_cannot_probe(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SWARMD_"):
            monkeypatch.delenv(name)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[web]\nport = 0\n")
    assert healthcheck.main(["--config", str(cfg)]) == healthcheck.EXIT_CONFIG
    assert "web.port is 0" in capsys.readouterr().out
    cfg.write_text("[web]\nenabled = false\n")
    assert healthcheck.main(["--config", str(cfg)]) == healthcheck.EXIT_CONFIG
    assert "web.enabled is false" in capsys.readouterr().out
    cfg.write_text("[web]\nprt = 1\n")
    assert healthcheck.main(["--config", str(cfg)]) == healthcheck.EXIT_CONFIG
    assert "web.prt" in capsys.readouterr().out
    assert healthcheck.probe_url("0.0.0.0", 8080, "live") == "http://127.0.0.1:8080/healthz?probe=live"
    assert healthcheck.probe_url("::", 9, "ready") == "http://[::1]:9/healthz?probe=ready"
    assert healthcheck.probe_url("10.1.2.3", 80, "live") == "http://10.1.2.3:80/healthz?probe=live"


@pytest.mark.process
def test_install_system_rejects_bad_options(tmp_path: Path) -> None:
    script = str(REPO / "packaging" / "install-system.sh")
    r = subprocess.run([script, "--root", str(tmp_path), "--gpus", "two"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "--gpus takes a number" in r.stderr
    r = subprocess.run([script, "--bogus"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr
    r = subprocess.run([script, "--root", str(tmp_path), "--deps-from", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no virtualenv there" in r.stderr
    assert not (tmp_path / "etc").exists(), "nothing is installed after a usage error"


# -- the container image ------------------------------------------------------------------


def _dockerfile_stages() -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per build stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM" and stages[-1] and any(i == "FROM" for i, _ in stages[-1]):
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def test_dockerfile_follows_the_image_rules() -> None:
    stages = _dockerfile_stages()
    final = stages[-1]
    assert len(stages) == 2, "a build stage and a runtime stage"

    def args(instruction: str) -> list[str]:
        return [a for i, a in final if i == instruction]

    users = args("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image runs unprivileged"
    volumes = " ".join(args("VOLUME"))
    assert "/var/lib/swarmd" in volumes
    env = " ".join(args("ENV"))
    assert "SWARMD_NODE__DATA_DIR=/var/lib/swarmd" in env and "SWARMD_CONFIG=/etc/swarmd/config.toml" in env
    (health,) = args("HEALTHCHECK")
    assert "swarmd.tools.healthcheck" in health and "CMD" in health
    # torch is pinned to an exact version, CPU and CUDA alike.
    torch_arg = next(a for stage in stages for i, a in stage if i == "ARG" and a.startswith("TORCH_SPEC="))
    assert re.search(r"torch==\d+\.\d+\.\d+", torch_arg), torch_arg
    # No secrets in the image: nothing key-like is copied or set.
    secret = re.compile(r"(key|token|password|secret|mnemonic|\.pem\b)", re.I)
    for stage in stages:
        for instruction, arguments in stage:
            if instruction in ("COPY", "ADD"):
                assert not secret.search(arguments), f"{instruction} {arguments}"
            if instruction in ("ENV", "ARG"):
                names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", arguments)
                assert not [n for n in names if secret.search(n)], f"{instruction} {arguments}"
    # The build context holds only what the Dockerfile copies (no data dirs, no .venv, no keys).
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", ".dockerignore starts by excluding everything"
    allowed = {line.lstrip("!").rstrip("/") for line in ignore if line.startswith("!")}
    for stage in stages:
        for instruction, arguments in stage:
            if instruction == "COPY" and "--from=" not in arguments:
                for source in arguments.split()[:-1]:
                    assert source.rstrip("/") in allowed, f"COPY {source} is not in the build context"


def test_container_config_serves_health_where_the_healthcheck_looks(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    from swarmd import config as cfg

    for name in list(os.environ):
        if name.startswith("SWARMD_"):
            monkeypatch.delenv(name)
    config = cfg.load(REPO / "packaging" / "container.toml")
    assert str(config.node.data_dir) == "/var/lib/swarmd"
    assert config.web.host == "127.0.0.1", "the dashboard stays on the container's loopback by default"
    assert healthcheck.probe_url(config.web.host, config.web.port, "live") == \
        "http://127.0.0.1:8080/healthz?probe=live"
    assert config.p2p.listen == ["/ip4/0.0.0.0/tcp/4001"]
    assert "EXPOSE 4001/tcp 8080/tcp" in (REPO / "Dockerfile").read_text()
    # The daemon-only image (WITH_TRAINER=0) turns the trainer off with one sed on that file.
    dockerfile = (REPO / "Dockerfile").read_text()
    match = re.search(r"sed -i 's/(\^[^/]*\$)/([^/]*)/'", dockerfile)
    assert match, "the WITH_TRAINER=0 edit of the container config"
    pattern, replacement = match.group(1), match.group(2)
    text = (REPO / "packaging" / "container.toml").read_text()
    edited, count = re.subn(pattern, replacement, text, flags=re.M)
    assert count == 1
    (tmp_path / "daemon-only.toml").write_text(edited)
    assert cfg.load(tmp_path / "daemon-only.toml").trainer.enabled is False
    host_config = cfg.load(REPO / "packaging" / "config.toml")
    assert host_config.web.host == "127.0.0.1" and all("/127.0.0.1/" in a for a in host_config.p2p.listen)
    # install-system --no-trainer edits the host's sample the same way.
    script = (REPO / "packaging" / "install-system.sh").read_text()
    match = re.search(r"sed -i 's/(\^[^/]*\$)/([^/]*)/'", script)
    assert match and match.group(1) == pattern
    edited, count = re.subn(pattern, match.group(2), (REPO / "packaging" / "config.toml").read_text(), flags=re.M)
    assert count == 1
    (tmp_path / "no-trainer.toml").write_text(edited)
    assert cfg.load(tmp_path / "no-trainer.toml").trainer.enabled is False


# -- the API's .proto files ---------------------------------------------------------------


def test_proto_files_ship_inside_the_package() -> None:
    import importlib.resources

    import swarmd

    shipped = importlib.resources.files(swarmd) / "proto"
    names = sorted(str(p.relative_to(REPO / "proto")) for p in (REPO / "proto").rglob("*.proto"))
    assert names and all((shipped / n).is_file() for n in names)
    assert (shipped / "swarm/v1/control.proto").read_text() == (REPO / "proto/swarm/v1/control.proto").read_text()
    # pyproject's package-data covers every version directory (swarm/v2 one day).
    assert "proto/**/*.proto" in (REPO / "pyproject.toml").read_text()


def test_shipped_proto_files_compile_on_their_own(tmp_path: Path) -> None:
    """What a client in another language does: protoc on the installed files, nothing else."""
    import importlib.resources

    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    import swarmd

    with importlib.resources.as_file(importlib.resources.files(swarmd) / "proto") as shipped:
        names = sorted(str(p.relative_to(shipped)) for p in Path(shipped).rglob("*.proto"))
        out = tmp_path / "api.binpb"
        assert protoc.main(["protoc", f"-I{shipped}", f"--descriptor_set_out={out}", *names]) == 0
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    services = {f"{f.package}.{s.name}": [m.name for m in s.method] for f in files for s in f.service}
    assert "GetStatus" in services["swarm.v1.SwarmControl"]
