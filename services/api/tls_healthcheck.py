"""api-auth's healthcheck over its own mutual TLS: GET /healthz with its own
certificate (any the sandbox's CA signed would do). Standard library only, so
that it starts fast; exit 0 when the answer is 200.

    python -m api.tls_healthcheck   (API_TLS_DIR, API_TLS_PORT)
"""

import http.client
import os
import ssl
import sys


def main() -> int:
    folder = os.environ["API_TLS_DIR"]
    context = ssl.create_default_context(cafile=f"{folder}/ca.crt")
    context.check_hostname = False  # 127.0.0.1 is not on the certificate; the CA is checked
    context.load_cert_chain(f"{folder}/tls.crt", f"{folder}/tls.key")
    port = int(os.environ.get("API_TLS_PORT", "8443"))
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
    try:
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
    except OSError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
