"""infra/lib.sh's helpers, run in bash as infra/*.sh run them."""

import subprocess
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "infra" / "lib.sh"


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
