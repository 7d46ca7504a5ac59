"""Every `pulumi config set` README shows, run one after the other by the real Pulumi CLI on a stack
of their own: the CLI takes each one (it refuses, for instance, a secret-looking value set without
`--secret` under a key that looks like a password: pkg/cmd/pulumi/config/config.go looksLikeSecret,
keys matching pass|pwd|secret|token only), and after each, the stack file the CLI wrote passes the
config check `pulumi up` applies before the program runs (tests/engine/pulumi_cli.stack_errors: a
real preview with README's Datadog keys would need the datadog provider, which cannot be built
here). Every optional secret README sets (the Datadog keys, the passwords) must be set with
`--secret` and end up encrypted in the stack file: the CLI alone would take `ddApiKey` in clear.
"""
from __future__ import annotations

import re
import secrets
import shlex
import shutil
import tempfile
from pathlib import Path

import yaml
from pulumi import automation as auto

from components import settings as lab_settings
from tests.engine import pulumi_cli
from tests.integration import real_lab

REPO = real_lab.REPO
PROJECT = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
README = (REPO / "README.md").read_text()
STACK = "readme-check"


def readme_config_commands() -> list[list[str]]:
    """Every `pulumi config set ...` README shows, in shell blocks and inline, as argv, in order."""
    lines = []
    for block, inline in re.findall(r"```bash\n(.*?)```|`(pulumi config set [^`\n]+)`", README, re.S):
        lines += [line.split(" #", 1)[0].strip() for line in block.splitlines()] if block else [inline]
    return [shlex.split(re.sub(r"<[^>]+>", "PLACEHOLDER", line).replace("$HOME", "/home/me"))
            for line in lines if line.startswith("pulumi config set ") and " KEY " not in line]


def test_readme_config_commands_pass_the_real_cli_one_after_the_other():
    commands = readme_config_commands()
    assert len(commands) >= 3, commands
    documented = {*PROJECT["config"], *lab_settings.OPTIONAL_SECRETS}
    stack_file = REPO / f"Pulumi.{STACK}.yaml"
    home = Path(tempfile.mkdtemp(prefix="credit-lab-readme-"))
    options = real_lab.workspace(home)
    workspace = auto.LocalWorkspace(work_dir=options.work_dir, pulumi_home=options.pulumi_home,
                                    env_vars=options.env_vars, pulumi_command=options.pulumi_command)
    stack_file.unlink(missing_ok=True)
    workspace.create_stack(STACK)
    secret_keys_set = set()
    try:
        for argv in commands:
            key, *value = [a for a in argv[3:] if not a.startswith("--")]
            assert key in documented or ":" in key, f"README sets {key}, which README's table does not document"
            flags = [a for a in argv[3:] if a.startswith("--")]
            if key in lab_settings.OPTIONAL_SECRETS:
                assert "--secret" in flags, f"README sets the secret {key} without --secret: {' '.join(argv)}"
                secret_keys_set.add(key)
            if not value or value[0] in ("…", "PLACEHOLDER"):
                # README's placeholders: a realistic value; a secret as random as a real key, so the
                # CLI's own entropy check would refuse it set in clear under a password-like key.
                value = [secrets.token_urlsafe(24) if key in lab_settings.OPTIONAL_SECRETS else
                         str(PROJECT["config"].get(key, {}).get("default", "sample-value-0123456789"))]
            options.pulumi_command.run(["config", "set", *flags, key, *value, "--stack", STACK], str(REPO),
                                       options.env_vars)
            config = pulumi_cli.stack_config(stack_file.read_text() if stack_file.exists() else None)
            assert pulumi_cli.stack_errors(PROJECT, STACK, config) == [], " ".join(argv)
        assert {"ddApiKey", "ddAppKey"} <= secret_keys_set, f"README sets only {sorted(secret_keys_set)} of the Datadog keys"
        stored = (yaml.safe_load(stack_file.read_text()) or {}).get("config", {})
        for key in secret_keys_set:
            value = stored.get(f"{PROJECT['name']}:{key}")
            assert isinstance(value, dict) and "secure" in value, f"{key} is in the stack file as {value!r}, not encrypted"
    finally:
        workspace.remove_stack(STACK)
        stack_file.unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)
