"""The image's lock files (scripts/lock.sh): the build installs them with --require-hashes."""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)"""
    found = {}
    for entry in re.split(r"\n(?=[a-z0-9])", lock.read_text().split("\n", 2)[2]):
        name, version = entry.split(" ", 1)[0].split("==")
        found[canonicalize_name(name)] = (version, entry.count("--hash=sha256:"))
    return found


def test_the_lock_pins_every_dependency_of_pyproject_at_a_version_it_allows_each_with_its_hashes():
    locked = pins(ROOT / "requirements.lock")
    for dependency in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(dependency)
        version, _ = locked[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), f"{dependency}: locked {version}; run scripts/lock.sh"
        for extra in requirement.extras:  # psycopg[binary] pulls psycopg-binary
            assert canonicalize_name(f"{requirement.name}-{extra}") in locked
    for lock in ("requirements.lock", "requirements-build.lock"):
        assert all(hashes for _, hashes in pins(ROOT / lock).values()), lock
