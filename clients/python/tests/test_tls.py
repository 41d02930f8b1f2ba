"""SessionContext and AsyncSessionContext over TLS and mutual TLS, against a bridge-server started
with --tls-cert, --tls-key and --tls-client-ca, with throwaway certificates made by openssl: calls
and watches work with the server's CA given as ``root_certificates``; a client that does not
trust the CA, or lacks a certificate under mutual TLS, gets ``unavailable`` naming the cause;
options that cannot work fail with ``invalid_value`` before connecting."""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest
from typing import Optional

from statebridge import AsyncSessionContext, SessionContext, StateError

from support import BridgeServer, unique_session

OPENSSL = "/usr/bin/openssl" if os.path.exists("/usr/bin/openssl") else shutil.which("openssl")
_HTTPS_ADDRESS = re.compile(r"listening on (https://[^\s]+)")


class Certificates:
    """A CA, a server certificate for 127.0.0.1 and localhost and a client certificate it
    issued, and another CA with a client certificate the server does not trust."""

    def __init__(self) -> None:
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="statebridge-tls-"))
        self._authority("ca")
        self._authority("other-ca")
        self._issue("server", "ca", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        self._issue("client", "ca", "statebridge test client", "extendedKeyUsage=clientAuth\n")
        self._issue("other-client", "other-ca", "statebridge untrusted client", "extendedKeyUsage=clientAuth\n")

    def _openssl(self, *arguments: str) -> None:
        subprocess.run([str(OPENSSL), *arguments], cwd=self.directory, check=True, capture_output=True)

    def _authority(self, name: str) -> None:
        self._openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=statebridge test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip

    def _issue(self, name: str, issuer: str, common_name: str, extensions: str) -> None:
        (self.directory / f"{name}.ext").write_text("basicConstraints=CA:FALSE\n" + extensions)
        self._openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={common_name}",
        )  # fmt: skip
        self._openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
            "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
            "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        )  # fmt: skip

    def path(self, name: str) -> str:
        return str(self.directory / name)

    def read(self, name: str) -> bytes:
        return (self.directory / name).read_bytes()

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class TlsBridgeServer(BridgeServer):
    """A bridge-server started with TLS flags, which prints an ``https://`` address."""

    def _read_address(self) -> str:
        import support

        cleartext = support._ADDRESS
        support._ADDRESS = _HTTPS_ADDRESS
        try:
            return super()._read_address()
        finally:
            support._ADDRESS = cleartext

    def __init__(self, certificates: Certificates, mutual: bool = False) -> None:
        arguments = ["--tls-cert", certificates.path("server.pem"), "--tls-key", certificates.path("server.key")]
        if mutual:
            arguments += ["--tls-client-ca", certificates.path("ca.pem")]
        super().__init__(arguments)
        #: The address as a client passes it: ``https://127.0.0.1:PORT``.
        self.https_target = self.url.rstrip("/")
        self.target = self.https_target[len("https://") :]
        self.port = int(self.target.rsplit(":", 1)[1])


@unittest.skipIf(OPENSSL is None, "needs the openssl command line to create test certificates")
class TlsTest(unittest.TestCase):
    certificates: Certificates
    server: TlsBridgeServer
    mutual_server: TlsBridgeServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.certificates = Certificates()
        cls.server = TlsBridgeServer(cls.certificates)
        cls.mutual_server = TlsBridgeServer(cls.certificates, mutual=True)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        cls.mutual_server.stop()
        cls.certificates.remove()

    def context(self, target: str, **tls: Optional[bytes]) -> SessionContext:
        context = SessionContext(target, unique_session("tls"), timeout=2.0, **tls)
        self.addCleanup(context.close)
        return context

    def exercise(self, context: SessionContext) -> None:
        context.register_variable("temperature", "float", 20.5)
        watch = context.watch_variables(["temperature"], include_initial=False)
        self.addCleanup(watch.close)
        context["temperature"] = 21.5
        self.assertEqual(context["temperature"], 21.5)
        self.assertEqual(next(iter(watch)).new_value, 21.5)

    def failure(self, target: str, **tls: Optional[bytes]) -> StateError:
        with self.assertRaises(StateError) as raised:
            self.context(target, **tls)
        return raised.exception

    def test_calls_and_a_watch_over_tls_to_an_https_target_with_the_servers_ca(self):
        self.exercise(self.context(self.server.https_target, root_certificates=self.certificates.read("ca.pem")))

    def test_a_bare_host_and_port_with_root_certificates_means_tls(self):
        self.exercise(self.context(self.server.target, root_certificates=self.certificates.read("ca.pem").decode()))

    def test_calls_and_a_watch_under_mutual_tls_with_a_client_certificate(self):
        certificates = self.certificates
        self.exercise(
            self.context(
                self.mutual_server.https_target,
                root_certificates=certificates.read("ca.pem"),
                private_key=certificates.read("client.key"),
                certificate_chain=certificates.read("client.pem"),
            )
        )

    def test_an_asyncio_context_and_its_watch_over_mutual_tls(self):
        certificates = self.certificates

        async def run() -> list[float]:
            async with AsyncSessionContext(
                self.mutual_server.https_target,
                unique_session("tls-async"),
                timeout=2.0,
                root_certificates=certificates.read("ca.pem"),
                private_key=certificates.read("client.key"),
                certificate_chain=certificates.read("client.pem"),
            ) as context:
                await context.register_variable("x", "float", 1.0)
                async with context.watch_variables(["x"], include_initial=False) as watch:
                    await context.set_variable("x", 2.0)
                    event = await watch.__anext__()
                return [event.new_value, await context.get_variable("x")]

        self.assertEqual(asyncio.run(run()), [2.0, 2.0])

    def test_a_client_that_does_not_trust_the_servers_ca_gets_unavailable(self):
        error = self.failure(self.server.https_target, root_certificates=self.certificates.read("other-ca.pem"))
        self.assertEqual(error.code, "unavailable")
        self.assertRegex(str(error), r"(?i)ssl|certificate|handshake")

    def test_a_client_without_a_certificate_is_refused_under_mutual_tls(self):
        error = self.failure(self.mutual_server.https_target, root_certificates=self.certificates.read("ca.pem"))
        # The server's alert (certificate required) reaches grpc's log only: the status says
        # the connection failed.
        self.assertEqual(error.code, "unavailable")
        self.assertIn(self.mutual_server.https_target, str(error))

    def test_a_client_whose_certificate_another_ca_issued_is_refused_under_mutual_tls(self):
        certificates = self.certificates
        error = self.failure(
            self.mutual_server.https_target,
            root_certificates=certificates.read("ca.pem"),
            private_key=certificates.read("other-client.key"),
            certificate_chain=certificates.read("other-client.pem"),
        )
        self.assertEqual(error.code, "unavailable")

    def test_a_cleartext_client_of_a_tls_port_gets_unavailable_and_the_server_goes_on(self):
        self.assertEqual(self.failure(self.server.target).code, "unavailable")
        self.exercise(self.context(self.server.https_target, root_certificates=self.certificates.read("ca.pem")))

    def test_tls_options_that_cannot_work_are_invalid_value_before_connecting(self):
        ca = self.certificates.read("ca.pem")
        key = self.certificates.read("client.key")
        cases = [
            ({"root_certificates": ca}, "http://127.0.0.1:1", r"use an https:// target"),
            ({"private_key": key}, "https://127.0.0.1:1", r"certificate_chain is missing"),
            ({"certificate_chain": ca}, "https://127.0.0.1:1", r"private_key is missing"),
            ({"root_certificates": self.certificates.path("ca.pem")}, "https://127.0.0.1:1", r"not PEM"),
            ({"root_certificates": 42}, "https://127.0.0.1:1", r"must be PEM text"),
        ]
        for tls, target, message in cases:
            with self.subTest(tls=list(tls), target=target):
                error = self.failure(target, **tls)
                self.assertEqual(error.code, "invalid_value")
                self.assertRegex(str(error), message)


if __name__ == "__main__":
    unittest.main()
