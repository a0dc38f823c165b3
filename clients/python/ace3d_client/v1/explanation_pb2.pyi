from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Volume(_message.Message):
    __slots__ = ("shape", "dtype", "data")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    data: bytes
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ExplainOptions(_message.Message):
    __slots__ = ("target_class", "top_k", "max_concepts", "max_clips", "classify_only", "score_clips")
    TARGET_CLASS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_CLIPS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFY_ONLY_FIELD_NUMBER: _ClassVar[int]
    SCORE_CLIPS_FIELD_NUMBER: _ClassVar[int]
    target_class: str
    top_k: int
    max_concepts: int
    max_clips: int
    classify_only: bool
    score_clips: int
    def __init__(self, target_class: _Optional[str] = ..., top_k: _Optional[int] = ..., max_concepts: _Optional[int] = ..., max_clips: _Optional[int] = ..., classify_only: _Optional[bool] = ..., score_clips: _Optional[int] = ...) -> None: ...

class ClassScore(_message.Message):
    __slots__ = ("name", "index", "probability", "logit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    LOGIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    probability: float
    logit: float
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., probability: _Optional[float] = ..., logit: _Optional[float] = ...) -> None: ...

class ConceptInstance(_message.Message):
    __slots__ = ("id", "name", "importance", "tcav_score", "p_value", "p_value_raw", "significant", "coverage", "supervoxels", "source")
    class Source(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        BANK: _ClassVar[ConceptInstance.Source]
        CLIP: _ClassVar[ConceptInstance.Source]
    BANK: ConceptInstance.Source
    CLIP: ConceptInstance.Source
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    TCAV_SCORE_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_RAW_FIELD_NUMBER: _ClassVar[int]
    SIGNIFICANT_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    SUPERVOXELS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    importance: float
    tcav_score: float
    p_value: float
    p_value_raw: float
    significant: bool
    coverage: float
    supervoxels: int
    source: ConceptInstance.Source
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., importance: _Optional[float] = ..., tcav_score: _Optional[float] = ..., p_value: _Optional[float] = ..., p_value_raw: _Optional[float] = ..., significant: _Optional[bool] = ..., coverage: _Optional[float] = ..., supervoxels: _Optional[int] = ..., source: _Optional[_Union[ConceptInstance.Source, str]] = ...) -> None: ...

class Region(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    width: int
    height: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class ClipExplanation(_message.Message):
    __slots__ = ("clip_index", "frame_indices", "region", "scores", "concepts", "concept_map", "heatmap", "instance_score", "top_concept_removed_score", "baseline_score", "supervoxel_count", "instance_probability", "top_concept_removed_probability", "top_concept_removed_class", "collapsed", "top_coverage")
    CLIP_INDEX_FIELD_NUMBER: _ClassVar[int]
    FRAME_INDICES_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    CONCEPT_MAP_FIELD_NUMBER: _ClassVar[int]
    HEATMAP_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_SCORE_FIELD_NUMBER: _ClassVar[int]
    TOP_CONCEPT_REMOVED_SCORE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_SCORE_FIELD_NUMBER: _ClassVar[int]
    SUPERVOXEL_COUNT_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TOP_CONCEPT_REMOVED_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TOP_CONCEPT_REMOVED_CLASS_FIELD_NUMBER: _ClassVar[int]
    COLLAPSED_FIELD_NUMBER: _ClassVar[int]
    TOP_COVERAGE_FIELD_NUMBER: _ClassVar[int]
    clip_index: int
    frame_indices: _containers.RepeatedScalarFieldContainer[int]
    region: Region
    scores: _containers.RepeatedCompositeFieldContainer[ClassScore]
    concepts: _containers.RepeatedCompositeFieldContainer[ConceptInstance]
    concept_map: Volume
    heatmap: Volume
    instance_score: float
    top_concept_removed_score: float
    baseline_score: float
    supervoxel_count: int
    instance_probability: float
    top_concept_removed_probability: float
    top_concept_removed_class: int
    collapsed: bool
    top_coverage: float
    def __init__(self, clip_index: _Optional[int] = ..., frame_indices: _Optional[_Iterable[int]] = ..., region: _Optional[_Union[Region, _Mapping]] = ..., scores: _Optional[_Iterable[_Union[ClassScore, _Mapping]]] = ..., concepts: _Optional[_Iterable[_Union[ConceptInstance, _Mapping]]] = ..., concept_map: _Optional[_Union[Volume, _Mapping]] = ..., heatmap: _Optional[_Union[Volume, _Mapping]] = ..., instance_score: _Optional[float] = ..., top_concept_removed_score: _Optional[float] = ..., baseline_score: _Optional[float] = ..., supervoxel_count: _Optional[int] = ..., instance_probability: _Optional[float] = ..., top_concept_removed_probability: _Optional[float] = ..., top_concept_removed_class: _Optional[int] = ..., collapsed: _Optional[bool] = ..., top_coverage: _Optional[float] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("model_name", "bank_id", "scores", "target_class", "target_index", "clips", "clip_count", "partial", "feature_mode", "timings_ms", "error", "scored_clips")
    class TimingsMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BANK_ID_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    TARGET_CLASS_FIELD_NUMBER: _ClassVar[int]
    TARGET_INDEX_FIELD_NUMBER: _ClassVar[int]
    CLIPS_FIELD_NUMBER: _ClassVar[int]
    CLIP_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    FEATURE_MODE_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SCORED_CLIPS_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    bank_id: str
    scores: _containers.RepeatedCompositeFieldContainer[ClassScore]
    target_class: str
    target_index: int
    clips: _containers.RepeatedCompositeFieldContainer[ClipExplanation]
    clip_count: int
    partial: bool
    feature_mode: str
    timings_ms: _containers.ScalarMap[str, float]
    error: Error
    scored_clips: int
    def __init__(self, model_name: _Optional[str] = ..., bank_id: _Optional[str] = ..., scores: _Optional[_Iterable[_Union[ClassScore, _Mapping]]] = ..., target_class: _Optional[str] = ..., target_index: _Optional[int] = ..., clips: _Optional[_Iterable[_Union[ClipExplanation, _Mapping]]] = ..., clip_count: _Optional[int] = ..., partial: _Optional[bool] = ..., feature_mode: _Optional[str] = ..., timings_ms: _Optional[_Mapping[str, float]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., scored_clips: _Optional[int] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("status", "reason", "message")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: int
    reason: str
    message: str
    def __init__(self, status: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
