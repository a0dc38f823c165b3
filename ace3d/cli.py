"""The `ace3d` command line. Every command reports a problem the user can fix as one line on stderr and
exits with status 2, never with a traceback, and writes its output files only when it succeeds."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _model(args) -> object:
    from ace3d import models

    return models.load(args.model, layer=args.layer, device=args.device)


def _explainer(args):
    from ace3d.method import bank
    from ace3d.method.explainer import Explainer

    path = bank.path_for(args.model, args.bank)
    return Explainer(_model(args), bank.load(path) if path else None, removal=getattr(args, "removal", "input"),
                     precision=getattr(args, "precision", "auto"))


def cmd_synth(args) -> None:
    from ace3d.jobs.synth import SynthConfig, generate

    cfg = SynthConfig(look=args.look, cue=args.cue, cue_share=tuple(args.cue_share))
    generate(args.out, per_class=args.per_class, seed=args.seed, n_random=args.random, cfg=cfg)
    print(f"wrote synthetic videos to {args.out}")


def cmd_train(args) -> None:
    if args.init == "i3d_kinetics400":  # the Kinetics model adapted to the data's classes (jobs/transfer.py)
        from ace3d.jobs.transfer import TransferConfig, train_transfer

        rec = train_transfer(args.data, args.out, TransferConfig(still=args.still or 0.2, seed=args.seed),
                             test_data=args.test_data)
        for data, t in rec["training"]["tests"].items():
            print(f"test accuracy {t['accuracy']:.3f} on {t['videos']} videos of {data}")
        print(f"saved {Path(args.out).with_suffix('.pt')} and .json")
        return
    from ace3d.jobs.train import TrainConfig, train

    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, clip_shape=(16, args.size, args.size), lr=args.lr,
                      still=args.still, init=args.init)
    rec = train(args.data, args.out, cfg, test_data=args.test_data)
    acc = rec["training"].get("test_accuracy")
    tail = f"; test accuracy {acc:.3f}" if acc is not None else ""
    print(f"saved {Path(args.out).with_suffix('.pt')} and .json{tail}")


def cmd_build_bank(args) -> None:
    from ace3d.jobs.bank_params import BankParams
    from ace3d.method.concepts import ConceptParams
    from ace3d.method.slic_params import SlicParams

    clf = _model(args)
    classes = None if args.classes in (None, "all") else [c.strip() for c in args.classes.split(",") if c.strip()]
    params = BankParams(feature_mode=args.feature_mode, n_random_sets=args.random_sets,
                        slic=SlicParams(n_segments=tuple(args.n_segments), downscale=args.slic_downscale,
                                        method=args.slic_method, iterations=args.slic_iterations,
                                        compactness=args.compactness),
                        concepts=ConceptParams(n_clusters=args.clusters, min_members=args.min_members),
                        max_videos_per_class=args.max_videos, min_videos=args.min_videos)
    if args.engine == "ray":  # the same stages on a Ray cluster (ace3d/jobs/bank_ray.py)
        from ace3d.jobs.bank_ray import ModelSpec, build_ray

        result = build_ray(clf, ModelSpec(args.model, args.layer), args.data,
                           args.work_dir or Path(args.out).with_suffix(".work"), classes, params,
                           address=args.address, workers=args.workers, cpus_per_worker=args.cpus_per_worker)
    else:
        from ace3d.jobs.build_bank import build_local

        result = build_local(clf, args.data, classes, params, work_dir=args.work_dir)
    b = result.bank
    b.save(args.out)
    sig = int(b.significant().sum())
    print(result.report.summary())
    print(f"wrote {args.out}: {len(b.names)} concepts ({sig} significant at alpha {b.alpha}), "
          f"bank id {b.bank_id}, {b.meta['build_seconds']} s")


def cmd_explain(args) -> None:
    from ace3d import report, wire
    from ace3d.method import video
    from ace3d.method.explainer import Request

    explainer = _explainer(args)
    req = explainer.resolve(Request(target_class=args.target, top_k=args.top_k, max_concepts=args.max_concepts,
                                    max_clips=args.max_clips))  # an unknown class fails before any work
    v = video.read_file(args.video, video.limits_for(explainer.clf.clip_shape))
    exp, _ = explainer.explain(v, req)
    print(report.table(exp))
    if args.json:
        report.write_text(args.json, wire.to_json(exp))
        print(f"wrote {args.json}")
    if args.overlay:
        if report.overlay(v, exp, args.overlay):
            print(f"wrote {args.overlay}")


def cmd_report(args) -> None:
    from ace3d import report
    from ace3d.errors import OptionsError
    from ace3d.method import bank

    if args.video is None:  # the bank's concept gallery
        from ace3d.htmlreport import bank_page

        path = bank.path_for(args.model, args.bank)
        if path is None:
            raise OptionsError("give a bank (--bank FILE) or a VIDEO to explain")
        b, examples = bank.load(path), None
        if args.data:
            from ace3d.htmlreport.examples import find_examples

            examples = find_examples(_model(args), b, args.data, videos_per_class=args.example_videos)
        shown = path.resolve().relative_to(Path.cwd()) if path.resolve().is_relative_to(Path.cwd()) else path
        report.write_text(args.out, bank_page.render(b, examples, source=str(shown)))
    else:  # one video explained, with the comparison methods asked for
        from ace3d.evaluation.methods import METHODS
        from ace3d.htmlreport import explanation_page
        from ace3d.method import video
        from ace3d.method.explainer import Request

        names = [m.strip() for m in (args.methods or "").split(",") if m.strip()]
        unknown = [m for m in names if m not in METHODS]
        if unknown:
            raise OptionsError(f"unknown explanation method(s) {', '.join(unknown)}; use any of {', '.join(METHODS)}")
        explainer = _explainer(args)
        req = explainer.resolve(Request(target_class=args.target, top_k=args.top_k, max_clips=args.max_clips))
        v = video.read_file(args.video, video.limits_for(explainer.clf.clip_shape))
        exp, results, rankings = explanation_page.explain(explainer, v, req, names)
        report.write_text(args.out, explanation_page.render(exp, results, rankings, source=Path(args.video).name))
    print(f"wrote {args.out}")


def cmd_evaluate(args) -> None:
    from ace3d import report
    from ace3d.evaluation.faithfulness import evaluate
    from ace3d.evaluation.methods import AceMethod

    explainer = _explainer(args)
    if args.sanity or args.shortcut:
        res = _evaluate_checks(args, explainer)
    elif args.videos and args.methods:  # several methods on the same clips of real videos
        from ace3d.evaluation.real_video import compare_methods, methods_table

        res = compare_methods(explainer, args.videos, args.methods.split(","), max_clips=args.max_clips)
        print(methods_table(res))
    elif args.videos:  # real videos: no ground truth
        from ace3d.evaluation.real_video import evaluate_videos, plot

        res = evaluate_videos(explainer, args.videos, max_clips=args.max_clips)
        if args.figure:
            print(f"wrote {plot(res, args.figure)}")
    elif args.data and args.methods:  # several methods side by side on the same clips
        from ace3d.evaluation import methods
        from ace3d.evaluation.faithfulness import table

        res = {name: evaluate(explainer.engine, methods.build(name, explainer), args.data, limit=args.limit)
               for name in args.methods.split(",")}
        print(table(res))
    elif args.data:
        res = evaluate(explainer.engine, AceMethod(explainer), args.data, limit=args.limit)
    else:
        from ace3d.errors import Ace3dError

        raise Ace3dError("give --data DIR (a synthetic set with ground truth) or --videos FILE ... (real videos)")
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        report.write_text(args.json, text)


def _evaluate_checks(args, explainer) -> dict:
    """`evaluate --sanity` and `evaluate --shortcut`: the checks beyond the scores (evaluation/sanity.py and
    evaluation/shortcut.py)."""
    from ace3d.errors import Ace3dError
    from ace3d.evaluation import methods

    if not args.data:
        raise Ace3dError("--sanity and --shortcut need --data DIR (for --shortcut: the test set with the cue)")
    if args.sanity:
        from ace3d.evaluation import sanity

        names = (args.methods or "ace,grad_cam,integrated_gradients").split(",")
        seeds = tuple(int(s) for s in args.seeds.split(","))
        res = sanity.run(explainer, args.data, names, per_class=args.limit or 5, bank_data=args.bank_data,
                         seeds=seeds)
        print(sanity.table(res))
        return res
    from ace3d.evaluation import shortcut

    if not args.without_cue:
        raise Ace3dError("--shortcut CLASS needs --without-cue DIR: the same videos as --data without the cue "
                         "(`ace3d synth --cue none` with the same --seed)")
    names = (args.methods or "ace,grad_cam,integrated_gradients,occlusion,captum_feature_ablation,random").split(",")
    res = {"cue_model": shortcut.evaluate_shortcut(
        explainer.engine, {n: methods.build(n, explainer) for n in names}, args.data, args.without_cue,
        args.shortcut, limit=args.limit, bank=explainer.bank)}
    if args.control:
        from ace3d import models
        from ace3d.method.bank import load, path_for
        from ace3d.method.explainer import Explainer

        control_bank = path_for(args.control, args.control_bank)
        ctl = Explainer(models.load(args.control), load(control_bank) if control_bank else None,
                        removal=args.removal, precision=args.precision)
        res["control_model"] = shortcut.evaluate_shortcut(
            ctl.engine, {n: methods.build(n, ctl) for n in names}, args.data, args.without_cue, args.shortcut,
            limit=args.limit, bank=ctl.bank)
    print(shortcut.table(res["cue_model"], res.get("control_model")))
    return res


def cmd_bench(args) -> None:
    from ace3d import report
    from ace3d.evaluation.bench import bench
    from ace3d.evaluation.gpu_bench import synthetic_bench

    if args.random_model:
        res = synthetic_bench(args.random_model, args.device, repeats=args.repeats, concurrency=args.concurrency,
                              requests=args.requests, compare=args.baselines,
                              baseline_repeats=args.baseline_repeats)
    else:
        video = Path(args.video).read_bytes() if args.video else None
        res = bench(_explainer(args), repeats=args.repeats, baseline_repeats=args.baseline_repeats,
                    compare=not args.no_compare, data=args.data, auc_videos=args.auc_videos, video=video)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        report.write_text(args.json, text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ace3d", description="Spatio-temporal concept explanations of video models")
    sub = p.add_subparsers(dest="command", required=True)

    def model_args(sp, bank: bool = True) -> None:
        sp.add_argument("--model", default="demo", help="demo | x3d_xs|x3d_s|x3d_m|slow_r50:PATH | "
                        "r3d_18|mc3_18|r2plus1d_18|s3d:PATH | torchscript:PATH (default: demo)")
        sp.add_argument("--layer", default=None, help="bottleneck layer (default: the model's)")
        sp.add_argument("--device", default="cpu")
        if bank:
            sp.add_argument("--bank", default=None, help="concept bank file, or 'none' (default: the committed "
                            "bank with --model demo, none otherwise: each clip's own supervoxel groups)")
            sp.add_argument("--removal", choices=("input", "bottleneck", "ranked"), default="input",
                            help="how a concept is taken out: in the clip (default); in the bottleneck activation "
                            "with only the later layers re-run (faster; measured less faithful on the demo model); "
                            "ranked: ranked at the bottleneck, the self-check scores measured in the clip")
            sp.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                            help="precision of the perturbed forwards (auto: bfloat16 where the hardware has it; "
                            "predictions are always float32)")

    sp = sub.add_parser("synth", help="write a synthetic data set with ground-truth masks")
    sp.add_argument("--out", required=True)
    sp.add_argument("--per-class", type=int, default=50)
    sp.add_argument("--random", type=int, default=None, help="random videos (default: per-class)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--look", choices=("plain", "varied", "shifted"), default="plain",
                    help="plain: the default model's data; varied: more shapes, outlines, backgrounds, lighting, "
                    "distractors that move (for training); shifted: a look held out from training")
    sp.add_argument("--cue", default="none", help="plant a shortcut: a flickering corner square in most videos of "
                    "this class and few of the others; 'all' or 'none' for cue-swapped test sets (same seed)")
    sp.add_argument("--cue-share", type=float, nargs=2, default=(0.9, 0.05), metavar=("CLASS", "OTHERS"),
                    help="with --cue CLASS: share of that class's videos with the cue, and of the others'")
    sp.set_defaults(func=cmd_synth, computes=True)

    sp = sub.add_parser("train", help="train the default model on a synthetic data set")
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True, help="output path stem: writes .pt and .json")
    sp.add_argument("--test-data", nargs="+", default=None, help="test sets: accuracy on each")
    sp.add_argument("--epochs", type=int, default=14)
    sp.add_argument("--size", type=int, default=64, help="clip height and width")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (one-cycle schedule)")
    sp.add_argument("--still", type=float, default=0.0,
                    help="share of each batch made motionless and labelled no_motion (adds that class)")
    sp.add_argument("--init", default=None, help="model spec to start from, e.g. demo (fine-tuning), or "
                    "i3d_kinetics400: the Kinetics I3D cut at Mixed_3c with a new head for the data's classes")
    sp.set_defaults(func=cmd_train, computes=True)

    sp = sub.add_parser("build-bank", help="discover concepts and test them (TCAV) into a bank file")
    model_args(sp, bank=False)
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--classes", default="all", help="all, or a comma-separated list")
    sp.add_argument("--feature-mode", choices=("pooled", "ace"), default="pooled")
    sp.add_argument("--random-sets", type=int, default=20)
    sp.add_argument("--clusters", type=int, default=25)
    sp.add_argument("--min-members", type=int, default=20)
    sp.add_argument("--max-videos", type=int, default=0, help="videos per class (0: all)")
    sp.add_argument("--min-videos", type=int, default=2,
                    help="a class with fewer usable videos is left out of the bank, with a message")
    sp.add_argument("--engine", choices=("local", "ray"), default="local",
                    help="local: this process; ray: a Ray cluster (the same bank; docs/DEPLOY.md)")
    sp.add_argument("--address", default=None, help="with --engine ray: the cluster to join (default: start "
                    "a local Ray on this machine)")
    sp.add_argument("--work-dir", default=None, help="per-video results as shards, so a rerun resumes (every "
                    "Ray node must see it; default with --engine ray: OUT with the suffix .work; local: none)")
    sp.add_argument("--workers", type=int, default=0,
                    help="with --engine ray: map-stage actors (default: one per GPU, or per CPU without GPUs)")
    sp.add_argument("--cpus-per-worker", type=int, default=1, help="with --engine ray: CPUs (torch threads) "
                    "per map-stage actor")
    from ace3d.method.slic_params import SlicParams

    slic = SlicParams()
    sp.add_argument("--n-segments", type=int, nargs="+", default=list(slic.n_segments),
                    help="SLIC resolutions (default: %(default)s; the paper's: 15 50 80)")
    sp.add_argument("--slic-downscale", type=int, default=slic.downscale,
                    help="segment clips shrunk by this factor in H and W (default: %(default)s; the paper's: 1)")
    sp.add_argument("--slic-method", choices=("skimage", "torch"), default=slic.method,
                    help="torch: vectorised, runs on the model's device; skimage: the reference")
    sp.add_argument("--slic-iterations", type=int, default=slic.iterations)
    sp.add_argument("--compactness", type=float, default=slic.compactness,
                    help="SLIC compactness (higher: more regular shapes)")
    sp.set_defaults(func=cmd_build_bank, computes=True)

    sp = sub.add_parser("explain", help="explain one video: table, JSON and overlay")
    model_args(sp)
    sp.add_argument("video")
    sp.add_argument("--target", default=None, help="class to explain (default: the predicted one)")
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--max-concepts", type=int, default=0)
    sp.add_argument("--max-clips", type=int, default=1)
    sp.add_argument("--json", default=None)
    sp.add_argument("--overlay", default=None, help="animated GIF of heatmap and concept outlines")
    sp.set_defaults(func=cmd_explain, computes=True)

    sp = sub.add_parser("evaluate", help="faithfulness and localisation on a synthetic test set (--data), or "
                        "faithfulness without ground truth on real videos (--videos)")
    model_args(sp)
    sp.add_argument("--data", default=None, help="synthetic test set with ground-truth masks")
    sp.add_argument("--videos", nargs="+", default=None, help="real videos: top vs random concept, curves")
    sp.add_argument("--methods", default=None, help="with --data or --videos: methods side by side (ace, "
                    "reference, captum_feature_ablation, integrated_gradients, occlusion, grad_cam, random); one table")
    sp.add_argument("--max-clips", type=int, default=4, help="with --videos: clips per video")
    sp.add_argument("--figure", default=None, help="with --videos: write the curves as a PNG here")
    sp.add_argument("--json", default=None)
    sp.add_argument("--limit", type=int, default=0, help="videos per class (0: all; --sanity: 5)")
    sp.add_argument("--sanity", action="store_true", help="with --data: sanity checks (parameter randomisation "
                    "of --methods, random concepts, and with --bank-data bank stability over --seeds)")
    sp.add_argument("--bank-data", default=None, help="with --sanity: the bank's data, to build it again per seed")
    sp.add_argument("--seeds", default="0,1,2", help="with --sanity --bank-data: the seeds of the banks compared")
    sp.add_argument("--shortcut", default=None, metavar="CLASS", help="planted-shortcut benchmark: --data is a "
                    "test set with the cue in every video (`synth --cue all`), CLASS the class it was planted for")
    sp.add_argument("--without-cue", default=None, help="with --shortcut: the same videos without the cue")
    sp.add_argument("--control", default=None, help="with --shortcut: a model trained without the cue (spec)")
    sp.add_argument("--control-bank", default=None, help="with --control: its bank (default: none)")
    sp.set_defaults(func=cmd_evaluate, computes=True)

    sp = sub.add_parser("report", help="one self-contained HTML page to open in a browser: a bank's concept gallery "
                        "(no VIDEO), or VIDEO explained, with the comparison methods side by side")
    model_args(sp)
    sp.add_argument("video", nargs="?", default=None, help="the video to explain (none: report on the bank)")
    sp.add_argument("--out", default="report.html", help="the HTML file to write (default: %(default)s)")
    sp.add_argument("--methods", default=None, help="with VIDEO: comparison methods, comma-separated (the names "
                    "`ace3d evaluate --methods` takes)")
    sp.add_argument("--target", default=None, help="with VIDEO: class to explain (default: the predicted one)")
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--max-clips", type=int, default=1)
    sp.add_argument("--data", default=None, help="without VIDEO: videos per class (DIR/<class>/*.mp4) in which to "
                    "find each concept's example supervoxels again, to show them moving (needs the bank's --model)")
    sp.add_argument("--example-videos", type=int, default=8, help="with --data: videos per class to search")
    sp.set_defaults(func=cmd_report, computes=True)

    sp = sub.add_parser("bench", help="what an explanation costs beside a classification, the reference "
                        "pipeline and captum, and the deletion AUC that shows speed was not bought with faithfulness")
    model_args(sp)
    sp.add_argument("--repeats", type=int, default=7, help="timed runs of classification and explanation")
    sp.add_argument("--baseline-repeats", type=int, default=3, help="timed runs of the reference and captum")
    sp.add_argument("--no-compare", action="store_true", help="only classification and explanation")
    sp.add_argument("--data", default=None, help="synthetic test set for the deletion AUC (default: generate one)")
    sp.add_argument("--auc-videos", type=int, default=10, help="videos per class for the deletion AUC (0: skip)")
    sp.add_argument("--video", default=None, help="the clip to time (default: the synthetic default clip)")
    sp.add_argument("--random-model", choices=("x3d_s", "x3d_112", "tiny"), default=None,
                    help="time a random-weight X3D of this shape on --device instead (bench/gpu.sh; x3d_112: "
                    "the 16 x 112 x 112 X3D issue 5 measured)")
    sp.add_argument("--baselines", action="store_true",
                    help="with --random-model: also time the reference pipeline and captum (slow on a CPU)")
    sp.add_argument("--concurrency", type=int, default=8, help="callers for the throughput of --random-model")
    sp.add_argument("--requests", type=int, default=64,
                    help="explanations for the throughput of --random-model (0: skip)")
    sp.add_argument("--json", default=None)
    sp.set_defaults(func=cmd_bench, computes=True)

    # Serving commands live beside their code (local tooling, clients); none of these modules imports torch.
    from ace3d.serving import client, loadtest
    from ace3d.tooling import archive, server

    for mod in (archive, server, client, loadtest):
        mod.add_parser(sub)
    return p


def _joined_tokens(argv: list[str]) -> list[str]:
    """`--token KEY` as `--token=KEY`: TorchServe's random keys can start with '-', which argparse would take for
    an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--token" and i + 1 < len(argv):
            out.append(f"--token={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    import warnings

    # Libraries' deprecation chatter (torch.jit on pytorchvideo's import, ...) is not the user's business.
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(torch|torchvision|pytorchvideo|fvcore)\b")
    args = parser().parse_args(_joined_tokens(sys.argv[1:] if argv is None else argv))
    from ace3d.errors import Ace3dError

    if getattr(args, "computes", False):  # the serving commands are thin clients: no torch
        from ace3d.memory import keep_freed_memory

        keep_freed_memory()  # explanations allocate and free tens of MB each: see ace3d/memory.py

    t0 = time.time()
    try:
        args.func(args)
    except Ace3dError as exc:
        print(f"ace3d {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ace3d {args.command}: interrupted", file=sys.stderr)
        return 130
    if args.command in ("build-bank", "evaluate", "train"):
        print(f"done in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
