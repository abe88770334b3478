"""PostgreSQL: streaming over TLS via a slot, least privilege, hba and firewall per inventory."""

import time
import uuid

import pytest
from conftest import ADDRESSES, local_psql, psql
from helpers import recap, rotate_logs, run_project_playbook


@pytest.fixture(scope="module")
def nodes(groups, host):
    primary, replica = groups["db_primary"][0], groups["db_replica"][0]
    return {
        "primary": host(primary),
        "replica": host(replica),
        "primary_ip": ADDRESSES[primary],
        "replica_ip": ADDRESSES[replica],
        "client": host(groups["app"][0]),
        "outsider": host(groups["cache"][0]),
        "replica_name": replica,
    }


@pytest.fixture(scope="module")
def table(nodes, vault):
    """A table migrator creates, as a migration would; nobody grants anything on it."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    created = psql(
        nodes["client"],
        vault,
        nodes["primary_ip"],
        "migrator",
        f"CREATE TABLE {name} (id bigserial PRIMARY KEY, note text NOT NULL)",
    )
    assert created.rc == 0, created.stderr
    return name


def wait_for(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_row_written_on_primary_is_read_on_replica_within_5_seconds(nodes, vault, table):
    note = uuid.uuid4().hex
    insert = f"INSERT INTO {table} (note) VALUES ('{note}')"
    assert psql(nodes["client"], vault, nodes["primary_ip"], "app_rw", insert).rc == 0
    select = f"SELECT count(*) FROM {table} WHERE note = '{note}'"

    def seen():
        out = psql(nodes["client"], vault, nodes["replica_ip"], "app_ro", select)
        return out.rc == 0 and out.stdout.strip() == "1"

    assert wait_for(seen, 5.0)


def assert_refused(nodes, vault, address: str, user: str, sql: str, reason: str):
    out = psql(nodes["client"], vault, address, user, sql)
    assert out.rc != 0
    assert reason in out.stderr


def test_replica_refuses_writes(nodes, vault, table):
    insert = f"INSERT INTO {table} (note) VALUES ('x')"
    assert_refused(nodes, vault, nodes["replica_ip"], "app_rw", insert, "read-only transaction")


def test_replica_streams_over_tls_through_its_slot(nodes):
    sql = (
        "SELECT r.application_name, r.state, s.ssl, sl.slot_name, sl.active "
        "FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) "
        "JOIN pg_replication_slots sl ON sl.active_pid = r.pid"
    )
    out = local_psql(nodes["primary"], sql)
    assert out.rc == 0, out.stderr
    name = nodes["replica_name"]
    assert out.stdout.strip() == f"{name}|streaming|t|replica_{name}|t"


def test_connection_without_tls_is_refused(nodes, vault):
    out = psql(nodes["client"], vault, nodes["primary_ip"], "app_rw", "SELECT 1", sslmode="disable")
    assert out.rc != 0
    assert "no encryption" in out.stderr


def test_client_verifies_the_server_against_the_internal_ca(nodes, vault):
    out = psql(
        nodes["client"],
        vault,
        nodes["primary_ip"],
        "app_ro",
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "t"


def test_app_rw_cannot_create_tables(nodes, vault):
    out = psql(
        nodes["client"], vault, nodes["primary_ip"], "app_rw", "CREATE TABLE sneaky (id int)"
    )
    assert out.rc != 0
    assert "permission denied for schema public" in out.stderr


def test_app_rw_cannot_create_roles(nodes, vault):
    out = psql(nodes["client"], vault, nodes["primary_ip"], "app_rw", "CREATE ROLE sneaky")
    assert out.rc != 0
    assert "permission denied to create role" in out.stderr


def test_app_ro_cannot_write(nodes, vault, table):
    insert = f"INSERT INTO {table} (note) VALUES ('x')"
    assert_refused(
        nodes, vault, nodes["primary_ip"], "app_ro", insert, "permission denied for table"
    )


def test_table_created_by_migrator_is_usable_by_app_rw_without_grants(nodes, vault, table):
    sql = (
        f"INSERT INTO {table} (note) VALUES ('rw'); "
        f"UPDATE {table} SET note = 'rw2' WHERE note = 'rw'; "
        f"DELETE FROM {table} WHERE note = 'rw2'"
    )
    out = psql(nodes["client"], vault, nodes["primary_ip"], "app_rw", sql)
    assert out.rc == 0, out.stderr


def test_port_is_dropped_from_a_host_in_no_allowed_group(nodes):
    # Control first: the client reaches it, so a failure below is the firewall's doing.
    assert nodes["client"].run(f"nc -z -w 3 {nodes['primary_ip']} 5432").rc == 0
    assert nodes["outsider"].run(f"nc -z -w 3 {nodes['primary_ip']} 5432").rc != 0


def test_tuning_follows_the_memory_given(nodes):
    # postgresql_memory_mb is 2048 in this scenario: a quarter for shared buffers.
    assert local_psql(nodes["primary"], "SHOW shared_buffers").stdout.strip() == "512MB"
    assert local_psql(nodes["primary"], "SHOW effective_cache_size").stdout.strip() == "1536MB"


def test_slow_queries_and_statements_are_tracked(nodes):
    assert local_psql(nodes["primary"], "SHOW log_min_duration_statement").stdout.strip() == "500ms"
    libraries = local_psql(nodes["primary"], "SHOW shared_preload_libraries").stdout
    assert "pg_stat_statements" in libraries and "auto_explain" in libraries
    out = local_psql(nodes["primary"], "SELECT count(*) > 0 FROM pg_stat_statements")
    assert out.stdout.strip() == "t", out.stderr


def test_no_role_but_postgres_is_superuser(nodes):
    out = local_psql(
        nodes["primary"], "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolsuper"
    )
    assert out.stdout.strip() == "postgres"


def test_secret_files_are_private(nodes):
    for node in (nodes["primary"], nodes["replica"]):
        passfile = node.file("/var/lib/postgresql/.pgpass")
        assert passfile.mode == 0o600 and passfile.user == "postgres"
        key = node.file("/etc/fpops/pki/private/postgresql.key")
        assert key.mode == 0o640 and key.user == "root" and key.group == "postgres"


def test_passwords_are_stored_as_scram(nodes):
    out = local_psql(
        nodes["primary"],
        "SELECT count(*) FROM pg_authid WHERE rolcanlogin AND rolpassword IS NOT NULL "
        "AND rolpassword NOT LIKE 'SCRAM-SHA-256$%'",
    )
    assert out.stdout.strip() == "0"


def test_ddl_and_grants_are_audited_with_the_session_role(nodes, vault):
    """pgaudit (postgresql_pgaudit_log: ddl, role): a migration's CREATE TABLE and GRANT land in
    the PostgreSQL log with the role that ran them; a SELECT does not (class read is off)."""
    name = f"audited_{uuid.uuid4().hex[:8]}"
    for statement in (f"CREATE TABLE {name} (id int)", f"GRANT SELECT ON {name} TO app_ro"):
        assert psql(nodes["client"], vault, nodes["primary_ip"], "migrator", statement).rc == 0
    read = psql(nodes["client"], vault, nodes["primary_ip"], "migrator", f"SELECT * FROM {name}")
    assert read.rc == 0, read.stderr
    log = "/var/log/postgresql/postgresql-15-main.log"
    lines = nodes["primary"].check_output(f"grep -F 'AUDIT: ' {log} | grep -F {name} || true")
    audited = [line for line in lines.splitlines() if "user=migrator" in line]
    assert not [line for line in audited if f"SELECT * FROM {name}" in line], lines
    assert any(f",DDL,CREATE TABLE,,,CREATE TABLE {name}" in line for line in audited), lines
    assert any(f",ROLE,GRANT,,,GRANT SELECT ON {name} TO app_ro" in line for line in audited), lines
    assert nodes["primary"].check_output("runuser -u postgres -- psql -Atc 'SHOW pgaudit.log'") == (
        "ddl, role"
    )


def test_the_server_log_rotates_and_postgresql_writes_on(nodes, vault):
    """/etc/logrotate.d/postgresql-common (postgresql_log_retention_days): the whole logrotate
    configuration parses without error; a forced rotation keeps the old lines in .1 and the
    server's next audited statement lands in the emptied file."""
    primary = nodes["primary"]
    log = "/var/log/postgresql/postgresql-15-main.log"
    assert "rotate 30" in primary.file("/etc/logrotate.d/postgresql-common").content_string
    rotate_logs(primary, "postgresql-common")
    assert primary.file(f"{log}.1").exists
    name = f"after_rotation_{uuid.uuid4().hex[:8]}"
    made = psql(
        nodes["client"], vault, nodes["primary_ip"], "migrator", f"CREATE TABLE {name} (id int)"
    )
    assert made.rc == 0, made.stderr
    assert primary.run(f"grep -F 'CREATE TABLE {name}' {log}").rc == 0


def served_serial(db, address: str) -> str:
    """The serial of the certificate PostgreSQL serves on ADDRESS (a new TLS connection)."""
    return db.check_output(
        f"openssl s_client -starttls postgres -connect {address}:5432 </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial"
    )


def test_certificates_due_are_renewed_with_no_converge_and_served_without_a_restart(nodes):
    """playbooks/renew_certificates.yml (fpops renew-certs, the controller's daily timer):
    nothing due, nothing changes; every certificate due (here: a renewal window longer than
    the 180-day lifetime) is signed again and PostgreSQL serves it after a reload, on the
    same postmaster; the expiry metric follows the file."""
    primary, address = nodes["primary"], nodes["primary_ip"]
    cert = "/etc/fpops/pki/postgresql.crt"
    # 180 days (pki_cert_valid_days): it expires within 181 days, not within 179.
    assert primary.run(f"openssl x509 -noout -checkend {181 * 86400} -in {cert}").rc == 1
    assert primary.run(f"openssl x509 -noout -checkend {179 * 86400} -in {cert}").rc == 0
    started = local_psql(primary, "SELECT pg_postmaster_start_time()").stdout
    before = served_serial(primary, address)

    quiet = run_project_playbook("renew_certificates.yml")
    assert quiet.returncode == 0, quiet.stdout[-3000:]
    assert {c["changed"] for c in recap(quiet.stdout).values()} == {0}, quiet.stdout[-3000:]

    due = run_project_playbook("renew_certificates.yml", "-e", "pki_cert_renew_days=400")
    assert due.returncode == 0, due.stdout[-3000:]
    file_serial = primary.check_output(f"openssl x509 -noout -serial -in {cert}")
    assert file_serial != before
    assert served_serial(primary, address) == file_serial
    assert local_psql(primary, "SELECT pg_postmaster_start_time()").stdout == started
    replica = nodes["replica"]
    assert served_serial(replica, nodes["replica_ip"]) == replica.check_output(
        f"openssl x509 -noout -serial -in {cert}"
    )

    assert primary.service("fpops-pki-expiry.timer").is_enabled
    textfile = "/run/fpops-test-textfile"
    primary.run(f"mkdir -p {textfile}")
    assert primary.run(f"/usr/local/lib/fpops/pki-expiry /etc/fpops/pki {textfile}").rc == 0
    metrics = primary.file(f"{textfile}/fpops_pki.prom").content_string
    not_after = primary.check_output(
        f'date -u -d "$(openssl x509 -noout -enddate -in {cert} | cut -d= -f2)" +%s'
    )
    assert f'fpops_certificate_expiry_timestamp_seconds{{name="postgresql"}} {not_after}' in metrics
    assert 'fpops_certificate_expiry_timestamp_seconds{name="ca"} ' in metrics
