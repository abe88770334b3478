"""TLS: 1.2 and 1.3 only, Mozilla intermediate ciphers and groups, HSTS, testssl.sh clean."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import DOMAIN, certificate_field, served_certificate

# Mozilla's intermediate configuration (v5.7) without the DHE suites (the role is ECDHE-only).
MOZILLA_INTERMEDIATE = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
}
# What testssl.sh's findings may say and still count as no vulnerability.
ACCEPTABLE = {"OK", "INFO", "LOW"}


def s_client(address: str, *options: str) -> str:
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"{address}:443", "-servername", DOMAIN, *options],
        input="",
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_protocols_are_refused(lb_address, version):
    # SECLEVEL=0 lets this client offer them: the refusal is the server's.
    out = s_client(lb_address, version, "-cipher", "DEFAULT@SECLEVEL=0")
    assert "alert protocol version" in out or "no protocols available" in out, out[-1500:]
    assert "BEGIN CERTIFICATE" not in out


@pytest.mark.parametrize(("version", "protocol"), [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_current_protocols_work(lb_address, version, protocol):
    out = s_client(lb_address, version)
    assert f"Protocol  : {protocol}" in out or f"New, {protocol}" in out, out[-1500:]
    assert "Secure Renegotiation IS supported" in out or protocol == "TLSv1.3"


def test_no_session_tickets(lb_address):
    out = s_client(lb_address, "-tls1_2")
    assert "Protocol  : TLSv1.2" in out or "New, TLSv1.2" in out, out[-1500:]  # a handshake
    assert "TLS session ticket:" not in out


def test_unknown_name_gets_no_certificate(lb_address):
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"{lb_address}:443", "-servername", "nope.example"],
        input="",
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert "BEGIN CERTIFICATE" not in out.stdout
    assert "unrecognized name" in out.stderr


def test_hsts_is_at_least_a_year(https):
    hsts = https("/").headers["strict-transport-security"]
    max_age = int(hsts.split("max-age=")[1].split(";")[0])
    assert max_age >= 31536000
    assert "includeSubDomains" in hsts


@pytest.fixture(scope="module")
def testssl(lb_address, pebble_root, tmp_path_factory):
    """One testssl.sh run (protocols, cipher categories, ciphers per protocol, vulnerabilities,
    headers) against the lb's address only; its JSON findings."""
    binary = shutil.which("testssl") or shutil.which("testssl.sh")
    if binary is None:
        pytest.fail(
            "testssl.sh is not installed on the test runner (scripts/bootstrap installs it)"
        )
    out = tmp_path_factory.mktemp("testssl") / "findings.json"
    run = subprocess.run(
        [
            binary,
            "--quiet",
            "--color",
            "0",
            "--warnings",
            "off",
            "--add-ca",
            str(pebble_root),
            "--jsonfile",
            str(out),
            "--ip",
            lb_address,
            "-p",
            "-s",
            "-E",
            "-U",
            "-h",
            f"https://{DOMAIN}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.exists(), run.stdout[-3000:] + run.stderr[-2000:]
    return json.loads(out.read_text())


def test_testssl_finds_no_vulnerability(testssl, lb_address):
    problems = [
        f"{f['id']}: {f['severity']} {f['finding']}"
        for f in testssl
        if f["severity"] not in ACCEPTABLE and f["id"] not in {"engine_problem", "secure_renego"}
    ]
    assert not problems
    # testssl.sh 3.0's own renegotiation probe sends no SNI, which the server refuses; the
    # same check with SNI is in test_current_protocols_work.
    renego = next(f for f in testssl if f["id"] == "secure_renego")
    assert renego["severity"] in ACCEPTABLE or "handshake didn't succeed" in renego["finding"]
    protocols = {
        f["id"]: f["finding"] for f in testssl if f["id"] in {"TLS1", "TLS1_1", "TLS1_2", "TLS1_3"}
    }
    assert protocols["TLS1"].startswith("not offered")
    assert protocols["TLS1_1"].startswith("not offered")
    assert protocols["TLS1_2"].startswith("offered")
    assert protocols["TLS1_3"].startswith("offered")


def test_sslyze_reports_mozilla_intermediate_compliance(lb_address, pebble_root):
    # sslyze lives in its own venv (scripts/bootstrap): it pins an older cryptography.
    sslyze = Path(__file__).parents[3] / ".venv-tools" / "bin" / "sslyze"
    run = subprocess.run(
        [
            str(sslyze),
            "--mozilla_config=intermediate",
            f"--certinfo_ca_file={pebble_root}",
            f"{DOMAIN}:443{{{lb_address}}}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    print(run.stdout[-1500:])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
    assert "is compliant" in run.stdout or "Compliant" in run.stdout


def test_ciphers_are_mozilla_intermediate(testssl):
    """The same profile from testssl's list of accepted suites: only ECDHE with AEAD for
    TLS 1.2, the standard TLS 1.3 suites, nothing older."""
    accepted = {
        f["finding"].split()[-1]
        for f in testssl
        if f["id"].startswith(("cipher-tls1_2", "cipher-tls1_3"))
    }
    assert accepted
    assert accepted <= MOZILLA_INTERMEDIATE, accepted - MOZILLA_INTERMEDIATE
    assert not any(
        f["id"].startswith(("cipher-tls1_x", "cipher-tls1_1", "cipher-ssl")) for f in testssl
    )


def test_ocsp_stapling_follows_the_certificate(lb, lb_address):
    # pebble's certificates name no OCSP responder: stapling stays off (nginx would only warn).
    pem = served_certificate(lb_address)
    assert "OCSP" not in certificate_field(pem, "-ext", "authorityInfoAccess")
    assert (
        "ssl_stapling on;"
        not in lb.file("/etc/nginx/sites-available/fpops-api.conf").content_string
    )
