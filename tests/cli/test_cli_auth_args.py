"""`micro auth`'s argument errors, before any node is asked: each is one `error:` line saying what is wrong
(a bad duration, a bad scope, a credentials file that is missing or readable by others), and a new
account's credentials file is never written over an existing one nor left behind when the account
was not created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from micro.identity.keys import KeyKind, SigningKey

MICRO = str(Path(sys.executable).with_name("micro"))


def _error(*args: str) -> str:
    """The one line a failed `micro` command printed (exit 1, nothing on stdout)."""
    result = subprocess.run([MICRO, *args], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir with an admin's credentials in it and no node running."""
    path = tmp_path / "d"
    path.mkdir()
    SigningKey.generate(KeyKind.ACCOUNT).save(path / "admin.creds")
    return path


@pytest.mark.parametrize("command", [["auth", "token"], ["auth", "account", "create", "bob"]])
def test_a_bad_ttl_is_one_line_that_asks_for_a_duration(data_dir: Path, command: list[str]) -> None:
    line = _error(*command, "--ttl", "soon", "--data-dir", str(data_dir))

    assert "'soon' is not a duration" in line


@pytest.mark.parametrize(("scopes", "says"), [
    ("orders,*", "not '*'"),
    ("orders," + "x" * 65, "a scope is a name of 1 to 64 printable characters"),
    (",".join(f"s{n}" for n in range(17)), "at most 16 scopes"),
], ids=["star", "too long", "too many"])
def test_bad_scopes_are_one_line_that_names_the_rule(data_dir: Path, scopes: str, says: str) -> None:
    line = _error("auth", "account", "create", "bob", "--scopes", scopes, "--data-dir", str(data_dir))

    assert "--scopes" in line and says in line


@pytest.mark.parametrize(("command", "missing", "says"), [
    (["auth", "token", "--account-creds", "{d}/nope.creds"], "{d}/nope.creds", "--account-creds FILE"),
    (["auth", "rule", "delete", "r1", "--signer-creds", "{d}/nope.creds"], "{d}/nope.creds", "--signer-creds FILE"),
    (["auth", "recover"], "{d}/root.seed", "--root-creds FILE"),
], ids=["account creds", "signer creds", "default root seed"])
def test_a_missing_credentials_file_is_one_line_that_names_it_and_the_option(
        data_dir: Path, command: list[str], missing: str, says: str) -> None:
    line = _error(*(arg.format(d=data_dir) for arg in command), "--data-dir", str(data_dir))

    assert line.startswith(f"error: no credentials file {missing.format(d=data_dir)}: ")
    assert says in line


def test_the_default_signer_is_the_data_dirs_admin_creds(tmp_path: Path) -> None:
    line = _error("auth", "rule", "create", "r1", "--resource", "*", "--scope", "*", "--data-dir", str(tmp_path))

    assert line.startswith(f"error: no credentials file {tmp_path}/admin.creds: records are signed with ")


def test_a_credentials_file_others_may_read_is_refused_in_one_line(data_dir: Path) -> None:
    (data_dir / "admin.creds").chmod(0o644)

    line = _error("auth", "token", "--data-dir", str(data_dir))

    assert "has mode 0644; expected 0600" in line


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--priority", str(1 << 31), "2147483648 is not in the range"),
    ("--priority", "high", "'high' is not a valid integer"),
    ("--access", "maybe", "'maybe' is not one of 'grant', 'deny'"),
])
def test_a_bad_rule_option_is_one_line(data_dir: Path, option: str, value: str, says: str) -> None:
    line = _error("auth", "rule", "create", "r1", "--resource", "*", "--scope", "*", option, value,
                  "--data-dir", str(data_dir))

    assert option in line and says in line


def test_a_new_account_never_overwrites_a_file(data_dir: Path, tmp_path: Path) -> None:
    existing = tmp_path / "bob.creds"
    existing.write_text("keep me")

    line = _error("auth", "account", "create", "bob", "--out", str(existing), "--data-dir", str(data_dir))

    assert line == f"error: {existing} exists: give another --out FILE, or remove it"
    assert existing.read_text() == "keep me"


def test_no_credentials_file_is_left_when_the_account_was_not_created(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bob.creds"

    line = _error("auth", "account", "create", "bob", "--out", str(out), "--data-dir", str(data_dir))

    assert line == f"error: no node running at {data_dir} (start one with `micro node start`)"
    assert not out.exists()


def test_an_account_name_that_is_no_file_name_needs_out(data_dir: Path) -> None:
    line = _error("auth", "account", "create", "ops/bob", "--data-dir", str(data_dir))

    assert "give the credentials file with --out FILE" in line
