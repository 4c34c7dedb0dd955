"""Store files and folders the service user cannot read: never a traceback.

An unreadable file that is not the signing certificate does not stop a command; an
unreadable store folder is one line on stderr and exit status 2. Run without root's
file-permission override (`as_service_user`), as an operator's service user runs them.
"""

from __future__ import annotations

import pytest
from idp_support import run_tokenidp as tokenidp

COMMANDS = [("check",), ("keys", "status", "--offline"), ("certs", "list")]


@pytest.fixture
def environ(store, rsa_key):
    signing = store.add(key=rsa_key, subject="CN=tokenidp signing")
    return store.environ(CertificateThumbprint=signing.thumbprint)


@pytest.fixture
def unreadable_file(store, other_rsa_key):
    unrelated = store.add(key=other_rsa_key, subject="CN=unrelated", file_name="unrelated")
    unrelated.path.chmod(0)
    yield unrelated.path
    unrelated.path.chmod(0o600)


@pytest.fixture
def unreadable_folder(store):
    store.folder.chmod(0)
    yield store.folder
    store.folder.chmod(0o755)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreadable_unrelated_store_file_does_not_stop_the_command(
    command, environ, config_dir, unreadable_file
):
    result = tokenidp(*command, environ=environ, cwd=config_dir, as_service_user=True)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_certs_list_shows_an_unreadable_file_as_permission_denied_and_carries_on(
    environ, config_dir, unreadable_file
):
    result = tokenidp("certs", "list", environ=environ, cwd=config_dir, as_service_user=True)

    lines = result.stdout.splitlines()
    status_of_unreadable = lines[lines.index("  file        unrelated.pfx") - 1]
    assert status_of_unreadable == "  status      unreadable: permission denied"
    assert "CN=tokenidp signing" in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreadable_store_folder_is_one_line_and_exit_2(
    command, environ, config_dir, unreadable_folder
):
    result = tokenidp(*command, environ=environ, cwd=config_dir, as_service_user=True)

    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("tokenidp: ")
    assert f"{unreadable_folder}" in result.stderr
    assert "permission denied" in result.stderr
