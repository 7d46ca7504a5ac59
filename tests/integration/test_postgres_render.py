"""components/render/postgres.py: what the Pulumi component hands the container."""
import subprocess

import pytest

from components import topology
from components.render import postgres as render


def test_server_args_carry_every_setting_once_as_c_pairs():
    args = render.server_args()
    settings = render.server_settings()
    assert args[0::2] == ["-c"] * len(settings)
    assert args[1::2] == [f"{k}={v}" for k, v in settings.items()]
    assert render.container_command() == ["postgres", *args]
    # Quoted values lose their quotes; an embedded space survives as one argv item.
    assert f"log_line_prefix={settings['log_line_prefix']}" in args and settings["log_line_prefix"].endswith(" ")
    assert settings["shared_preload_libraries"] == "pg_stat_statements,auto_explain"


@pytest.mark.parametrize("text,message", [
    ("work_mem = 4MB\nwork_mem = 8MB\n", r"server.conf:2: work_mem is set twice"),
    ("log_line_prefix = '%m [%p]\n", r"server.conf:1: not `key = value`"),
    ("= on\n", r"server.conf:1: not `key = value`"),
])
def test_bad_conf_lines_fail_with_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        render.parse_conf(text)


def test_parse_conf_handles_comments_quotes_and_bare_values():
    assert render.parse_conf("# c\n\na = 1  # why\nb='it''s # not a comment'\nc on\n") == {
        "a": "1", "b": "it's # not a comment", "c": "on"}


def test_uploads_put_init_scripts_in_the_entrypoint_directory_in_order():
    uploads = render.container_uploads()
    paths = [u.path for u in uploads]
    init = [p for p in paths if p.startswith(render.INITDB_DIR + "/") and p.count("/") == 2]
    assert init == sorted(init) and len(init) >= 5
    assert all(p.endswith(".sql") for p in init)     # nothing the entrypoint would source or ignore
    # Included files sit in a subfolder: the entrypoint ignores folders, psql \ir reads them.
    included = [p for p in paths if p.startswith(render.INITDB_DIR + "/") and p.count("/") > 2]
    assert included and all(p.endswith(".psql") for p in included)
    executables = {u.path for u in uploads if u.mode & 0o111}
    assert executables == {render.ENTRYPOINT_PATH, render.REAPPLY_PATH}
    # The reapply script runs as the image's postgres user (uid 70), not as the file's owner.
    assert all(u.mode == 0o755 for u in uploads if u.path in executables)
    assert render.container_entrypoint() == [render.ENTRYPOINT_PATH]
    for u in uploads:   # passwords come from the env, never a literal in a file
        assert "PASSWORD '" not in u.content, u.path


@pytest.mark.parametrize("script", ["entrypoint.sh", "reapply.sh"])
def test_shell_scripts_parse(script):
    subprocess.run(["bash", "-n", str(render.CONFIG_DIR / script)], check=True)


def test_entrypoint_hands_over_to_the_official_one():
    text = (render.CONFIG_DIR / "entrypoint.sh").read_text()
    assert text.rstrip().endswith('exec docker-entrypoint.sh "$@"')
    assert render.REAPPLY_PATH in text


def test_healthcheck_command():
    kind, command = render.healthcheck_command()
    assert kind == "CMD-SHELL" and "--host=127.0.0.1" in command and f"--dbname={topology.DATABASE}" in command
