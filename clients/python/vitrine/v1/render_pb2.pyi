from vitrine.v1 import assets_pb2 as _assets_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_FORMAT_UNSPECIFIED: _ClassVar[ImageFormat]
    IMAGE_FORMAT_JPEG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_PNG: _ClassVar[ImageFormat]
IMAGE_FORMAT_UNSPECIFIED: ImageFormat
IMAGE_FORMAT_JPEG: ImageFormat
IMAGE_FORMAT_PNG: ImageFormat

class Placement(_message.Message):
    __slots__ = ("x", "z", "yaw_deg")
    X_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    YAW_DEG_FIELD_NUMBER: _ClassVar[int]
    x: float
    z: float
    yaw_deg: float
    def __init__(self, x: _Optional[float] = ..., z: _Optional[float] = ..., yaw_deg: _Optional[float] = ...) -> None: ...

class SceneObject(_message.Message):
    __slots__ = ("asset_id", "placement")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    placement: Placement
    def __init__(self, asset_id: _Optional[str] = ..., placement: _Optional[_Union[Placement, _Mapping]] = ...) -> None: ...

class RenderSession(_message.Message):
    __slots__ = ("objects", "width", "height", "format", "quality", "model")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[SceneObject]
    width: int
    height: int
    format: ImageFormat
    quality: int
    model: str
    def __init__(self, objects: _Optional[_Iterable[_Union[SceneObject, _Mapping]]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., format: _Optional[_Union[ImageFormat, str]] = ..., quality: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class CameraPose(_message.Message):
    __slots__ = ("eye", "target", "up", "fov_y_deg", "pose_index", "client_time_us")
    EYE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    UP_FIELD_NUMBER: _ClassVar[int]
    FOV_Y_DEG_FIELD_NUMBER: _ClassVar[int]
    POSE_INDEX_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TIME_US_FIELD_NUMBER: _ClassVar[int]
    eye: _assets_pb2.Vec3
    target: _assets_pb2.Vec3
    up: _assets_pb2.Vec3
    fov_y_deg: float
    pose_index: int
    client_time_us: int
    def __init__(self, eye: _Optional[_Union[_assets_pb2.Vec3, _Mapping]] = ..., target: _Optional[_Union[_assets_pb2.Vec3, _Mapping]] = ..., up: _Optional[_Union[_assets_pb2.Vec3, _Mapping]] = ..., fov_y_deg: _Optional[float] = ..., pose_index: _Optional[int] = ..., client_time_us: _Optional[int] = ...) -> None: ...

class RenderRequest(_message.Message):
    __slots__ = ("session", "pose")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    POSE_FIELD_NUMBER: _ClassVar[int]
    session: RenderSession
    pose: CameraPose
    def __init__(self, session: _Optional[_Union[RenderSession, _Mapping]] = ..., pose: _Optional[_Union[CameraPose, _Mapping]] = ...) -> None: ...

class RenderFrameRequest(_message.Message):
    __slots__ = ("session", "pose", "reference")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    POSE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    session: RenderSession
    pose: CameraPose
    reference: bool
    def __init__(self, session: _Optional[_Union[RenderSession, _Mapping]] = ..., pose: _Optional[_Union[CameraPose, _Mapping]] = ..., reference: _Optional[bool] = ...) -> None: ...

class FrameTimings(_message.Message):
    __slots__ = ("queue_ms", "gbuffer_ms", "network_ms", "encode_ms", "total_ms")
    QUEUE_MS_FIELD_NUMBER: _ClassVar[int]
    GBUFFER_MS_FIELD_NUMBER: _ClassVar[int]
    NETWORK_MS_FIELD_NUMBER: _ClassVar[int]
    ENCODE_MS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    queue_ms: float
    gbuffer_ms: float
    network_ms: float
    encode_ms: float
    total_ms: float
    def __init__(self, queue_ms: _Optional[float] = ..., gbuffer_ms: _Optional[float] = ..., network_ms: _Optional[float] = ..., encode_ms: _Optional[float] = ..., total_ms: _Optional[float] = ...) -> None: ...

class RenderedFrame(_message.Message):
    __slots__ = ("pose_index", "client_time_us", "image", "mime_type", "width", "height", "timings", "dropped_poses", "model_version", "reference")
    POSE_INDEX_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TIME_US_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_POSES_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    pose_index: int
    client_time_us: int
    image: bytes
    mime_type: str
    width: int
    height: int
    timings: FrameTimings
    dropped_poses: int
    model_version: str
    reference: bool
    def __init__(self, pose_index: _Optional[int] = ..., client_time_us: _Optional[int] = ..., image: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., timings: _Optional[_Union[FrameTimings, _Mapping]] = ..., dropped_poses: _Optional[int] = ..., model_version: _Optional[str] = ..., reference: _Optional[bool] = ...) -> None: ...
