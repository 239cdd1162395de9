"""Build hook: bundles the extension built by `make` into the package as sqlite_elmo/elmo.so.

The library is taken from $SQLITE_ELMO_BUILD when set, else from the repository's
build/release/elmo.so (run `make` first). The wheel is platform-specific, since it holds a
shared library.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def built_library():
    path = os.environ.get("SQLITE_ELMO_BUILD") or os.path.join(HERE, "..", "build", "release",
                                                               "elmo.so")
    if not os.path.isfile(path):
        raise SystemExit("sqlite-elmo: %s does not exist; run `make` in the repository first, "
                         "or set SQLITE_ELMO_BUILD to a built elmo.so" % path)
    return path


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        dest = os.path.join(self.build_lib, "sqlite_elmo", "elmo.so")
        self.mkpath(os.path.dirname(dest))
        shutil.copyfile(built_library(), dest)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
