"""Builds safenet._md5mb, the multi-buffer MD5 extension (everything else is in pyproject.toml).

Optional: where no C compiler is found the install goes on without it and Safenet hashes MD5 with hashlib
(``safenet.analysis.md5mb``), with the same digests.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "safenet._md5mb",
            sources=["src/safenet/_md5mb/md5mb.c"],
            depends=["src/safenet/_md5mb/md5_core.h"],
            extra_compile_args=["-O3", "-std=gnu11"],
            optional=True,
        )
    ]
)
