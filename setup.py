"""Packaging shim for scrapyd-deploy, which builds an egg with ``setup.py bdist_egg``.

Everything else (metadata, dependencies, the scrapy settings entry point) is in pyproject.toml.
"""

from setuptools import setup

setup()
