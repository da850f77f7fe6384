import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from realtime.common.v1 import error_reason_pb2
from rtkit.errors import ERROR_TABLE, KNOWN_REASONS, ApiError, invalid_field


def test_every_catalogued_reason_has_a_code_and_status():
    assert KNOWN_REASONS == set(ERROR_TABLE), "error_reason.proto and rtkit.errors.ERROR_TABLE must list the same reasons"
    for reason, (code, http) in ERROR_TABLE.items():
        assert isinstance(code, grpc.StatusCode)
        assert 400 <= http < 600, reason
        assert len(reason) <= 63 and reason.upper() == reason


def test_unknown_reason_is_refused():
    with pytest.raises(ValueError):
        ApiError("NOT_A_REASON", "x")


def test_status_carries_exactly_one_error_info_and_bad_request():
    error = invalid_field("title", "must be at most 1024 characters")
    status = error.to_status(domain="meeting.realtime.rtk")
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    decoded = rpc_status.to_status  # noqa: F841 - round trip below through the proto
    proto = error_details_pb2.ErrorInfo()
    infos = []
    for _, value in status.trailing_metadata:
        from google.rpc import status_pb2

        s = status_pb2.Status.FromString(value)
        for detail in s.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                detail.Unpack(proto)
                infos.append(proto.reason)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                assert bad.field_violations[0].field == "title"
    assert infos == ["INVALID_FIELD"]
    assert proto.domain == "meeting.realtime.rtk"
    assert proto.metadata["field"] == "title"


def test_reason_names_match_proto_enum():
    names = {n.removeprefix("ERROR_REASON_") for n in error_reason_pb2.ErrorReason.keys()} - {"UNSPECIFIED"}
    assert names == KNOWN_REASONS
