#!/usr/bin/env python3
"""Exercise the FTP servers started by servers.sh; called by `servers.sh check`.

Usage: check.py INSTANCE... with run/env sourced into the environment.
For every instance: anonymous login, listings (NLST, LIST, MLSD where offered) against
manifest.tsv, RETR of every file with sha256 comparison, REST+RETR, anonymous writes
refused, wrong password refused, user login with STOR/SIZE/RETR/APPE/DELE checked on disk.
TLS instances: AUTH TLS verified against the CA file, PROT P data connections that
resume the control connection's TLS session, and cleartext user logins refused.
Exits 1 if anything failed.
"""
import ftplib
import hashlib
import io
import os
import re
import ssl
import sys
import time
from concurrent.futures import ThreadPoolExecutor

TIMEOUT = 20
HOST = "127.0.0.1"


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose protected data connections resume the control connection's
    TLS session (vsftpd's require_ssl_reuse=YES refuses them otherwise)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


def load_manifest(path):
    entries = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            p, typ, size, sha = line.rstrip("\n").split("\t")
            entries[p] = (typ, int(size), sha)
    return entries


LIST_RE = re.compile(r"^([-dlbcps][-rwxsStT]{9})\s+\d+\s+\S+\s+\S+\s+(\d+)\s+"
                     r"(\w{3}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4})) (.*)$")


class Checker:
    def __init__(self, name):
        self.name = name
        self.tls = name.endswith("-tls")
        stem = name[:-4] if self.tls else name
        stem = stem.replace("-", "").upper() + ("_TLS" if self.tls else "")
        addr = os.environ[f"ASYNCFTP_{stem}_ADDR"]
        self.port = int(addr.rsplit(":", 1)[1])
        self.user = os.environ["ASYNCFTP_SERVERS_USER"]
        self.password = os.environ["ASYNCFTP_SERVERS_PASS"]
        self.tree = os.environ["ASYNCFTP_SERVERS_TREE"]
        self.home = os.environ["ASYNCFTP_SERVERS_USER_HOME"]
        self.ca = os.environ["ASYNCFTP_SERVERS_CA"]
        self.manifest = load_manifest(os.environ["ASYNCFTP_SERVERS_MANIFEST"])
        self.failures = 0
        self.lines = []  # printed when the instance is done: instances are checked in parallel

    # -- helpers
    def ok(self, what):
        self.lines.append(f"[check] ok   {self.name}: {what}")

    def fail(self, what):
        self.failures += 1
        self.lines.append(f"[check] FAIL {self.name}: {what}")

    def expect(self, cond, what, detail=""):
        if cond:
            self.ok(what)
        else:
            self.fail(f"{what} {detail}".rstrip())
        return cond

    def connect(self, user, password, tls=None):
        tls = self.tls if tls is None else tls
        if tls:
            ctx = ssl.create_default_context(cafile=self.ca)  # verifies the chain and 127.0.0.1
            f = ReuseFTP_TLS(context=ctx, timeout=TIMEOUT, encoding="utf-8")
        else:
            f = ftplib.FTP(timeout=TIMEOUT, encoding="utf-8")
        f.connect(HOST, self.port)
        if tls:
            f.auth()
        f.login(user, password)
        if tls:
            f.prot_p()
        f.voidcmd("TYPE I")
        return f

    def step(self, what, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report and go on with the next step
            self.fail(f"{what}: {type(e).__name__}: {e}")

    @staticmethod
    def retr(f, path, rest=None):
        buf = bytearray()
        f.retrbinary("RETR " + path, buf.extend, rest=rest)
        return bytes(buf)

    # -- checks
    def run(self):
        start = time.monotonic()
        self.step("anonymous session", self.anonymous)
        self.step("wrong password", self.wrong_password)
        self.step("user session", self.user_session)
        if self.tls:
            self.step("cleartext login", self.cleartext_refused)
        self.lines.append(f"[check] {'ok  ' if self.failures == 0 else 'FAIL'} {self.name}: "
                          f"{self.failures} failure(s), {time.monotonic() - start:.1f} s")
        return self.failures == 0

    def anonymous(self):
        f = self.connect("anonymous", "check@asyncftp.invalid")
        self.ok("anonymous login" + (" over TLS (cert verified), PROT P" if self.tls else ""))
        feat = f.sendcmd("FEAT")
        feats = [l.strip() for l in feat.splitlines()[1:-1]]
        self.ok("FEAT: " + ", ".join(feats))
        top = {p for p in self.manifest if "/" not in p}

        names = set(f.nlst())
        names -= {".", ".."}
        self.expect(names == top, "NLST / matches the manifest",
                    f"(extra {sorted(names - top)}, missing {sorted(top - names)})")

        lines = []
        f.retrlines("LIST", lines.append)
        seen, bad = set(), []
        for line in lines:
            m = LIST_RE.match(line)
            if not m:
                bad.append(line)
                continue
            mode, size, name = m.group(1), int(m.group(2)), m.group(4)
            if mode.startswith("l"):
                name = name.split(" -> ", 1)[0]
            if name in (".", ".."):
                continue
            seen.add(name)
            typ, msize, _ = self.manifest.get(name, (None, None, None))
            want = {"file": "-", "dir": "d", "link": "l"}.get(typ)
            if want != mode[0] or (typ == "file" and size != msize):
                bad.append(line)
        self.expect(not bad and seen == top, "LIST / matches the manifest (types, file sizes)",
                    f"(unexpected lines {bad!r}, missing {sorted(top - seen)})")

        if "MLSD" in feats or any(x.startswith("MLST") for x in feats):
            facts = {}
            for name, fct in f.mlsd("dir1"):
                facts[name] = fct
            want = {p.split("/", 1)[1] for p in self.manifest if p.startswith("dir1/") and p.count("/") == 1}
            got = {n for n, fct in facts.items() if fct.get("type") not in ("cdir", "pdir")}
            sizes_ok = all(int(facts[n].get("size", -1)) == self.manifest["dir1/" + n][1]
                           for n in got & want if self.manifest["dir1/" + n][0] == "file")
            self.expect(got == want and sizes_ok, "MLSD dir1 matches the manifest", f"(got {facts})")

        bad = []
        for path, (typ, size, sha) in sorted(self.manifest.items()):
            if typ == "dir":
                continue
            data = self.retr(f, path)
            if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
                bad.append(f"{path!r} ({len(data)} B)")
        nfiles = sum(1 for t, _, _ in self.manifest.values() if t != "dir")
        self.expect(not bad, f"RETR of all {nfiles} files and links (incl. 3 MiB) matches sha256",
                    f"(mismatch: {bad})")

        data = self.retr(f, "65537.bin", rest=65536)
        full = open(os.path.join(self.tree, "65537.bin"), "rb").read()
        self.expect(data == full[65536:], "REST 65536 + RETR 65537.bin returns the last byte")

        denied = []
        probe = f"anon-write-{self.name}-{os.getpid()}.bin"
        for what, fn in (("STOR", lambda: f.storbinary("STOR " + probe, io.BytesIO(b"x"))),
                         ("MKD", lambda: f.mkd(probe + ".d")),
                         ("DELE", lambda: f.delete("small.txt"))):
            try:
                fn()
            except ftplib.error_perm as e:
                denied.append(f"{what}: {str(e).splitlines()[-1]}")
                continue
            except ftplib.error_temp as e:
                denied.append(f"{what}: {str(e).splitlines()[-1]}")
                continue
            self.fail(f"anonymous {what} was accepted")
        leaked = [p for p in (probe, probe + ".d") if os.path.lexists(os.path.join(self.tree, p))]
        self.expect(len(denied) == 3 and not leaked and os.path.exists(os.path.join(self.tree, "small.txt")),
                    "anonymous writes refused (" + "; ".join(denied) + ")", f"(on disk: {leaked})")
        f.quit()

    def wrong_password(self):
        try:
            f = self.connect(self.user, self.password + "-wrong")
        except ftplib.error_perm as e:
            self.ok(f"wrong password refused: {str(e).splitlines()[-1]}")
            return
        f.close()
        self.fail("wrong password was accepted")

    def user_session(self):
        f = self.connect(self.user, self.password)
        self.ok(f"user login ({self.user})" + (" over TLS, PROT P" if self.tls else ""))
        name = f"check-{self.name}-{os.getpid()}.bin"
        disk = os.path.join(self.home, name)
        payload = hashlib.sha256(name.encode()).digest() * 4096  # 128 KiB
        try:
            f.storbinary("STOR " + name, io.BytesIO(payload))
            size = int(f.sendcmd("SIZE " + name).split()[1])
            back = self.retr(f, name)
            on_disk = open(disk, "rb").read() if os.path.exists(disk) else None
            self.expect(size == len(payload) and back == payload and on_disk == payload,
                        f"STOR + SIZE + RETR of {len(payload)} B (same bytes on disk in the home)")
            f.storbinary("APPE " + name, io.BytesIO(b"tail"))
            on_disk = open(disk, "rb").read()
            self.expect(on_disk == payload + b"tail", "APPE appends")
        finally:
            try:
                f.delete(name)
            except ftplib.Error as e:
                self.fail(f"DELE {name}: {e}")
        self.expect(not os.path.exists(disk) and name not in f.nlst(), "DELE removed the file")
        f.quit()

    def cleartext_refused(self):
        try:
            f = self.connect(self.user, self.password, tls=False)
        except (ftplib.error_perm, ftplib.error_temp) as e:
            self.ok(f"cleartext user login refused: {str(e).splitlines()[-1]}")
            return
        f.close()
        self.fail("cleartext user login was accepted on a TLS instance")


def check(name):
    try:
        c = Checker(name)
    except Exception as e:  # noqa: BLE001 - e.g. its address is missing from run/env
        return False, [f"[check] FAIL {name}: cannot set up: {type(e).__name__}: {e}"]
    return c.run(), c.lines


def main(names):
    failed = []
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        for name, (ok, lines) in zip(names, pool.map(check, names)):
            print("\n".join(lines), flush=True)
            if not ok:
                failed.append(name)
    if failed:
        print(f"[check] FAILED: {' '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
