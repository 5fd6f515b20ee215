"""Builds Safenet's two small C extensions (everything else is in pyproject.toml): safenet._md5mb, the
multi-buffer MD5, and safenet._blockio, scattered block reads without the interpreter lock (device sampling).

Both are optional: where no C compiler is found the install goes on without them; Safenet then hashes MD5 with
hashlib (``safenet.analysis.md5mb``) and reads sampled blocks with os.pread from threads
(``safenet.sampling.media``), with the same results, more slowly.
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
        ),
        Extension(
            "safenet._blockio",
            sources=["src/safenet/_blockio/blockio.c"],
            extra_compile_args=["-O2", "-std=gnu11", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        ),
    ]
)
