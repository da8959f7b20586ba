"""``tawa deploy`` from a git work tree: the commit and remote become spec.source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.config import kube_config
from typer.testing import CliRunner

from tawa.cli._source import SourceError, read_source
from tawa.cli.main import app
from tawa.resource import GROUP, PLURAL, VERSION

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "examples" / "quote-api" / "catalog-info.yaml"
REMOTE = "https://git.example/acme/quote-api.git"


def git(folder: Path, *arguments: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
         "-c", "init.defaultBranch=main", *arguments],
        cwd=folder, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    shutil.copy(CATALOG, tmp_path / "catalog-info.yaml")
    (tmp_path / "services" / "api").mkdir(parents=True)
    shutil.copy(CATALOG, tmp_path / "services" / "api" / "catalog-info.yaml")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "first")
    git(tmp_path, "remote", "add", "origin", REMOTE)
    return tmp_path


def test_the_commit_and_remote_become_the_source(repo):
    found = read_source(repo)
    assert found.revision == git(repo, "rev-parse", "HEAD")
    assert found.git == REMOTE
    assert found.context_dir == "."
    assert any("no remote branch" in w for w in found.warnings)
    assert read_source(repo / "services" / "api" / "catalog-info.yaml").context_dir == (
        "services/api"
    )


@pytest.mark.parametrize("change", ["modify", "untracked"])
def test_a_dirty_tree_is_refused_unless_allowed(repo, change):
    if change == "modify":
        (repo / "catalog-info.yaml").write_text("changed\n")
    else:
        (repo / "new_module.js").write_text("x\n")
    with pytest.raises(SourceError, match=r"uncommitted changes .*--allow-dirty"):
        read_source(repo)
    allowed = read_source(repo, allow_dirty=True)
    assert allowed.revision == git(repo, "rev-parse", "HEAD")
    assert any("uncommitted changes are left out" in w for w in allowed.warnings)


def test_credentials_in_the_remote_are_left_out(repo):
    git(repo, "remote", "set-url", "origin", "https://bob:s3cret@git.example/acme/q.git")
    found = read_source(repo)
    assert found.git == "https://git.example/acme/q.git"
    assert "s3cret" not in repr(found)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (("remote", "remove", "origin"), "no git remote"),
        (("remote", "set-url", "origin", "/srv/git/q.git"), "cannot be cloned by the cluster"),
    ],
)
def test_remotes_the_cluster_cannot_clone_are_refused(repo, setup, message):
    git(repo, *setup)
    with pytest.raises(SourceError, match=message):
        read_source(repo)


def test_a_folder_outside_git_is_refused(tmp_path):
    shutil.copy(CATALOG, tmp_path / "catalog-info.yaml")
    with pytest.raises(SourceError, match=r"not in a git work tree.*--image"):
        read_source(tmp_path)


def test_deploy_refuses_a_dirty_tree_before_touching_the_cluster(repo, tmp_path):
    (repo / "catalog-info.yaml").write_text((repo / "catalog-info.yaml").read_text() + "\n# x\n")
    result = CliRunner().invoke(
        app, ["deploy", str(repo), "--no-wait"], env={"KUBECONFIG": str(tmp_path / "absent")}
    )
    assert result.exit_code == 1
    assert "--allow-dirty" in result.output


@pytest.mark.integration
def test_deploy_from_a_work_tree_applies_spec_source(repo, localkube, kube_api, monkeypatch):
    # The client reads KUBECONFIG when it is imported, before the runner sets it.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(localkube.kubeconfig))
    result = CliRunner().invoke(
        app,
        ["deploy", str(repo / "services" / "api"), "--no-wait", "--namespace", "quote-src"],
        env={"KUBECONFIG": str(localkube.kubeconfig)},
    )
    assert result.exit_code == 0, result.output
    api = client.CustomObjectsApi(config.new_client_from_config(str(localkube.kubeconfig)))
    found = api.get_namespaced_custom_object(GROUP, VERSION, "quote-src", PLURAL, "quote-api")
    assert found["spec"]["source"] == {
        "git": REMOTE,
        "revision": git(repo, "rev-parse", "HEAD"),
        "contextDir": "services/api",
    }
    assert "image" not in found["spec"]
