"""The converged cluster: an elected leader, two replicas (one synchronous), the endpoint on the
app host that sends writes to the leader and reads to replicas, and what refuses strangers."""

import uuid

import pytest
from conftest import (
    ADDRESSES,
    CA,
    MEMBERS,
    direct_dsn,
    endpoint_dsn,
    healthy,
    leader,
    members,
    project_dir,
    psql,
    recap,
    run_playbook,
    wait_for,
)


@pytest.fixture(scope="module")
def client(host, groups):
    return host(groups["app"][0])


def test_check_mode_reports_no_change(host):
    # The database tier only: what runs here and nowhere else (etcd, Patroni, the endpoint). The
    # other tiers' dry runs are proven on the sandbox (e2e) and in observability; the whole
    # site.yml runs for real after the failovers (test_failover.py). Saves ~150 s of CI.
    site = project_dir() / "playbooks" / "site.yml"
    out = run_playbook(site, "--check", "--tags", "database")
    assert out.returncode == 0, out.stdout[-3000:]
    changed = {name: c["changed"] for name, c in recap(out.stdout).items() if c["changed"]}
    assert changed == {}, out.stdout[-3000:]


def test_one_leader_and_two_replicas_one_of_them_synchronous(host):
    assert wait_for(lambda: healthy(host), 60), members(host)
    roles = sorted(m["Role"] for m in members(host))
    assert roles == ["Leader", "Replica", "Sync Standby"]


def test_postgresql_runs_under_patroni_only(host):
    for name in MEMBERS:
        node = host(name)
        assert node.service("patroni@15-main").is_running
        assert node.service("patroni@15-main").is_enabled
        # Debian's own cluster unit has no cluster to run.
        assert not node.file("/etc/postgresql/15/main").exists
        config = node.file("/etc/patroni/15-main.yml")
        assert (config.user, config.mode) == ("postgres", 0o600)


@pytest.fixture(scope="module")
def table(client, vault):
    """A table the migrator makes through the endpoint (app_rw writes it: default privileges)."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    created = psql(client, endpoint_dsn(vault, "migrator"), f"CREATE TABLE {name} (note text)")
    assert created.rc == 0, created.stderr
    return name


def test_writes_through_the_endpoint_land_on_the_leader_and_are_read_on_both_replicas(
    host, client, vault, table
):
    written = psql(
        client,
        endpoint_dsn(vault, "app_rw"),
        f"INSERT INTO {table} VALUES ('via-endpoint') RETURNING host(inet_server_addr())",
    )
    assert written.rc == 0, written.stderr
    assert written.stdout.split()[0] == ADDRESSES[leader(host)]
    for name in MEMBERS:
        if name == leader(host):
            continue
        seen = wait_for(
            lambda name=name: (
                psql(
                    client,
                    direct_dsn(vault, ADDRESSES[name], "app_ro"),
                    f"SELECT note FROM {table}",
                ).stdout.strip()
                == "via-endpoint"
            ),
            20,
        )
        assert seen, f"{name} never showed the row written through the endpoint"


def test_the_read_only_database_reaches_a_replica(host, client, vault):
    out = psql(
        client,
        endpoint_dsn(vault, "app_ro", "footballprediction_ro"),
        "SELECT host(inet_server_addr()), pg_is_in_recovery()",
    )
    assert out.rc == 0, out.stderr
    address, in_recovery = out.stdout.strip().split("|")
    assert in_recovery == "t"
    assert address != ADDRESSES[leader(host)]


def test_a_replica_refuses_writes(host, client, vault, table):
    replica = next(name for name in MEMBERS if name != leader(host))
    out = psql(
        client,
        direct_dsn(vault, ADDRESSES[replica], "app_rw"),
        f"INSERT INTO {table} VALUES ('on-a-replica')",
    )
    assert out.rc != 0
    assert "read-only transaction" in out.stderr


def test_the_pool_keeps_no_password_and_logs_in_by_certificate(host, client):
    assert client.file("/etc/pgbouncer/userlist.txt").content_string.strip() == '"postgres" ""'
    log = host(leader(host)).run(
        "grep -h 'identity=\"CN=pgbouncer_auth\" method=cert' "
        "/var/log/postgresql/postgresql-15-main.log"
    )
    assert log.rc == 0


def test_etcd_refuses_a_client_without_a_certificate(client):
    out = client.run(
        f"curl -sS --max-time 5 --cacert {CA} https://{ADDRESSES['ha-db1']}:2379/health"
    )
    assert out.rc != 0, out.stdout


def test_patroni_refuses_changes_without_its_password(client):
    out = client.run(
        f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 --cacert {CA} "
        f"-X PATCH -d '{{\"ttl\": 99}}' https://{ADDRESSES['ha-db1']}:8008/config"
    )
    assert out.stdout.strip() == "401"


def test_the_app_hosts_point_at_the_local_pool(client):
    env = client.file("/etc/fpops/postgresql.env").content_string
    assert "PGHOST=127.0.0.1\n" in env
    assert "PGPORT=6432\n" in env


def test_a_renewal_with_no_converge_is_served_by_every_tls_service_without_a_restart(host):
    """playbooks/renew_certificates.yml with every certificate due: PostgreSQL and Patroni's
    REST API (one certificate), etcd and PgBouncer each serve the new certificate on the same
    process (a reload; etcd reads its files at every handshake), and the cluster stays healthy."""
    app = host("ha-app1")
    db = host(MEMBERS[0])
    address = ADDRESSES[MEMBERS[0]]

    def main_pid(unit: str) -> str:
        return f"systemctl show -p MainPID --value {unit}"

    postmaster = "head -1 /var/lib/postgresql/15/main/postmaster.pid"
    # (host, certificate, s_client arguments to reach its server, its process id)
    served = [
        (db, "postgresql", f"-starttls postgres -connect {address}:5432", postmaster),
        (db, "postgresql", f"-connect {address}:8008", main_pid("patroni@15-main")),
        (db, "etcd", f"-connect {address}:2379", main_pid("etcd")),
        (app, "pgbouncer", "-starttls postgres -connect 127.0.0.1:6432", main_pid("pgbouncer")),
    ]

    def serial_served(node, args: str) -> str:
        return node.check_output(
            f"openssl s_client {args} </dev/null 2>/dev/null | openssl x509 -noout -serial"
        )

    pids = [node.check_output(pid) for node, _, _, pid in served]
    before = [serial_served(node, args) for node, _, args, _ in served]
    out = run_playbook(
        project_dir() / "playbooks" / "renew_certificates.yml", "-e", "pki_cert_renew_days=400"
    )
    assert out.returncode == 0, out.stdout[-3000:]
    for (node, cert, args, pid), old, old_pid in zip(served, before, pids, strict=True):
        new = node.check_output(f"openssl x509 -noout -serial -in /etc/fpops/pki/{cert}.crt")
        assert new != old, (args, cert)
        assert serial_served(node, args) == new, args
        assert node.check_output(pid) == old_pid, f"restarted: {pid}"
    assert wait_for(lambda: healthy(host), 60)
