"""Every ```python block of README.md and of the user guide (docs/guide/*.md) runs as
printed.

Each block is known by a key: ``"<nearest heading above it> | <its first code line>"``
(the first line that is not blank, a comment or an import, without a trailing comment;
when an earlier block under the same heading has that key, the block's first line that
makes it unique).
``BLOCKS`` maps every key to how the block runs:

- ``Block()``: self-contained, it runs as printed;
- ``Block(setup=...)``: ``setup`` defines only what a reader must supply (a dataset, a
  model, a loader, ``train_labels``, ``path``, ...) and runs first, in the same namespace;
- ``Block(..., ddp=True)``: setup + block run on 2 processes (gloo on 127.0.0.1, env://
  variables set as torchrun does), with a hard timeout;
- ``check=``: code run after the block (same namespace) asserting what its comments claim.

Adding a README block = adding its one-line entry here, e.g. ``"Select | x = ...": Block(),``
(run this file: a block without an entry fails, shows its key, and says whether it ran as
printed). An entry whose block is gone fails too, so the table cannot drift.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guide"
DDP_TIMEOUT_S = 240  # two torch imports on a loaded 2-core machine


@dataclass(frozen=True)
class Block:
    setup: str = ""
    check: str = ""
    ddp: bool = False


# --------------------------------------------------------------------------- stand-ins

_CHECKPOINT_SETUP = """
import os
import torch

class LongTailed(torch.utils.data.Dataset):
    targets = [0] * 300 + [1] * 60 + [2] * 12
    def __len__(self):
        return len(self.targets)
    def __getitem__(self, i):
        return torch.full((4,), float(i)), self.targets[i]

dataset = LongTailed()
model = torch.nn.Linear(4, 3)
start_epoch, epochs = 0, 2
path = os.path.join(OUT, f"checkpoint-{os.environ['RANK']}.pt")
"""

_CHECKPOINT_CHECK = """
import torch.distributed as dist
assert (sampler.num_replicas, sampler.rank) == (2, dist.get_rank())
ckpt = torch.load(path)
state = ckpt["sampler"]
# the last save: epoch 1, step 0, after the loader took one batch of 64 indices
assert (state["epoch"], state["yielded"], state["pinned"]) == (1, 64, True), state
restarted = ClassBalancedSampler(dataset.targets, power=0.5, seed=42)
restarted.load_state_dict(ckpt["sampler"])
restarted.set_epoch(1)  # the loop's set_epoch after a restart keeps the position
full = ClassBalancedSampler(dataset.targets, power=0.5, seed=42)
full.set_epoch(1)
assert list(restarted) == full.indices()[64:].tolist()
"""

_EVAL_SETUP = """
import torch
import torch.distributed as dist
from torch.utils.data import TensorDataset

dist.init_process_group("gloo")
torch.manual_seed(0)  # the same stand-in data and model on both ranks
num_classes = 4
y_all = torch.randint(0, num_classes, (103,))  # 103 rows: DistributedSampler pads one copy
test_set = TensorDataset(torch.randn(103, 8) + 2 * y_all[:, None].float(), y_all)
train_counts = [500, 120, 30, 5]
model = torch.nn.Linear(8, num_classes)
"""

_EVAL_CHECK = """
cm = metrics["confmat"].compute()
assert int(cm.sum()) == 103, cm  # every row once: the padded copy is not counted
assert 0.0 <= float(metrics["auroc"].compute()) <= 1.0
"""

BLOCKS = {
    "Samplers | labels = torch.cat([torch.zeros(900), torch.ones(90), torch.full((10,), 2)]).long()": Block(  # noqa: E501
        check="""
counts = torch.bincount(y, minlength=3)
assert (counts > 15).all(), counts  # about a third of each class in the last batch
for _, yb in batches:
    assert sorted(torch.bincount(yb, minlength=3).tolist()) == [8, 8, 8]
"""
    ),
    'Samplers | dist.init_process_group("gloo")': Block(
        setup=_CHECKPOINT_SETUP, check=_CHECKPOINT_CHECK, ddp=True
    ),
    "Evaluating under DDP | class WithIndex(Dataset):": Block(
        setup=_EVAL_SETUP, check=_EVAL_CHECK, ddp=True
    ),
    "Clustering | X = np.random.default_rng(0).normal(size=(10_000, 64)).astype(np.float32)": Block(  # noqa: E501
        check="assert 1 <= km.n_iter_ < 300 and len(set(parent.tolist())) == len(set(y.tolist()))"
    ),
    "Losses | counts = np.bincount(train_labels)": Block(
        setup="""
import numpy as np, torch
train_labels = np.repeat(np.arange(4), [50, 20, 8, 2])
model = torch.nn.Linear(8, 4).to("cuda" if torch.cuda.is_available() else "cpu")
loader = [(torch.randn(16, 8), torch.randint(0, 4, (16,)))]
""",
        check="""
assert torch.isfinite(loss)
w = criterion.weight.cpu()
assert w[3] > w[0]  # after epoch 160: class-balanced weights favour the rare class
""",
    ),
    "Losses | y = np.repeat(np.arange(10), 100)": Block(),
    "Is this tail class really better? | rng = np.random.default_rng(0)": Block(),
    "Data selection | rng = np.random.default_rng(0)": Block(),
    "Data selection | logits = rng.normal(size=(5_000, 10)).astype(np.float32) * 3": Block(),
    "Metrics | rng = np.random.default_rng(0)": Block(),
    "Label issues | rng = np.random.default_rng(0)": Block(),
    "Label issues | rng = np.random.default_rng(1)": Block(),
    "Label issues | rng = np.random.default_rng(2)": Block(),
    "Data selection | image_ids = rng.integers(0, 2_000, 30_000)": Block(),
    "Data selection | num_classes, num_unlabeled, num_labeled = 10, 50_000, 5_000": Block(),
    "Native inputs: float32, torch tensors, logits, CUDA | probs = torch.softmax(torch.randn(1000, 10), dim=1)": Block(),  # noqa: E501
    "Detection mAP (COCO and LVIS) | train_image_counts = np.array([500, 40, 3, 250, 7])": (
        Block()
    ),
}


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Example:
    key: str
    code: str
    line: int  # line of the block's first code line in its file
    path: Path = README


def _code_lines(code: str) -> list[str]:
    """The block's lines that are not blank, comments or imports, without trailing comments."""
    out, in_import = [], False  # inside the parentheses of a multi-line import
    for raw in code.splitlines():
        line = raw.strip()
        if in_import:
            in_import = ")" not in line
            continue
        if re.match(r"(import|from)\s", line):
            in_import = "(" in line and ")" not in line
            continue
        if not line or line.startswith("#"):
            continue
        out.append(re.sub(r"\s+#.*$", "", line))
    return out or ["(no code)"]


def _key(heading: str, code: str, taken: set[str]) -> str:
    """``heading | first code line``; when an earlier block under the same heading has
    that key, the first line of this block that makes it unique."""
    for line in _code_lines(code):
        key = f"{heading} | {line}"
        if key not in taken:
            return key
    return f"{heading} | {_code_lines(code)[0]}"


def readme_examples(
    text: str | None = None, path: Path = README, known: dict | None = None
) -> list[Example]:
    """The python blocks of ``path`` (README.md by default).

    ``known`` maps (heading, code) of blocks read before (from other files) to their keys:
    a block seen before is left out (it is the same example and runs once), and a new
    block's key differs from all of theirs.
    """
    text = path.read_text(encoding="utf-8") if text is None else text
    known = {} if known is None else known
    out, heading, fence, body, start = [], "(top)", None, [], 0
    for no, line in enumerate(text.splitlines(), 1):
        if fence is None:
            if line.startswith("```"):
                fence, body, start = line[3:].strip(), [], no + 1
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
        elif line.startswith("```"):
            if fence == "python":
                code = "\n".join(body) + "\n"
                if (heading, code) not in known:
                    key = _key(heading, code, set(known.values()))
                    known[(heading, code)] = key
                    out.append(Example(key, code, start, path))
            fence = None
        else:
            body.append(line)
    assert fence is None, f"{path.name}: a ``` fence is never closed"
    return out


def _all_examples() -> list[Example]:
    """README's blocks, then the guide's (docs/guide/*.md) that README does not repeat."""
    known: dict = {}
    out = readme_examples(known=known)
    for page in sorted(GUIDE.glob("*.md")):
        out += readme_examples(path=page, known=known)
    return out


EXAMPLES = _all_examples()


def _compile(example: Example, block: Block) -> list:
    # Blank lines in front so a traceback points at the README's own line numbers.
    return [
        compile(textwrap.dedent(block.setup), f"<stand-in for {example.key}>", "exec"),
        compile("\n" * (example.line - 1) + example.code, str(example.path), "exec"),
        compile(textwrap.dedent(block.check), f"<check for {example.key}>", "exec"),
    ]


def run_example(example: Example, block: Block, out_dir: str) -> dict:
    ns: dict = {"__name__": "__readme__", "OUT": out_dir}
    for code in _compile(example, block):
        exec(code, ns)
    return ns


# --------------------------------------------------------------------------- tests


def test_parser_keys_headings_and_skips_other_languages():
    text = textwrap.dedent(
        """\
        # Top
        ```bash
        # not a heading
        pip install x
        ```
        ## Part
        ```python
        import numpy as np

        # comment
        x = np.arange(3)   # trailing
        ```
        """
    )
    (ex,) = readme_examples(text)
    assert ex.key == "Part | x = np.arange(3)" and ex.line == 8
    assert len({e.key for e in EXAMPLES}) == len(EXAMPLES), "two README blocks share a key"
    assert len(EXAMPLES) >= 5


def test_every_readme_block_has_an_entry_and_every_entry_a_block(tmp_path, monkeypatch):
    keys = [e.key for e in EXAMPLES]
    stale = sorted(set(BLOCKS) - set(keys))
    assert not stale, f"BLOCKS entries without a README block (update the key): {stale}"
    unknown = [e for e in EXAMPLES if e.key not in BLOCKS]
    if unknown:
        monkeypatch.chdir(tmp_path)
        lines = []
        for e in unknown:
            try:
                run_example(e, Block(), str(tmp_path))
                verdict = "runs as printed: add `Block()`"
            except Exception as exc:  # noqa: BLE001 - reported, then the test fails
                verdict = f"does not run as printed ({type(exc).__name__}: {exc}): add stand-ins"
            lines.append(f"  {e.key!r} ({e.path.name}:{e.line}) {verdict}")
        pytest.fail("README blocks without an entry in BLOCKS:\n" + "\n".join(lines))


LOCAL = [e for e in EXAMPLES if e.key in BLOCKS and not BLOCKS[e.key].ddp]
DDP = [e for e in EXAMPLES if e.key in BLOCKS and BLOCKS[e.key].ddp]


@pytest.mark.parametrize("example", LOCAL, ids=[e.key[:60] for e in LOCAL])
def test_readme_example_runs_as_printed(example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_example(example, BLOCKS[example.key], str(tmp_path))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """All DDP blocks, one after the other, in one launch of 2 gloo processes (one torch
    import per rank); ``{key: None or the failing rank's log}``."""
    tmp = tmp_path_factory.mktemp("readme_ddp")
    keys = [e.key for e in DDP]
    ports = [str(_free_port()) for _ in keys]
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "MASTER_ADDR": "127.0.0.1",
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "OMP_NUM_THREADS": "1",
            "CUDA_VISIBLE_DEVICES": "",  # gloo on CPU, as printed, whatever the machine
        }
        args = [
            sys.executable,
            __file__,
            "WORKER",
            str(tmp),
            *(x for kp in zip(keys, ports) for x in kp),
        ]
        procs.append(
            subprocess.Popen(
                args, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        )
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=DDP_TIMEOUT_S)[0].decode(errors="replace"))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
            p.communicate()
        pytest.fail(f"README DDP examples did not finish within {DDP_TIMEOUT_S} s")
    results = {}
    for i, key in enumerate(keys):
        failed = [
            f"rank {r} (exit status {p.returncode}):\n{log[-4000:]}"
            for r, (p, log) in enumerate(zip(procs, logs))
            if not (tmp / f"done-{i}-{r}").exists()
        ]
        results[key] = "\n".join(failed) or None
    return results


@pytest.mark.slow  # one 2-process launch for all DDP blocks: two torch imports
@pytest.mark.parametrize("example", DDP, ids=[e.key[:60] for e in DDP])
def test_readme_ddp_example_runs_on_two_gloo_ranks(example, ddp_runs):
    assert ddp_runs[example.key] is None, ddp_runs[example.key]


def _worker(out_dir: str, keys_and_ports: list[str]) -> None:
    import warnings

    import torch.distributed as dist

    warnings.simplefilter("error")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="torch")
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.distributed")
    examples = {e.key: e for e in _all_examples()}
    rank = os.environ["RANK"]
    for i, (key, port) in enumerate(zip(keys_and_ports[::2], keys_and_ports[1::2])):
        os.environ["MASTER_PORT"] = port  # a fresh store per block
        try:
            run_example(examples[key], BLOCKS[key], out_dir)
            dist.barrier()
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()
        Path(out_dir, f"done-{i}-{rank}").write_text("ok")


if __name__ == "__main__" and len(sys.argv) >= 3 and sys.argv[1] == "WORKER":
    _worker(sys.argv[2], sys.argv[3:])
