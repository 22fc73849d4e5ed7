"""The lock files drive every install: the venv (make setup), CI (make test) and the service images.

Each third-party package is pinned to one version with its hashes; what the pyproject files declare is
in the lock at a version they accept; the venv holds exactly the locked versions; and the packages with
known advisories below a version are locked above it.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
WORKSPACE = {
    "compressor-contracts",
    "compressor-kit",
    *(
        f"{name}-service"
        for name in ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry")
    ),
    "console-service",
}
# Floors past published advisories (raise them when a new one appears):
SAFE_FLOORS = {
    "pyjwt": "2.12",  # issue 16: the audit's floor
    "jinja2": "3.1.6",  # sandbox escape through |attr (CVE-2025-27516)
    "pillow": "11.3",  # heap overflow writing DDS images (CVE-2025-48379)
    "h11": "0.16",  # request smuggling through chunked bodies (CVE-2025-43859)
    "urllib3": "2.5",  # redirects not disabled when asked (CVE-2025-50181)
    "cryptography": "44.0.1",  # vulnerable bundled OpenSSL in its wheels (CVE-2024-12797)
}


def locked(path: Path) -> dict[str, tuple[Version, str, list[str]]]:
    """name -> (version, environment marker, hashes) of every requirement in a pip-compile style lock."""
    entries: dict[str, tuple[Version, str, list[str]]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text())  # join continuation lines
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("-e"), f"{path.name}: the workspace's own packages are not locked: {line}"
        spec, *options = line.split(" --hash=")
        requirement = Requirement(spec.strip())
        pins = [s for s in requirement.specifier if s.operator == "=="]
        assert len(pins) == 1 and len(requirement.specifier) == 1, f"{path.name}: {spec} is not pinned to one version"
        hashes = [option.strip() for option in options]
        entries[canonicalize_name(requirement.name)] = (Version(pins[0].version), str(requirement.marker or ""), hashes)
    return entries


def declared() -> list[tuple[str, Requirement]]:
    """(where, requirement) for every third-party dependency the workspace declares."""
    found = []
    for pyproject in sorted([*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")]):
        for dependency in tomllib.loads(pyproject.read_text())["project"].get("dependencies", []):
            found.append((str(pyproject.relative_to(ROOT)), Requirement(dependency)))
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            found.append(("requirements-dev.txt", Requirement(line)))
    return [(where, r) for where, r in found if canonicalize_name(r.name) not in WORKSPACE]


INFRA_LOCK = ROOT / "infra" / "requirements.lock"


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK, INFRA_LOCK], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_locked_package_is_pinned_with_its_hashes(lock):
    entries = locked(lock)
    assert len(entries) >= 10
    for name, (_, _, hashes) in entries.items():
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_what_the_workspace_declares_is_locked_at_a_version_it_accepts():
    runtime, dev = locked(RUNTIME_LOCK), locked(DEV_LOCK)
    for where, requirement in declared():
        name = canonicalize_name(requirement.name)
        lock = dev if where == "requirements-dev.txt" else runtime
        assert name in lock, f"{requirement} ({where}) is not in the lock: run make lock"
        version = lock[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{where} asks for {requirement}, the lock has {version}: run make lock"
        )


def test_the_development_lock_keeps_the_runtime_versions():
    runtime, dev = locked(RUNTIME_LOCK), locked(DEV_LOCK)
    assert set(runtime) <= set(dev)
    assert {name: runtime[name][0] for name in runtime} == {name: dev[name][0] for name in runtime}


def test_the_venv_holds_exactly_the_locked_versions():
    environment = default_environment()
    for name, (version, marker, _) in locked(DEV_LOCK).items():
        if marker and not Requirement(f"{name}; {marker}").marker.evaluate(environment):  # type: ignore[union-attr]
            continue
        installed = importlib.metadata.version(name)
        assert Version(installed) == version, f"{name} {installed} is installed, the lock says {version}: make setup"


def test_packages_with_known_advisories_are_locked_past_them():
    runtime, dev = locked(RUNTIME_LOCK), locked(DEV_LOCK)
    for name, floor in SAFE_FLOORS.items():
        assert name in runtime or name in dev, f"{name} is no longer a dependency: drop its floor"
        for lock in (runtime, dev):
            if name in lock:
                assert lock[name][0] >= Version(floor), f"{name} {lock[name][0]} is below {floor}"
    # The declared lower bounds say so too, so that a re-lock can never go back below them.
    for where, requirement in declared():
        floor = SAFE_FLOORS.get(canonicalize_name(requirement.name))
        if floor:
            lowest = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
            assert lowest and max(lowest) >= Version(floor), f"{where}: {requirement} admits versions below {floor}"


def test_every_install_goes_through_a_lock_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install .*--require-hashes --no-deps -r requirements-dev\.lock", makefile)
    assert re.search(r"pip install --require-hashes --no-deps -r /src/requirements\.lock", dockerfile)
    # The test servers' own environment (moto, the mongod wheel) too.
    assert "--require-hashes --no-deps" in (ROOT / "infra" / "lib.sh").read_text()
    infra = {name: version for name, (version, _, _) in locked(INFRA_LOCK).items()}
    for line in (ROOT / "infra" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            assert requirement.specifier.contains(infra[canonicalize_name(requirement.name)]), line
    # The workspace's own packages: from the checkout, with no dependency resolution and no build download.
    for text in (makefile, dockerfile):
        for line in re.findall(r"pip install[^\n]*", text):
            assert "--require-hashes" in line or ("--no-deps" in line and "--no-build-isolation" in line), line
