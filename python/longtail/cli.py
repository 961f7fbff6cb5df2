"""The ``longtail`` command line: ``longtail demo`` and ``longtail report``.

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
    rep.add_argument("--force", action="store_true", help="overwrite existing output files")
    return parser


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
        rep = build_report(pred, counts, many=args.many, few=args.few, n_bins=args.bins)
    except (ReportInputError, FileExistsError) as e:
        return _fail("report", str(e))
    except OSError as e:  # unreadable file: permissions, a FIFO that fails, ...
        return _fail("report", f"{e.filename}: {e.strerror}")
    paths = write_report(rep, args.out)
    print(format_report(rep))
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
        run = _run_demo if args.command == "demo" else _run_report
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
