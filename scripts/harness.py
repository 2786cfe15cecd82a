#!/usr/bin/env python3
"""Bootstrap Odoo 18 for this addon, then test it or serve it.

Run through ``make test`` / ``make run``. Uses only the standard library until
the virtualenv exists, then re-executes itself inside it (psycopg2 is needed to
talk to PostgreSQL). Everything heavy lives in a per-user cache outside the
repository, so a second run starts in seconds.
"""

import argparse
import contextlib
import fcntl
import hashlib
import os
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
ODOO_DIR = CACHE / "odoo-18.0"
VENV = CACHE / "venv"
VENV_PYTHON = VENV / "bin" / "python"
DATA_DIR = CACHE / "data"
ODOO_ARCHIVE_URL = "https://nightly.odoo.com/18.0/nightly/src/odoo_18.0.latest.tar.gz"
# cbor2 needs pkg_resources (setuptools<81); Python's bundled 65.5 cannot read
# new dist-info names, and gevent's zope.interface lookup then fails.
SETUPTOOLS = "setuptools>=75,<81"
PIP_BUILD_CONSTRAINTS = "setuptools<81\n"
# python-ldap only serves auth_ldap, which this addon never installs; leaving it
# out spares every machine the LDAP/SASL headers it would need to compile.
SKIPPED_ODOO_REQUIREMENTS = ("python-ldap",)
DB_ROLE = os.environ.get("PGUSER") or "odoo_mcp"
DEV_DATABASE = os.environ.get("ODOO_MCP_DEV_DB", "odoo_mcp_dev")
# English stays the default language; Spanish is installed beside it so that
# tests can check the shipped translation.
TEMPLATE_INSTALL_ARGS = ("--without-demo=all", "--load-language=en_US,es_ES")
HTTP_PORT = int(os.environ.get("ODOO_MCP_HTTP_PORT", "8069"))
GEVENT_PORT = int(os.environ.get("ODOO_MCP_GEVENT_PORT", "8072"))


class HarnessError(Exception):
    """A missing prerequisite, with the one line that says how to provide it."""


def say(message):
    print(f"[harness] {message}", flush=True)


# ---------------------------------------------------------------- Odoo source
def _odoo_layout(root):
    """Return the addons path of an Odoo 18.0 tree, or None if it is not one."""
    release = root / "odoo" / "release.py"
    if not release.is_file() or "version_info = (18, 0" not in release.read_text():
        return None
    if (root / "odoo" / "addons" / "sale").is_dir():  # nightly: all under odoo/
        return [root / "odoo" / "addons"]
    if (root / "addons" / "sale").is_dir():  # git checkout
        return [root / "addons", root / "odoo" / "addons"]
    return None


def _copy_odoo_source(source):
    say(f"copying Odoo 18.0 from {source} into {ODOO_DIR} (once)")
    staging = ODOO_DIR.with_name(ODOO_DIR.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".git")
    nightly = (source / "odoo" / "addons" / "sale").is_dir()
    for name in ("odoo", "odoo-bin", "requirements.txt", "setup.py", "addons"):
        path = source / name
        if name == "addons" and nightly:
            continue  # an older duplicate in nightly trees; never on the path
        if path.is_dir():
            shutil.copytree(path, staging / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, staging / name)
    (staging / ".source").write_text(str(source))
    shutil.rmtree(ODOO_DIR, ignore_errors=True)
    staging.rename(ODOO_DIR)


def _download_odoo_source():
    say(f"downloading the Odoo 18.0 source from {ODOO_ARCHIVE_URL}")
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / "odoo_18.0.latest.tar.gz"
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
            f"Odoo 18.0 source not found and the download failed ({error}): "
            "set ODOO_SRC=/path/to/an/odoo-18.0/source/tree and run again"
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


def ensure_odoo_source():
    source = os.environ.get("ODOO_SRC")
    if source:
        source = Path(source).expanduser().resolve()
        if not _odoo_layout(source):
            raise HarnessError(
                f"ODOO_SRC={source} is not an Odoo 18.0 source tree (expected "
                "odoo/release.py of 18.0 and the sale addon): point it at one"
            )
        stamp = ODOO_DIR / ".source"
        if not stamp.is_file() or stamp.read_text() != str(source):
            _copy_odoo_source(source)
    elif not _odoo_layout(ODOO_DIR):
        _download_odoo_source()
    return _odoo_layout(ODOO_DIR)


# ---------------------------------------------------------------- virtualenv
def _find_python():
    for candidate in ("python3.11", "python3.12", "python3.10", "python3"):
        path = shutil.which(candidate)
        if not path:
            continue
        version = subprocess.run(
            [
                path,
                "-c",
                "import sys; print(sys.version_info[:2] >= (3, 10) "
                "and sys.version_info[:2] <= (3, 12))",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if version == "True":
            return path
    raise HarnessError(
        "Odoo 18 needs Python 3.10 to 3.12 and none was found: install python3.11"
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
    say(f"building the virtualenv {VENV} (a few minutes, once)")
    if not VENV_PYTHON.exists():
        subprocess.run([_find_python(), "-m", "venv", str(VENV)], check=True)
    constraints = CACHE / "pip-constraints.txt"
    constraints.write_text(PIP_BUILD_CONSTRAINTS)
    odoo_req_file = CACHE / "odoo-requirements.txt"
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
    cryptography than Odoo 18 pins; they run as separate processes anyway
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


def _side_venv(requirements, venv):
    """The virtualenv's python, built or brought up to date; a venv left
    half-built by an interrupted run is repaired (``venv`` again restores pip)."""
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not (stamp.is_file() and stamp.read_text() == digest):
        say(f"building the side virtualenv {venv} for {requirements.stem}")
        subprocess.run([_find_python(), "-m", "venv", str(venv)], check=True)
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
        f"db_password = {PG['password'] or False}",
        "http_interface = 127.0.0.1",
        "list_db = False",
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


def ensure_template(config):
    """Install the addon once per change into a template database.

    Names carry the checkout's own prefix, so two checkouts testing side by
    side never prune each other's templates.
    """
    checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:6]
    template = f"omq_tmpl_{checkout}_{_addon_digest()}"
    if database_exists(template):
        return template
    building = f"{template}_building"
    drop_database(building)
    say(f"installing {ADDON} into the template database {template} (about a minute)")
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
    if result.returncode:
        drop_database(building)
        raise HarnessError(f"installing {ADDON} failed (see the log above)")
    connection = pg_connect()
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
        cursor.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s "
            "AND datname <> %s AND datname NOT LIKE '%%_building'",
            [f"omq_tmpl_{checkout}_%", template],
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
    )
    return template, env


def command_test(addons_path, pytest_args):
    ensure_browser()
    ensure_nginx()
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


# the integration user ``make run`` prints a key of, a new one each run
DEV_SETUP_SCRIPT = (
    seed_script(
        DEMO_CATALOGUE,
        {"ai_agent": {"name": "AI Agent Integration"}},
        api_key=("ai_agent", "make run"),
    )
    + "env.cr.commit()\n"
)


def command_run(addons_path):
    """Serve a development database with the addon, demo products and an API key."""
    ensure_db_role()
    run_dir = CACHE / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = write_odoo_config(addons_path, run_dir / "odoo.conf")
    install = "-u" if database_exists(DEV_DATABASE) else "-i"
    say(f"{'updating' if install == '-u' else 'creating'} the database {DEV_DATABASE}")
    if odoo_bin(
        config,
        "-d",
        DEV_DATABASE,
        install,
        ADDON,
        "--without-demo=all",
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
    gevent = f"http://127.0.0.1:{GEVENT_PORT}"
    print(
        f"""
Odoo is starting on {base} (database {DEV_DATABASE}; log in as admin / admin).
Integration user ai_agent, API key (shown once, a new one each run):

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
""",
        flush=True,
    )
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["bootstrap", "test", "run", "bench"])
    parser.add_argument(
        "args", nargs="*", help="test: extra pytest arguments; bench: benchmark names"
    )
    args = parser.parse_args()
    try:
        addons_path = bootstrap()
        if args.command == "test":
            sys.exit(command_test(addons_path, args.args))
        if args.command == "bench":
            sys.exit(command_bench(addons_path, args.args))
        if args.command == "run":
            sys.exit(command_run(addons_path))
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
