"""The wire schema in Python: the client distribution's (clients/python, `ace3d_client.wire`), under the name
the service's modules use. Generated messages from proto/, volumes in and out of their compact form, and the
canonical proto3 JSON mapping the CLI and REST answers use."""

from ace3d_client.v1 import explanation_pb2 as pb  # noqa: F401
from ace3d_client.wire import (  # noqa: F401
    VOLUME_DTYPES,
    ZLIB_LEVEL,
    explanation_from_json,
    from_volume,
    parse_options,
    to_json,
    to_volume,
)
