"""infra/lib.sh's helpers, run in bash as infra/*.sh run them."""

import hashlib
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from compressor_kit.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "infra" / "lib.sh"


def run_bash(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f'source "{LIB}"\n{script}'],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )


def test_wait_for_retries_until_the_command_succeeds(tmp_path: Path) -> None:
    result = run_bash(
        """
        third_try() { echo x >> tries; [ "$(wc -l < tries)" -ge 3 ]; }
        wait_for 5 third_try && echo "ok after $(wc -l < tries)"
        """,
        tmp_path,
    )
    assert result.stdout.strip() == "ok after 3", result.stderr


def test_wait_for_gives_up_when_time_runs_out(tmp_path: Path) -> None:
    result = run_bash("wait_for 1 false; echo rc=$?", tmp_path)
    assert result.stdout.strip() == "rc=1", result.stderr


def test_a_clock_jumping_forward_does_not_cut_the_wait_short(tmp_path: Path) -> None:
    # A paused or restored VM's clock can jump; bash's SECONDS follows it. Here the first try jumps
    # it by a day: the wait still retries for its second (4 naps of 0.25 s) before giving up.
    result = run_bash(
        """
        jumps_then_fails() { echo x >> tries; SECONDS=$((SECONDS + 86400)); false; }
        wait_for 1 jumps_then_fails; echo "rc=$? tries=$(wc -l < tries)"
        """,
        tmp_path,
    )
    assert result.stdout.strip() == "rc=1 tries=5", result.stderr


@pytest.mark.needs_servers  # node and the provider's npm modules, which `make infra-up` installs
def test_a_provider_start_that_hangs_is_stopped_and_started_once_more(tmp_path: Path) -> None:
    # `node` is wrapped: its first start of the provider hangs (a node that never listens, with the same
    # command line, so the script sees it as its own), the second runs the real one. The provider gets
    # its own port, state directory and signing keys, so the suite's provider on :9400 is not touched.
    real_node = shutil.which("node")
    modules = ROOT / "infra/idp/node_modules"
    if real_node is None or not modules.is_dir():
        pytest.fail("node and infra/idp/node_modules are needed: `make infra-up` installs them")
    state = tmp_path / "var"
    (state / "idp").mkdir(parents=True)
    lock = (ROOT / "infra/idp/package-lock.json").read_bytes()
    (state / "idp/package-lock.sha256").write_text(hashlib.sha256(lock).hexdigest() + "\n")
    wrapper = tmp_path / "bin/node"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ ! -e "{tmp_path}/hung" ]; then touch "{tmp_path}/hung"; '
        f"exec {real_node} -e 'setInterval(() => {{}}, 1000)' \"$@\"; fi\n"
        f'exec {real_node} "$@"\n'
    )
    wrapper.chmod(0o755)
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{wrapper.parent}:{os.environ['PATH']}",
        "INFRA_VAR": str(state),
        "IDP_PORT": str(port),
        "IDP_KEYS_FILE": str(tmp_path / "keys.json"),
        "IDP_START_SECONDS": "5",
    }
    script = ROOT / "infra/idp.sh"
    try:
        started = subprocess.run(
            ["bash", str(script), "start"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert started.returncode == 0, started.stdout + started.stderr
        assert "did not answer within 5 s; stopping it and starting the provider once more" in started.stdout
        assert f"started (node pid {(state / 'idp/idp.pid').read_text().strip()}" in started.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=5) as answer:
            assert json.load(answer)["issuer"] == f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, capture_output=True, timeout=60, check=False)
