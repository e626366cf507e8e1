"""Package layout: the runtime from services/, the contract files from schemas/ mapped in.

schemas/ stays the single source of truth at the top of the repository; setuptools maps it
onto the package procledger.schemas, so the wheel and the sdist carry the Avro schemas and
the SQL migrations, and an editable install reads the same files in place. Everything else
(metadata, dependencies, package data) is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages("services", include=["procledger", "procledger.*"]),
        "procledger.schemas",
    ],
    package_dir={"": "services", "procledger.schemas": "schemas"},
)
