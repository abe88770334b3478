"""Three Sentinels watch the cache hosts: they agree on one primary, log in with least privilege,
and Redis cannot rewrite the configuration Ansible owns."""

from conftest import (
    ADDRESSES,
    APP_ADDRESS,
    MASTER,
    SENTINEL_PORT,
    SENTINELS,
    project_dir,
    redis,
    run_playbook,
    wait_settled,
)
from redis_load import REDIS_CLI_TLS


def test_every_sentinel_names_the_same_primary_with_two_replicas(host, vault):
    primary = wait_settled(host, vault)
    for name in SENTINELS:
        quorum = redis(
            host(name), vault, "admin", "SENTINEL", "CKQUORUM", MASTER, port=SENTINEL_PORT
        )
        assert quorum.stdout.startswith("OK 4 usable Sentinels"), (name, quorum.stdout)
    assert primary in ADDRESSES


def test_a_replica_refuses_writes_and_the_primary_takes_them(host, vault):
    primary = wait_settled(host, vault)
    replica = next(name for name in ADDRESSES if name != primary)
    written = redis(host(primary), vault, "app", "SET", "fp:test:sentinel", "1")
    assert written.stdout.strip() == "OK", written.stdout + written.stderr
    refused = redis(host(replica), vault, "app", "SET", "fp:test:sentinel", "2")
    assert "READONLY" in refused.stdout + refused.stderr


def test_sentinels_refuse_clients_without_a_password(host):
    node = host("sentinel-cache1")
    answer = node.run(
        f"redis-cli {REDIS_CLI_TLS} -h {ADDRESSES['sentinel-cache1']} -p {SENTINEL_PORT} PING"
    )
    assert "NOAUTH" in answer.stdout + answer.stderr


def test_redis_and_sentinel_speak_tls_only_with_a_certificate_of_the_internal_ca(host, vault):
    """redis_tls: a plain client gets no answer on either port, a client trusting only the public
    CAs refuses the server's certificate, and replication (link up) runs over TLS."""
    primary = wait_settled(host, vault)
    replica = next(name for name in ADDRESSES if name != primary)
    node = host(replica)
    address = ADDRESSES[primary]
    for port in (6379, SENTINEL_PORT):
        plain = node.run(f"timeout 5 redis-cli -h {address} -p {port} PING")
        assert "NOAUTH" not in plain.stdout and "PONG" not in plain.stdout, (port, plain.stdout)
        public = node.run(
            "timeout 5 redis-cli --tls --cacert /etc/ssl/certs/ca-certificates.crt"
            f" -h {address} -p {port} PING"
        )
        assert "certificate verify failed" in public.stdout + public.stderr, (port, public.stderr)
    trusted = node.run(f"redis-cli {REDIS_CLI_TLS} -h {address} -p 6379 PING")
    assert "NOAUTH" in trusted.stdout + trusted.stderr
    info = redis(node, vault, "admin", "INFO", "replication").stdout
    assert f"master_host:{address}" in info and "master_link_status:up" in info, info
    conf = node.file("/etc/redis/redis.conf").content_string
    assert "\nport 0\n" in conf and "\ntls-replication yes\n" in conf
    key = node.file("/etc/fpops/pki/private/redis.key")
    assert (key.user, key.group, key.mode) == ("root", "redis", 0o640)


def test_the_sentinel_user_reads_no_keys_and_changes_no_configuration(host, vault):
    primary = wait_settled(host, vault)
    node = host(primary)
    for args in (("GET", "fp:test:sentinel"), ("CONFIG", "SET", "maxmemory", "1mb"), ("FLUSHALL",)):
        answer = redis(node, vault, "sentinel", *args)
        assert "NOPERM" in answer.stdout + answer.stderr, (args, answer.stdout)


def test_redis_cannot_rewrite_the_configuration_ansible_owns(host, vault):
    node = host("sentinel-cache1")
    assert node.file("/etc/redis").user == "root"
    assert node.file("/etc/redis").mode == 0o750
    answer = redis(node, vault, "admin", "CONFIG", "REWRITE")
    assert "ERR" in answer.stdout + answer.stderr
    conf = node.file("/etc/redis/redis.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "redis", 0o640)
    # Who replicates is Sentinel's, at run time: no file says it.
    assert "replicaof" not in conf.content_string


def test_the_app_hosts_endpoint_sends_writes_to_the_primary(host, vault, groups):
    primary = wait_settled(host, vault)
    client = host(groups["app"][0])
    written = redis(client, vault, "app", "SET", "fp:test:through-endpoint", "yes", port=6380)
    assert written.stdout.strip() == "OK", written.stdout + written.stderr
    read = redis(host(primary), vault, "app", "GET", "fp:test:through-endpoint")
    assert read.stdout.strip() == "yes"
    conf = client.file("/etc/haproxy/conf.d/fpops-redis.cfg")
    assert (conf.user, conf.group, conf.mode) == ("root", "haproxy", 0o640)
    # Loopback only: the endpoint is not a way into Redis from the network.
    assert client.socket("tcp://127.0.0.1:6380").is_listening
    assert not client.socket("tcp://0.0.0.0:6380").is_listening


def test_a_renewal_with_no_converge_is_served_by_redis_without_a_restart_and_by_every_sentinel(
    host, vault
):
    """playbooks/renew_certificates.yml with every certificate due: each Redis serves its new
    certificate on the same process (CONFIG SET of the TLS files), each Sentinel after a restart
    one host at a time, and the primary stays where it was."""
    primary = wait_settled(host, vault)

    def served(name: str, address: str, port: int) -> str:
        return host(name).check_output(
            f"openssl s_client -connect {address}:{port} </dev/null 2>/dev/null"
            " | openssl x509 -noout -serial"
        )

    def server_pid(name: str) -> str:
        return host(name).check_output("systemctl show -p MainPID --value redis-server")

    pids = {name: server_pid(name) for name in ADDRESSES}
    before = {name: served(name, address, 6379) for name, address in ADDRESSES.items()}
    out = run_playbook(
        project_dir() / "playbooks" / "renew_certificates.yml", "-e", "pki_cert_renew_days=400"
    )
    assert out.returncode == 0, out.stdout[-3000:]
    for name in SENTINELS:
        node = host(name)
        new = node.check_output("openssl x509 -noout -serial -in /etc/fpops/pki/redis.crt")
        address = ADDRESSES.get(name, APP_ADDRESS)
        assert served(name, address, SENTINEL_PORT) == new, name
        if name in ADDRESSES:
            assert new != before[name], name
            assert served(name, address, 6379) == new, name
            assert server_pid(name) == pids[name], f"redis-server on {name} was restarted"
    assert wait_settled(host, vault) == primary
