"""HTTP behaviour: redirects, the ACME path, headers, the upstream, request ids, JSON logs,
stub_status, allow/deny lists and rate limits. The rate-limit test drains web-app's budget,
so it stays last in this file."""

import json
import re
import subprocess
import time

from conftest import ADDRESSES, DOMAIN, RUNNER, curl_from, nginx_master_pid
from helpers import rotate_logs

SECURITY_HEADERS = (
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "permissions-policy",
)


def plain_http(address: str, path: str) -> tuple[int, dict[str, str]]:
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--max-time",
            "5",
            "--resolve",
            f"{DOMAIN}:80:{address}",
            f"http://{DOMAIN}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.strip().splitlines()
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}


def test_http_redirects_to_https(lb_address):
    status, headers = plain_http(lb_address, "/some/path?x=1")
    assert status == 301
    assert headers["location"] == f"https://{DOMAIN}/some/path?x=1"


WEBROOT = "/var/lib/fpops/acme-webroot/.well-known/acme-challenge"


def test_acme_challenge_path_is_served_not_redirected(lb, lb_address):
    lb.check_output(f"mkdir -p {WEBROOT} && echo token-body > {WEBROOT}/probe-token")
    try:
        status, _ = plain_http(lb_address, "/.well-known/acme-challenge/probe-token")
        assert status == 200
        status, _ = plain_http(lb_address, "/.well-known/acme-challenge/missing")
        assert status == 404
    finally:
        lb.run(f"rm -f {WEBROOT}/probe-token")


def test_security_headers_and_server_banner(https):
    response = https("/")
    assert response.status == 200
    missing = [name for name in SECURITY_HEADERS if name not in response.headers]
    assert not missing
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["server"] == "nginx"
    assert "x-powered-by" not in response.headers
    # Also on errors nginx makes itself.
    assert "strict-transport-security" in https("/admin/x", host="api.fpops.test").headers


def test_upstream_gets_forwarded_headers_and_request_id(https):
    response = https("/echo", headers={"X-Request-ID": "test-id-42", "X-Forwarded-For": "6.6.6.6"})
    echoed = response.json()["headers"]
    assert echoed["x-request-id"] == "test-id-42"
    assert response.headers["x-request-id"] == "test-id-42"
    # nginx is the edge: a client's X-Forwarded-For is replaced by its real address.
    assert echoed["x-forwarded-for"] == RUNNER
    assert echoed["x-real-ip"] == RUNNER
    assert echoed["x-forwarded-proto"] == "https"
    assert echoed["x-forwarded-host"] == DOMAIN
    assert echoed["host"] == DOMAIN
    assert echoed.get("connection", "") != "close"  # keep-alive upstream


def test_request_id_is_generated_and_logged_as_json(https, lb):
    response = https("/logged", headers={"X-Request-ID": "bad id with spaces"})
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.json()["headers"]["x-request-id"] == request_id
    line = lb.check_output(f'grep -h \'"request_id":"{request_id}"\' /var/log/nginx/access.log')
    entry = json.loads(line.splitlines()[-1])
    for field in (
        "time",
        "status",
        "upstream_response_time",
        "bytes",
        "client",
        "method",
        "uri",
        "user_agent",
    ):
        assert field in entry
    assert entry["status"] == 200
    assert entry["client"] == RUNNER
    assert entry["uri"] == "/logged"
    assert entry["upstream"] == f"{ADDRESSES['web-app']}:8000"


def test_logs_rotate_and_nginx_writes_to_the_new_file(https, lb):
    """/etc/logrotate.d/nginx (nginx_log_retention_days): the whole logrotate configuration
    parses without error; a forced rotation moves the log to .1, nginx reopens its files on USR1
    (same master, no restart) and the next request is logged in the new file."""
    assert "rotate 14" in lb.file("/etc/logrotate.d/nginx").content_string
    master = nginx_master_pid(lb)
    https("/before-rotation")
    rotate_logs(lb, "nginx")
    assert lb.run("grep -F /before-rotation /var/log/nginx/access.log.1").rc == 0
    # nginx writes each access line when the request ends (no buffer= in access_log).
    request_id = https("/after-rotation").headers["x-request-id"]
    assert lb.run(f"grep -F {request_id} /var/log/nginx/access.log").rc == 0
    assert nginx_master_pid(lb) == master


def test_upstream_is_built_from_the_app_group(lb):
    conf = lb.file("/etc/nginx/conf.d/fpops.conf").content_string
    assert "include upstream.d/fpops_api/*.conf;" in conf
    assert "keepalive 32;" in conf
    entry = lb.file("/etc/nginx/upstream.d/fpops_api/web-app.conf").content_string
    assert f"server {ADDRESSES['web-app']}:8000 max_fails=3 fail_timeout=10s;" in entry


def test_upstream_switch_moves_one_host_with_a_reload(lb, https):
    switch = "/usr/local/lib/fpops/nginx-upstream-switch"
    entry = "/etc/nginx/upstream.d/fpops_api/web-app.conf"
    assert lb.check_output(f"{switch} web-app 8000") == "unchanged"
    pid = nginx_master_pid(lb)
    try:
        assert lb.check_output(f"{switch} web-app 8001") == "switched web-app 8000 -> 8001"
        assert f"{ADDRESSES['web-app']}:8001 " in lb.file(entry).content_string
    finally:
        assert lb.check_output(f"{switch} web-app 8000") == "switched web-app 8001 -> 8000"
    assert nginx_master_pid(lb) == pid
    assert https("/after-switch").status == 200
    unknown = lb.run(f"{switch} nope 8001")
    assert unknown.rc == 2 and "nope is not in the API upstream" in unknown.stderr
    assert lb.run(f"{switch} web-app 70000").rc == 2


def test_stub_status_only_on_loopback(lb, lb_address):
    assert "Active connections" in lb.check_output("curl -s http://127.0.0.1:8080/stub_status")
    assert lb.socket("tcp://127.0.0.1:8080").is_listening
    assert not lb.socket(f"tcp://{lb_address}:8080").is_listening
    assert not lb.socket("tcp://0.0.0.0:8080").is_listening


def test_denied_client_gets_403(https, app):
    # /admin/ allows the test runner only.
    assert https("/admin/panel").status == 200
    assert curl_from(app, f"https://{DOMAIN}/admin/panel") == "403"
    assert curl_from(app, f"https://{DOMAIN}/other") == "200"


def test_rate_limit_per_client_with_exempt_list(app, https):
    # 110 requests at once from web-app (40 in flight, under the connection limit of 50): 1 + burst
    # (99) pass, plus the few the bucket refills while they run (100 a minute); the rest get 429.
    # The earlier tests' requests from web-app drain from the bucket at that rate (0.6 s each).
    time.sleep(3)
    started = time.monotonic()
    codes = app.check_output(
        "curl -sk --parallel --parallel-immediate --parallel-max 40"
        " --resolve lb.fpops.test:443:172.30.4.10 -w '%{http_code}\\n' "
        + " ".join(["-o /dev/null https://lb.fpops.test/limited"] * 110)
    ).split()
    elapsed = time.monotonic() - started
    passed, limited = codes.count("200"), codes.count("429")
    print(f"rate limit: {passed} passed, {limited} got 429 of 110 sent in {elapsed:.1f} s")
    assert passed + limited == 110, codes
    # The bucket refills one request per 0.6 s while the burst runs: on a busy machine (CI runs
    # two suites at once) the burst takes longer and a few more pass; never more than that.
    assert 100 <= passed <= 101 + int(elapsed / 0.6), (passed, elapsed)
    # The test runner is in nginx_rate_limit_exempt: never limited.
    statuses = [https("/exempt").status for _ in range(110)]
    assert statuses == [200] * 110
