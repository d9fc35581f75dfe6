"""The names data set: words -> (context of 3 characters -> next character) examples, split 80/10/10."""

import os
import random
from dataclasses import dataclass
from pathlib import Path

import torch

NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
DATA_DIR_ENV = "NBDIAG_DATA_DIR"  # a directory holding names.txt; used instead of downloading
BLOCK_SIZE = 3  # characters of context that predict the next one
ALPHABET = "abcdefghijklmnopqrstuvwxyz"  # the vocabulary, with '.' marking a word's start and end


class DataError(ValueError):
    """A data file that is missing, corrupt, empty or not lower-case words."""


@dataclass
class Dataset:
    """Words, their character vocabulary and the train/dev/test examples built from them."""

    words: list  # after the lecture's shuffle
    itos: dict  # index -> character; 0 is '.', the start/end marker
    Xtr: torch.Tensor  # (N_train, BLOCK_SIZE) character indices
    Ytr: torch.Tensor  # (N_train,) index of the next character
    Xdev: torch.Tensor
    Ydev: torch.Tensor
    Xte: torch.Tensor
    Yte: torch.Tensor

    @property
    def vocab_size(self):
        return len(self.itos)


def _sha256(path):
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def names_path():
    """The verified names.txt: from $NBDIAG_DATA_DIR if set, else downloaded once with pooch."""
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        path = Path(data_dir) / "names.txt"
        if not path.is_file():
            raise DataError(f"{DATA_DIR_ENV}={data_dir} has no names.txt (looked for {path})")
        actual = _sha256(path)
        if actual != NAMES_SHA256:
            raise DataError(f"{path} is not the names data set: sha256 {actual}, expected {NAMES_SHA256}")
        return path
    import pooch

    try:
        return Path(
            pooch.retrieve(
                NAMES_URL, known_hash=f"sha256:{NAMES_SHA256}", fname="names.txt", path=pooch.os_cache("nbdiag")
            )
        )
    except ValueError as e:  # pooch's hash mismatch
        raise DataError(f"downloaded names.txt failed its check: {e}") from None


def read_words(path=None):
    """One word per line from `path` (default: the names data set), lower-case a-z only."""
    path = Path(path) if path is not None else names_path()
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    words = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        word = line.strip()
        bad = sorted(set(word) - set(ALPHABET))
        if bad:
            raise DataError(
                f"{path}, line {number} ({word!r}): characters outside the vocabulary a-z: "
                f"{''.join(bad)!r}; expected one lower-case word per line"
            )
        if word:
            words.append(word)
    if not words:
        raise DataError(f"data file is empty: {path}")
    return words


def build_examples(words, stoi):
    """Every (previous BLOCK_SIZE characters -> next character) pair in `words`, '.' padding the start and end."""
    X, Y = [], []
    for w in words:
        context = [0] * BLOCK_SIZE
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


def load_dataset(path=None):
    """The lecture's data: vocabulary from the words, shuffle with random.seed(42), split 80/10/10."""
    words = read_words(path)
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    rng = random.Random(42)  # the same sequence as random.seed(42); random.shuffle, without touching global state
    rng.shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return Dataset(
        words,
        itos,
        *build_examples(words[:n1], stoi),
        *build_examples(words[n1:n2], stoi),
        *build_examples(words[n2:], stoi),
    )
