#!/usr/bin/env python3
"""Bootstrap Odoo (18.0 or 19.0, on the Python asked for), then test or serve.

Run through ``make test`` / ``make run``. Uses only the standard library until
the virtualenv exists, then re-executes itself inside it (psycopg2 is needed to
talk to PostgreSQL). Everything heavy lives in a per-user cache outside the
repository, one Odoo tree per version and one virtualenv per version and
Python, so a second run starts in seconds. ``ODOO_VERSION`` (18.0, 19.0) and
``ODOO_PYTHON`` (3.11, 3.12) pick what one run uses; ``make test`` runs every
pair of ``FLAVOURS`` (``test-all``).
"""

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

from seed_data import DEMO_CATALOGUE, seed_script

REPO = Path(__file__).resolve().parent.parent
ADDON = "odoo_mcp_quotation"
CACHE = Path(
    os.environ.get("ODOO_MCP_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / ADDON
)
# Every (Odoo version, Python) pair ``make test`` runs: 18.0 on the Python of
# Debian 12 and on the one the official images (Ubuntu Noble) run, 19.0 on the
# latter. Odoo's requirements.txt pins each Python's packages.
FLAVOURS = (("18.0", "3.11"), ("18.0", "3.12"), ("19.0", "3.12"))
DEFAULT_PYTHON = {"18.0": "3.11", "19.0": "3.12"}


def odoo_tree_version(root):
    """The series (``"18.0"``) of the Odoo source tree at ``root``, or None."""
    release = root / "odoo" / "release.py"
    if not release.is_file():
        return None
    found = re.search(r"^version_info = \((\d+), (\d+)", release.read_text(), re.M)
    return found and f"{found[1]}.{found[2]}"


# ODOO_VERSION, else the version of the tree ODOO_SRC names, else 18.0
ODOO_VERSION = (
    os.environ.get("ODOO_VERSION")
    or odoo_tree_version(Path(os.environ.get("ODOO_SRC") or "/nonexistent"))
    or "18.0"
)
if ODOO_VERSION not in DEFAULT_PYTHON:
    sys.exit(f"error: ODOO_VERSION={ODOO_VERSION}: this addon runs on 18.0 or 19.0")
PYTHON_VERSION = os.environ.get("ODOO_PYTHON") or DEFAULT_PYTHON[ODOO_VERSION]
# what names the databases, virtualenvs and configs of this pair
FLAVOUR = f"{ODOO_VERSION.split('.')[0]}py{PYTHON_VERSION.replace('.', '')}"
ODOO_DIR = CACHE / f"odoo-{ODOO_VERSION}"
# 18.0 on 3.11 keeps the cache's first names (``venv``, ``odoo_mcp_dev``):
# other checkouts may be using them
FIRST_FLAVOUR = FLAVOURS[0] == (ODOO_VERSION, PYTHON_VERSION)
VENV = CACHE / ("venv" if FIRST_FLAVOUR else f"venv-{ODOO_VERSION}-py{PYTHON_VERSION}")
VENV_PYTHON = VENV / "bin" / "python"
DATA_DIR = CACHE / "data"
ODOO_ARCHIVE_URL = (
    f"https://nightly.odoo.com/{ODOO_VERSION}/nightly/src/"
    f"odoo_{ODOO_VERSION}.latest.tar.gz"
)
# cbor2 needs pkg_resources (setuptools<81); Python's bundled 65.5 cannot read
# new dist-info names, and gevent's zope.interface lookup then fails.
SETUPTOOLS = "setuptools>=75,<81"
PIP_BUILD_CONSTRAINTS = "setuptools<81\n"
# python-ldap only serves auth_ldap, which this addon never installs; leaving it
# out spares every machine the LDAP/SASL headers it would need to compile.
SKIPPED_ODOO_REQUIREMENTS = ("python-ldap",)
DB_ROLE = os.environ.get("PGUSER") or "odoo_mcp"
DEV_DATABASE = os.environ.get("ODOO_MCP_DEV_DB") or (
    "odoo_mcp_dev" if FIRST_FLAVOUR else f"odoo_mcp_dev_{FLAVOUR}"
)
# English stays the default language; Spanish is installed beside it so that
# tests can check the shipped translation.
# (19.0 reads --without-demo as a boolean and warns about "all")
WITHOUT_DEMO = "--without-demo=all" if ODOO_VERSION == "18.0" else "--without-demo=1"
TEMPLATE_INSTALL_ARGS = (WITHOUT_DEMO, "--load-language=en_US,es_ES")
HTTP_PORT = int(os.environ.get("ODOO_MCP_HTTP_PORT", "8069"))
GEVENT_PORT = int(os.environ.get("ODOO_MCP_GEVENT_PORT", "8072"))


class HarnessError(Exception):
    """A missing prerequisite, with the one line that says how to provide it."""


def say(message):
    print(f"[harness {ODOO_VERSION} py{PYTHON_VERSION}] {message}", flush=True)


# ---------------------------------------------------------------- Odoo source
def _odoo_layout(root):
    """Return the addons path of an Odoo tree of ODOO_VERSION, or None."""
    if odoo_tree_version(root) != ODOO_VERSION:
        return None
    if (root / "odoo" / "addons" / "sale").is_dir():  # nightly: all under odoo/
        return [root / "odoo" / "addons"]
    if (root / "addons" / "sale").is_dir():  # git checkout
        return [root / "addons", root / "odoo" / "addons"]
    return None


def _copy_odoo_source(source):
    say(f"copying Odoo {ODOO_VERSION} from {source} into {ODOO_DIR} (once)")
    staging = ODOO_DIR.with_name(ODOO_DIR.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".git")
    nightly = (source / "odoo" / "addons" / "sale").is_dir()
    names = ("odoo", "odoo-bin", "requirements.txt", "setup.py", "addons")
    for step, name in enumerate(names, 1):
        path = source / name
        if name == "addons" and nightly:
            continue  # an older duplicate in nightly trees; never on the path
        if path.is_dir():
            say(f"  {step}/{len(names)} {name}/ (about a minute)")
            shutil.copytree(path, staging / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, staging / name)
    (staging / ".source").write_text(str(source))
    shutil.rmtree(ODOO_DIR, ignore_errors=True)
    staging.rename(ODOO_DIR)


def _download_odoo_source():
    say(f"downloading the Odoo {ODOO_VERSION} source from {ODOO_ARCHIVE_URL}")
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"odoo_{ODOO_VERSION}.latest.tar.gz"
    try:
        with urllib.request.urlopen(ODOO_ARCHIVE_URL, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            with open(archive, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    _progress(done, total)
        print(flush=True)
    except OSError as error:
        raise HarnessError(
            f"no Odoo {ODOO_VERSION} source in {ODOO_DIR} and the download "
            f"failed ({error}): set {source_variable()}=/path/to/an/odoo-"
            f"{ODOO_VERSION}/source/tree (copied once into the cache) and run again"
        ) from error
    extract = Path(tempfile.mkdtemp(dir=CACHE))
    with tarfile.open(archive) as tar:
        tar.extractall(extract, filter="data")
    (root,) = [p for p in extract.iterdir() if p.is_dir()]
    _copy_odoo_source(root)
    shutil.rmtree(extract)
    archive.unlink()


def _progress(done, total):
    if total:
        filled = int(40 * done / total)
        bar = "#" * filled + "." * (40 - filled)
        print(f"\r  [{bar}] {done >> 20}/{total >> 20} MiB", end="", flush=True)
    else:
        print(f"\r  {done >> 20} MiB", end="", flush=True)


def source_variable(version=ODOO_VERSION):
    """The variable naming a version's tree: ``ODOO_SRC_19`` for 19.0."""
    return f"ODOO_SRC_{version.split('.')[0]}"


def odoo_source_setting(version=ODOO_VERSION):
    """The tree the environment names for ``version``: ``ODOO_SRC_<major>``, or
    ``ODOO_SRC`` when it holds that version; None when neither does."""
    named = os.environ.get(source_variable(version))
    if named:
        return Path(named).expanduser().resolve()
    source = os.environ.get("ODOO_SRC")
    if source and odoo_tree_version(Path(source).expanduser()) == version:
        return Path(source).expanduser().resolve()
    return None


def ensure_odoo_source():
    source = odoo_source_setting()
    stray = os.environ.get("ODOO_SRC")
    if not source and stray and os.environ.get("ODOO_VERSION"):
        raise HarnessError(
            f"ODOO_SRC={stray} is not an Odoo {ODOO_VERSION} tree (it is "
            f"{odoo_tree_version(Path(stray)) or 'no Odoo tree'}): point "
            f"{source_variable()} at an Odoo {ODOO_VERSION} tree"
        )
    if source:
        if not _odoo_layout(source):
            raise HarnessError(
                f"{source} is not an Odoo {ODOO_VERSION} source tree (expected "
                f"odoo/release.py of {ODOO_VERSION} and the sale addon): point "
                f"{source_variable()} (or ODOO_SRC) at one"
            )
        stamp = ODOO_DIR / ".source"
        if not stamp.is_file() or stamp.read_text() != str(source):
            _copy_odoo_source(source)
    elif not _odoo_layout(ODOO_DIR):
        _download_odoo_source()
    return _odoo_layout(ODOO_DIR)


# ---------------------------------------------------------------- virtualenv
def _python_version_of(path):
    """``"3.12"`` for a Python 3.12 at ``path``; None for anything else."""
    try:
        result = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:  # no such file, or not executable
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def find_python(version=PYTHON_VERSION):
    """A Python ``version`` interpreter: ``PYTHON311``/``PYTHON312``, then
    pyenv's versions, then PATH (pyenv's shims answer only for its selected
    versions, so its own folders are looked at directly)."""
    variable = f"PYTHON{version.replace('.', '')}"
    if os.environ.get(variable):
        path = os.environ[variable]
        if _python_version_of(path) != version:
            raise HarnessError(f"{variable}={path} is not a Python {version}")
        return path
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [
        str(path)
        for path in sorted(
            pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), reverse=True
        )
    ]
    candidates += filter(None, [shutil.which(f"python{version}")])
    for path in candidates:
        if _python_version_of(path) == version:
            return path
    raise HarnessError(
        f"Odoo {ODOO_VERSION} on Python {version} needs a Python {version} and "
        f"none was found: install it (pyenv install {version}, or apt-get install "
        f"python{version} python{version}-venv python{version}-dev where the "
        f"distribution has it) or set {variable}=/path/to/python{version}"
    )


def ensure_venv():
    odoo_requirements = [
        line
        for line in (ODOO_DIR / "requirements.txt").read_text().splitlines()
        if not line.lower().startswith(SKIPPED_ODOO_REQUIREMENTS)
    ]
    requirement_files = [REPO / "requirements.txt", REPO / "requirements-dev.txt"]
    digest = hashlib.sha256("\n".join([SETUPTOOLS, *odoo_requirements]).encode())
    for path in requirement_files:
        digest.update(path.read_bytes())
    stamp = VENV / ".requirements"
    if stamp.is_file() and stamp.read_text() == digest.hexdigest():
        return
    say(
        f"building the virtualenv {VENV} for Odoo {ODOO_VERSION} on Python "
        f"{PYTHON_VERSION} (a few minutes, once)"
    )
    if not VENV_PYTHON.exists():
        subprocess.run([find_python(), "-m", "venv", str(VENV)], check=True)
    constraints = VENV / "pip-constraints.txt"
    constraints.write_text(PIP_BUILD_CONSTRAINTS)
    odoo_req_file = VENV / "odoo-requirements.txt"
    odoo_req_file.write_text("\n".join(odoo_requirements) + "\n")
    env = dict(os.environ, PIP_CONSTRAINT=str(constraints))
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--progress-bar", "on"]
    try:
        subprocess.run([*pip, "--upgrade", SETUPTOOLS, "wheel"], check=True, env=env)
        subprocess.run(
            [
                *pip,
                "-r",
                str(odoo_req_file),
                *[arg for p in requirement_files for arg in ("-r", str(p))],
            ],
            check=True,
            env=env,
        )
    except subprocess.CalledProcessError as error:
        raise HarnessError(
            "pip could not install Odoo's requirements (see above); a compile "
            "error usually means missing headers: apt-get install "
            "build-essential python3-dev libpq-dev libxml2-dev libxslt1-dev"
        ) from error
    site = subprocess.run(
        [
            str(VENV_PYTHON),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "odoo_source.pth").write_text(f"{ODOO_DIR}\n")
    stamp.write_text(digest.hexdigest())


def ensure_side_venvs(folder=REPO / "tests" / "venvs"):
    """One virtualenv per ``<folder>/<name>.txt``, for tools that clash with Odoo.

    The MCP client SDK and the S3 test server need newer idna, Werkzeug or
    cryptography than Odoo pins (18.0 and 19.0 alike, on Python 3.11 and 3.12);
    they run as separate processes anyway, so every flavour shares them
    (``bench/venvs`` holds the benchmarks' own, built when a benchmark asks).
    Returns ``{"OMQ_VENV_<NAME>": python}`` for the tests' environment.
    """
    pythons = {}
    with cache_lock():
        for requirements in sorted(folder.glob("*.txt")):
            name = requirements.stem
            pythons[f"OMQ_VENV_{name.upper().replace('-', '_')}"] = _side_venv(
                requirements, CACHE / f"venv-{name}"
            )
    return pythons


def _side_python():
    """Side virtualenvs hold client processes that never load Odoo: one set
    serves every flavour, on Python 3.11 where there is one (as first built)."""
    for version in ("3.11", "3.12"):
        with contextlib.suppress(HarnessError):
            return find_python(version)
    return find_python()


def _side_venv(requirements, venv):
    """The virtualenv's python, built or brought up to date; a venv left
    half-built by an interrupted run is repaired (``venv`` again restores pip)."""
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not (stamp.is_file() and stamp.read_text() == digest):
        say(f"building the side virtualenv {venv} for {requirements.stem}")
        subprocess.run([_side_python(), "-m", "venv", str(venv)], check=True)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-r", str(requirements)],
            check=False,
        )
        if result.returncode:
            raise HarnessError(f"pip could not install {requirements} (see above)")
        stamp.write_text(digest)
    return str(python)


@contextlib.contextmanager
def cache_lock():
    """One harness run at a time builds what the cache holds: a benchmark
    started while a test run bootstraps waits, instead of finding a
    half-built virtualenv or template."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another harness run to finish building the cache")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def bootstrap():
    """Make sure the cache holds Odoo and the virtualenv, then re-run inside it."""
    with cache_lock():
        addons_path = ensure_odoo_source()
        ensure_venv()
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    return addons_path


# ---------------------------------------------------------------- PostgreSQL
PG = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": int(os.environ.get("PGPORT", "5432")),
    "password": os.environ.get("PGPASSWORD") or None,
}


def pg_connect(dbname="postgres", user=DB_ROLE):
    import psycopg2  # noqa: PLC0415  (only inside the virtualenv)

    connection = psycopg2.connect(dbname=dbname, user=user, **PG)
    connection.autocommit = True
    return connection


def ensure_db_role():
    """Use PGUSER, or create the ``odoo_mcp`` role: Odoo refuses ``postgres``."""
    import psycopg2  # noqa: PLC0415
    from psycopg2 import sql  # noqa: PLC0415

    where = f"{PG['host']}:{PG['port']}"
    if DB_ROLE == "postgres":
        raise HarnessError(
            "Odoo refuses the postgres role: set PGUSER to another role "
            "(created with CREATEDB if missing) and run again"
        )
    try:
        pg_connect().close()
        return
    except psycopg2.OperationalError as error:
        if f'role "{DB_ROLE}" does not exist' not in str(error):
            raise HarnessError(
                f"PostgreSQL is not reachable at {where} as {DB_ROLE} ({error}".strip()
                + "): start it, or set PGHOST/PGPORT/PGUSER/PGPASSWORD"
            ) from error
    for admin in ("postgres", os.environ.get("USER") or "root"):
        try:
            connection = pg_connect(user=admin)
        except psycopg2.OperationalError:
            continue
        with connection, connection.cursor() as cursor:
            say(f"creating the PostgreSQL role {DB_ROLE} (LOGIN CREATEDB)")
            cursor.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(DB_ROLE))
            )
        connection.close()
        return
    raise HarnessError(
        f"PostgreSQL at {where} has no role {DB_ROLE} and no superuser to create it: "
        f"run createuser --createdb {DB_ROLE}, or set PGUSER/PGPASSWORD"
    )


def database_exists(name):
    with pg_connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return bool(cursor.fetchone())


def drop_database(name):
    from psycopg2 import sql  # noqa: PLC0415

    connection = pg_connect()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
    connection.close()
    shutil.rmtree(DATA_DIR / "filestore" / name, ignore_errors=True)


def copy_database(template, name):
    """Clone a database and its filestore: under a second, against ~50 s to install."""
    from psycopg2 import sql  # noqa: PLC0415

    drop_database(name)
    connection = pg_connect()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    connection.close()
    filestore = DATA_DIR / "filestore" / template
    if filestore.is_dir():
        shutil.copytree(filestore, DATA_DIR / "filestore" / name)


# ---------------------------------------------------------------- Odoo
def write_odoo_config(addons_path, path):
    lines = [
        "[options]",
        f"addons_path = {','.join(str(p) for p in [REPO, *addons_path])}",
        f"data_dir = {DATA_DIR}",
        f"db_host = {PG['host']}",
        f"db_port = {PG['port']}",
        f"db_user = {DB_ROLE}",
        "http_interface = 127.0.0.1",
        "list_db = False",
        # (19.0 warns about "db_password = False": only a real one is written)
        *([f"db_password = {PG['password']}"] if PG["password"] else []),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def odoo_bin(config, *args, subcommand="server", **kwargs):
    odoo = [str(VENV_PYTHON), str(ODOO_DIR / "odoo-bin"), subcommand]
    command = [*odoo, "-c", str(config), *args]
    return subprocess.run(command, check=False, **kwargs)


def _addon_digest():
    """Key of the template database: any change to the installed addon rebuilds it."""
    digest = hashlib.sha256((ODOO_DIR / ".source").read_bytes())
    digest.update(" ".join(TEMPLATE_INSTALL_ARGS).encode())
    addon = REPO / ADDON
    for path in sorted(addon.rglob("*")):
        relative = path.relative_to(addon)
        if (
            path.is_file()
            and relative.parts[0] != "tests"
            and relative.parts[:2] != ("static", "description")  # Apps page only
            and path.suffix != ".pyc"
        ):
            digest.update(str(relative).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def addon_installed(database):
    """Odoo skips a module it finds not installable with a mere warning and
    exits 0: read what it really did."""
    with pg_connect(database) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM ir_module_module WHERE name = %s AND state = 'installed'",
            [ADDON],
        )
        return bool(cursor.fetchone())


def ensure_template(config):
    """Install the addon once per change into a template database.

    Names carry the checkout's own prefix, so two checkouts testing side by
    side never prune each other's templates.
    """
    checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:6]
    template = f"omq_tmpl_{checkout}_{FLAVOUR}_{_addon_digest()}"
    if database_exists(template):
        return template
    building = f"{template}_building"
    drop_database(building)
    say(
        f"installing {ADDON} into the template database {template} "
        f"(Odoo {ODOO_VERSION}, Python {PYTHON_VERSION}; about a minute)"
    )
    started = time.monotonic()
    result = odoo_bin(
        config,
        "-d",
        building,
        "-i",
        ADDON,
        *TEMPLATE_INSTALL_ARGS,
        "--stop-after-init",
        "--log-level=warn",
    )
    if result.returncode or not addon_installed(building):
        drop_database(building)
        raise HarnessError(f"installing {ADDON} failed (see the log above)")
    connection = pg_connect()
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
        # this flavour's older templates, and those named before flavours
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname <> %s "
            "AND (datname LIKE %s OR datname ~ %s) AND datname NOT LIKE '%%_building'",
            [
                template,
                f"omq_tmpl_{checkout}_{FLAVOUR}_%",
                f"^omq_tmpl_{checkout}_[0-9a-f]{{12}}$",
            ],
        )
        stale = [row[0] for row in cursor.fetchall()]
    connection.close()
    filestore = DATA_DIR / "filestore"
    if (filestore / building).is_dir():
        shutil.rmtree(filestore / template, ignore_errors=True)
        (filestore / building).rename(filestore / template)
    for name in stale:
        drop_database(name)
    say(f"template ready in {time.monotonic() - started:.0f} s")
    return template


# ---------------------------------------------------------------- browser
# The names Odoo 18 looks for on PATH (odoo/tests/common.py, _find_executable).
BROWSERS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")


def _browser():
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def _apt_install(package, why):
    """Install a Debian package once, when we may (root with apt-get)."""
    if shutil.which("apt-get") and os.geteuid() == 0:
        say(f"installing Debian's {package} for {why} (once)")
        apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=False, env=apt_env)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", package], check=False, env=apt_env
        )


def ensure_browser():
    """Odoo's browser tours run headless Chromium: install Debian's when missing.

    A tour without a browser would be skipped by Odoo with a mere warning; here
    a missing browser stops the run instead, so no tour is ever skipped silently.
    """
    if not _browser():
        _apt_install("chromium", "the browser tours")
    if not _browser():
        raise HarnessError(
            "the browser tours need Chromium or Google Chrome on PATH: "
            "install it (apt-get install chromium) and run again"
        )


def nginx_binary():
    return shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")


def ensure_nginx():
    """The proxy tests run the shipped nginx configuration in Debian's nginx."""
    if not nginx_binary():
        _apt_install("nginx-light", "the reverse-proxy tests")
    if not nginx_binary():
        raise HarnessError(
            "the reverse-proxy tests need nginx: "
            "install it (apt-get install nginx-light) and run again"
        )


def run_oauth_mcp_client(python, url, login, password, *args, env=None):
    """The official MCP SDK connecting to ``url`` through OAuth as Claude's
    connectors do, the user ``login`` consenting
    (tests/mcp_clients/sdk_oauth_flow.py, run by ``python``): its process,
    whose last line is its JSON report."""
    return subprocess.run(
        [
            python,
            str(REPO / "tests" / "mcp_clients" / "sdk_oauth_flow.py"),
            "--url",
            url,
            "--login",
            login,
            "--password",
            password,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, **(env or {})},
    )


# ---------------------------------------------------------------- commands
def run_linters():
    say("ruff check, ruff format --check, pylint-odoo")
    bin_dir = VENV / "bin"
    checks = [
        [str(bin_dir / "ruff"), "check", "."],
        [str(bin_dir / "ruff"), "format", "--check", "."],
        [str(bin_dir / "pylint"), "--rcfile", str(REPO / ".pylintrc"), ADDON],
    ]
    failed = [
        c[1] if "ruff" in c[0] else "pylint-odoo"
        for c in checks
        if subprocess.run(c, cwd=REPO, check=False).returncode
    ]
    if failed:
        raise HarnessError(f"lint failed ({', '.join(failed)}): fix the findings above")


def prepare_odoo(addons_path, workdir):
    """Role, config and template database; the environment tests and benches need."""
    ensure_db_role()
    config = write_odoo_config(addons_path, workdir / "odoo.conf")
    with cache_lock():
        template = ensure_template(config)
    env = dict(
        os.environ,
        **ensure_side_venvs(),
        ODOO_RC=str(config),
        ODOO_MCP_TEMPLATE_DB=template,
        ODOO_MCP_ODOO_BIN=str(ODOO_DIR / "odoo-bin"),
        ODOO_MCP_PYTHON=str(VENV_PYTHON),
        ODOO_MCP_CACHE=str(CACHE),
        # the tests' own harness import must name the same flavour
        ODOO_VERSION=ODOO_VERSION,
        ODOO_PYTHON=PYTHON_VERSION,
    )
    return template, env


def command_test(addons_path, pytest_args, lint=True):
    ensure_browser()
    ensure_nginx()
    if lint:
        run_linters()
    workdir = Path(tempfile.mkdtemp(prefix="omq-test-"))
    template, env = prepare_odoo(addons_path, workdir)
    database = f"omq_test_{os.getpid()}"
    copy_database(template, database)
    try:
        say(f"pytest on the database {database} (HttpCase included)")
        result = subprocess.run(
            [
                str(VENV_PYTHON),
                "-m",
                "pytest",
                f"--odoo-database={database}",
                "--odoo-http",
                f"--basetemp={workdir / 'pytest'}",
                *pytest_args,
            ],
            cwd=REPO,
            env=env,
            check=False,
        )
    finally:
        drop_database(database)
        shutil.rmtree(workdir, ignore_errors=True)
    if result.returncode == 5:
        say("pytest collected no test: that is a failure here, never a pass")
        return 1
    return result.returncode


def command_bench(addons_path, names):
    """Run ``bench/<name>.py`` (all of them without names) against real servers."""
    workdir = Path(tempfile.mkdtemp(prefix="omq-bench-"))
    template, env = prepare_odoo(addons_path, workdir)
    scripts = [REPO / "bench" / f"{name}.py" for name in names] or sorted(
        (REPO / "bench").glob("bench_*.py")
    )
    failed = 0
    try:
        for script in scripts:
            say(f"benchmark {script.name}")
            if "def test_" in script.read_text():  # needs Odoo in-process: pytest-odoo
                database = f"omq_bench_{os.getpid()}"
                copy_database(template, database)
                command = [
                    "-m",
                    "pytest",
                    "-s",
                    "-q",
                    f"--odoo-database={database}",
                    f"--basetemp={workdir / 'pytest'}",
                    str(script),
                ]
            else:
                database, command = None, [str(script)]
            try:
                failed |= subprocess.run(
                    [str(VENV_PYTHON), *command], cwd=REPO, env=env, check=False
                ).returncode
            finally:
                if database:
                    drop_database(database)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return failed


# what ``make run``'s integration user may do: more than a new user's default
# (quotations:create), so that Claude sees the tools its instructions name
DEV_SCOPES = "quotations:create quotations:read customers:read"
# the integration user ``make run`` prints an agent key of, a new one each run
DEV_SETUP_SCRIPT = (
    seed_script(
        DEMO_CATALOGUE,
        {"ai_agent": {"name": "AI Agent Integration"}},
        api_key=("ai_agent", "make run"),
        agent_key=True,  # AI agents only: Odoo's XML-RPC and JSON-RPC refuse it
    )
    + f'users["ai_agent"].ai_agent_scopes = "{DEV_SCOPES}"\n'
    + "env.cr.commit()\n"
)


def run_banner(key, base, gevent):
    """What ``make run`` prints: the key, what it may do, how to use it."""
    return f"""
Odoo {ODOO_VERSION} (Python {PYTHON_VERSION}) is starting on {base}
(database {DEV_DATABASE}; log in as admin / admin).
Integration user ai_agent, scopes {DEV_SCOPES}
(six MCP tools; a new integration user gets quotations:create only; an admin
adds quotations:update and quotations:send on its AI Agents tab), agent key
(AI agents only: Odoo's XML-RPC and JSON-RPC refuse it; shown once, a new one
each run):

    export OMQ_KEY={key}

    curl -s -X POST {base}/api/quotation/async \\
      -H "Authorization: Bearer $OMQ_KEY" -H "Content-Type: application/json" \\
      -d '{{"customer_name": "Ana García", "email": "ana@example.com",
           "lines": [{{"product": "DESK-STD", "quantity": 2}}]}}'
    curl -s {base}/api/quotation/status/<tracking_id> \\
      -H "Authorization: Bearer $OMQ_KEY"
    claude mcp add --transport http odoo {base}/mcp \\
      --header "Authorization: Bearer $OMQ_KEY"

Legacy SSE MCP clients (ElevenLabs' default): {gevent}/mcp/sse, Odoo's gevent
port, where streams take no HTTP worker (on {base} at most one stream may).

Ctrl-C stops the server.
"""


def command_run(addons_path):
    """Serve a development database with the addon, demo products and an API key."""
    ensure_db_role()
    run_dir = CACHE / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = write_odoo_config(addons_path, run_dir / f"odoo-{FLAVOUR}.conf")
    install = "-u" if database_exists(DEV_DATABASE) else "-i"
    say(
        f"{'updating' if install == '-u' else 'creating'} the database "
        f"{DEV_DATABASE} (Odoo {ODOO_VERSION}, Python {PYTHON_VERSION})"
    )
    if odoo_bin(
        config,
        "-d",
        DEV_DATABASE,
        install,
        ADDON,
        WITHOUT_DEMO,
        "--stop-after-init",
        "--log-level=warn",
    ).returncode:
        raise HarnessError(f"installing {ADDON} into {DEV_DATABASE} failed (see above)")
    setup = odoo_bin(
        config,
        "-d",
        DEV_DATABASE,
        "--log-level=warn",
        subcommand="shell",
        input=DEV_SETUP_SCRIPT,
        capture_output=True,
        text=True,
    )
    keys = [
        line for line in setup.stdout.splitlines() if line.startswith("OMQ_API_KEY=")
    ]
    if not keys:
        print(setup.stdout, setup.stderr, file=sys.stderr)
        raise HarnessError("creating the integration user and its API key failed")
    key = keys[0].split("=", 1)[1]
    base = f"http://127.0.0.1:{HTTP_PORT}"
    print(run_banner(key, base, f"http://127.0.0.1:{GEVENT_PORT}"), flush=True)
    command = [
        str(VENV_PYTHON),
        str(ODOO_DIR / "odoo-bin"),
        "-c",
        str(config),
        "-d",
        DEV_DATABASE,
        "--load",
        f"base,web,{ADDON}",
        "--http-port",
        str(HTTP_PORT),
        "--gevent-port",
        str(GEVENT_PORT),
        "--workers",
        "2",
        "--max-cron-threads",
        "2",
    ]
    os.execv(command[0], command)


def addon_version():
    """The addon's own version, from its manifest (Odoo prefixes the series)."""
    manifest = (REPO / ADDON / "__manifest__.py").read_text()
    return re.search(r'"version": "([\d.]+)"', manifest)[1]


def command_dist(output=REPO / "dist"):
    """``make dist``: the installable module for ODOO_VERSION (or each version
    without it), as the Apps store and Odoo.sh take it, one branch per version:
    ``dist/<version>/odoo_mcp_quotation/`` with the series in its manifest's
    version, and the same as ``dist/odoo_mcp_quotation-<version>.zip``."""
    versions = [os.environ["ODOO_VERSION"]] if os.environ.get("ODOO_VERSION") else []
    for version in versions or DEFAULT_PYTHON:
        path = build_dist(version, output)
        print(f"[harness] {path.relative_to(output.parent)} and its .zip", flush=True)
    return 0


def build_dist(version, output):
    """Write the module for ``version`` under ``output``; its folder."""
    own = addon_version()
    full = f"{version}.{own}"
    target = output / version / ADDON
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(
        REPO / ADDON, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    manifest = target / "__manifest__.py"
    text = manifest.read_text()
    manifest.write_text(text.replace(f'"version": "{own}"', f'"version": "{full}"'))
    archive = output / f"{ADDON}-{full}"
    shutil.make_archive(str(archive), "zip", target.parent, ADDON)
    return target


# Odoo's own runner prints this once, at the end (odoo/tests/result.py)
ODOO_RUNNER_STATS = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests")


def command_odoo_tests(addons_path, tags=None):
    """The in-Odoo tests as Odoo.sh and OCA's CI run them: Odoo's own runner
    (``--test-tags``) on one database where the addon was installed by
    ``odoo-bin -i`` with Spanish loaded (a copy of the template, which is
    exactly that), every test class after the other on that one database.
    ``tags`` narrows them, as Odoo's ``--test-tags`` does."""
    ensure_browser()
    workdir = Path(tempfile.mkdtemp(prefix="omq-odoo-tests-"))
    template, env = prepare_odoo(addons_path, workdir)
    database = f"omq_runner_{os.getpid()}"
    copy_database(template, database)
    log_path = workdir / "odoo.log"
    say(f"Odoo's own runner: --test-tags /{ADDON} on {database} (a few minutes)")
    try:
        process = subprocess.Popen(
            [
                str(VENV_PYTHON),
                str(ODOO_DIR / "odoo-bin"),
                "-c",
                env["ODOO_RC"],
                "-d",
                database,
                f"--test-tags={tags or '/' + ADDON}",
                "--stop-after-init",
                "--http-port",
                str(_free_port()),
                "--gevent-port",
                str(_free_port()),
                "--workers=0",
                "--max-cron-threads=0",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        stats, started, showing = None, 0, False
        with log_path.open("w") as log:
            for line in process.stdout:
                log.write(line)
                if line[:4].isdigit():  # a new record starts with its date
                    # a test's failure or error, not the errors tests provoke
                    showing = (": FAIL: " in line or ": ERROR: " in line) or (
                        " CRITICAL " in line
                    )
                    if ": Starting " in line and " odoo.addons." in line:
                        started += 1
                        if started % 25 == 0:
                            say(f"  {started} tests started")
                if showing:  # failures and their tracebacks
                    print(line, end="", flush=True)
                stats = ODOO_RUNNER_STATS.search(line) or stats
        returncode = process.wait()
    finally:
        drop_database(database)
    shutil.rmtree(workdir, ignore_errors=True)
    if not stats:
        say(f"Odoo's runner printed no test statistics (exit {returncode}): a failure")
        return 1
    failed, errors, total = map(int, stats.groups())
    say(f"Odoo's runner: {failed} failed, {errors} error(s) of {total} tests")
    if not total:
        say("Odoo's runner ran no test: that is a failure here, never a pass")
        return 1
    return 1 if returncode or failed or errors else 0


def _free_port():
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# pytest's closing line, e.g. "==== 1012 passed, 3 skipped in 512.30s ===="
PYTEST_SUMMARY = re.compile(r"^=+ (.*\bin [\d.]+s.*?) =+$")


def command_test_all(pytest_args):
    """``make test``: lint once, then for each flavour (or those ODOO_VERSION
    and ODOO_PYTHON select) the whole suite and Odoo's own runner, each in a
    child harness; a summary of every result line at the end."""
    version, python = os.environ.get("ODOO_VERSION"), os.environ.get("ODOO_PYTHON")
    flavours = [
        (v, p)
        for v, p in FLAVOURS
        if (not version or v == version) and (not python or p == python)
    ] or [(version or "18.0", python or DEFAULT_PYTHON.get(version or "18.0"))]
    started, results, failed = time.monotonic(), [], False
    for index, (flavour_version, flavour_python) in enumerate(flavours):
        env = dict(os.environ, ODOO_VERSION=flavour_version, ODOO_PYTHON=flavour_python)
        source = odoo_source_setting(flavour_version)
        env.pop("ODOO_SRC", None)
        if source:
            env[source_variable(flavour_version)] = str(source)
        label = f"Odoo {flavour_version} on Python {flavour_python}"
        steps = [
            ("suite", [*(["--no-lint"] if index else []), "test", "--", *pytest_args]),
            ("Odoo's runner", ["odoo-tests"]),
        ]
        for name, args in steps:
            print(f"\n[harness] ===== {label}: {name} =====", flush=True)
            step_started = time.monotonic()
            returncode, summary = _run_child(args, env)
            minutes = (time.monotonic() - step_started) / 60
            results.append(f"{label}, {name}: {summary} ({minutes:.1f} min)")
            failed |= bool(returncode)
    print("\n[harness] ===== results =====", flush=True)
    for line in results:
        print(f"[harness] {line}", flush=True)
    minutes = (time.monotonic() - started) / 60
    print(f"[harness] every flavour in {minutes:.1f} min", flush=True)
    passed, not_passed = _counts(results)
    print(f"total: {passed} passed, {not_passed} failed", flush=True)
    return 1 if failed or not_passed or not passed else 0


def _counts(results):
    """Tests passed and not passed over result lines of pytest and Odoo's runner."""
    passed = not_passed = 0
    for line in results:
        if runner := ODOO_RUNNER_STATS.search(line):
            failures, errors, total = map(int, runner.groups())
            passed += total - failures - errors
            not_passed += failures + errors
            continue
        found = re.findall(r"(\d+) (passed|failed|errors?)\b", line)
        for number, outcome in found:
            if outcome == "passed":
                passed += int(number)
            else:
                not_passed += int(number)
        if not found:  # a step that ended before any test result: one failure
            not_passed += 1
    return passed, not_passed


def _run_child(args, env):
    """Run ``harness.py <args>`` in ``env``, its output shown as it comes; its
    exit code and the result line it ended with."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    summary = None
    for line in process.stdout:
        print(line, end="", flush=True)
        found = PYTEST_SUMMARY.match(line.strip())
        if found:
            summary = found[1]
        elif "Odoo's runner: " in line:
            summary = line.split("Odoo's runner: ", 1)[1].strip()
        elif line.startswith("error: "):
            summary = line.strip()
    returncode = process.wait()
    return returncode, summary or f"no result line (exit {returncode})"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "command",
        choices=[
            "bootstrap",
            "test",
            "test-all",
            "odoo-tests",
            "run",
            "bench",
            "dist",
        ],
    )
    parser.add_argument(
        "--no-lint", action="store_true", help="test: skip ruff and pylint-odoo"
    )
    parser.add_argument(
        "args",
        nargs="*",
        help="test: extra pytest arguments; odoo-tests: Odoo's --test-tags; "
        "bench: benchmark names",
    )
    args = parser.parse_args()
    try:
        if args.command == "test-all":  # runs children, each bootstrapping its own
            sys.exit(command_test_all(args.args))
        if args.command == "dist":  # the standard library is enough
            sys.exit(command_dist())
        addons_path = bootstrap()
        if args.command == "test":
            sys.exit(command_test(addons_path, args.args, lint=not args.no_lint))
        if args.command == "odoo-tests":
            sys.exit(command_odoo_tests(addons_path, *args.args[:1]))
        if args.command == "bench":
            sys.exit(command_bench(addons_path, args.args))
        if args.command == "run":
            sys.exit(command_run(addons_path))
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
