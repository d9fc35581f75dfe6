"""The names data set and the loader's errors."""

import random

import pytest

from nbdiag import data
from nbdiag.data import DataError, load_dataset, read_words


def test_names_split_as_in_the_lecture(dataset):
    assert len(dataset.words) == 32033
    assert dataset.vocab_size == 27 and dataset.itos[0] == "." and dataset.itos[1] == "a"
    n1, n2 = int(0.8 * 32033), int(0.9 * 32033)
    assert dataset.Xtr.shape == (182625, 3) and dataset.Xdev.shape == (22655, 3) and dataset.Xte.shape == (22866, 3)
    words = read_words()
    random.seed(42)
    random.shuffle(words)
    assert dataset.words[:n1][:5] == words[:5] and dataset.words[n2:] == words[n2:]


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


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_words(tmp_path / "nope.txt")


def test_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        read_words(tmp_path / "empty.txt")


def test_characters_outside_the_vocabulary(tmp_path):
    (tmp_path / "bad.txt").write_text("anna\n\nJo-Ann\n")
    with pytest.raises(DataError, match=r"line 3 \('Jo-Ann'\).*'-AJ'"):
        read_words(tmp_path / "bad.txt")


def test_data_dir_without_names(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError, match="NBDIAG_DATA_DIR.*no names.txt"):
        data.names_path()


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


def test_a_corrupt_download_is_a_clear_error(monkeypatch):
    import pooch

    def corrupt(url, known_hash, fname, path):
        raise ValueError("SHA256 hash of downloaded file (abc) does not match the known hash")

    monkeypatch.delenv(data.DATA_DIR_ENV)
    monkeypatch.setattr(pooch, "retrieve", corrupt)
    with pytest.raises(DataError, match="names.txt failed its check.*abc"):
        data.names_path()
