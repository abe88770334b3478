"""Re-converges: check mode changes nothing, bad input fails before any change, a vhost nginx
refuses fails the play with nginx's message while the old configuration keeps serving, and the
maintenance switch and the internal-CA certificate source (the sandbox's)."""

import json
import subprocess

import pytest
from conftest import (
    DOMAIN,
    certificate_field,
    curl_from,
    ephemeral_dir,
    nginx_master_pid,
    playbook,
    project_dir,
    recap,
    run_playbook,
    served_certificate,
)

SITE = project_dir() / "playbooks" / "site.yml"
# The internal CA the pki role made for this inventory (molecule's inventory directory).
INTERNAL_CA = ephemeral_dir() / "inventory" / ".pki" / "ca.crt"
VHOST = "/etc/nginx/sites-available/fpops-api.conf"


def vhosts(**extra) -> list[dict]:
    """The scenario's vhost list (molecule.yml) with extra keys on the api vhost."""
    return [
        {
            "name": "api",
            "server_names": ["lb.fpops.test", "api.fpops.test"],
            "locations": [{"path": "/"}, {"path": "/admin/", "allow": ["172.30.4.1/32"]}],
            **extra,
        }
    ]


def test_check_mode_on_converged_hosts_changes_nothing():
    # converge.yml: site.yml alone would withdraw the test services' ports (declared there).
    result = run_playbook(playbook("converge.yml"), "--check")
    assert result.returncode == 0, result.stdout[-3000:]
    counters = recap(result.stdout)
    assert counters
    changed = {name: c["changed"] for name, c in counters.items() if c["changed"]}
    assert changed == {}, result.stdout[-3000:]


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        ({"nginx_rate_limit": "100/minute"}, 'nginx_rate_limit "100/minute" is not a rate'),
        ({"certbot_email": ""}, 'certbot_email "" is not an e-mail address'),
        ({"nginx_vhosts": [{"name": "api"}]}, "missing required arguments: server_names"),
    ],
    ids=["bad-rate", "no-email", "vhost-without-names"],
)
def test_bad_input_fails_before_any_change(lb, extra_vars, expected):
    before = lb.check_output(f"sha256sum {VHOST}")
    result = run_playbook(SITE, "-e", json.dumps(extra_vars))
    assert result.returncode != 0
    assert expected in result.stdout, result.stdout[-3000:]
    counters = recap(result.stdout)
    assert counters
    assert all(c["changed"] == 0 for c in counters.values()), result.stdout[-3000:]
    assert lb.check_output(f"sha256sum {VHOST}") == before


def test_vhost_nginx_refuses_fails_the_play_and_the_old_config_keeps_serving(lb, https):
    before = lb.check_output(f"sha256sum {VHOST}")
    pid = nginx_master_pid(lb)
    broken = vhosts(extra=["proxy_buffering maybe;"])
    result = run_playbook(playbook("lb.yml"), "-e", json.dumps({"nginx_vhosts": broken}))
    assert result.returncode != 0
    assert f"nginx -t refused {VHOST}" in result.stdout, result.stdout[-3000:]
    # nginx's own words, with the live path.
    assert 'invalid value "maybe" in "proxy_buffering" directive' in result.stdout
    assert f"in {VHOST}:" in result.stdout  # the line of the refused file
    assert lb.check_output(f"sha256sum {VHOST}") == before
    assert "maybe" not in lb.file("/etc/nginx/sites-enabled/fpops-api.conf").content_string
    assert nginx_master_pid(lb) == pid
    assert https("/still-serving").status == 200


@pytest.fixture(scope="module")
def switched(lb, lb_address, https):
    """One re-converge of the web tier with the maintenance switch on and the sandbox's
    certificate source (internal CA), both applied by a reload; then a converge with the
    scenario's settings puts pebble's certificate back and reopens the site, again by reload."""
    pid = nginx_master_pid(lb)
    extra = {"nginx_maintenance": True, "certbot_source": "internal_ca"}
    result = run_playbook(playbook("lb.yml"), "-e", json.dumps(extra))
    yield result, pid
    restore = run_playbook(playbook("lb.yml"))
    assert restore.returncode == 0, restore.stdout[-3000:]
    assert "Pebble Intermediate CA" in certificate_field(served_certificate(lb_address), "-issuer")
    assert https("/anything").status == 200
    assert nginx_master_pid(lb) == pid


def test_maintenance_switch(switched, lb, app, https):
    result, pid = switched
    assert result.returncode == 0, result.stdout[-3000:]
    page = https("/anything", ca=INTERNAL_CA)
    assert page.status == 503
    assert b"maintenance" in page.body
    assert page.headers["retry-after"] == "600"
    assert "strict-transport-security" in page.headers
    assert "content-security-policy" in page.headers
    health = https("/health", ca=INTERNAL_CA)
    assert health.status == 200
    assert health.json() == {"status": "ok"}
    # web-app is in nginx_maintenance_allow: the operator still sees the site.
    assert curl_from(app, f"https://{DOMAIN}/anything") == "200"
    assert nginx_master_pid(lb) == pid


def test_internal_ca_source_serves_at_the_same_paths(switched, lb, lb_address):
    result, pid = switched
    assert result.returncode == 0, result.stdout[-3000:]
    pem = served_certificate(lb_address)
    assert "fpops internal CA" in certificate_field(pem, "-issuer")
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(INTERNAL_CA)],
        input=pem,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for name, target in (("fullchain.pem", "tls-api.crt"), ("privkey.pem", "private/tls-api.key")):
        link = lb.check_output(f"readlink /etc/fpops/tls/api/{name}")
        assert link == f"/etc/fpops/pki/{target}"
    assert nginx_master_pid(lb) == pid
