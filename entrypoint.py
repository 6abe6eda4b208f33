#!/usr/bin/env python3
"""Thin launcher: python entrypoint.py <command> (the same as the dbinit console script)."""
from dbinit.cli import main

if __name__ == "__main__":
    main()
