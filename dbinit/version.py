"""dbinit's version: pyproject.toml's (a test holds them equal), without the 50 ms that reading the
package's metadata costs on every run."""
VERSION = "0.2.0"
