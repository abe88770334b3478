"""The `fpops` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from fpops import __version__, sandbox, secrets
from fpops.docker import DockerError
from fpops.exitcodes import ExitCode
from fpops.project import ProjectError, find_project_dir
from fpops.provision import deploy_request, provision_request, rollback_request, run_playbook
from fpops.sandbox_spec import SpecError
from fpops.view import OutputMode


class Parser(argparse.ArgumentParser):
    """argparse, but bad usage exits with ExitCode.BAD_INPUT instead of 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(prog="fpops", description="Ops automation for the FootballPrediction platform.")
    parser.add_argument("--version", action="version", version=f"fpops {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    box = commands.add_parser("sandbox", help="local containers that stand in for the hosts")
    box_commands = box.add_subparsers(dest="action", required=True, metavar="ACTION")
    box_commands.add_parser("up", help="create the containers and inventories/sandbox/hosts.yml")
    box_commands.add_parser("down", help="remove the containers, network and hosts.yml")
    box_status = box_commands.add_parser("status", help="container state and SSH reachability")
    box_status.add_argument("--json", action="store_true", help="print a JSON list")

    vault = commands.add_parser("secrets", help="the ansible-vault file of an environment")
    vault_commands = vault.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = vault_commands.add_parser(
        "init", help="create the vault password and vault file; add missing secrets"
    )
    init.add_argument(
        "environment",
        metavar="ENV",
        help="a directory under inventories/ (any name with --vault-file)",
    )
    init.add_argument(
        "--vault-file",
        metavar="PATH",
        type=Path,
        help="the encrypted vars file (default: inventories/ENV/group_vars/all/vault.yml)",
    )
    init.add_argument(
        "--password-file",
        metavar="PATH",
        type=Path,
        help="vault password file, or an executable client script"
        f" (default: ${secrets.PASSWORD_FILE_ENV}, else .fpops/ENV/vault-password)",
    )

    provision = commands.add_parser("provision", help="run playbooks/site.yml on an environment")
    provision.add_argument("environment", metavar="ENV", help="a directory under inventories/")
    provision.add_argument("--check", action="store_true", help="dry run: change nothing")
    provision.add_argument("--diff", action="store_true", help="show file changes")
    add_run_options(provision)

    deploy = commands.add_parser(
        "deploy", help="zero-downtime deploy of a release to the app hosts (playbooks/deploy.yml)"
    )
    deploy.add_argument("environment", metavar="ENV", help="a directory under inventories/")
    deploy.add_argument("version", metavar="VERSION", help="the release to deploy")
    deploy.add_argument("--serial", type=int, metavar="N", help="app hosts switched per batch")
    deploy.add_argument(
        "--skip-migrations", action="store_true", help="do not run the database migrations"
    )
    add_run_options(deploy)

    rollback = commands.add_parser(
        "rollback", help="back to the previous good release (playbooks/rollback.yml)"
    )
    rollback.add_argument("environment", metavar="ENV", help="a directory under inventories/")
    rollback.add_argument("--to", metavar="VERSION", help="this release instead of the previous")
    rollback.add_argument(
        "--downgrade-migrations",
        action="store_true",
        help="also downgrade the database to the target's migration head (drops newer columns)",
    )
    add_run_options(rollback)
    return parser


def add_run_options(command: argparse.ArgumentParser) -> None:
    """Options every playbook command shares."""
    command.add_argument("--limit", metavar="PATTERN", help="only these hosts or groups")
    output = command.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per event line")
    output.add_argument("--quiet", action="store_true", help="only failures and a summary line")
    command.add_argument(
        "-v", "--verbose", action="count", default=0, help="more ansible output (repeatable)"
    )


def output_mode(args: argparse.Namespace) -> OutputMode:
    if args.json:
        return OutputMode.JSON
    if args.quiet:
        return OutputMode.QUIET
    return OutputMode.HUMAN


def dispatch(args: argparse.Namespace, console: Console) -> ExitCode:
    project_dir = find_project_dir()
    if args.command == "sandbox":
        return run_sandbox(args, project_dir, console)
    if args.command == "secrets":
        return secrets.run_init(
            project_dir, args.environment, console, args.vault_file, args.password_file
        )
    if args.command == "deploy":
        request = deploy_request(
            project_dir,
            args.environment,
            args.version,
            serial=args.serial,
            skip_migrations=args.skip_migrations,
            limit=args.limit,
            verbosity=args.verbose,
        )
        return run_playbook(request, output_mode(args), console)
    if args.command == "rollback":
        request = rollback_request(
            project_dir,
            args.environment,
            args.to,
            limit=args.limit,
            verbosity=args.verbose,
            downgrade_migrations=args.downgrade_migrations,
        )
        return run_playbook(request, output_mode(args), console)
    request = provision_request(
        project_dir,
        args.environment,
        limit=args.limit,
        check=args.check,
        diff=args.diff,
        verbosity=args.verbose,
    )
    return run_playbook(request, output_mode(args), console)


def run_sandbox(args: argparse.Namespace, project_dir: Path, console: Console) -> ExitCode:
    if args.action == "up":
        return sandbox.up(project_dir, console)
    if args.action == "down":
        return sandbox.down(project_dir, console)
    return sandbox.status(project_dir, console, as_json=args.json)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, bad usage
        return exc.code if isinstance(exc.code, int) else int(ExitCode.BAD_INPUT)
    console = Console()
    errors = Console(stderr=True)
    try:
        return int(dispatch(args, console))
    except (ProjectError, SpecError) as exc:
        errors.print(f"fpops: {exc}", style="red", markup=False, highlight=False)
        return int(ExitCode.BAD_INPUT)
    except secrets.SecretsError as exc:
        errors.print(f"fpops: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
        return int(exc.code)
    except (DockerError, sandbox.SandboxError) as exc:
        errors.print(f"fpops: {exc}", style="red", markup=False, highlight=False)
        return int(ExitCode.FAILED)
    except KeyboardInterrupt:
        errors.print("fpops: interrupted", style="red")
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
