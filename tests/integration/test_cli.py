"""The command line drives the same data lifecycle as the Dataset page."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from core.access import Actor
from core.cli import main
from core.settings import REPO_ROOT, get_settings


@pytest.fixture
def command(database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    """Any CLI command on a fresh database of each backend: (exit code, what it printed)."""
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", database_url)
    monkeypatch.chdir(REPO_ROOT / "tests")  # no stray .env
    get_settings.cache_clear()
    caplog.set_level(logging.INFO, logger="core.cli")

    def run(*argv: str) -> tuple[int, str]:
        caplog.clear()
        code = main(list(argv))
        return code, "\n".join(caplog.messages)

    yield run
    get_settings.cache_clear()


@pytest.fixture
def cli(command):
    """The ``data`` commands: (exit code, what they printed)."""
    return lambda *argv: command("data", *argv)


def test_full_cycle(cli) -> None:
    code, out = cli("status")
    assert code == 0 and "No dataset imported" in out
    code, out = cli("import", "--rows", "1000")
    assert code == 0 and "Imported built-in catalogue (1,000 rows" in out
    assert "nothing to do" in cli("import", "--if-empty")[1]
    assert cli("import", "--rows", "1000")[0] == 1  # refuses to replace without --replace
    assert "(40 % stage)" in cli("init")[1]
    assert "(43 % stage)" in cli("next")[1]
    code, out = cli("history")
    assert code == 0 and "initialize" in out and "next_batch" in out
    assert f"{Actor.os_user().subject} (cli)" in out  # the OS user acted, e.g. "root (cli)"
    assert "loaded:" in cli("status")[1]
    code, out = cli("reset")
    assert code == 1 and "--yes" in out
    assert "unloaded" in cli("reset", "--yes")[1]


def test_challenge_files(cli, tmp_path) -> None:
    x = tmp_path / "X.csv"
    y = tmp_path / "Y.csv"
    # Four products per category: the fewest a 15 % holdout can keep one of.
    products = [f"{i},{'Livre' if i % 2 else 'Piscine'} {i},,{i + 1},{i + 1}" for i in range(8)]
    x.write_text("\n".join([",designation,description,productid,imageid", *products]))
    y.write_text("\n".join([",prdtypecode", *(f"{i},{10 if i % 2 else 2583}" for i in range(8))]))
    code, out = cli("import", "--x", str(x), "--y", str(y))
    assert code == 0 and "X.csv + Y.csv" in out
    y.write_text(y.read_text().replace("\n1,10", "\n1,77"))
    code, out = cli("import", "--x", str(x), "--y", str(y), "--replace")
    assert code == 1 and "row 2: unknown prdtypecode 77" in out
    y.write_text(",prdtypecode\n0,10\n1,2583\n")
    x.write_text(",designation,description,productid,imageid\n0,Livre,,1,1\n1,Piscine,,2,2\n")
    code, out = cli("import", "--x", str(x), "--y", str(y), "--replace")
    assert code == 1 and "category 10 · Used books has 1 product; a 15 % holdout" in out


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "data" in result.stdout
    assert "access" in result.stdout and "audit" in result.stdout


def test_an_unreachable_database_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RAKUTEN_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/x")
    get_settings.cache_clear()
    caplog.set_level(logging.INFO, logger="core.cli")
    assert main(["data", "status"]) == 1
    assert "database error on postgresql" in caplog.text and "Traceback" not in caplog.text
    get_settings.cache_clear()


def test_access_grant_list_revoke_as_the_os_user_audited(command) -> None:
    me = Actor.os_user()
    code, out = command("access", "list")
    assert code == 0 and "No role assigned." in out
    assert "'groups' claim names, else viewer (RAKUTEN_DEFAULT_ROLE)" in out

    code, out = command("access", "grant", "Ana@Example.com", "operator")
    assert code == 0 and "Ana@Example.com is now operator." in out
    code, out = command("access", "grant", "u-bob", "admin")
    code, out = command("access", "list")
    assert code == 0 and "ana@example.com" in out and "u-bob" in out
    assert f"{me.subject} (cli)" in out  # assigned_by

    code, out = command("access", "revoke", "ANA@example.com")
    assert code == 0 and "The assignment of ANA@example.com (operator) is removed" in out
    code, out = command("access", "revoke", "ana@example.com")
    assert code == 1 and "refused: ana@example.com has no assignment to remove." in out

    code, out = command("audit", "--last", "10")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["at", "who", "role", "action", "target", "outcome", "message"]
    rows = [line.split()[2:] for line in lines[1:]]  # after the date and time
    assert [r[:5] for r in rows[:4]] == [
        [me.subject, "admin", "manage_roles", "ana@example.com", "failed"],
        [me.subject, "admin", "manage_roles", "ana@example.com", "done"],
        [me.subject, "admin", "manage_roles", "u-bob", "done"],
        [me.subject, "admin", "manage_roles", "ana@example.com", "done"],
    ]
    assert "has no assignment to remove" in lines[1]
    code, out = command("audit", "--last", "1", "--outcome", "done")
    assert code == 0 and len(out.splitlines()) == 2 and "u-bob" not in out
    assert "No audited action matches." in command("audit", "--person", "nobody")[1]


def test_grant_if_unassigned_bootstraps_the_first_admin_once(command) -> None:
    code, out = command("access", "grant", "admin@example.com", "admin", "--if-unassigned")
    assert code == 0 and "admin@example.com is now admin." in out
    command("access", "grant", "admin@example.com", "viewer")  # an admin's later choice…
    code, out = command("access", "grant", "ADMIN@example.com", "admin", "--if-unassigned")
    assert code == 0  # …survives the next start of the stack
    assert "ADMIN@example.com already has an assignment (viewer): nothing to do." in out
    code, out = command("access", "list")
    assert "viewer" in out and "admin@example.com" in out
    code, out = command("audit")
    assert out.count("manage_roles") == 2  # doing nothing changes nothing, and is not audited


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("access", "grant", "ana@example.com", "boss"), "invalid choice: 'boss'"),
        (("access", "grant", "ana@example.com"), "the following arguments are required: role"),
        (("audit", "--last", "0"), "'0' is not a positive whole number"),
        (("audit", "--last", "ten"), "'ten' is not a positive whole number"),
        (("audit", "--outcome", "maybe"), "invalid choice: 'maybe'"),
    ],
)
def test_bad_access_and_audit_arguments_are_named(
    argv: tuple[str, ...], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2 and says in capsys.readouterr().err


def test_an_empty_person_is_refused(command) -> None:
    code, out = command("access", "grant", " ", "admin", "--if-unassigned")
    assert code == 1 and "refused: Name the person: their subject or email." in out
