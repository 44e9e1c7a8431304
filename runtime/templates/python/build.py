#!/usr/bin/env python3
"""Builds {{name}} into the plugin `{{wasm}}`: `python3 build.py`.

The plugin is a WebAssembly component made by componentize-py from
`app.py` (the provider), `cairn_provider/` (the SDK layer, vendored) and
`wit/` (the contract, `cairn:provider@{{contract}}`, with the WASI packages
it imports). componentize-py is installed, pinned, into `.venv/` the first
time (from PyPI, or from the wheels `PIP_FIND_LINKS` names); later builds
reuse it. Python's standard library only.
"""

import glob
import os
import shutil
import subprocess
import sys
import time
import venv

#: The componentize-py release this template is built and tested with: its
#: bindings and bundled Python are what the SDK layer expects.
COMPONENTIZE_PY = "0.25.1"
#: The folder of the tools, next to this file.
VENV = ".venv"
#: The module that holds the provider (it binds `Provider`).
APP = "app"
#: The contract's WIT folder and the world a provider targets.
WIT = "wit"
WORLD = "provider-plugin"
#: The plugin the build writes.
PLUGIN = "{{wasm}}"
#: The oldest Python that can run componentize-py's installer.
MIN_PYTHON = (3, 9)


class BuildError(Exception):
    """A failure with what to do about it."""


def venv_tool(name):
    """The path of a program of `.venv`, on POSIX and on Windows."""
    if os.name == "nt":
        return os.path.join(VENV, "Scripts", name + ".exe")
    return os.path.join(VENV, "bin", name)


def installed_version():
    """The componentize-py version in `.venv` (the pinned one when it is
    among those found), or `None` when there is none. Read from the
    metadata folders: no process to start, so a build that has its tools
    starts at once."""
    if not os.path.exists(venv_tool("componentize-py")):
        return None
    pattern = os.path.join(VENV, "**", "site-packages", "componentize_py-*.dist-info")
    prefix, suffix = "componentize_py-", ".dist-info"
    versions = [os.path.basename(folder)[len(prefix) : -len(suffix)] for folder in glob.glob(pattern, recursive=True)]
    if COMPONENTIZE_PY in versions:
        return COMPONENTIZE_PY
    return versions[0] if versions else None


def ensure_tools():
    """Makes `.venv` with the pinned componentize-py unless it is there."""
    found = installed_version()
    if found == COMPONENTIZE_PY:
        return
    if found is None and os.path.isdir(VENV) and not os.path.exists(venv_tool("python")):
        raise BuildError(f"{VENV}/ is not a virtual environment: remove it and run `python3 build.py` again")
    if found:
        print(f"replacing componentize-py {found} with {COMPONENTIZE_PY} in {VENV}/ ...", flush=True)
    else:
        print(f"installing componentize-py {COMPONENTIZE_PY} into {VENV}/ (once) ...", flush=True)
    if not os.path.exists(venv_tool("python")):
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as error:
            shutil.rmtree(VENV, ignore_errors=True)
            raise BuildError(
                f"cannot create {VENV}/ ({error}); on Debian or Ubuntu install the `python3-venv` package"
            ) from None
    command = [venv_tool("python"), "-m", "pip", "install", "--quiet", f"componentize-py=={COMPONENTIZE_PY}"]
    if subprocess.run(command).returncode != 0:
        raise BuildError(
            f"pip could not install componentize-py=={COMPONENTIZE_PY}: it needs PyPI, or a folder of "
            "wheels named by PIP_FIND_LINKS (see pip's message above)"
        )


def check_layout():
    """Refuses to build from a folder that lacks a part of the plugin."""
    for path, what in (
        (APP + ".py", "the provider"),
        (os.path.join("cairn_provider", "__init__.py"), "the SDK layer `cairn plugin new` vendors"),
        (os.path.join(WIT, "provider.wit"), "the contract `cairn plugin new` writes"),
    ):
        if not os.path.isfile(path):
            raise BuildError(f"{path} is missing ({what}): run the build in the plugin's folder")


def componentize():
    """Runs componentize-py; returns the seconds it took."""
    # The Python path is this folder and the packages of `.venv` (where
    # componentize-py looks when VIRTUAL_ENV names a folder): an active
    # virtual environment of another project is not looked into.
    env = dict(os.environ, VIRTUAL_ENV=os.path.abspath(VENV))
    command = [venv_tool("componentize-py"), "-d", WIT, "-w", WORLD, "componentize", APP, "-o", PLUGIN]
    started = time.monotonic()
    if subprocess.run(command, env=env).returncode != 0:
        raise BuildError(f"componentize-py failed: the plugin {PLUGIN} was not built (see its message above)")
    return time.monotonic() - started


def main():
    """Builds the plugin; exits 1 with a message when it cannot."""
    if sys.version_info < MIN_PYTHON:
        print(f"build.py needs Python {'.'.join(map(str, MIN_PYTHON))} or later", file=sys.stderr)
        return 1
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    try:
        check_layout()
        ensure_tools()
        seconds = componentize()
    except BuildError as error:
        print(f"build.py: {error}", file=sys.stderr)
        return 1
    size = os.path.getsize(PLUGIN) / (1024 * 1024)
    print(f"built {os.path.abspath(PLUGIN)} ({size:.1f} MiB, {seconds:.0f} s)")
    print(f"check it: cairn plugin inspect --check {PLUGIN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
