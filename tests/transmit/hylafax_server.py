"""A private HylaFAX for the tests: faxq + hfaxd on a fresh spool, and two iaxmodems that call
each other over IAX2 on loopback, each served by a faxgetty (no PBX).

Adapted from ``bench/hylafax_ref.py`` (see its notes for the gotchas: spool built from the
system one, ``-q .`` with cwd = spool because faxq/hfaxd/faxgetty switch to uucp before they
chdir, pre-created ``seqf`` files, ``NotifyCmd: /bin/true``). Added here:

* ``etc/hosts.hfaxd`` admits ``faxout`` from 127.0.0.1 with a password (SHA-512 crypt).
* iaxmodem reads its config only from ``/etc/iaxmodem/<name>``; the name may hold a relative
  path, so ``../../<workdir>/iax/<dev>`` keeps the configs in the test's own directory.
  ``refresh 0`` (no registration) and ``server 127.0.0.1:<peer port>`` make the two modems call
  each other directly. They bind UDP on 0.0.0.0 (no bind option); the ports are free ephemeral
  ones. Their devices are ``/dev/ttyIAXfo<pid>t`` (sender) and ``…r`` (receiver): pty symlinks
  that iaxmodem creates and removes.
* HylaFAX's modem configs are Debian's iaxmodem example (``config.ttyIAX``), per device.
* Stop order: faxgetty, then iaxmodem (it does not exit while a fax server holds it), then
  hfaxd and faxq — each by its own PID.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.procs import free_port, stop_process

SYSTEM_SPOOL = Path("/var/spool/hylafax")
SYSTEM_ETC = Path("/etc/hylafax")
IAXMODEM_EXAMPLE = Path("/usr/share/doc/iaxmodem/examples/config.ttyIAX")
COPIED_SPOOL_DIRS = ("bin", "config", "status")
USER = "faxout"
PASSWORD = "s3cret-fax"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


def binary(name: str) -> str | None:
    """Absolute path of a HylaFAX/iaxmodem program, or None."""
    for prefix in ("/usr/sbin", "/usr/bin"):
        cand = Path(prefix) / name
        if cand.exists():
            return str(cand)
    return shutil.which(name)


def missing() -> str | None:
    """Why the real HylaFAX tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (faxq/hfaxd/faxgetty switch to uucp)"
    for name in ("faxq", "hfaxd", "faxgetty", "faxstat", "iaxmodem", "openssl"):
        if binary(name) is None:
            return f"{name} not installed (apt: hylafax-server hylafax-client iaxmodem)"
    if not IAXMODEM_EXAMPLE.exists() or not (SYSTEM_ETC / "config").exists():
        return "HylaFAX or iaxmodem example configs missing"
    return None


def _copy_owned(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    for s in [src, *src.rglob("*")]:
        st = s.lstat()
        os.chown(dst / s.relative_to(src), st.st_uid, st.st_gid, follow_symlinks=False)


def _own(path: Path, mode: int) -> None:
    uucp = pwd.getpwnam("uucp")
    os.chown(path, uucp.pw_uid, uucp.pw_gid)
    path.chmod(mode)


def build_spool(spool: Path) -> None:
    """A fresh spool: the system one's skeleton, our hosts.hfaxd, no notify mails."""
    top = SYSTEM_SPOOL.stat()
    spool.mkdir(parents=True)
    os.chown(spool, top.st_uid, top.st_gid)
    spool.chmod(top.st_mode & 0o7777)
    for entry in SYSTEM_SPOOL.iterdir():
        if entry.is_symlink() or not entry.is_dir():
            continue
        dst = spool / entry.name
        if entry.name == "etc":
            _copy_owned(SYSTEM_ETC, dst)
        elif entry.name in COPIED_SPOOL_DIRS:
            _copy_owned(entry, dst)
        else:
            st = entry.stat()
            dst.mkdir()
            os.chown(dst, st.st_uid, st.st_gid)
            dst.chmod(st.st_mode & 0o7777)
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", "faxouttest", PASSWORD],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    hosts = spool / "etc" / "hosts.hfaxd"
    # faxout needs its password; root (faxstat in these helpers) needs none
    hosts.write_text(f"^{USER}@127\\.0\\.0\\.1$:1002:{hashed}:\n^root@127\\.0\\.0\\.1$:1003::\n")
    _own(hosts, 0o600)
    for q in ("sendq", "docq", "recvq", "archive"):
        seqf = spool / q / "seqf"
        seqf.write_text("1")
        _own(seqf, 0o600)
    with (spool / "etc" / "config").open("a") as f:
        f.write("\nNotifyCmd:\t\t/bin/true\n")


@dataclass
class HylaFaxLab:
    """faxq + hfaxd (+ optionally two iaxmodems with faxgettys). ``stop()`` ends them all."""

    workdir: Path
    spool: Path
    port: int = 0
    tx: str = ""
    rx: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, name: str, argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=ENV,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    def faxstat(self) -> str:
        """``faxstat -h`` (scheduler and modem states), '' when it fails or hangs (an hfaxd
        still starting, on a loaded machine, may accept the connection and not answer yet:
        the caller's wait goes on until its own deadline)."""
        try:
            res = subprocess.run(
                [binary("faxstat") or "faxstat", "-h", self.address],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ""
        return res.stdout

    def wait_for(self, what: str, ok: object, timeout: float) -> None:
        """Poll ``ok()`` (every 0.2 s) until true; fail with the faxstat picture after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} waiting for {what}")
            if ok():  # type: ignore[operator]
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}: {self.faxstat()!r}")

    def start_server(self) -> None:
        faxq, hfaxd = binary("faxq"), binary("hfaxd")
        assert faxq and hfaxd
        self._start("faxq", [faxq, "-D", "-q", "."], self.spool)
        self.port = free_port()
        argv = [hfaxd, "-d", "-q", ".", "-l", "127.0.0.1", "-i", str(self.port)]
        self._start("hfaxd", argv, self.spool)

        def up() -> bool:
            if not (self.spool / "FIFO").exists():
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    return s.recv(64).startswith(b"220")
            except OSError:
                return False

        self.wait_for("hfaxd", up, 15)

    def start_modems(self) -> None:
        """Two iaxmodems calling each other, each with a faxgetty; waits until both are idle."""
        iaxmodem, faxgetty = binary("iaxmodem"), binary("faxgetty")
        assert iaxmodem and faxgetty
        tag = f"ttyIAXfo{os.getpid()}"
        self.tx, self.rx = f"{tag}t", f"{tag}r"
        cfgdir = self.workdir / "iax"
        cfgdir.mkdir()
        tx_port, rx_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
        for dev, port, peer, number in (
            (self.tx, tx_port, rx_port, "5550100"),
            (self.rx, rx_port, tx_port, "5550199"),
        ):
            (cfgdir / dev).write_text(
                f"device /dev/{dev}\nowner uucp:uucp\nmode 660\nport {port}\nrefresh 0\n"
                f"server 127.0.0.1:{peer}\npeername iaxmodem\nsecret password\n"
                f"cidname faxout test\ncidnumber {number}\ncodec slinear\n"
            )
            conf = self.spool / "etc" / f"config.{dev}"
            shutil.copy(IAXMODEM_EXAMPLE, conf)
            _own(conf, 0o644)
        for dev in (self.rx, self.tx):
            self._start(f"iaxmodem-{dev}", [iaxmodem, f"../..{cfgdir / dev}"], self.workdir)
        self.wait_for(
            "iaxmodem ptys", lambda: all(Path(f"/dev/{d}").exists() for d in (self.tx, self.rx)), 15
        )
        for dev in (self.rx, self.tx):
            self._start(f"faxgetty-{dev}", [faxgetty, "-q", ".", dev], self.spool)
        self.wait_for("both modems idle", lambda: self.faxstat().count("Running and idle") >= 2, 60)

    def stop_answering(self) -> None:
        """Stop the receiving modem's faxgetty: calls then ring unanswered."""
        proc = self.procs.pop(f"faxgetty-{self.rx}", None)
        if proc is not None:
            stop_process(proc)

    def received(self) -> list[Path]:
        """The faxes the receiving modem stored, oldest first."""
        return sorted((self.spool / "recvq").glob("fax*.tif"))

    def log_tail(self, lines: int = 40) -> str:
        """The newest HylaFAX session log's end (for failure messages)."""
        logs = sorted((self.spool / "log").glob("c*"))
        if not logs:
            return ""
        return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        order = sorted(
            self.procs,
            key=lambda n: (not n.startswith("faxgetty"), not n.startswith("iaxmodem")),
        )
        for name in order:
            stop_process(self.procs.pop(name))
        for dev in (self.tx, self.rx):
            if dev:
                link = Path(f"/dev/{dev}")
                if link.is_symlink():
                    link.unlink(missing_ok=True)
                # a faxgetty stopped while the line rang leaves its UUCP lock behind
                Path(f"/var/lock/LCK..{dev}").unlink(missing_ok=True)


def start_lab(workdir: Path, modems: bool) -> HylaFaxLab:
    """Start a private HylaFAX under ``workdir`` (and the two modems when ``modems``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    lab = HylaFaxLab(workdir=workdir, spool=workdir / "spool")
    try:
        build_spool(lab.spool)
        lab.start_server()
        if modems:
            lab.start_modems()
    except BaseException:
        lab.stop()
        raise
    return lab


ADMIN_PASSWORD = "adm1n-fax"


def enable_admin(lab: HylaFaxLab, password: str = ADMIN_PASSWORD) -> None:
    """Give ``USER`` an hfaxd ADMIN password (hosts.hfaxd's 4th field): recvq files are mode
    0600, listed and fetched for administrators only. hfaxd reads the file per connection."""
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", "faxoutadm", password],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    hosts = lab.spool / "etc" / "hosts.hfaxd"
    lines = hosts.read_text().splitlines()
    prefix = f"^{USER}@"
    lines = [f"{line.rstrip(':')}:{hashed}" if line.startswith(prefix) else line for line in lines]
    hosts.write_text("\n".join(lines) + "\n")
    _own(hosts, 0o600)


# ------------------------------------------------------------- one iaxmodem, its peer ours


@dataclass
class IaxModem:
    """One iaxmodem whose IAX2 peer is a port of ours (``tests/transmit/iax2peer.py``): it
    calls that port when its DTE dials, and answers what that port calls it with."""

    device: str  # the pty name under /dev
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def path(self) -> str:
        """The device the fax program opens."""
        return f"/dev/{self.device}"

    def stop(self) -> None:
        """Stop it by its PID and remove what it leaves behind."""
        stop_process(self.proc)
        link = Path(self.path)
        if link.is_symlink():
            link.unlink(missing_ok=True)
        Path(f"/var/lock/LCK..{self.device}").unlink(missing_ok=True)


def start_iaxmodem(workdir: Path, tag: str, peer_port: int, number: str = "5550180") -> IaxModem:
    """Start an iaxmodem on a free UDP port peering with ``127.0.0.1:peer_port``; returns once
    its pty exists. ``tag`` (a letter or two) keeps the device name unique per test."""
    iaxmodem = binary("iaxmodem")
    assert iaxmodem
    device = f"ttyIAXfo{os.getpid()}{tag}"
    cfgdir = workdir / "iax"
    cfgdir.mkdir(parents=True, exist_ok=True)
    port = free_port(socket.SOCK_DGRAM)
    (cfgdir / device).write_text(
        f"device /dev/{device}\nowner uucp:uucp\nmode 660\nport {port}\nrefresh 0\n"
        f"server 127.0.0.1:{peer_port}\npeername iaxmodem\nsecret password\n"
        f"cidname faxout interop\ncidnumber {number}\ncodec slinear\n"
    )
    log = workdir / f"iaxmodem-{device}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [iaxmodem, f"../..{cfgdir / device}"],
            cwd=workdir,
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    modem = IaxModem(device, port, proc, log)
    deadline = time.monotonic() + 15
    while not Path(modem.path).exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            modem.stop()
            raise RuntimeError(
                f"iaxmodem {device} did not start: {log.read_text(errors='replace')}"
            )
        time.sleep(0.1)
    return modem


def start_peer_lab(workdir: Path, peer_port: int) -> tuple[HylaFaxLab, IaxModem]:
    """A private HylaFAX with one iaxmodem peering with ``peer_port``, served by a faxgetty
    (it answers calls and sends the jobs); waits until the modem is idle. ``lab.stop()``
    stops the modem too."""
    workdir.mkdir(parents=True, exist_ok=True)
    lab = HylaFaxLab(workdir=workdir, spool=workdir / "spool")
    try:
        build_spool(lab.spool)
        lab.start_server()
        faxgetty = binary("faxgetty")
        assert faxgetty
        modem = start_iaxmodem(workdir, "h", peer_port)
        lab.procs[f"iaxmodem-{modem.device}"] = modem.proc
        lab.tx = lab.rx = modem.device  # stop() removes its link and lock
        conf = lab.spool / "etc" / f"config.{modem.device}"
        shutil.copy(IAXMODEM_EXAMPLE, conf)
        _own(conf, 0o644)
        lab._start(f"faxgetty-{modem.device}", [faxgetty, "-q", ".", modem.device], lab.spool)
        lab.wait_for("the modem idle", lambda: "Running and idle" in lab.faxstat(), 60)
    except BaseException:
        lab.stop()
        raise
    return lab, modem
