#!/bin/sh
# Image build step: trusts the extra CA certificates of the EXTRA_CA_CERTS build argument (PEM text, one or
# more certificates; empty: none), for builds behind a proxy that re-signs TLS. Each certificate goes into
# Debian's trust store (/usr/local/share/ca-certificates, then update-ca-certificates), and pip is told to use
# that store (/etc/pip.conf), not the certifi bundle it carries. Python's ssl and apt use the store already.
set -eu
dir=/usr/local/share/ca-certificates
if [ -n "${EXTRA_CA_CERTS:-}" ]; then
    printf '%s\n' "$EXTRA_CA_CERTS" | awk -v dir="$dir" '
        /-----BEGIN CERTIFICATE-----/ { n++; out = sprintf("%s/ace3d-extra-%02d.crt", dir, n) }
        out != "" { print > out }
        /-----END CERTIFICATE-----/ { close(out); out = "" }
        END { if (n == 0) { print "EXTRA_CA_CERTS holds no PEM certificate" > "/dev/stderr"; exit 1 } }'
    update-ca-certificates
    echo "trust-ca-certs: $(ls "$dir"/ace3d-extra-*.crt | wc -l) extra CA certificate(s) trusted"
fi
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > /etc/pip.conf
