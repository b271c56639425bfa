"""The container image's recipe, without a Docker daemon: hadolint on the Dockerfile, its shape,
and a replay of its install steps in fresh venvs (the build stage's COPY and `pip wheel`, then
the runtime stage's ENV and `pip install`) with the exporter started from the result.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from exporter.cli import DEFAULT_LISTEN_ADDRESS
from tests.network import fetch, free_port
from tests.paths import REPO
from tests.processes import Process
from tests.tools import run_tool
from tests.waiting import eventually

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


# ---- a small Dockerfile reader ---------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    flags: list[str]  # --mount=..., --from=...
    arguments: str  # the rest, continuation lines joined


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Instructions grouped by stage (each FROM starts one). Comment lines, also inside a
    continued instruction, are dropped, as Docker does."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "Dockerfile ends inside a continued line"
    stages: list[list[Instruction]] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        flags = []
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        instruction = Instruction(keyword.upper(), flags, rest)
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, "the Dockerfile must start with FROM"
        stages[-1].append(instruction)
    return stages


def stages() -> list[list[Instruction]]:
    return parse_dockerfile(DOCKERFILE.read_text())


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, got {len(found)}"
    return found[0]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for item in shlex.split(instruction.arguments):
                key, sep, value = item.partition("=")
                assert sep, f"use ENV KEY=VALUE, not {instruction.arguments!r}"
                env[key] = value
    return env


def dockerignore_excludes(relative: str) -> bool:
    """Whether Docker leaves `relative` (a path in the build context) out: the last matching
    pattern of .dockerignore wins, and a pattern matching a parent folder matches its files."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = relative.split("/")
    candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _glob_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            out += "[^/]"
            index += 1
        elif pattern[index] == "[":
            end = pattern.index("]", index)
            out += pattern[index : end + 1]
            index = end + 1
        else:
            out += re.escape(pattern[index])
            index += 1
    return re.compile(out)


# ---- the Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_passes_hadolint():
    result = run_tool("hadolint", "--no-color", str(DOCKERFILE))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_run_reports_a_bad_dockerfile(tmp_path):
    # The lint above can fail: the same hadolint flags a Dockerfile that breaks its rules.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n")
    result = run_tool("hadolint", "--no-color", str(bad))
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # untagged base image


def test_both_stages_use_the_same_pinned_slim_python_base():
    build, runtime = stages()
    build_from = build[0].arguments.split()
    runtime_from = runtime[0].arguments.split()
    assert build_from[1:] == ["AS", "build"]
    assert build_from[0] == runtime_from[0]
    image, _, tag = runtime_from[0].partition(":")
    assert image == "python"
    assert re.fullmatch(r"3\.\d+-slim-[a-z]+", tag), f"pin a slim tag, not {tag!r}"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    python_version = tag.split("-", 1)[0]
    assert SpecifierSet(requires).contains(python_version), (python_version, requires)


def test_runtime_stage_installs_only_the_wheel_as_a_non_root_user():
    build, runtime = stages()
    assert "pip wheel" in only(build, "RUN").arguments
    assert "--no-deps" in only(build, "RUN").arguments
    keywords = [i.keyword for i in runtime]
    assert "COPY" not in keywords
    assert "ADD" not in keywords
    install = only(runtime, "RUN")
    assert "--mount=type=bind,from=build,source=/dist,target=/dist" in install.flags
    assert "pip install --no-cache-dir" in install.arguments
    assert "[demo]" not in install.arguments  # `docker run IMAGE --demo` needs no extra, no moto
    assert re.search(r"pip uninstall --yes .*\bpip setuptools wheel\b", install.arguments)
    user = only(runtime, "USER").arguments
    uid, _, gid = user.partition(":")
    assert int(uid) != 0
    assert int(gid) != 0
    assert keywords.index("USER") > keywords.index("RUN")


def test_runtime_stage_starts_the_exporter_on_its_default_port():
    _, runtime = stages()
    port = DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1]
    assert only(runtime, "EXPOSE").arguments == port
    entrypoint = json.loads(only(runtime, "ENTRYPOINT").arguments)  # exec form: a JSON array
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == [next(iter(scripts))]
    cmd = json.loads(only(runtime, "CMD").arguments)
    chart_deployment = (
        REPO / "charts" / "aws-backup-restore-exporter" / "templates" / "_helpers.tpl"
    ).read_text()
    assert cmd == ["--config.file=/etc/aws-backup-restore-exporter/config.yaml"]
    assert f"- {cmd[0]}" in chart_deployment  # the chart mounts the config where the image looks
    assert not [i for i in runtime if i.keyword == "HEALTHCHECK"]  # probes are the chart's job


def test_dockerignore_keeps_the_build_inputs_and_nothing_else():
    build, _ = stages()
    inputs = [path for i in build if i.keyword == "COPY" for path in i.arguments.split()[:-1]]
    assert inputs
    for path in inputs:
        assert not dockerignore_excludes(path), path
    assert not dockerignore_excludes("exporter/cli.py")
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "tests/test_cli.py",
        "charts/x/Chart.yaml",
        "exporter/__pycache__/cli.cpython-311.pyc",
        "Dockerfile",
    ):
        assert dockerignore_excludes(path), path


# ---- the recipe, replayed: build the wheel, install it like the runtime stage, run it ----------


def _replay(stage: list[Instruction], *, cwd: Path, venv: Path, dist: Path, log: Path) -> None:
    """In a fresh venv, run the stage's RUN line with the venv's pip first on PATH and /dist
    in tmp."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    command = only(stage, "RUN").arguments.replace("/dist", str(dist))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_USER")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    with log.open("w") as out:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=540,
            check=False,
        )
    assert result.returncode == 0, f"{command}\n{log.read_text()[-3000:]}"


@pytest.mark.slow
def test_wheel_installed_as_in_the_runtime_stage_serves_demo_metrics(tmp_path):
    build, runtime = stages()

    # Build stage: COPY the context (less .dockerignore) into WORKDIR, then its RUN line.
    workdir = tmp_path / "src"
    workdir.mkdir()
    for instruction in (i for i in build if i.keyword == "COPY"):
        *sources, destination = instruction.arguments.split()
        for source in sources:
            for path in [REPO / source, *sorted((REPO / source).rglob("*"))]:
                relative = path.relative_to(REPO).as_posix()
                if path.is_dir() or dockerignore_excludes(relative):
                    continue
                inside = path.relative_to(REPO / source) if (REPO / source).is_dir() else None
                target = workdir / destination
                target = target / inside if inside is not None else target / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    dist = tmp_path / "dist"
    _replay(build, cwd=workdir, venv=tmp_path / "build-venv", dist=dist, log=tmp_path / "build.log")
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels

    # Runtime stage: a fresh venv, the same install line, the same ENV.
    venv = tmp_path / "runtime-venv"
    _replay(runtime, cwd=tmp_path, venv=venv, dist=dist, log=tmp_path / "install.log")
    leftovers = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util as u; print([m for m in ('pip', 'setuptools', 'wheel') "
            "if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert leftovers.stdout.strip() == "[]"  # no build tools in the final image
    moto = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util as u; print(u.find_spec('moto'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert moto.stdout.strip() == "None"  # --demo below runs on the package's own fake, no moto

    entrypoint = json.loads(only(runtime, "ENTRYPOINT").arguments)
    executable = venv / "bin" / entrypoint[0]
    assert executable.exists()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_of(runtime))
    env["HOME"] = str(tmp_path)
    base = f"http://127.0.0.1:{port}"
    with Process(
        [str(executable), *entrypoint[1:], "--demo", "--web.listen-address", f"127.0.0.1:{port}"],
        tmp_path,
        name="exporter",
        cwd=tmp_path,  # not the repository: the installed wheel must be what runs
        env=env,
    ) as process:
        process.wait_for_http(f"{base}/healthz")

        def demo_jobs() -> str:
            status, _, body = fetch(f"{base}/metrics", timeout=10)
            if status != 200:  # not worth waiting for
                pytest.fail(f"/metrics answered {status}: {body[:3000]!r}")
            text = body.decode()
            assert re.search(r"^aws_backup_restore_job_status\{", text, flags=re.MULTILINE)
            return text

        body = eventually(demo_jobs, 30, "the demo's jobs on /metrics", interval=0.5)
        assert re.search(r"^aws_backup_restore_job_status\{.*\} [01](\.0)?$", body, re.MULTILINE)
        version = wheels[0].name.split("-")[1]
        assert re.search(
            rf'^aws_backup_restore_exporter_build_info\{{.*version="{re.escape(version)}".*\}} 1',
            body,
            flags=re.MULTILINE,
        ), body[:3000]
    code = process.stop()
    assert code == 0, "the exporter should stop cleanly on SIGTERM (as the kubelet sends)"
