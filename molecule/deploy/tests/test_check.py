"""Check mode on the converged deploy hosts changes nothing (runs before test_deploy.py's
deploys, on the hosts exactly as converge and idempotence left them)."""

from conftest import project_dir, recap, run_playbook

SITE = project_dir() / "playbooks" / "site.yml"


def test_check_mode_on_converged_hosts_changes_nothing():
    result = run_playbook(SITE, "--check")
    assert result.returncode == 0, result.stdout[-3000:]
    counters = recap(result.stdout)
    assert counters, result.stdout[-3000:]
    changed = {name: c["changed"] for name, c in counters.items() if c["changed"]}
    assert changed == {}, result.stdout[-3000:]
