"""The image's SBOM (CycloneDX 1.6 JSON), run by the Dockerfile's build stage.

cyclonedx-py describes the Python packages of /opt/dbinit; this adds the Debian packages of the
final stage (its dpkg database, copied in) and names the image as the subject, then validates the
whole against the CycloneDX schema. Usage: image_sbom.py PYTHON_SBOM DPKG_ROOT OUTPUT
"""
import json
import subprocess
import sys
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL


def debian_packages(root: Path) -> list[dict]:
    os_release = dict(line.split("=", 1) for line in (root / "etc/os-release").read_text().splitlines() if "=" in line)
    distro = f"debian-{os_release['VERSION_ID'].strip(chr(34))}"
    listing = subprocess.run(
        ["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Package}\t${Version}\t${Architecture}\n"],
        check=True, capture_output=True, text=True).stdout
    components = []
    for line in sorted(listing.splitlines()):
        name, version, arch = line.split("\t")
        purl = PackageURL("deb", "debian", name, version, {"arch": arch, "distro": distro}).to_string()
        components.append({"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl})
    return components


def main(python_sbom: str, dpkg_root: str, output: str) -> None:
    bom = json.loads(Path(python_sbom).read_text())
    bom["metadata"]["component"]["type"] = "container"
    bom["components"].extend(debian_packages(Path(dpkg_root)))
    text = json.dumps(bom, indent=1, sort_keys=True)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        sys.exit(f"image_sbom: not a valid CycloneDX 1.6 document: {error}")
    Path(output).write_text(text + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
