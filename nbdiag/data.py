"""The names data set: words -> (context of 3 characters -> next character) examples, split 80/10/10."""

import hashlib
import os
import random
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
DATA_DIR_ENV = "NBDIAG_DATA_DIR"  # a directory holding names.txt; used instead of downloading
BLOCK_SIZE = 3  # characters of context that predict the next one
ALPHABET = "abcdefghijklmnopqrstuvwxyz"  # the vocabulary, with '.' marking a word's start and end
SPLITS = (0.8, 0.9)  # the lecture's split: the first 80% of the shuffled words train, the next 10% dev, the rest test
MIN_WORDS = 6  # the fewest words for which each of the three splits gets at least one (tests check it)
ONE_WORD_PER_LINE = "expected one lower-case word (a-z) per line"


class DataError(ValueError):
    """A data file that is missing, corrupt, empty or not lower-case words."""


@dataclass
class Dataset:
    """Words, their character vocabulary and the train/dev/test examples built from them."""

    words: list  # after the lecture's shuffle
    itos: dict  # index -> character; 0 is '.', the start/end marker
    Xtr: torch.Tensor  # (N_train, BLOCK_SIZE) character indices, int64
    Ytr: torch.Tensor  # (N_train,) index of the next character, int64
    Xdev: torch.Tensor
    Ydev: torch.Tensor
    Xte: torch.Tensor
    Yte: torch.Tensor

    @property
    def vocab_size(self):
        return len(self.itos)


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _file_type(mode):
    """What a file that is not a regular file is, in words."""
    types = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in types if test(mode)), "not a regular file")


def _read_bytes(path):
    """The bytes of the word file `path`, or a DataError saying what `path` is instead of a readable file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise DataError(
                f"data file not found: {path} is a broken symbolic link to {os.readlink(path)}; "
                "give the path of a file with one lower-case word per line"
            ) from None
        raise DataError(
            f"data file not found: {path}; give the path of a file with one lower-case word per line"
        ) from None
    except NotADirectoryError:
        raise DataError(f"data file not found: {path} (a folder in that path is a file); check the path") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; check the path and its folders' permissions") from None
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):  # a pipe, as from `--data <(grep ...)`, reads like a file
        raise DataError(
            f"{path} is {_file_type(mode)}, not a data file; give the path of a file with one lower-case word per line"
        )
    try:
        return Path(path).read_bytes()
    except PermissionError:
        raise DataError(
            f"cannot read {path}: permission denied; make it readable (chmod +r) or copy it to a folder of yours"
        ) from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; copy it to a local folder and try again") from None


def _decode(path, raw):
    """The text of `raw`, read from `path`, or a DataError if it is a binary file or not UTF-8."""
    if b"\0" in raw:  # text never holds a NUL byte; programs, images and archives do
        raise DataError(f"{path} is a binary file, not text; {ONE_WORD_PER_LINE}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:  # e.g. Latin-1 or Windows-1252 text: its accented letters are not UTF-8
        number = raw.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{path}, line {number}: byte 0x{raw[e.start]:02x} is not UTF-8 text (is it Latin-1?); {ONE_WORD_PER_LINE}"
        ) from None
    return text.removeprefix("\ufeff")  # the byte-order mark some Windows editors put first


def _check_characters(path, lines):
    """Raise the DataError naming the first of `lines` with a character outside a-z."""
    for number, line in enumerate(lines, start=1):
        word = line.strip()
        bad = sorted(set(word) - set(ALPHABET))
        if bad:
            raise DataError(
                f"{path}, line {number} ({word!r}): characters outside the vocabulary a-z: "
                f"{''.join(bad)!r}; expected one lower-case word per line"
            )


def read_words(path=None):
    """One word per line from `path` (default: the names data set), lower-case a-z only."""
    if path is not None and str(path) == "":  # Path("") is ".", the current directory
        raise DataError("the data file's path is empty; give the path of a file with one lower-case word per line")
    path = Path(path) if path is not None else names_path()
    lines = _decode(path, _read_bytes(path)).splitlines()
    words = [word for word in map(str.strip, lines) if word]
    if not words:
        raise DataError(f"data file is empty: {path}; put one lower-case word per line in it")
    letters = "".join(words)
    if not (letters.isascii() and letters.isalpha() and letters.islower()):  # only a-z, checked at C speed
        _check_characters(path, lines)
    return words


def names_path():
    """The verified names.txt: from $NBDIAG_DATA_DIR if set, else downloaded once with pooch."""
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        path = Path(data_dir) / "names.txt"
        if Path(data_dir).is_file():
            raise DataError(
                f"{DATA_DIR_ENV}={data_dir} is a file; set it to the folder that holds names.txt, not to the file"
            )
        if path.exists() and not path.is_file():
            raise DataError(
                f"{path} is {_file_type(path.stat().st_mode)}, not the names data set; put the file names.txt "
                f"there in its place, or point {DATA_DIR_ENV} at another folder"
            )
        if not path.is_file():
            raise DataError(
                f"{DATA_DIR_ENV}={data_dir} has no names.txt (looked for {path}): copy names.txt there, "
                f"or unset {DATA_DIR_ENV} to download it"
            )
        actual = hashlib.sha256(_read_bytes(path)).hexdigest()
        if actual != NAMES_SHA256:
            raise DataError(
                f"{path} is not the names data set: sha256 {actual}, expected {NAMES_SHA256}; "
                f"replace it with names.txt from {NAMES_URL}"
            )
        return path
    return _download()


def _download():
    """names.txt from the pooch cache, downloaded (again, if the cached copy is corrupt) when it is not there."""
    import pooch
    import requests

    cache = Path(pooch.os_cache("nbdiag"))
    cached = cache / "names.txt"
    corrupt = ""  # pooch downloads a cached copy again when its hash is wrong; say so if that fails
    if cached.is_file():
        try:
            actual = _sha256(cached)
        except OSError:
            actual = "unknown (unreadable)"
        if actual != NAMES_SHA256:
            corrupt = f"the cached copy {cached} is corrupt (sha256 {actual}, expected {NAMES_SHA256}) and "
    fix = f"set {DATA_DIR_ENV} to a folder holding a copy of names.txt (export {DATA_DIR_ENV}=/path/to/that/folder)"
    logger, records = pooch.get_logger(), []
    hold = records.append  # as a filter: it keeps each record and returns None, so pooch's logger drops it for now
    logger.addFilter(hold)  # "Downloading data from ...": shown once the download has worked, not above an error
    try:
        path = Path(pooch.retrieve(NAMES_URL, known_hash=f"sha256:{NAMES_SHA256}", fname="names.txt", path=cache))
    except OSError as e:  # requests' errors (no network, a proxy, HTTP 404) are OSErrors, so is a read-only cache
        if isinstance(e, requests.exceptions.HTTPError):
            reason = str(e)  # "404 Client Error: Not Found for url: ..."
        elif isinstance(e, requests.exceptions.RequestException):  # its text is often a paragraph of urllib3 internals
            short = len(str(e)) <= 60 and "\n" not in str(e)
            reason = f"{type(e).__name__}: {e}" if short else type(e).__name__
        else:  # the network was not to blame: the cache folder could not be made or written
            raise DataError(
                f"{corrupt}the names data set could not be saved into the cache folder {cache} "
                f"({type(e).__name__}: {e.strerror or e}); make that folder writable (or set XDG_CACHE_HOME to "
                f"a writable folder), or {fix}"
            ) from None
        raise DataError(
            f"{corrupt}the names data set could not be downloaded from {NAMES_URL} into {cache} "
            f"({' '.join(reason.split())}); connect to the internet, or {fix}"
        ) from None
    except ValueError as e:  # pooch's hash mismatch: "... expected sha256:<known> but got <actual>. Deleted ..."
        got = re.search(r"but got ([0-9a-fA-F]+)", str(e))
        what = f"sha256 {got.group(1)}, expected {NAMES_SHA256}" if got else " ".join(str(e).split())
        raise DataError(
            f"{corrupt}names.txt downloaded from {NAMES_URL} failed its check ({what}); pooch deleted it: "
            f"try again, or {fix}"
        ) from None
    finally:
        logger.removeFilter(hold)
    for record in records:  # downloaded: now show what pooch said
        logger.handle(record)
    return path


def _split_points(n):
    """Where the lecture cuts n shuffled words into training, dev and test words."""
    return int(SPLITS[0] * n), int(SPLITS[1] * n)


def build_examples(words, stoi):
    """Every (previous BLOCK_SIZE characters -> next character) pair in `words`, '.' padding the start and end.

    The same examples, in the same order, as the lecture's loop (which tests/test_data.py keeps as the reference):

        for w in words:
            context = [0] * BLOCK_SIZE
            for ch in w + ".":
                X.append(context); Y.append(stoi[ch]); context = context[1:] + [stoi[ch]]

    but built with numpy, about 40 bytes per character (the int64 tensors themselves), not a Python list per
    example (~130 bytes). `words` are ASCII words without '.'; `stoi` maps their characters and '.' to indices < 255.
    """
    n = sum(map(len, words)) + len(words)  # one example per character and per word's end
    X = torch.zeros((n, BLOCK_SIZE), dtype=torch.int64)
    Y = torch.empty(n, dtype=torch.int64)
    if n == 0:
        return X, Y
    text = (".".join(words) + ".").encode("ascii")  # every example's next character, in order
    table = bytearray(b"\xff") * 256
    for ch, ix in stoi.items():
        table[ord(ch)] = ix
    codes = np.frombuffer(text.translate(table), dtype=np.uint8)
    if (codes == 255).any():
        raise KeyError(chr(text[int(np.argmax(codes == 255))]))
    Y.numpy()[:] = codes
    end = np.frombuffer(text, dtype=np.uint8) == ord(".")  # the positions of each word's end marker
    inside = np.ones(n, dtype=bool)  # after step s: the character s places back is in the same word
    Xn = X.numpy()
    for s in range(1, BLOCK_SIZE + 1):
        inside[:s] = False
        inside[s:] &= ~end[:-s]
        np.multiply(codes[:-s], inside[s:], out=Xn[s:, BLOCK_SIZE - s])  # 0 (padding) where it is not
    return X, Y


def load_dataset(path=None):
    """The lecture's data: vocabulary from the words, shuffle with random.seed(42), split 80/10/10."""
    words = read_words(path)
    if len(words) < MIN_WORDS:
        where = path if path is not None else "the names data set"
        raise DataError(
            f"{where} has {len(words)} word{'s' if len(words) != 1 else ''}; at least {MIN_WORDS} are needed, one "
            "per line (the lesson splits the words 80/10/10 into training, dev and test words, each needs one)"
        )
    counts = np.bincount(np.frombuffer("".join(words).encode("ascii"), dtype=np.uint8), minlength=128)
    chars = [chr(c) for c in np.flatnonzero(counts)]  # sorted(set("".join(words))), without a set of 10M letters
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    rng = random.Random(42)  # the same sequence as random.seed(42); random.shuffle, without touching global state
    rng.shuffle(words)
    n1, n2 = _split_points(len(words))
    return Dataset(
        words,
        itos,
        *build_examples(words[:n1], stoi),
        *build_examples(words[n1:n2], stoi),
        *build_examples(words[n2:], stoi),
    )
