"""SIP far ends for the SIP fax transport's tests: a kamailio proxy/registrar with digest
auth, a G.711-only auto-answering baresip phone, and SIPp as a scripted UAS.

Every daemon gets free ephemeral ports on 127.0.0.1, its own directory under ``workdir`` and
its own session; each context manager stops it by PID (then its process group) on exit, so
``pytest -n 2`` runs never share a port or leave a daemon behind.

Notes (see ``docs/research/transports.md`` §2.3, §2.4 and §7 for the observations):

* kamailio runs in the foreground (``-DD``) with stderr logging (``-E``) into
  ``kamailio.log``; ``-Y`` puts its runtime dir (FIFO/ctl sockets) into the workdir so two
  instances never collide on ``/run/kamailio``. TCP is disabled: only the UDP port is ours.
* baresip: ``net_interface 127.0.0.1`` (``lo`` fails), no ``stdio`` module (it needs a TTY),
  ``HOME`` points into the workdir so nothing reads or writes ``~/.baresip``.
* baresip 1.0 answers only its account user (``Phone.uri``); ``sip:anything@`` gets 404.
* SIPp runs in the foreground with ``-nostdin`` (no TTY here); its control port (default
  8888, UDP) and media port (default 6000, plus +2) are set to free ports, so parallel runs
  do not fight over them. SIPp refuses keywords in a status line, so scenario keys are
  written into a private copy of the XML (see ``_sipp_start``). A variable assigned by an
  action must be referenced twice or SIPp refuses to load the scenario (hence the ``<log>``
  actions). A ``<nop>`` between a send and its recv lets a fast reply be taken for a
  retransmission of an earlier one: keep recvs right after their sends.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import socket
import struct
import subprocess
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from tests import procs
from tests.procs import stop_process, tail

SIPP_DIR = Path(__file__).parent / "sipp"
BARESIP_MODULES = Path("/usr/lib/baresip/modules")
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
# binary -> Debian package, for missing()
BINARIES = {"kamailio": "kamailio", "baresip": "baresip-core", "sipp": "sip-tester"}


def binary(name: str) -> str | None:
    """Absolute path of a far-end program, or None."""
    for prefix in ("/usr/sbin", "/usr/bin"):
        cand = Path(prefix) / name
        if cand.exists():
            return str(cand)
    return shutil.which(name)


def missing(*names: str) -> str | None:
    """Why the SIP far ends (all of them, or just ``names``) cannot run here, or None."""
    for name in names or tuple(BINARIES):
        if binary(name) is None:
            return f"{name} not installed (apt: {BINARIES[name]})"
    if (not names or "baresip" in names) and not (BARESIP_MODULES / "g711.so").exists():
        return f"baresip modules missing in {BARESIP_MODULES} (apt: baresip-core)"
    return None


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A free ephemeral port on 127.0.0.1, UDP by default: SIP and RTP here are UDP."""
    return procs.free_port(kind)


def free_udp_pair() -> int:
    """An even UDP port ``p`` with ``p`` and ``p + 2`` both free (SIPp binds both for media)."""
    for _ in range(200):
        p = free_port() & ~1
        socks = []
        try:
            for q in (p, p + 1, p + 2, p + 3):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", q))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port pair")


def sip_ping(port: int, timeout: float = 0.5, user: str | None = None) -> int | None:
    """Send one OPTIONS to 127.0.0.1:``port``; the reply's status code, or None (no reply)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        lport = s.getsockname()[1]
        tag = uuid.uuid4().hex[:10]
        target = f"sip:{user + '@' if user else ''}127.0.0.1:{port}"
        msg = (
            f"OPTIONS {target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{tag};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:ping@127.0.0.1:{lport}>;tag={tag}\r\n"
            f"To: <{target}>\r\n"
            f"Call-ID: {tag}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            f"Contact: <sip:ping@127.0.0.1:{lport}>\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        s.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            while True:
                data = s.recv(65535)
                code = int(data.split(b" ", 2)[1])
                if code >= 200:  # skip a provisional, if any
                    return code
        except (OSError, ValueError, IndexError):
            return None


def _wait_ready(
    what: str, proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float
) -> None:
    """Poll with OPTIONS until ``port`` answers; raise with the log tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail(log)}")
        if sip_ping(port, timeout=0.3) is not None:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not answering OPTIONS on udp:{port}:\n{tail(log)}")


# --------------------------------------------------------------------------------------
# kamailio


KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=2
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:{port}
alias=127.0.0.1:{port}

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"

# registrations live in memory only: each test starts empty
modparam("usrloc", "db_mode", 0)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    # reachability checks: OPTIONS to the proxy itself, no auth
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    # in-dialog: follow the route set we recorded (ACK of a re-INVITE's 2xx included)
    if (has_totag()) {{
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) t_relay();
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) t_relay();
        exit;
    }}
    t_check_trans();
    # any user, one password; realm = From domain. 401 for REGISTER, 407 for the rest.
    if (is_method("REGISTER|INVITE")) {{
        if (!pv_auth_check("$fd", "{password}", "0", "0")) {{
            auth_challenge("$fd", "0");
            exit;
        }}
        consume_credentials();
    }}
    if (is_method("REGISTER")) {{
        save("location");
        exit;
    }}
    if (is_method("INVITE")) record_route();
    if (!lookup("location")) {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    t_relay();
}}
"""


@dataclass
class Proxy:
    """A running kamailio: udp:127.0.0.1:``port``, any user with ``password``."""

    port: int
    password: str
    log_path: Path

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    def logtail(self, lines: int = 40) -> str:
        """The end of kamailio's log (for failure messages)."""
        return tail(self.log_path, lines)


@contextlib.contextmanager
def kamailio_proxy(workdir: Path, password: str = "s3cret") -> Iterator[Proxy]:
    """kamailio as registrar + record-routing proxy with digest auth, on a free UDP port.

    REGISTER and INVITE are challenged (401 / 407, realm = From domain) and accepted for any
    user with ``password``; INVITEs to a registered user are relayed, others get 404;
    OPTIONS to the proxy itself get 200 without auth. Stopped by PID on exit.
    """
    kam = binary("kamailio")
    if kam is None:
        raise RuntimeError(missing("kamailio"))
    home = workdir / "kamailio"
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "kamailio.log"
    for attempt in range(3):
        port = free_port()
        proc = _start_kamailio(kam, home, port, password, log_path)
        try:
            _wait_ready("kamailio", proc, port, log_path, 15)
            break
        except RuntimeError:
            stop_process(proc)
            # a parallel test may take the port between our check and kamailio's bind
            if attempt == 2 or "already in use" not in tail(log_path):
                raise
    try:
        yield Proxy(port=port, password=password, log_path=log_path)
    finally:
        stop_process(proc)


def _start_kamailio(
    kam: str, home: Path, port: int, password: str, log_path: Path
) -> subprocess.Popen[bytes]:
    """Write and check kamailio's config for ``port``, and start it."""
    cfg = home / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(port=port, password=password))
    check = subprocess.run(
        [kam, "-c", "-f", str(cfg)], capture_output=True, text=True, env=ENV, check=False
    )
    if check.returncode != 0:
        raise RuntimeError(f"kamailio -c rejected {cfg}:\n{check.stderr[-3000:]}")
    argv = [kam, "-f", str(cfg), "-P", str(home / "kamailio.pid"), "-Y", str(home)]
    argv += ["-E", "-DD", "-m", "32", "-M", "4"]
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv,
            cwd=home,
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


# --------------------------------------------------------------------------------------
# baresip


def write_tone_wav(
    path: Path, hz: float = 2100.0, seconds: float = 4.0, level: float = 0.3
) -> Path:
    """An 8 kHz mono 16-bit WAV of a sine tone (what the phone "says")."""
    rate = 8000
    n = int(rate * seconds)
    amp = int(32767 * level)
    frames = b"".join(
        struct.pack("<h", int(amp * math.sin(2 * math.pi * hz * i / rate))) for i in range(n)
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


@dataclass
class Phone:
    """A running baresip: answers any INVITE to udp:127.0.0.1:``port`` with PCMU/PCMA."""

    port: int
    heard_dir: Path
    user: str = "fax"
    ctrl_port: int = 0
    log_path: Path = field(default_factory=Path)
    source_wav: Path = field(default_factory=Path)

    @property
    def uri(self) -> str:
        """A SIP URI that reaches this phone directly."""
        return f"sip:{self.user}@127.0.0.1:{self.port}"

    def heard_wavs(self) -> list[Path]:
        """Recordings of what the phone received (sndfile's ``*-dec.wav``), oldest first."""
        return sorted(self.heard_dir.glob("*-dec.wav"), key=lambda p: p.stat().st_mtime)

    def logtail(self, lines: int = 40) -> str:
        """The end of baresip's output (for failure messages)."""
        return tail(self.log_path, lines)


@contextlib.contextmanager
def baresip_phone(
    workdir: Path, tone_hz: float = 2100.0, seconds: float = 4.0, user: str = "fax"
) -> Iterator[Phone]:
    """baresip as a G.711-only auto-answering phone with no registration, on a free UDP port.

    baresip 1.0 only takes INVITEs whose Request-URI user is its account's ``user`` (others
    get 404 "UA not found"; catch-all exists only inside its b2bua module): call
    ``Phone.uri``. It plays ``seconds`` of a ``tone_hz`` sine (8 kHz WAV) into each call, records what it
    hears into ``heard_dir`` and refuses T.38 re-INVITEs (488). Stopped by PID on exit.
    """
    exe = binary("baresip")
    if exe is None:
        raise RuntimeError(missing("baresip"))
    home = workdir / "baresip"
    cfgdir = home / "cfg"
    heard = home / "heard"
    for d in (cfgdir, heard):
        d.mkdir(parents=True, exist_ok=True)
    src = write_tone_wav(home / "say.wav", tone_hz, seconds)
    log_path = home / "baresip.log"
    for attempt in range(3):
        port, ctrl = _free_baresip_port(), free_port(socket.SOCK_STREAM)
        proc = _start_baresip(exe, home, cfgdir, heard, src, user, port, ctrl, log_path)
        try:
            _wait_ready("baresip", proc, port, log_path, 15)
            break
        except RuntimeError:
            stop_process(proc)
            # a parallel test may take a port between our check and baresip's bind
            if attempt == 2 or "Address already in use" not in tail(log_path):
                raise
    try:
        yield Phone(
            port=port,
            heard_dir=heard,
            user=user,
            ctrl_port=ctrl,
            log_path=log_path,
            source_wav=src,
        )
    finally:
        stop_process(proc)


def _free_baresip_port() -> int:
    """A port free for UDP and TCP, with the next one free for TCP (baresip's SIP/TLS)."""
    for _ in range(200):
        port = free_port()
        try:
            for kind, number in (
                (socket.SOCK_STREAM, port),
                (socket.SOCK_STREAM, port + 1),
                (socket.SOCK_DGRAM, port + 1),
            ):
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.bind(("127.0.0.1", number))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port for baresip")


def _start_baresip(
    exe: str,
    home: Path,
    cfgdir: Path,
    heard: Path,
    src: Path,
    user: str,
    port: int,
    ctrl: int,
    log_path: Path,
) -> subprocess.Popen[bytes]:
    """Write baresip's config for ``port`` and start it."""
    (cfgdir / "config").write_text(
        f"sip_listen\t\t127.0.0.1:{port}\n"
        "net_interface\t\t127.0.0.1\n"
        f"audio_source\t\taufile,{src}\n"
        "audio_player\t\taubridge,nil\n"
        "audio_alert\t\taubridge,nil\n"
        "audio_srate\t\t8000\n"
        "audio_channels\t\t1\n"
        "rtp_tos\t\t\t0\n"
        f"module_path\t\t{BARESIP_MODULES}\n"
        "module\t\t\tg711.so\n"
        "module\t\t\taufile.so\n"
        "module\t\t\taubridge.so\n"
        "module\t\t\tsndfile.so\n"
        "module_app\t\taccount.so\n"
        "module_app\t\tmenu.so\n"
        "module_app\t\tctrl_tcp.so\n"
        f"ctrl_tcp_listen\t\t127.0.0.1:{ctrl}\n"
        f"snd_path\t\t{heard}\n"
    )
    (cfgdir / "accounts").write_text(
        f"<sip:{user}@127.0.0.1:{port}>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA\n"
    )
    (cfgdir / "contacts").write_text("")
    env = {**ENV, "HOME": str(home)}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [exe, "-4", "-f", str(cfgdir)],
            cwd=home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc


# --------------------------------------------------------------------------------------
# SIPp


@dataclass
class SippResult:
    """How a SIPp run ended: exit code 0 means the scenario passed."""

    ok: bool
    returncode: int
    messages: str
    errors: str = ""
    screen: str = ""
    logs: str = ""


@dataclass
class Sipp:
    """A running SIPp UAS on udp:127.0.0.1:``port``; call ``wait()`` after the with-block."""

    port: int
    scenario: str
    media_port: int
    workdir: Path
    proc: subprocess.Popen[bytes]
    timeout: float
    _result: SippResult | None = None

    @property
    def uri(self) -> str:
        """A SIP URI that reaches this SIPp directly."""
        return f"sip:sipp@127.0.0.1:{self.port}"

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for SIPp to finish (killing it after ``timeout``); its verdict and traces."""
        if self._result is None:
            try:
                self.proc.wait(timeout=self.timeout + 5 if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                stop_process(self.proc)
            rc = self.proc.returncode
            self._result = SippResult(
                ok=rc == 0,
                returncode=rc,
                messages=_read(self.workdir / "messages.log"),
                errors=_read(self.workdir / "errors.log"),
                screen=_read(self.workdir / "screen.log"),
                logs=_read(self.workdir / "logs.log"),
            )
        return self._result


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _sipp_start(
    workdir: Path,
    scenario: str,
    keys: dict[str, str] | None,
    timeout: float,
    extra: list[str],
    port: int,
    media: int,
) -> tuple[Path, subprocess.Popen[bytes]]:
    """Start SIPp on ``tests/transmit/sipp/<scenario>.xml``; its private dir and process."""
    exe = binary("sipp")
    if exe is None:
        raise RuntimeError(missing("sipp"))
    xml = SIPP_DIR / f"{scenario}.xml"
    if not xml.exists():
        raise FileNotFoundError(xml)
    home = workdir / f"sipp-{scenario}-{uuid.uuid4().hex[:6]}"
    home.mkdir(parents=True)
    # SIPp parses a response's status code when it loads the scenario and refuses a keyword
    # there ("SIP/2.0 [code]"), so the keys are written into a private copy first; they are
    # also passed as -key for anything SIPp substitutes at send time.
    text = xml.read_text()
    for name, value in (keys or {}).items():
        text = text.replace(f"[{name}]", xml_escape(value, {'"': "&quot;"}))
    (home / xml.name).write_text(text)
    argv = [exe, "-sf", str(home / xml.name), "-i", "127.0.0.1", "-p", str(port), "-m", "1"]
    argv += ["-mi", "127.0.0.1", "-mp", str(media), "-cp", str(free_port())]
    argv += ["-nostdin", "-timeout", f"{math.ceil(timeout)}s", "-timeout_error"]
    argv += ["-trace_err", "-error_file", str(home / "errors.log")]
    argv += ["-trace_msg", "-message_file", str(home / "messages.log")]
    # <log> actions (what a scenario saw, e.g. the credentials it checked) go to logs.log
    argv += ["-trace_logs", "-log_file", str(home / "logs.log")]
    for name, value in (keys or {}).items():
        argv += ["-key", name, value]
    argv += extra
    with (home / "screen.log").open("ab") as screen:
        proc = subprocess.Popen(
            argv,
            cwd=home,
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=screen,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return home, proc


@contextlib.contextmanager
def sipp_uas(
    workdir: Path, scenario: str, keys: dict[str, str] | None = None, timeout: float = 60
) -> Iterator[Sipp]:
    """Run ``tests/transmit/sipp/<scenario>.xml`` once (``-m 1``) as a UAS on a free UDP port.

    ``keys`` fill ``[name]`` in the scenario. SIPp gives up after ``timeout`` seconds (a
    failure). Leaving the with-block waits for SIPp to finish its script (it is killed at
    once if the block raised); then ``wait()`` gives the verdict and the message trace.
    """
    sipp = _start_uas(workdir, scenario, keys, timeout)
    try:
        yield sipp
    except BaseException:
        stop_process(sipp.proc)
        sipp.wait()
        raise
    # the with-block is over: let SIPp finish its script (bounded by -timeout), never leave
    # it running; wait() afterwards returns this verdict at once
    sipp.wait()


def _start_uas(workdir: Path, scenario: str, keys: dict[str, str] | None, timeout: float) -> Sipp:
    """Start SIPp as a UAS and wait until it listens; new ports if a parallel test took ours."""
    for _ in range(3):
        port, media = free_port(), free_udp_pair()
        home, proc = _sipp_start(workdir, scenario, keys, timeout, [], port, media)
        # SIPp answers nothing it does not expect, so readiness = its UDP port is bound
        # (by it: a process that died while "bound" lost the port to someone else)
        deadline = time.monotonic() + 10
        while proc.poll() is None and not _udp_bound(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # a SIPp that could not bind exits at once
        screen = tail(home / "screen.log")
        if proc.poll() is None and _udp_bound(port):
            return Sipp(
                port=port,
                scenario=scenario,
                media_port=media,
                workdir=home,
                proc=proc,
                timeout=timeout,
            )
        stop_process(proc)
        if not _lost_port_race(screen):
            raise RuntimeError(f"sipp did not start on udp:{port} ({proc.returncode}):\n{screen}")
    raise RuntimeError(f"sipp lost the port race three times:\n{screen}")


def run_sipp_uac(
    workdir: Path,
    scenario: str,
    target: str,
    keys: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 30,
) -> SippResult:
    """Run ``tests/transmit/sipp/<scenario>.xml`` once as a UAC towards ``target``
    (``host:port``), with digest credentials ``auth`` = (user, password); block until done.
    """
    extra = [target]
    if auth is not None:
        extra = ["-au", auth[0], "-ap", auth[1], target]
    for _ in range(3):
        media = free_udp_pair()
        home, proc = _sipp_start(workdir, scenario, keys, timeout, extra, free_port(), media)
        sipp = Sipp(
            port=0, scenario=scenario, media_port=media, workdir=home, proc=proc, timeout=timeout
        )
        result = sipp.wait()
        if result.ok or not _lost_port_race(result.screen):
            return result
    return result


def _lost_port_race(screen: str) -> bool:
    """SIPp could not bind a port we picked: another process (a parallel test) took it."""
    text = screen.lower()
    return "bind" in text and ("address already in use" in text or "unable" in text)


def _udp_bound(port: int) -> bool:
    """Whether someone holds udp:127.0.0.1:``port`` (our bind fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False
