#!/usr/bin/env python3
"""A test CA made at run time and a TLS-terminating relay in front of a plain local server.

Used by tests/infra/artifact_test.py (HTTPS to moto) and usable by any test that needs
HTTPS on loopback. Nothing here is committed key material: the CA and the server key are
generated in a temporary directory each run (Python `cryptography`, a moto dependency in
.venv) and thrown away with it.

  ca = TestCa(directory)                     # ca.pem: the root to trust
  cert, key = ca.server_cert(["localhost"], ["127.0.0.1"])   # PEM files signed by it
  front = TlsFront(cert, key, upstream=("127.0.0.1", moto_port)).start()
  front.port                                 # https://localhost:<port> relays to moto
  front.stop()

The relay terminates TLS and copies bytes both ways, one upstream connection per client
connection: HTTP (keep-alive included) passes through untouched, so SigV4 signatures made
for the client's Host still verify upstream (moto does not check the Host's port).

Usage (a manual check): tls_front.py --upstream-port N [--listen-host H] [--dir D]
prints "PORT <n>" and the CA's path, then relays until interrupted.
"""
import argparse
import asyncio
import datetime
import ipaddress
import os
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TestCa:
    """A self-signed root CA (valid from an hour ago for a day) written to <directory>/ca.pem."""

    def __init__(self, directory, name="dynamodb-auth-canary test CA"):
        self.directory = directory
        self.key = _key()
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name).issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = _write(os.path.join(directory, "ca.pem"), self.cert.public_bytes(serialization.Encoding.PEM))

    def server_cert(self, dns_names, ip_addresses=(), stem="server"):
        """A leaf certificate for those names, signed by this CA: (cert.pem path, key.pem path)."""
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (list(dns_names) or list(ip_addresses))[0])]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path = _write(os.path.join(self.directory, f"{stem}.pem"), cert.public_bytes(serialization.Encoding.PEM))
        key_path = _write(os.path.join(self.directory, f"{stem}-key.pem"), _pem_key(key))
        return cert_path, key_path


class TlsFront:
    """Accepts TLS on (listen_host, port) with the given certificate, relays plain bytes to upstream."""

    def __init__(self, cert, key, upstream, listen_host="127.0.0.1", port=0):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.upstream = upstream
        self.listen_host, self.port = listen_host, port
        self.connections = 0  # TLS handshakes completed (a client that rejects the certificate is not counted)
        self._loop = None
        self._server = None
        self._thread = None

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - already closed by the peer
                pass

    async def _client(self, reader, writer):
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def start(self):
        ready = threading.Event()
        failed = []

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(asyncio.start_server(
                    self._client, self.listen_host, self.port, ssl=self.context, ssl_handshake_timeout=10))
                self.port = self._server.sockets[0].getsockname()[1]
            except OSError as e:
                failed.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._server.close()
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="tls-front")
        self._thread.start()
        ready.wait(30)
        if failed:
            raise failed[0]
        return self

    def stop(self):
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)


def main():
    import tempfile
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream-port", type=int, required=True)
    ap.add_argument("--upstream-host", default="127.0.0.1")
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--dir", help="where ca.pem and the server's files go (default: a new temp dir)")
    a = ap.parse_args()
    directory = a.dir or tempfile.mkdtemp(prefix="tls-front-")
    ca = TestCa(directory)
    cert, key = ca.server_cert(["localhost"], ["127.0.0.1", a.listen_host] if a.listen_host != "127.0.0.1" else ["127.0.0.1"])
    front = TlsFront(cert, key, (a.upstream_host, a.upstream_port), a.listen_host, a.port).start()
    print(f"PORT {front.port}", flush=True)
    print(f"CA {ca.pem}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        front.stop()


if __name__ == "__main__":
    main()
