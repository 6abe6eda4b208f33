"""The image's SBOM (CycloneDX 1.6 JSON), run by the Dockerfile's build stage.

cyclonedx-py describes the Python packages of /opt/dbinit; this adds the Debian packages of the
final stage (its dpkg database and copyright files, copied in) and names the image as the subject,
gives every component its licences (a Python package whose metadata cyclonedx-py could not read as
one: its License field; a Debian package: the License fields of its machine-readable copyright file,
else where that file is), then validates the whole against the CycloneDX schema.
Usage: image_sbom.py PYTHON_SBOM DPKG_ROOT OUTPUT SITE_PACKAGES
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
        components.append({"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl,
                           "licenses": debian_licenses(root, name)})
    return components


def debian_licenses(root: Path, package: str) -> list[dict]:
    """The licences a package's copyright file names (Debian's short names: GPL-2+, LGPL-2.1+, …)
    where it is machine-readable (DEP-5), else a pointer to that file."""
    copyright_file = root / "usr/share/doc" / package / "copyright"
    text = copyright_file.read_text(errors="replace") if copyright_file.is_file() else ""
    if text.startswith("Format:"):
        names = sorted({line.split(":", 1)[1].strip() for line in text.splitlines()
                        if line.startswith("License:") and line.split(":", 1)[1].strip()})
        if names:
            return [{"license": {"name": name, "acknowledgement": "declared"}} for name in names]
    return [{"license": {"name": f"see /usr/share/doc/{package}/copyright", "acknowledgement": "declared"}}]


def python_licenses(component: dict, site: Path) -> list[dict]:
    """A Python package's own words where cyclonedx-py found no licence it could read (protobuf's
    License field says `3-Clause BSD License`)."""
    for metadata in site.glob(f"{component['name'].replace('-', '_')}-{component['version']}.dist-info/METADATA"):
        for line in metadata.read_text(errors="replace").splitlines():
            if line.startswith("License: "):
                return [{"license": {"name": line.removeprefix("License: "), "acknowledgement": "declared"}}]
    return [{"license": {"name": "unknown", "acknowledgement": "declared"}}]


def main(python_sbom: str, dpkg_root: str, output: str, site: str) -> None:
    bom = json.loads(Path(python_sbom).read_text())
    bom["metadata"]["component"]["type"] = "container"
    for component in bom["components"]:
        component["licenses"] = component.get("licenses") or python_licenses(component, Path(site))
    bom["components"].extend(debian_packages(Path(dpkg_root)))
    text = json.dumps(bom, indent=1, sort_keys=True)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        sys.exit(f"image_sbom: not a valid CycloneDX 1.6 document: {error}")
    Path(output).write_text(text + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
