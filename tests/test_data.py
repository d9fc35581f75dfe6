"""The names data set and the loader's errors."""

import errno
import hashlib
import logging
import os
import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import requests
import torch

from nbdiag import cli, data
from nbdiag.data import DataError, load_dataset, read_words


def lecture_dataset(path):
    """The lecture's own code, kept as the reference the loader must match exactly."""
    words = open(path).read().splitlines()
    chars = sorted(list(set("".join(words))))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    state = random.getstate()
    random.seed(42)
    random.shuffle(words)
    random.setstate(state)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return words, stoi, [lecture_examples(part, stoi) for part in (words[:n1], words[n1:n2], words[n2:])]


def lecture_examples(words, stoi, block_size=3):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


def one_line_error(call, *args, naming=None):
    """The message of the DataError call(*args) raises, checked to be one line that names `naming`."""
    with pytest.raises(DataError) as err:
        call(*args)
    message = str(err.value)
    assert "\n" not in message and message.strip() == message
    if naming is not None:
        assert str(naming) in message
    return message


def test_names_split_as_in_the_lecture(dataset):
    assert len(dataset.words) == 32033
    assert dataset.vocab_size == 27 and dataset.itos[0] == "." and dataset.itos[1] == "a"
    n1, n2 = int(0.8 * 32033), int(0.9 * 32033)
    assert dataset.Xtr.shape == (182625, 3) and dataset.Xdev.shape == (22655, 3) and dataset.Xte.shape == (22866, 3)
    words = read_words()
    random.seed(42)
    random.shuffle(words)
    assert dataset.words[:n1][:5] == words[:5] and dataset.words[n2:] == words[n2:]


def test_names_are_exactly_the_lectures_examples(dataset):
    words, stoi, splits = lecture_dataset(data.names_path())
    assert dataset.words == words and dataset.itos == {i: s for s, i in stoi.items()}
    ours = [(dataset.Xtr, dataset.Ytr), (dataset.Xdev, dataset.Ydev), (dataset.Xte, dataset.Yte)]
    for (X, Y), (X_ref, Y_ref) in zip(ours, splits):
        assert X.dtype == Y.dtype == torch.int64  # the lessons index an embedding; F.cross_entropy wants int64
        assert torch.equal(X, X_ref) and torch.equal(Y, Y_ref)


def test_examples_match_the_lectures_loop_for_short_and_long_words():
    rng = random.Random(0)
    words = ["a", "b", "ab", "abc", "abcd", "zyxwvutsrq"] + [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(1, 12))) for _ in range(500)
    ]
    stoi = {s: i + 1 for i, s in enumerate("abcdefghijklmnopqrstuvwxyz")} | {".": 0}
    for part in (words, words[:1], words[-3:], []):
        X, Y = data.build_examples(part, stoi)
        X_ref, Y_ref = lecture_examples(part, stoi)
        assert X.shape == (len(Y_ref), 3) and X.dtype == Y.dtype == torch.int64
        assert X.tolist() == X_ref.tolist() and Y.tolist() == Y_ref.tolist()


def test_examples_slide_a_context_of_three(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("ab\n")
    X, Y = data.build_examples(["ab"], {".": 0, "a": 1, "b": 2})
    assert X.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2]] and Y.tolist() == [1, 2, 0]


def test_any_word_file_works(tmp_path):
    f = tmp_path / "words.txt"
    f.write_text("\n".join(["cat", "dog", "bird", "fish", "cow", "hen", "owl", "bee", "ant", "yak"]) + "\n")
    ds = load_dataset(f)
    assert ds.vocab_size == len(set("catdogbirdfishcowhenowlbeeantyak")) + 1
    assert len(ds.Ytr) + len(ds.Ydev) + len(ds.Yte) == sum(len(w) + 1 for w in ds.words)


def test_windows_line_ends_and_byte_order_mark(tmp_path):
    (tmp_path / "w.txt").write_bytes(b"\xef\xbb\xbfemma\r\nolivia\r\n")
    assert read_words(tmp_path / "w.txt") == ["emma", "olivia"]


def test_a_pipe_reads_like_a_file(tmp_path):  # `--data <(grep ^a names.txt)`
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def write():
        try:
            fifo.write_text("anna\nava\n")
        except BrokenPipeError:  # read_words failed without reading it
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        assert read_words(fifo) == ["anna", "ava"]
    finally:
        if writer.is_alive():  # let the writer's open() return, whatever read_words did
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=5)


def test_missing_file(tmp_path):
    one_line_error(read_words, tmp_path / "nope.txt", naming=tmp_path / "nope.txt")
    with pytest.raises(DataError, match="not found"):
        read_words(tmp_path / "nope.txt")


def test_a_broken_link_and_a_file_used_as_a_folder(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone.txt")
    assert "broken symbolic link" in one_line_error(read_words, tmp_path / "link", naming=tmp_path / "gone.txt")
    (tmp_path / "file").write_text("anna\n")
    assert "is a file" in one_line_error(read_words, tmp_path / "file" / "w.txt", naming=tmp_path / "file")


def test_a_directory_says_so(tmp_path):
    message = one_line_error(read_words, tmp_path, naming=tmp_path)
    assert "is a directory" in message and "not found" not in message


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null here")
def test_a_device_says_so():
    message = one_line_error(read_words, "/dev/null", naming="/dev/null")
    assert "is a character device" in message and "not found" not in message


def test_an_empty_path_says_so():  # `--data ""`: Path("") is ".", and it said "data file not found: ."
    message = one_line_error(load_dataset, "")
    assert "path is empty" in message and "not found" not in message


def test_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        read_words(tmp_path / "empty.txt")
    one_line_error(read_words, tmp_path / "empty.txt", naming=tmp_path / "empty.txt")


def test_characters_outside_the_vocabulary(tmp_path):
    (tmp_path / "bad.txt").write_text("anna\n\nJo-Ann\n")
    with pytest.raises(DataError, match=r"line 3 \('Jo-Ann'\).*'-AJ'"):
        read_words(tmp_path / "bad.txt")
    (tmp_path / "utf8.txt").write_text("anna\nzoë\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2 \('zoë'\).*'ë'"):
        read_words(tmp_path / "utf8.txt")


def test_a_binary_file_says_so(tmp_path):
    (tmp_path / "prog").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\xd0\x8f\xff\n")  # the start of /bin/ls
    assert "binary file" in one_line_error(read_words, tmp_path / "prog", naming=tmp_path / "prog")


def test_latin1_text_names_the_line_and_byte(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("anna\nzoë\n".encode("latin-1"))
    message = one_line_error(read_words, tmp_path / "latin1.txt", naming=tmp_path / "latin1.txt")
    assert "line 2" in message and "0xeb" in message and "UTF-8" in message


@pytest.mark.parametrize(
    "error, says",
    [(PermissionError(errno.EACCES, "Permission denied"), "permission denied"), (OSError(errno.EIO, "I/O"), "I/O")],
)
def test_an_unreadable_file_says_so(tmp_path, monkeypatch, error, says):
    (tmp_path / "w.txt").write_text("anna\n")

    def refuse(self):
        raise error

    monkeypatch.setattr(Path, "read_bytes", refuse)  # chmod 000 stops no one when the tests run as root
    assert says in one_line_error(read_words, tmp_path / "w.txt", naming=tmp_path / "w.txt")


def split_sizes(n):
    n1, n2 = int(0.8 * n), int(0.9 * n)
    return n1, n2 - n1, n - n2


def test_min_words_is_the_fewest_that_fill_every_split():
    assert min(split_sizes(data.MIN_WORDS - 1)) == 0
    assert all(min(split_sizes(n)) >= 1 for n in range(data.MIN_WORDS, 100_000))


@pytest.mark.parametrize("count", [1, 2, data.MIN_WORDS - 1])
def test_too_few_words_says_how_many_are_needed(tmp_path, count):
    (tmp_path / "w.txt").write_text("anna\n" * count)  # one word: the training split was empty, torch.randint failed
    message = one_line_error(load_dataset, tmp_path / "w.txt", naming=tmp_path / "w.txt")
    assert f"has {count} word" in message and f"at least {data.MIN_WORDS}" in message and "80/10/10" in message


def test_the_fewest_words_give_every_split_examples(tmp_path):
    (tmp_path / "w.txt").write_text("".join(f"{'ab'[i % 2] * (i + 1)}\n" for i in range(data.MIN_WORDS)))
    ds = load_dataset(tmp_path / "w.txt")
    assert len(ds.Ytr) and len(ds.Ydev) and len(ds.Yte)


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda tmp: tmp / "bin", "binary file"),
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: "/dev/null", "is a character device"),
        (lambda tmp: "", "path is empty"),
        (lambda tmp: tmp / "one.txt", "has 1 word"),
    ],
)
def test_the_command_line_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys, make, says):
    (tmp_path / "bin").write_bytes(bytes(range(256)))
    (tmp_path / "one.txt").write_text("emma\n")
    monkeypatch.setattr(cli.kernels, "pinned_environment", lambda cpu, environ: None)  # run here, not in a child
    assert cli.main(["tables", "--data", str(make(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nbdiag: error: ") and says in err and len(err.splitlines()) == 1


def test_a_binary_file_on_the_command_line_gives_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "nbdiag", "tables", "--data", sys.executable], capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("nbdiag: error: ") and len(result.stderr.splitlines()) == 1


LOAD_AND_MEASURE = textwrap.dedent(
    """
    import resource, sys
    from nbdiag.data import load_dataset
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    ds = load_dataset(sys.argv[1])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    print(after - before, after, len(ds.Ytr) + len(ds.Ydev) + len(ds.Yte))
    """
)


def test_a_10_mb_word_list_loads_in_well_under_1_gb(tmp_path):
    """The int64 examples take 32 bytes per character (320 MB here), the words ~65 bytes each (100 MB); the
    Python lists of lists this replaced took ~125 bytes per character (1.2 GB more, and 17 s instead of ~1.5 s)."""
    rng = np.random.default_rng(0)
    letters = rng.integers(ord("a"), ord("z") + 1, size=10_000_000, dtype=np.uint8)
    ends = np.cumsum(rng.integers(4, 10, size=len(letters) // 4))
    letters[ends[ends < len(letters)]] = ord("\n")
    letters[-1] = ord("\n")
    (tmp_path / "words.txt").write_bytes(letters.tobytes())
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_MEASURE, str(tmp_path / "words.txt")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    added, peak, examples = map(int, result.stdout.split())
    assert examples == len(letters)  # one example per character and per end of word
    assert added < 600e6, f"loading 10 MB of words raised the peak memory by {added / 1e6:.0f} MB"
    assert peak < 1e9, f"peak memory {peak / 1e6:.0f} MB"


def test_data_dir_without_names(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError, match="NBDIAG_DATA_DIR.*no names.txt"):
        data.names_path()


def test_data_dir_set_to_the_file_itself(tmp_path, monkeypatch):
    (tmp_path / "names.txt").write_text("emma\n")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "names.txt"))
    assert "is a file" in one_line_error(data.names_path, naming=tmp_path / "names.txt")


def test_data_dir_with_a_wrong_file_names_both_hashes(tmp_path, monkeypatch):
    (tmp_path / "names.txt").write_text("emma\nolivia\n")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError) as err:
        data.names_path()
    message = str(err.value)
    assert str(tmp_path / "names.txt") in message and data.NAMES_SHA256 in message
    assert data._sha256(tmp_path / "names.txt") in message


def test_default_fetches_with_pooch_and_checks_the_hash(monkeypatch, tmp_path):
    import pooch

    calls = {}

    def fake_retrieve(url, known_hash, fname, path):
        calls.update(url=url, known_hash=known_hash)
        return str(shared)

    shared = data.names_path()  # the real file, from NBDIAG_DATA_DIR
    monkeypatch.delenv(data.DATA_DIR_ENV)
    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    assert data.names_path() == shared
    assert calls == {"url": data.NAMES_URL, "known_hash": f"sha256:{data.NAMES_SHA256}"}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No NBDIAG_DATA_DIR, pooch's cache in tmp_path/nbdiag, and pooch.retrieve as the test sets it: no network."""
    import pooch

    monkeypatch.delenv(data.DATA_DIR_ENV)
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path / project)

    def set_retrieve(retrieve):
        monkeypatch.setattr(pooch, "retrieve", retrieve)

    return set_retrieve


NO_NETWORK = requests.exceptions.ConnectionError(
    "HTTPSConnectionPool(host='raw.githubusercontent.com', port=443): Max retries exceeded with url: "
    '/karpathy/makemore/master/names.txt (Caused by NameResolutionError("Failed to resolve"))'
)


def test_no_network_and_no_cached_copy(offline):
    def no_network(url, known_hash, fname, path):
        raise NO_NETWORK

    offline(no_network)
    message = one_line_error(data.names_path, naming=data.NAMES_URL)
    assert "could not be downloaded" in message and "ConnectionError" in message
    assert f"set {data.DATA_DIR_ENV} to a folder holding a copy of names.txt" in message
    assert "Max retries" not in message and "cached copy" not in message


def test_no_network_through_the_command_line(offline, monkeypatch, capsys):
    def no_network(url, known_hash, fname, path):
        raise NO_NETWORK

    offline(no_network)
    monkeypatch.setattr(cli.kernels, "pinned_environment", lambda cpu, environ: None)
    assert cli.main(["tables"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nbdiag: error: ") and "could not be downloaded" in err and len(err.splitlines()) == 1


def test_a_corrupt_cached_copy_is_named_with_its_hash(offline, tmp_path):
    def no_network(url, known_hash, fname, path):  # pooch downloads a cached copy with the wrong hash again
        raise NO_NETWORK

    offline(no_network)
    (tmp_path / "nbdiag").mkdir()
    (tmp_path / "nbdiag" / "names.txt").write_text("emma\nolivia\n")
    message = one_line_error(data.names_path, naming=tmp_path / "nbdiag" / "names.txt")
    assert f"corrupt (sha256 {data._sha256(tmp_path / 'nbdiag' / 'names.txt')}" in message
    assert data.NAMES_SHA256 in message and "could not be downloaded" in message


def test_a_corrupt_download_names_its_hash(offline):
    import pooch

    def corrupt(url, known_hash, fname, path):  # what pooch does with a download whose hash is wrong
        tmp = Path(path) / "download.tmp"
        Path(path).mkdir(parents=True, exist_ok=True)
        tmp.write_text("<html>captive portal</html>")
        try:
            pooch.hashes.hash_matches(str(tmp), known_hash, strict=True, source=fname)  # raises pooch's ValueError
        finally:
            tmp.unlink()
        raise AssertionError("pooch accepted a file with the wrong hash")

    offline(corrupt)
    message = one_line_error(data.names_path)
    assert "names.txt downloaded from" in message and "failed its check" in message
    expected = hashlib.sha256(b"<html>captive portal</html>").hexdigest()
    assert f"sha256 {expected}, expected {data.NAMES_SHA256}" in message


def test_a_corrupt_download_in_another_wording_keeps_pooch_s_words(offline):
    def corrupt(url, known_hash, fname, path):
        raise ValueError("SHA256 hash of downloaded file (abc) does not match the known hash")

    offline(corrupt)
    with pytest.raises(DataError, match="names.txt downloaded from .* failed its check.*abc"):
        data.names_path()


def test_a_read_only_cache_says_so(offline):
    def read_only(url, known_hash, fname, path):
        raise PermissionError("| Pooch could not create data cache folder '/x'. Will not be able to download.")

    offline(read_only)
    message = one_line_error(data.names_path)
    assert "PermissionError" in message and "writable" in message and "internet" not in message


def test_a_names_txt_that_is_a_folder_is_called_one(monkeypatch, tmp_path):
    (tmp_path / "names.txt").mkdir()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    message = one_line_error(data.names_path)
    assert "is a directory, not the names data set" in message and "has no names.txt" not in message


def test_pooch_s_download_line_shows_only_when_the_download_works(offline, tmp_path):
    import pooch

    shown = []
    handler = logging.Handler()
    handler.emit = lambda record: shown.append(record.getMessage())
    pooch.get_logger().addHandler(handler)
    try:

        def fails(url, known_hash, fname, path):
            pooch.get_logger().info("Downloading data from %r", url)
            raise NO_NETWORK

        offline(fails)
        one_line_error(data.names_path)
        assert shown == []

        def works(url, known_hash, fname, path):
            pooch.get_logger().info("Downloading data from %r", url)
            return str(tmp_path / "names.txt")

        offline(works)
        assert data.names_path() == tmp_path / "names.txt"
        assert shown == [f"Downloading data from {data.NAMES_URL!r}"]
    finally:
        pooch.get_logger().removeHandler(handler)
