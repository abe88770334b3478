"""Certificates: issued by pebble through certbot's http-01 webroot, renewed by the timer's
command with a new serial served by nginx, without a restart or a failed request."""

import threading
import time

from conftest import (
    ACME_DIRECTORY,
    DOMAIN,
    DOMAINS,
    certificate_field,
    nginx_master_pid,
    served_certificate,
)


def test_served_certificate_is_pebbles_for_every_name(https, lb_address, pebble_root):
    # The https fixture trusts pebble's root only: a 200 means the served chain verifies against it.
    for name in DOMAINS:
        assert https("/", host=name).status == 200
    pem = served_certificate(lb_address)
    assert "Pebble Intermediate CA" in certificate_field(pem, "-issuer")
    sans = certificate_field(pem, "-ext", "subjectAltName")
    assert all(f"DNS:{name}" in sans for name in DOMAINS)
    # ECDSA P-256: what Mozilla's intermediate profile asks of a certificate.
    text = certificate_field(pem, "-text")
    assert "id-ecPublicKey" in text
    assert "prime256v1" in text


def test_certbot_got_it_by_http01_through_nginx(lb):
    renewal = lb.file("/etc/letsencrypt/renewal/api.conf")
    assert renewal.exists
    assert "authenticator = webroot" in renewal.content_string
    assert f"server = {ACME_DIRECTORY}" in renewal.content_string
    # pebble fetched the challenge from the webroot over port 80 (real validation).
    log = lb.check_output(
        "grep -h '/.well-known/acme-challenge/' /var/log/nginx/access.log*"
        ' | grep \'"client":"172.30.4.20"\''
    )
    assert '"status":200' in log
    for name in ("fullchain.pem", "privkey.pem"):
        link = lb.check_output(f"readlink /etc/fpops/tls/api/{name}")
        assert link == f"/etc/letsencrypt/live/api/{name}"


def test_renewal_runs_from_the_timer_only(lb):
    assert lb.service("certbot.timer").is_enabled
    assert lb.service("certbot.timer").is_running
    assert not lb.file("/etc/cron.d/certbot").exists
    assert "certbot" not in lb.run("crontab -l -u root").stdout
    hook = lb.file("/etc/letsencrypt/renewal-hooks/deploy/fpops-reload-nginx")
    assert hook.exists
    assert hook.mode == 0o755
    # The service the timer starts trusts pebble's API certificate, and succeeds (nothing is due).
    assert "REQUESTS_CA_BUNDLE=" in lb.check_output("systemctl show -p Environment certbot.service")
    lb.check_output("systemctl start certbot.service")
    assert lb.service("certbot.service").systemd_properties["Result"] == "success"


def test_forced_renewal_is_served_without_restart_or_failed_request(lb, lb_address, https):
    before_serial = certificate_field(served_certificate(lb_address), "-serial")
    before_pid = nginx_master_pid(lb)
    results: list[int | str] = []
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                results.append(https("/renewal-probe").status)
            except Exception as exc:  # any failed request fails the test
                results.append(repr(exc))
            time.sleep(0.02)

    loader = threading.Thread(target=load)
    loader.start()
    started = time.monotonic()
    try:
        # What certbot.timer runs (certbot.service: `certbot -q renew`, with the unit's
        # environment), forced; the deploy hook reloads nginx.
        environment = lb.check_output("systemctl show -p Environment --value certbot.service")
        renew = lb.run(
            "systemd-run --wait --collect --quiet "
            + " ".join(f"-p Environment={item}" for item in environment.split())
            + " /usr/bin/certbot -q renew --force-renewal --no-random-sleep-on-renew"
        )
        renewed = time.monotonic() - started
        assert renew.rc == 0, renew.stdout + renew.stderr
        deadline = time.monotonic() + 15
        after_serial = before_serial
        while after_serial == before_serial and time.monotonic() < deadline:
            time.sleep(0.5)
            after_serial = certificate_field(served_certificate(lb_address), "-serial")
        time.sleep(1)
    finally:
        stop.set()
        loader.join()
    print(f"renewal took {renewed:.1f} s; {len(results)} requests during it")
    assert after_serial != before_serial, "nginx still serves the old certificate"
    assert nginx_master_pid(lb) == before_pid, "nginx was restarted, not reloaded"
    assert results
    failed = [r for r in results if r != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
    log = lb.check_output("tail -n 200 /var/log/letsencrypt/letsencrypt.log")
    assert "fpops-reload-nginx" in log
    assert https("/", host=DOMAIN).status == 200
