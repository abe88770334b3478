"""Redis: ACL users only, the app confined to its keys, data kept across a restart and replicated.

Hosts are found by group: the primary is the first `cache` host, the replica the second, the
client the first `app` host and the outsider the first `db_primary` host.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
import uuid

import pytest
from conftest import run_playbook
from helpers import changed_by_roles_again

PORT = 6379
CONF = "/etc/redis/redis.conf"
ACL = "/etc/redis/users.acl"
USERS = ("admin", "app", "replica", "monitor")


def wait_for(what: str, probe, timeout: float = 30.0):
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1)


@pytest.fixture(scope="module")
def primary(groups, host):
    return host(groups["cache"][0])


@pytest.fixture(scope="module")
def replica(groups, host):
    if len(groups["cache"]) < 2:
        pytest.skip("the scenario has one cache host")
    return host(groups["cache"][1])


@pytest.fixture(scope="module")
def client(groups, host):
    return host(groups["app"][0])


@pytest.fixture(scope="module")
def outsider(groups, host):
    return host(groups["db_primary"][0])


@pytest.fixture(scope="module")
def passwords(vault) -> dict[str, str]:
    return {user: vault[f"vault_redis_{user}_password"] for user in USERS}


def private_address(cache_host) -> str:
    """The address the role bound besides loopback (first word after `bind`)."""
    bind = cache_host.check_output(f"grep -m1 '^bind ' {CONF}").split()
    return next(a for a in bind[1:] if a != "127.0.0.1")


@pytest.fixture(scope="module")
def primary_address(primary) -> str:
    return private_address(primary)


def cli(on, *args: str, user: str | None = None, password: str | None = None, to="127.0.0.1"):
    """redis-cli on host `on` against `to`; the password travels in REDISCLI_AUTH only."""
    command = f"redis-cli -h {shlex.quote(to)} -p {PORT} "
    if user:
        command = f"REDISCLI_AUTH={shlex.quote(password or '')} {command}--user {user} "
    result = on.run(command + " ".join(shlex.quote(a) for a in args))
    return (result.stdout + result.stderr).strip()


@pytest.fixture
def as_app(client, primary_address, passwords):
    """Run a command as `app` from the client host against the primary."""

    def run(*args: str) -> str:
        return cli(client, *args, user="app", password=passwords["app"], to=primary_address)

    return run


@pytest.fixture
def key() -> str:
    return f"fp:test:{uuid.uuid4().hex}"


# --- Authentication and ACL -------------------------------------------------------------------


def test_unauthenticated_command_refused(client, primary, primary_address):
    assert cli(client, "PING", to=primary_address).startswith("NOAUTH")
    assert cli(primary, "PING").startswith("NOAUTH")


def test_default_user_disabled(primary, passwords):
    users = cli(primary, "ACL", "LIST", user="admin", password=passwords["admin"]).splitlines()
    default = next(line for line in users if line.startswith("user default "))
    assert " off " in default
    assert "nopass" not in default
    assert sorted(line.split()[1] for line in users) == sorted(["default", *USERS])


def test_wrong_password_refused(client, primary_address):
    reply = cli(client, "PING", user="app", password="not-the-password", to=primary_address)
    assert "WRONGPASS" in reply


def test_app_sets_and_gets_in_its_key_pattern(as_app, key):
    assert as_app("SET", key, "hello", "EX", "300") == "OK"
    assert as_app("GET", key) == "hello"
    assert as_app("DEL", key) == "1"


def test_app_reaches_the_celery_keys(as_app):
    queue = f"celery-test-{uuid.uuid4().hex}"
    assert as_app("LPUSH", queue, "task") == "1"
    assert as_app("RPOP", queue) == "task"


def test_app_refused_outside_its_key_pattern(as_app):
    assert as_app("SET", f"other:{uuid.uuid4().hex}", "x").startswith("NOPERM")


@pytest.mark.parametrize(
    "command",
    [("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "maxmemory"), ("KEYS", "*")],
    ids=lambda c: c[0],
)
def test_app_refused_dangerous_commands(as_app, key, command):
    assert as_app("SET", key, "kept", "EX", "300") == "OK"
    assert as_app(*command).startswith("NOPERM")
    # Nothing was flushed.
    assert as_app("GET", key) == "kept"


def test_monitor_reads_info_but_no_data_or_config(primary, passwords, key):
    def as_monitor(*args: str) -> str:
        return cli(primary, *args, user="monitor", password=passwords["monitor"])

    assert "redis_version:" in as_monitor("INFO", "server")
    assert as_monitor("GET", key).startswith("NOPERM")
    # CONFIG GET would reveal the replicas' masterauth.
    assert as_monitor("CONFIG", "GET", "masterauth").startswith("NOPERM")


def test_replica_user_only_replicates(primary, passwords, key):
    reply = cli(primary, "GET", key, user="replica", password=passwords["replica"])
    assert reply.startswith("NOPERM")


# --- Files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1], ids=["primary", "replica"])
def test_acl_file_is_private_and_holds_only_hashes(groups, host, passwords, index):
    if index >= len(groups["cache"]):
        pytest.skip("no such cache host")
    acl = host(groups["cache"][index]).file(ACL)
    assert acl.user == "root"
    assert acl.group == "redis"
    assert acl.mode == 0o640
    content = acl.content_string
    for user, password in passwords.items():
        assert password not in content, f"plaintext password of {user} in {ACL}"
        assert f"#{hashlib.sha256(password.encode()).hexdigest()}" in content


def test_redis_conf_is_not_world_readable(primary, replica, passwords):
    for cache_host in (primary, replica):
        conf = cache_host.file(CONF)
        assert conf.user == "root"
        assert conf.group == "redis"
        assert conf.mode & 0o007 == 0
    # Only the replica needs a secret in it, and only its own replication password.
    assert passwords["replica"] in replica.file(CONF).content_string
    assert "masterauth" not in primary.file(CONF).content_string


def test_overcommit_configured(primary):
    assert (
        "vm.overcommit_memory = 1"
        in primary.file("/etc/sysctl.d/60-fpops-redis.conf").content_string
    )


# --- Network ------------------------------------------------------------------------------------


def test_listens_on_private_address_and_loopback_only(groups, host):
    for name in groups["cache"]:
        cache_host = host(name)
        listening = cache_host.check_output(f"ss -Htln 'sport = :{PORT}'").split("\n")
        addresses = sorted(line.split()[3].rsplit(":", 1)[0] for line in listening if line.strip())
        assert addresses == sorted(["127.0.0.1", private_address(cache_host)])


def reachable(from_host, address: str) -> bool:
    return from_host.run(f"timeout 5 bash -c 'exec 3<>/dev/tcp/{address}/{PORT}'").rc == 0


def test_port_reachable_from_the_app_group(client, primary_address):
    assert reachable(client, primary_address)


def test_port_dropped_from_a_host_outside_the_allowed_groups(outsider, primary_address):
    assert not reachable(outsider, primary_address)


# --- Memory and persistence ---------------------------------------------------------------------


def test_memory_limit_and_eviction_policy(primary, passwords):
    def config(name: str) -> str:
        reply = cli(primary, "CONFIG", "GET", name, user="admin", password=passwords["admin"])
        return reply.splitlines()[1]

    assert int(config("maxmemory")) > 0
    assert config("maxmemory-policy") == "volatile-lru"
    assert config("appendonly") == "yes"
    assert config("appendfsync") == "everysec"
    assert config("save") != ""


def test_data_survives_a_restart(primary, passwords, as_app, key):
    value = uuid.uuid4().hex
    assert as_app("SET", key, value) == "OK"
    # A script's writes reach the AOF as MULTI/EXEC. Redis 7.0 replays those as the `default`
    # user: with its rules reset, they were dropped at every restart (the role's ACL file fixes it).
    admin = {"user": "admin", "password": passwords["admin"]}
    cli(
        primary, "EVAL", "redis.call('SET', KEYS[1], ARGV[1])", "1", key + ":script", value, **admin
    )
    primary.check_output("systemctl restart redis-server")
    wait_for("redis on the primary", lambda: as_app("PING") == "PONG")
    assert as_app("GET", key) == value
    assert cli(primary, "GET", key + ":script", **admin) == value
    cli(primary, "DEL", key + ":script", **admin)
    info = cli(primary, "INFO", "persistence", user="admin", password=passwords["admin"])
    assert "aof_enabled:1" in info
    assert primary.file("/var/lib/redis/appendonlydir").is_directory
    as_app("DEL", key)


# --- Replication --------------------------------------------------------------------------------


def test_replica_is_linked_to_the_primary(replica, passwords, primary_address):
    def link() -> str | None:
        info = cli(replica, "INFO", "replication", user="admin", password=passwords["admin"])
        return info if "master_link_status:up" in info else None

    info = wait_for("the replica's link to the primary", link)
    assert "role:slave" in info
    assert f"master_host:{primary_address}" in info


def test_replica_has_the_data(replica, passwords, as_app, key):
    value = uuid.uuid4().hex
    assert as_app("SET", key, value, "EX", "300") == "OK"

    def on_replica() -> bool:
        return cli(replica, "GET", key, user="app", password=passwords["app"]) == value

    wait_for("the key on the replica", on_replica)
    # Replicas do not take writes.
    reply = cli(replica, "SET", key, "x", user="app", password=passwords["app"])
    assert reply.startswith("READONLY")
    as_app("DEL", key)


def test_the_redis_role_run_again_changes_nothing(tmp_path):
    """Idempotence of what this scenario has and the sandbox does not: a Redis replica, on
    Debian 13 (cache2), beside its primary on Debian 12. (No Molecule idempotence step here: e2e's
    second converge covers the other roles, PostgreSQL's primary and replica among them; web's
    and foundation's cover an app host and the base roles on Debian 13.)"""
    assert changed_by_roles_again("cache", ["fpops.platform.redis"], tmp_path) == {}


# --- Bad input ----------------------------------------------------------------------------------


def config_fingerprint(primary) -> str:
    return primary.check_output(f"sha256sum {ACL} {CONF}")


def flat(output: str) -> str:
    """Playbook output with Ansible's line wrapping undone."""
    return " ".join(output.split())


def redis_play(tmp_path, hosts: str) -> str:
    play = {
        "name": "Redis",
        "hosts": hosts,
        "become": True,
        "gather_facts": False,
        "roles": [{"role": "redis"}],
    }
    playbook = tmp_path / "redis.yml"
    playbook.write_text(json.dumps([play]))
    return str(playbook)


def test_missing_vault_password_fails_naming_it(groups, primary, tmp_path):
    before = config_fingerprint(primary)
    cache = {name: {} for name in groups["cache"]}
    inventory = {
        "all": {
            "vars": {"ansible_connection": "community.docker.docker"},
            "children": {"cache": {"hosts": cache}},
        }
    }
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory))
    result = run_playbook(redis_play(tmp_path, "cache"), inventory=tmp_path / "hosts.yml")
    assert result.returncode != 0
    assert "define vault_redis_app_password in the inventory vault" in flat(result.stdout)
    assert "Traceback" not in result.stdout
    assert config_fingerprint(primary) == before


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        (
            {"redis_maxmemory_policy": "evict-everything"},
            "value of redis_maxmemory_policy must be one of",
        ),
        (
            {"redis_app_acl_rules": ["~fp:*", "nopass"]},
            'redis_app_acl_rules: "nopass" sets a password or the user state',
        ),
        (
            {"redis_primary_host": "no-such-host"},
            "redis_primary_host is 'no-such-host', which is not a host of the inventory group",
        ),
    ],
    ids=["policy", "acl-rule", "primary"],
)
def test_bad_input_fails_before_any_change(groups, primary, tmp_path, extra_vars, expected):
    before = config_fingerprint(primary)
    result = run_playbook(redis_play(tmp_path, groups["cache"][0]), "-e", json.dumps(extra_vars))
    assert result.returncode != 0
    assert expected in flat(result.stdout)
    assert config_fingerprint(primary) == before
