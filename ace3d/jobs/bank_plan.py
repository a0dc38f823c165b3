"""What a bank build will do and what it did, read by the driver (bank_driver.py): the list of videos (each
with its shard key), which videos and classes are usable once the map stage has run, and the report a person
reads at the end (videos computed or resumed, videos skipped with the reason, classes left out, time per
stage)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ace3d.datasets import RANDOM_DIR, list_videos, random_videos
from ace3d.errors import Ace3dError
from ace3d.jobs import bank_shards as shards
from ace3d.jobs.bank_params import BankParams
from ace3d.jobs.bank_stages import RANDOM
from ace3d.models import Classifier


@dataclass(frozen=True)
class VideoJob:
    """One unit of the map stage: a video, its class (or the random set) and the name of its shard."""

    path: str
    cls: str
    target: int
    key: str


@dataclass
class Plan:
    randoms: list[VideoJob]
    classes: dict[str, list[VideoJob]]

    @property
    def jobs(self) -> list[VideoJob]:
        """Random videos first, then each class's in order: the order the map stage is given them."""
        return self.randoms + [j for js in self.classes.values() for j in js]


def make_plan(clf: Classifier, data: str | Path, classes: list[str] | None, params: BankParams) -> Plan:
    """The videos of a build, checked against the model before any work."""
    data = Path(data)
    videos = list_videos(data, classes)
    unknown = [c for c in videos if c not in clf.class_names]
    if unknown:
        raise Ace3dError(f"class folders {unknown} are not classes of the model ({clf.class_names[:8]}...)")
    if not videos:
        raise Ace3dError(f"no class videos found under {data}")
    randoms = random_videos(data)
    if len(randoms) < 2:
        raise Ace3dError(f"need random videos for CAVs in {data / RANDOM_DIR} (at least 2; "
                         f"`ace3d synth` writes them)")

    def job(p: Path, cls: str, target: int) -> VideoJob:
        return VideoJob(str(p), cls, target, shards.key(p, target, clf, params))

    per_class = {}
    for cname, paths in videos.items():
        if params.max_videos_per_class:
            paths = paths[: params.max_videos_per_class]
        target = clf.class_names.index(cname)
        per_class[cname] = [job(p, cname, target) for p in paths]
    return Plan([job(p, RANDOM_DIR, RANDOM) for p in randoms], per_class)


@dataclass
class BuildReport:
    """What happened in a build; `summary()` is printed at its end."""

    engine: str
    workers: int = 1
    total: int = 0
    computed: int = 0
    resumed: int = 0  # read back from shards of an earlier run
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (video, reason)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (class, reason)
    work: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # summed over workers
    wall: dict[str, float] = field(default_factory=dict)  # per stage, on the driver's clock
    video_times: list[float] = field(default_factory=list)  # when each computed video finished, from stage start

    def add_work(self, seconds: dict[str, float]) -> None:
        for k, v in seconds.items():
            self.work[k] += v

    def throughput(self) -> str:
        """The map stage's start-up (until the first video: workers loading the model) apart from its rate."""
        t = self.video_times
        if len(t) < 2 or t[-1] <= t[0]:
            return ""
        return (f"videos: first after {t[0]:.1f} s, then {(len(t) - 1) / (t[-1] - t[0]):.2f} videos/s "
                f"({len(t) - 1} videos in {t[-1] - t[0]:.1f} s)")

    def summary(self) -> str:
        lines = [f"engine {self.engine} ({self.workers} worker{'s' if self.workers != 1 else ''}): "
                 f"{self.total} videos, {self.computed} computed, {self.resumed} resumed from shards, "
                 f"{len(self.skipped)} skipped"]
        wall = ", ".join(f"{k} {v:.1f} s" for k, v in self.wall.items())
        lines.append(f"wall time per stage: {wall}")
        if self.throughput():
            lines.append(self.throughput())
        if self.work:
            work = ", ".join(f"{k} {v:.1f} s" for k, v in self.work.items())
            lines.append(f"work per step (summed over workers, this run): {work}")
        for video, reason in self.skipped:
            lines.append(f"skipped video {video}: {reason}")
        for cls, reason in self.left_out:
            lines.append(f"left out class {cls}: {reason}")
        return "\n".join(lines)


def usable(plan: Plan, errors: dict[str, str], params: BankParams, report: BuildReport) -> Plan:
    """The plan less the videos the map stage could not use (`errors`: shard key -> reason, "" when fine) and
    less the classes left with fewer than `params.min_videos` usable videos; both are recorded in `report`."""
    def keep(jobs: list[VideoJob]) -> list[VideoJob]:
        out = []
        for j in jobs:
            if errors[j.key]:
                report.skipped.append((j.path, errors[j.key]))
            else:
                out.append(j)
        return out

    randoms = keep(plan.randoms)
    if len(randoms) < 2:
        raise Ace3dError(f"only {len(randoms)} usable random videos (need at least 2 for CAVs); "
                         + "; ".join(f"{p}: {r}" for p, r in report.skipped))
    classes = {}
    for cname, jobs in plan.classes.items():
        ok = keep(jobs)
        if len(ok) < params.min_videos:
            report.left_out.append((cname, f"{len(ok)} usable videos of {len(jobs)}, fewer than the "
                                           f"{params.min_videos} a concept needs (--min-videos); not in the bank"))
        else:
            classes[cname] = ok
    if not classes:
        raise Ace3dError("no class has enough usable videos: " + "; ".join(f"{c}: {r}" for c, r in report.left_out))
    return Plan(randoms, classes)


def extra_meta(report: BuildReport) -> dict:
    """What a bank records of a build's problems: nothing when there were none (the bank of a clean build does
    not depend on the engine or on resuming)."""
    meta = {}
    if report.skipped:
        meta["skipped_videos"] = [{"video": f"{Path(v).parent.name}/{Path(v).name}", "reason": r}
                                  for v, r in report.skipped]
    if report.left_out:
        meta["classes_left_out"] = [c for c, _ in report.left_out]
    return meta
