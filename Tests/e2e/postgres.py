"""A real PostgreSQL server for tests: Debian's binaries, `initdb` into a
temporary directory, `pg_ctl start` on a free port of 127.0.0.1, stopped and
removed afterwards. PostgreSQL refuses to run as root, so under root (CI) the
server runs as `nobody`, owning its data and socket directories.

Used by the pytest fixture `postgres` (conftest.py) and, for the Swift tests,
by scripts/with-postgres.sh:  python3 Tests/e2e/postgres.py run -- CMD ...
which runs CMD with QMAIL_REMOTE_TEST_POSTGRES_URL set and stops the server.
"""
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

URL_VARIABLE = "QMAIL_REMOTE_TEST_POSTGRES_URL"


def binaries():
    """The newest installed server's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One server; start() / stop() / kill() / restart() as a test needs."""

    def __init__(self, user=None):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; scripts/setup.sh does)")
        self.user = user if user is not None else ("nobody" if os.geteuid() == 0 else None)
        self.directory = tempfile.mkdtemp(prefix="qmr-postgres-")
        self.data = os.path.join(self.directory, "data")
        self.log = os.path.join(self.directory, "server.log")
        self.port = free_port()
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-instructions", "--no-sync")

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _command(self, program, *args):
        command = [os.path.join(self.bin, program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return command

    def _run(self, program, *args):
        result = subprocess.run(self._command(program, *args), capture_output=True, text=True,
                                cwd=self.directory, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}{self.server_log()}")
        return result

    def server_log(self):
        try:
            with open(self.log) as log:
                return log.read()[-4000:]
        except OSError:
            return ""

    def start(self):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-l", self.log, "-o", options)
        return self

    def running(self):
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))

    def stop(self, mode="fast"):
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-D", self.data, "-m", mode)

    def kill(self):
        """SIGKILL to the postmaster, as a crash would."""
        with open(os.path.join(self.data, "postmaster.pid")) as pid_file:
            pid = int(pid_file.readline())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        # Its backends notice the postmaster is gone and exit by themselves.
        time.sleep(0.5)

    def restart(self):
        self.stop()
        self.start()

    def psql(self, sql):
        command = [os.path.join(self.bin, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    def close(self):
        try:
            if self.running():
                self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


def main(argv):
    if len(argv) < 3 or argv[1] != "run" or "--" not in argv:
        print("usage: postgres.py run -- COMMAND ...", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1:]
    server = PostgresServer().start()
    try:
        environment = dict(os.environ, **{URL_VARIABLE: server.url})
        return subprocess.run(command, env=environment).returncode
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
