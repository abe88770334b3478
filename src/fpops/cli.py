"""The `fpops` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from fpops import __version__, admin, check, data_ops, newenv, sandbox, secrets, status
from fpops.docker import DockerError
from fpops.exitcodes import ExitCode
from fpops.operation import Operation, perform
from fpops.project import ProjectError, find_project_dir
from fpops.provision import (
    deploy_request,
    provision_request,
    renew_certs_request,
    rollback_request,
)
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

    add_new_environment_commands(commands)
    provision = env_command(commands, "provision", help="run playbooks/site.yml on an environment")
    add_run_options(provision)
    provision.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TIER[,TIER]",
        help="converge only these tiers of site.yml: base, database, cache, app, lb, monitoring,"
        " firewall (the input checks and the lock always run)",
    )

    deploy = env_command(
        commands,
        "deploy",
        help="zero-downtime deploy of a release to the app hosts (playbooks/deploy.yml)",
    )
    deploy.add_argument("version", metavar="VERSION", help="the release to deploy")
    deploy.add_argument("--serial", type=int, metavar="N", help="app hosts switched per batch")
    deploy.add_argument(
        "--skip-migrations", action="store_true", help="do not run the database migrations"
    )
    add_run_options(deploy)

    rollback = env_command(
        commands, "rollback", help="back to the previous good release (playbooks/rollback.yml)"
    )
    rollback.add_argument("--to", metavar="VERSION", help="this release instead of the previous")
    rollback.add_argument(
        "--downgrade-migrations",
        action="store_true",
        help="also downgrade the database to the target's migration head (drops newer columns)",
    )
    add_run_options(rollback)
    add_data_commands(commands)
    add_admin_commands(commands)
    return parser


def add_new_environment_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    """init, check."""
    init = commands.add_parser(
        "init", help="write inventories/ENV for new hosts (from inventories/example) and its vault"
    )
    init.add_argument("environment", metavar="ENV", help="the new environment's name")
    hosts = init.add_mutually_exclusive_group(required=True)
    hosts.add_argument(
        "--host",
        action="append",
        type=host_argument,
        metavar="NAME=ADDRESS:GROUP[,GROUP]",
        help="a host, its IP address and groups (repeat for each host)",
    )
    hosts.add_argument("--from", dest="from_file", type=Path, metavar="HOSTS.yml",
                       help="take the hosts and groups from this YAML inventory")  # fmt: skip
    init.add_argument("--admin-user", default="", metavar="NAME", help="the operators' account")
    init.add_argument(
        "--admin-key",
        type=Path,
        metavar="FILE",
        help="its SSH public key (e.g. ~/.ssh/id_ed25519.pub)",
    )
    init.add_argument("--admin-source", action="append", default=[], metavar="CIDR",
                      help="a network allowed to reach SSH (repeatable)")  # fmt: skip
    init.add_argument("--domain", action="append", default=[], metavar="NAME",
                      help="a public name of the API (repeatable)")  # fmt: skip
    init.add_argument("--acme-email", default="", metavar="ADDRESS", help="for the ACME account")

    verify = env_command(
        commands, "check", help="read-only: would a provision of ENV start? (hosts, vault, inputs)"
    )
    verify.add_argument("--json", action="store_true", help="the checks as one JSON object")


def host_argument(spec: str) -> newenv.Host:
    try:
        return newenv.parse_host(spec)
    except newenv.InitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def run_init(args: argparse.Namespace, project_dir: Path, console: Console) -> ExitCode:
    hosts = args.host or newenv.hosts_from_inventory(args.from_file)
    key = ""
    if args.admin_key:
        try:
            key = args.admin_key.read_text().strip()
        except OSError as exc:
            raise newenv.InitError(f"--admin-key {args.admin_key}: {exc.strerror}") from exc
    settings = newenv.Settings(
        args.admin_user, key, args.admin_source, args.domain, args.acme_email
    )
    return newenv.run(project_dir, args.environment, hosts, settings, console)


def add_data_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    """backup, restore, restore-point, drill, failover, rejoin."""
    backup = env_command(commands, "backup", help="an on-demand backup (playbooks/backup.yml)")
    backup.add_argument("--type", dest="kind", default="incr", choices=data_ops.BACKUP_TYPES)
    backup.add_argument("--what", default="all", choices=data_ops.BACKUP_WHAT)
    backup.add_argument("--repo", type=int, default=1, help="pgBackRest repository (2: S3)")
    add_run_options(backup)

    restore = env_command(
        commands,
        "restore",
        help="restore PostgreSQL: into the scratch instance, or --in-place (playbooks/restore.yml)",
    )
    restore.add_argument(
        "--target",
        default="latest",
        help="latest, a time ('2026-11-23 10:00:00+00'), a restore point name, or before:RELEASE",
    )
    restore.add_argument(
        "--in-place", action="store_true", help="replace the live database (asks first)"
    )
    restore.add_argument("--set", dest="backup_set", default="", help="restore from this backup")
    restore.add_argument("--repo", type=int, default=1, help="pgBackRest repository (2: S3)")
    restore.add_argument("--stanza", default="main", help="the pgBackRest stanza (confirmation)")
    restore.add_argument(
        "--redis",
        nargs="?",
        const="",
        default=None,
        metavar="ARCHIVE",
        help="restore Redis instead (playbooks/restore_redis.yml), from ARCHIVE on the backup"
        " host or the newest (asks first)",
    )
    add_run_options(restore)

    point = env_command(
        commands,
        "restore-point",
        help="a named restore point on the primary (playbooks/restore_point.yml)",
    )
    point.add_argument("name", metavar="NAME", help="restore later with --target NAME")
    add_run_options(point)

    drill = env_command(commands, "drill", help="restore drill (playbooks/drill.yml)")
    add_run_options(drill)

    renew = env_command(
        commands,
        "renew-certs",
        help="renew the internal CA's certificates that are due and reload their services, no"
        " converge (playbooks/renew_certificates.yml; examples/systemd runs it daily)",
    )
    add_run_options(renew)

    failover = env_command(
        commands,
        "failover",
        help="move PostgreSQL's primary: Patroni switchover, or promote + fence (asks first)",
    )
    failover.add_argument("--to", default="", metavar="HOST", help="the replica to promote")
    failover.add_argument(
        "--force", action="store_true", help="even if the replica lags or does not stream"
    )
    add_run_options(failover)

    rejoin = env_command(
        commands,
        "rejoin",
        help="rebuild a fenced former primary as a replica (playbooks/rejoin.yml; asks first)",
    )
    add_run_options(rejoin)


def add_admin_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    """lock, audit."""
    locks = commands.add_parser("lock", help="the environment lock")
    lock_commands = locks.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (("status", "who holds it"), ("release", "remove a stale lock")):
        sub = env_command(lock_commands, action, help=text)
        if action == "release":
            sub.add_argument("--force", action="store_true", help="even a live holder's lock")
    state = env_command(
        commands, "status", help="hosts, releases, databases, backups, certificates"
    )
    state.add_argument("--json", action="store_true", help="the status as one JSON object")
    log = env_command(commands, "audit", help="the environment's recent commands")
    log.add_argument("--last", type=int, default=20, metavar="N", help="how many (default 20)")
    log.add_argument("--json", action="store_true", help="JSON lines")


def env_command(
    commands: argparse._SubParsersAction[Parser], name: str, help: str
) -> argparse.ArgumentParser:
    """A subcommand whose first argument is the environment."""
    command = commands.add_parser(name, help=help)
    command.add_argument("environment", metavar="ENV", help="a directory under inventories/")
    return command


def add_run_options(command: argparse.ArgumentParser) -> None:
    """Options every playbook command shares."""
    command.add_argument("--limit", metavar="PATTERN", help="only these hosts or groups")
    command.add_argument("--check", action="store_true", help="dry run: change nothing")
    command.add_argument("--diff", action="store_true", help="show file changes")
    command.add_argument(
        "--yes", action="store_true", help="no confirmation question (restore, failover, rejoin)"
    )
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


def dispatch(args: argparse.Namespace, console: Console, argv: Sequence[str] = ()) -> ExitCode:
    project_dir = find_project_dir()
    if args.command == "sandbox":
        return run_sandbox(args, project_dir, console)
    if args.command == "secrets":
        return secrets.run_init(
            project_dir, args.environment, console, args.vault_file, args.password_file
        )
    if args.command in ("lock", "audit"):
        return admin.run(args, project_dir, console)
    if args.command == "init":
        return run_init(args, project_dir, console)
    # Every other command runs playbooks on ENV: a vault password from nowhere else is asked for.
    secrets.prompt_for_password(project_dir, args.environment)
    if args.command == "status":
        return status.run(project_dir, args.environment, args.json, console)
    if args.command == "check":
        return check.run(project_dir, args.environment, args.json, console)
    op = operation_for(args, project_dir, argv)
    op = replace(op, request=replace(op.request, check=args.check, diff=args.diff))
    return perform(op, output_mode(args), console, yes=args.yes)


def operation_for(args: argparse.Namespace, project_dir: Path, argv: Sequence[str]) -> Operation:
    """What a playbook command runs, and how carefully."""
    env, verbosity = args.environment, args.verbose
    if args.command == "deploy":
        request = deploy_request(
            project_dir,
            env,
            args.version,
            serial=args.serial,
            skip_migrations=args.skip_migrations,
            limit=args.limit,
            verbosity=verbosity,
        )
        return Operation(request, argv, release=args.version)
    if args.command == "rollback":
        request = rollback_request(
            project_dir,
            env,
            args.to,
            limit=args.limit,
            verbosity=verbosity,
            downgrade_migrations=args.downgrade_migrations,
        )
        confirm = ""
        if env == "production":
            confirm = (
                f"This rolls production back to {args.to or 'the previous good release'}"
                + (" and downgrades the database schema" if args.downgrade_migrations else "")
                + "."
            )
        return Operation(request, argv, release=args.to or "", confirm=confirm)
    if args.command == "backup":
        request = data_ops.backup_request(
            project_dir, env, args.kind, args.what, args.repo, args.limit, verbosity
        )
        return Operation(request, argv)
    if args.command == "restore" and args.redis is not None:
        postgresql_only = {
            "--target": args.target != "latest",
            "--in-place": args.in_place,
            "--set": bool(args.backup_set),
            "--repo": args.repo != 1,
        }
        if given := [option for option, used in postgresql_only.items() if used]:
            raise ProjectError(f"--redis restores Redis: {', '.join(given)} are PostgreSQL's")
        request, confirm = data_ops.redis_restore_request(project_dir, env, args.redis, verbosity)
        return Operation(request, argv, confirm=confirm)
    if args.command == "restore":
        request, confirm = data_ops.restore_request(
            project_dir,
            env,
            args.target,
            args.in_place,
            args.backup_set,
            args.repo,
            args.stanza,
            verbosity,
        )
        return Operation(request, argv, confirm=confirm)
    if args.command == "restore-point":
        request = data_ops.restore_point_request(project_dir, env, args.name, verbosity)
        return Operation(request, argv)
    if args.command == "rejoin":
        request, confirm = data_ops.rejoin_request(project_dir, env, verbosity)
        return Operation(request, argv, confirm=confirm)
    if args.command == "drill":
        return Operation(data_ops.drill_request(project_dir, env, verbosity), argv)
    if args.command == "renew-certs":
        return Operation(renew_certs_request(project_dir, env, args.limit, verbosity), argv)
    if args.command == "failover":
        request, confirm = data_ops.failover_request(
            project_dir, env, args.to, args.force, verbosity
        )
        return Operation(request, argv, confirm=confirm)
    request = provision_request(
        project_dir, env, limit=args.limit, verbosity=verbosity, only=args.only
    )
    return Operation(request, argv)


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
        return int(dispatch(args, console, list(argv if argv is not None else sys.argv[1:])))
    except (ProjectError, SpecError) as exc:
        errors.print(f"fpops: {exc}", style="red", markup=False, highlight=False)
        return int(ExitCode.BAD_INPUT)
    except newenv.InitError as exc:
        errors.print(f"fpops: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
        return int(exc.code)
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
