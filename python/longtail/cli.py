"""The ``longtail`` command line: ``longtail demo``, ``longtail report`` and
``longtail compare``.

``longtail demo`` shows, on data bundled with scikit-learn, what the library's recipes
do for tail classes; ``longtail report FILE`` analyses predictions saved by the user.
Both print a table and write PNG plots and a Markdown report to ``--out``, never
overwriting existing files without ``--force``. Errors in the input are one line on
stderr naming the file and the place, with exit status 1 (2 for bad options).

>>> build_parser().parse_args(["demo", "--seeds", "1"]).seeds
1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import longtail

__all__ = ["build_parser", "main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 1:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be >= 1 (1 = balanced), got {text}")
    return value


def _threshold(text: str) -> int:
    # Shot thresholds are class sizes: whole numbers, as metrics.shot_accuracy expects.
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``longtail`` (sub-commands ``demo`` and ``report``).

    >>> args = build_parser().parse_args(["report", "preds.csv", "--few", "5"])
    >>> args.command, args.file, args.few, args.many
    ('report', 'preds.csv', 5, 100)
    """
    from longtail.demo import RECIPES, DemoConfig

    parser = argparse.ArgumentParser(
        prog="longtail",
        description="Tools for class-imbalanced, long-tailed data. "
        "Run 'longtail demo' to see what they do for tail classes.",
    )
    parser.add_argument("--version", action="version", version=f"longtail {longtail.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    d = DemoConfig()
    demo = sub.add_parser(
        "demo",
        help="train on long-tailed digits with and without longtail's recipes, compare",
        description="Build a long-tailed training set from scikit-learn's bundled digits "
        "(no download) and a balanced test set, train a small MLP with plain cross-entropy "
        "and with longtail's recipes (same budget), print balanced accuracy, "
        "many/medium/few-shot accuracy and ECE averaged over seeds, and write plots and a "
        "Markdown report to --out.",
    )
    demo.add_argument(
        "--imbalance-ratio",
        type=_ratio,
        default=d.imbalance_ratio,
        metavar="IF",
        help="largest / smallest training class (default: %(default)g)",
    )
    demo.add_argument(
        "--profile",
        choices=("exp", "step", "linear", "zipf"),
        default=d.profile,
        help="how class sizes fall from the largest to the smallest class "
        "(longtail.datasets.long_tailed_indices; default: %(default)s)",
    )
    demo.add_argument(
        "--seeds",
        type=_positive_int,
        default=d.seeds,
        metavar="N",
        help="number of seeds to average over (default: %(default)s)",
    )
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=d.epochs,
        metavar="N",
        help="training epochs per model, same for every recipe (default: %(default)s)",
    )
    demo.add_argument(
        "--many",
        type=_threshold,
        default=d.many,
        metavar="N",
        help="many-shot classes have more than N training examples (default: %(default)g)",
    )
    demo.add_argument(
        "--few",
        type=_threshold,
        default=d.few,
        metavar="N",
        help="few-shot classes have fewer than N training examples (default: %(default)g)",
    )
    demo.add_argument(
        "--recipes",
        default=",".join(RECIPES),
        metavar="LIST",
        help="comma-separated subset of: " + ", ".join(RECIPES) + " (default: all)",
    )
    demo.add_argument(
        "--out",
        default="longtail-demo",
        metavar="DIR",
        help="output folder for plots and report (default: ./%(default)s/)",
    )
    demo.add_argument("--force", action="store_true", help="overwrite existing output files")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    rep = sub.add_parser(
        "report",
        help="per-class report, shot groups, calibration and plots for saved predictions",
        description="Read predictions from a CSV file (header with y_true, and y_pred "
        "and/or one score column per class: all other columns, or those named "
        "score_<class>) or an .npz file (arrays y_true and scores, optionally "
        "train_counts). Print the per-class table, many/medium/few-shot recall, ECE and "
        "ROC/PR AUC; write plots, per_class.csv and a Markdown report to --out.",
    )
    rep.add_argument("file", metavar="FILE", help="predictions, .csv or .npz")
    rep.add_argument(
        "--train-counts",
        metavar="FILE",
        help="training-class sizes: .npy, .npz (train_counts), or text with "
        "one count per line in class order or 'class,count' lines",
    )
    rep.add_argument(
        "--many",
        type=_threshold,
        default=100,
        metavar="N",
        help="many-shot: more than N training examples (default: %(default)g)",
    )
    rep.add_argument(
        "--few",
        type=_threshold,
        default=20,
        metavar="N",
        help="few-shot: fewer than N training examples (default: %(default)g)",
    )
    rep.add_argument(
        "--bins",
        type=_positive_int,
        default=15,
        metavar="N",
        help="confidence bins for ECE and the reliability diagram (default: %(default)s)",
    )
    rep.add_argument(
        "--out",
        default="longtail-report",
        metavar="DIR",
        help="output folder for plots and report (default: ./%(default)s/)",
    )
    rep.add_argument(
        "--confidence",
        type=_confidence,
        default=0.95,
        metavar="P",
        help="level of the Wilson intervals of per-class recall (default: %(default)g)",
    )
    rep.add_argument("--force", action="store_true", help="overwrite existing output files")

    # --- longtail compare (issue 16) ---
    cmp = sub.add_parser(
        "compare",
        help="per-class changes between two models' predictions on the same test set",
        description="Read two prediction files on the same test set (formats as for "
        "'longtail report'). Per class, print both recalls, the change B - A with a paired "
        "bootstrap interval, McNemar's exact p-value and, after Holm's correction across "
        "classes, which classes changed significantly; write compare.md, "
        "per_class_delta.csv and a plot of the change against training-class size to --out.",
    )
    cmp.add_argument("file_a", metavar="A", help="predictions of model A, .csv or .npz")
    cmp.add_argument("file_b", metavar="B", help="predictions of model B, same test set")
    cmp.add_argument(
        "--train-counts",
        metavar="FILE",
        help="training-class sizes (x axis of the plot), as for 'longtail report'",
    )
    cmp.add_argument(
        "--confidence",
        type=_confidence,
        default=0.95,
        metavar="P",
        help="interval level; significance at 1 - P after Holm (default: %(default)g)",
    )
    cmp.add_argument(
        "--resamples",
        type=_positive_int,
        default=2000,
        metavar="N",
        help="bootstrap resamples (default: %(default)s)",
    )
    cmp.add_argument("--seed", type=_threshold, default=0, metavar="N", help="bootstrap seed")
    cmp.add_argument(
        "--many",
        type=_threshold,
        default=100,
        metavar="N",
        help="shade many-shot classes, more than N training examples (default: %(default)g)",
    )
    cmp.add_argument(
        "--few",
        type=_threshold,
        default=20,
        metavar="N",
        help="shade few-shot classes, fewer than N training examples (default: %(default)g)",
    )
    cmp.add_argument(
        "--out",
        default="longtail-compare",
        metavar="DIR",
        help="output folder for the plot, CSV and report (default: ./%(default)s/)",
    )
    cmp.add_argument("--force", action="store_true", help="overwrite existing output files")
    return parser


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {text}")
    return value


def _fail(command: str, message: str) -> int:
    # One line, as the issue asks: the message already names the file and the place.
    print(f"longtail {command}: error: {message}", file=sys.stderr)
    return 1


def _run_demo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from longtail.demo import (
        RECIPES,
        DemoConfig,
        demo_output_paths,
        format_demo_table,
        run_demo,
        write_demo_outputs,
    )
    from longtail.report import check_not_overwriting

    recipes = tuple(r.strip() for r in args.recipes.split(",") if r.strip())
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown or not recipes:
        parser.error(
            f"--recipes: unknown {unknown or 'empty list'}; choose from {', '.join(RECIPES)}"
        )
    if "logit-adjust" in recipes and "ce" not in recipes:
        parser.error("--recipes: logit-adjust corrects the cross-entropy model; add ce")
    if args.few > args.many:
        parser.error(f"--few ({args.few:g}) must not exceed --many ({args.many:g})")
    try:
        check_not_overwriting(list(demo_output_paths(args.out).values()), force=args.force)
    except FileExistsError as e:
        return _fail("demo", str(e))

    config = DemoConfig(
        imbalance_ratio=args.imbalance_ratio,
        profile=args.profile,
        seeds=args.seeds,
        epochs=args.epochs,
        many=args.many,
        few=args.few,
        recipes=recipes,
    )
    start = time.perf_counter()
    progress = not args.quiet and sys.stderr.isatty()
    result = run_demo(config, progress=progress)
    # Files first, then the printout: a closed pipe (| head) must not lose the outputs.
    paths = write_demo_outputs(result, args.out)
    print(format_demo_table(result))
    print(
        f"\nWrote {', '.join(str(p) for p in paths.values())} "
        f"({time.perf_counter() - start:.0f} s)."
    )
    return 0


def _run_report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from longtail.report import (
        ReportInputError,
        build_report,
        check_not_overwriting,
        format_report,
        read_predictions,
        read_train_counts,
        report_output_paths,
        write_report,
    )

    if args.few > args.many:
        parser.error(f"--few ({args.few:g}) must not exceed --many ({args.many:g})")
    try:
        # Check the outputs first, so that a refused run costs nothing.
        check_not_overwriting(list(report_output_paths(args.out).values()), force=args.force)
        pred = read_predictions(args.file)
        counts = None
        if args.train_counts is not None:
            numbered = [str(k) for k in range(pred.n_classes)]
            if pred.scores is None and pred.class_names == numbered:
                # Labels only: the file cannot say how many classes there are (the
                # largest may never occur in it), so the training counts decide.
                counts = read_train_counts(args.train_counts)
                if counts.size > pred.n_classes:
                    pred.class_names = [str(k) for k in range(counts.size)]
            counts = read_train_counts(args.train_counts, pred.class_names)
        rep = build_report(
            pred,
            counts,
            many=args.many,
            few=args.few,
            n_bins=args.bins,
            confidence=args.confidence,
        )
    except (ReportInputError, FileExistsError) as e:
        return _fail("report", str(e))
    except OSError as e:  # unreadable file: permissions, a FIFO that fails, ...
        return _fail("report", f"{e.filename}: {e.strerror}")
    paths = write_report(rep, args.out)
    print(format_report(rep))
    print(f"\nWrote {', '.join(str(p) for p in paths.values())}.")
    return 0


def _run_compare(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from longtail.compare import (
        build_comparison,
        compare_output_paths,
        format_comparison,
        write_comparison,
    )
    from longtail.report import (
        ReportInputError,
        check_not_overwriting,
        read_predictions,
        read_train_counts,
    )

    if args.few > args.many:
        parser.error(f"--few ({args.few:g}) must not exceed --many ({args.many:g})")
    try:
        check_not_overwriting(list(compare_output_paths(args.out).values()), force=args.force)
        a = read_predictions(args.file_a)
        b = read_predictions(args.file_b)
        counts = None
        if args.train_counts is not None:
            labels_only = [p for p in (a, b) if p.scores is None]
            if len(labels_only) == 2:
                # As in report: with labels only, the training counts say how many classes.
                n = read_train_counts(args.train_counts).size
                for p in (a, b):
                    if p.class_names == [str(k) for k in range(p.n_classes)] and n > p.n_classes:
                        p.class_names = [str(k) for k in range(n)]
            counts = read_train_counts(args.train_counts, a.class_names)
        cmp = build_comparison(
            a,
            b,
            counts,
            n_resamples=args.resamples,
            confidence=args.confidence,
            seed=args.seed,
            many=args.many,
            few=args.few,
        )
    except (ReportInputError, FileExistsError) as e:
        return _fail("compare", str(e))
    except OSError as e:
        return _fail("compare", f"{e.filename}: {e.strerror}")
    paths = write_comparison(cmp, args.out)
    print(format_comparison(cmp))
    print(f"\nWrote {', '.join(str(p) for p in paths.values())}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    >>> main(["report", "no-such-file.csv"])  # the one-line error goes to stderr
    1
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stdout)
        return 0
    try:
        run = {"demo": _run_demo, "report": _run_report, "compare": _run_compare}[args.command]
        status = run(args, parser)
        # Flush here, inside the try: a pipe closed by its reader fails at this flush
        # (stdout is block-buffered when piped), not at the print calls.
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        print(f"longtail {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (| head): not an error of ours. Point stdout at devnull so
        # that the interpreter's final flush does not raise again (Python docs, "SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
