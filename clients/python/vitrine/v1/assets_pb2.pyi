from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_KIND_UNSPECIFIED: _ClassVar[AssetKind]
    ASSET_KIND_PROP: _ClassVar[AssetKind]
    ASSET_KIND_TEXTURE: _ClassVar[AssetKind]
    ASSET_KIND_CHARACTER: _ClassVar[AssetKind]
    ASSET_KIND_RENDER: _ClassVar[AssetKind]
    ASSET_KIND_SCENE: _ClassVar[AssetKind]

class Pivot(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIVOT_UNSPECIFIED: _ClassVar[Pivot]
    PIVOT_BOTTOM_CENTER: _ClassVar[Pivot]
    PIVOT_CENTER: _ClassVar[Pivot]

class Format(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORMAT_UNSPECIFIED: _ClassVar[Format]
    FORMAT_GLB: _ClassVar[Format]

class NormalConvention(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NORMAL_CONVENTION_UNSPECIFIED: _ClassVar[NormalConvention]
    NORMAL_CONVENTION_OPENGL: _ClassVar[NormalConvention]
    NORMAL_CONVENTION_DIRECTX: _ClassVar[NormalConvention]

class Skeleton(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SKELETON_UNSPECIFIED: _ClassVar[Skeleton]
    SKELETON_UNREAL: _ClassVar[Skeleton]
    SKELETON_MIXAMO: _ClassVar[Skeleton]
    SKELETON_VRM: _ClassVar[Skeleton]
ASSET_KIND_UNSPECIFIED: AssetKind
ASSET_KIND_PROP: AssetKind
ASSET_KIND_TEXTURE: AssetKind
ASSET_KIND_CHARACTER: AssetKind
ASSET_KIND_RENDER: AssetKind
ASSET_KIND_SCENE: AssetKind
PIVOT_UNSPECIFIED: Pivot
PIVOT_BOTTOM_CENTER: Pivot
PIVOT_CENTER: Pivot
FORMAT_UNSPECIFIED: Format
FORMAT_GLB: Format
NORMAL_CONVENTION_UNSPECIFIED: NormalConvention
NORMAL_CONVENTION_OPENGL: NormalConvention
NORMAL_CONVENTION_DIRECTX: NormalConvention
SKELETON_UNSPECIFIED: Skeleton
SKELETON_UNREAL: Skeleton
SKELETON_MIXAMO: Skeleton
SKELETON_VRM: Skeleton

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "kind", "version", "description", "categories", "options")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: AssetKind
    version: str
    description: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    options: _containers.RepeatedCompositeFieldContainer[OptionInfo]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., options: _Optional[_Iterable[_Union[OptionInfo, _Mapping]]] = ...) -> None: ...

class OptionInfo(_message.Message):
    __slots__ = ("name", "description", "type", "min", "max", "default_value", "choices")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    type: str
    min: float
    max: float
    default_value: str
    choices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[str] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., default_value: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ...) -> None: ...

class Options(_message.Message):
    __slots__ = ("max_triangles", "lod_count", "size_m", "pivot", "texture_size", "resolution", "format", "material", "normal_convention", "variation", "spread", "morph_seed", "morph_t", "skeleton", "clips", "height_m", "exhibits", "room_width_m", "room_depth_m", "exhibit_models")
    MAX_TRIANGLES_FIELD_NUMBER: _ClassVar[int]
    LOD_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIZE_M_FIELD_NUMBER: _ClassVar[int]
    PIVOT_FIELD_NUMBER: _ClassVar[int]
    TEXTURE_SIZE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MATERIAL_FIELD_NUMBER: _ClassVar[int]
    NORMAL_CONVENTION_FIELD_NUMBER: _ClassVar[int]
    VARIATION_FIELD_NUMBER: _ClassVar[int]
    SPREAD_FIELD_NUMBER: _ClassVar[int]
    MORPH_SEED_FIELD_NUMBER: _ClassVar[int]
    MORPH_T_FIELD_NUMBER: _ClassVar[int]
    SKELETON_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_M_FIELD_NUMBER: _ClassVar[int]
    EXHIBITS_FIELD_NUMBER: _ClassVar[int]
    ROOM_WIDTH_M_FIELD_NUMBER: _ClassVar[int]
    ROOM_DEPTH_M_FIELD_NUMBER: _ClassVar[int]
    EXHIBIT_MODELS_FIELD_NUMBER: _ClassVar[int]
    max_triangles: int
    lod_count: int
    size_m: float
    pivot: Pivot
    texture_size: int
    resolution: int
    format: Format
    material: str
    normal_convention: NormalConvention
    variation: int
    spread: float
    morph_seed: int
    morph_t: float
    skeleton: Skeleton
    clips: str
    height_m: float
    exhibits: int
    room_width_m: float
    room_depth_m: float
    exhibit_models: str
    def __init__(self, max_triangles: _Optional[int] = ..., lod_count: _Optional[int] = ..., size_m: _Optional[float] = ..., pivot: _Optional[_Union[Pivot, str]] = ..., texture_size: _Optional[int] = ..., resolution: _Optional[int] = ..., format: _Optional[_Union[Format, str]] = ..., material: _Optional[str] = ..., normal_convention: _Optional[_Union[NormalConvention, str]] = ..., variation: _Optional[int] = ..., spread: _Optional[float] = ..., morph_seed: _Optional[int] = ..., morph_t: _Optional[float] = ..., skeleton: _Optional[_Union[Skeleton, str]] = ..., clips: _Optional[str] = ..., height_m: _Optional[float] = ..., exhibits: _Optional[int] = ..., room_width_m: _Optional[float] = ..., room_depth_m: _Optional[float] = ..., exhibit_models: _Optional[str] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("model", "category", "seed", "options", "progressive")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PROGRESSIVE_FIELD_NUMBER: _ClassVar[int]
    model: str
    category: str
    seed: int
    options: Options
    progressive: bool
    def __init__(self, model: _Optional[str] = ..., category: _Optional[str] = ..., seed: _Optional[int] = ..., options: _Optional[_Union[Options, _Mapping]] = ..., progressive: _Optional[bool] = ...) -> None: ...

class GenerateBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[GenerateRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[GenerateRequest, _Mapping]]] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("asset_id", "file_index", "offset")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_INDEX_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    file_index: int
    offset: int
    def __init__(self, asset_id: _Optional[str] = ..., file_index: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class AssetPart(_message.Message):
    __slots__ = ("request_index", "header", "chunk", "error", "file")
    REQUEST_INDEX_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    request_index: int
    header: AssetHeader
    chunk: Chunk
    error: Error
    file: AssetFile
    def __init__(self, request_index: _Optional[int] = ..., header: _Optional[_Union[AssetHeader, _Mapping]] = ..., chunk: _Optional[_Union[Chunk, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., file: _Optional[_Union[AssetFile, _Mapping]] = ...) -> None: ...

class AssetHeader(_message.Message):
    __slots__ = ("asset_id", "seed", "kind", "model", "model_version", "category", "files", "bounds", "timings", "file_count")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BOUNDS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    seed: int
    kind: AssetKind
    model: str
    model_version: str
    category: str
    files: _containers.RepeatedCompositeFieldContainer[AssetFile]
    bounds: Bounds
    timings: Timings
    file_count: int
    def __init__(self, asset_id: _Optional[str] = ..., seed: _Optional[int] = ..., kind: _Optional[_Union[AssetKind, str]] = ..., model: _Optional[str] = ..., model_version: _Optional[str] = ..., category: _Optional[str] = ..., files: _Optional[_Iterable[_Union[AssetFile, _Mapping]]] = ..., bounds: _Optional[_Union[Bounds, _Mapping]] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., file_count: _Optional[int] = ...) -> None: ...

class AssetFile(_message.Message):
    __slots__ = ("name", "mime_type", "size_bytes", "sha256", "lod", "triangles")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    LOD_FIELD_NUMBER: _ClassVar[int]
    TRIANGLES_FIELD_NUMBER: _ClassVar[int]
    name: str
    mime_type: str
    size_bytes: int
    sha256: str
    lod: int
    triangles: int
    def __init__(self, name: _Optional[str] = ..., mime_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., lod: _Optional[int] = ..., triangles: _Optional[int] = ...) -> None: ...

class Bounds(_message.Message):
    __slots__ = ("min", "max")
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    min: Vec3
    max: Vec3
    def __init__(self, min: _Optional[_Union[Vec3, _Mapping]] = ..., max: _Optional[_Union[Vec3, _Mapping]] = ...) -> None: ...

class Vec3(_message.Message):
    __slots__ = ("x", "y", "z")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    z: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("cache_hit", "queue_ms", "generate_ms", "export_ms")
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_MS_FIELD_NUMBER: _ClassVar[int]
    GENERATE_MS_FIELD_NUMBER: _ClassVar[int]
    EXPORT_MS_FIELD_NUMBER: _ClassVar[int]
    cache_hit: bool
    queue_ms: float
    generate_ms: float
    export_ms: float
    def __init__(self, cache_hit: _Optional[bool] = ..., queue_ms: _Optional[float] = ..., generate_ms: _Optional[float] = ..., export_ms: _Optional[float] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("file_index", "offset", "data")
    FILE_INDEX_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    file_index: int
    offset: int
    data: bytes
    def __init__(self, file_index: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    field: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...
