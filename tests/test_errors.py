"""The error tree matches the documented hierarchy and mixes in the right builtins."""

import pickle

import camsdk
from camsdk import _errors


def test_tree_matches_the_design() -> None:
    assert issubclass(camsdk.ConfigurationError, ValueError)
    assert issubclass(camsdk.UnknownSchemeError, camsdk.ConfigurationError)
    assert issubclass(camsdk.DriverUnavailableError, ImportError)
    assert issubclass(camsdk.UnsupportedCapabilityError, NotImplementedError)
    assert issubclass(camsdk.TwoFactorRequiredError, camsdk.AuthenticationError)
    assert issubclass(camsdk.AuthenticationError, camsdk.CameraConnectionError)
    assert issubclass(camsdk.CameraTimeoutError, TimeoutError)
    assert issubclass(camsdk.CameraTimeoutError, camsdk.CameraConnectionError)
    assert issubclass(camsdk.DeviceError, camsdk.CameraProtocolError)
    for name in ("StreamOpenError", "StreamStalledError", "StreamEndedError", "StreamDecodeError"):
        assert issubclass(getattr(camsdk, name), camsdk.StreamError)
    for name in _errors.__all__:
        assert issubclass(getattr(camsdk, name), camsdk.CamError)


def test_every_error_is_drawn_in_the_module_docstring() -> None:
    doc = _errors.__doc__ or ""
    for name in _errors.__all__:
        assert name in doc, name


def test_errors_carry_scheme_and_url() -> None:
    err = camsdk.DeviceError("fault", scheme="onvif", url="onvif://cam", code="ter:NotAuthorized")
    assert (err.scheme, err.url, err.code) == ("onvif", "onvif://cam", "ter:NotAuthorized")
    assert str(err) == "fault [onvif://cam]"


def test_errors_survive_pickling_with_their_context() -> None:
    err = camsdk.AccessDeniedError("no", scheme="rtsp", url="rtsp://h/s", reason="expired")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is camsdk.AccessDeniedError
    assert (copy.scheme, copy.url, copy.reason) == ("rtsp", "rtsp://h/s", "expired")
