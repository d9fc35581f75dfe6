"""The command line's options and errors."""

import subprocess
import sys

import pytest

from nbdiag.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "nbdiag", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "args, option",
    [
        (["--gain", "0"], "--gain"),
        (["--gain", "-2"], "--gain"),
        (["--gain", "nan"], "--gain"),
        (["--gain", "1/0"], "--gain"),
        (["--gain", "abc"], "--gain"),
        (["--lr", "0"], "--lr"),
        (["--lr", "-1"], "--lr"),
        (["--steps", "0"], "--steps"),
        (["--steps", "2.5"], "--steps"),
        (["--seed", "-1"], "--seed"),
        (["--bogus"], "--bogus"),
        (["--lr", "1e400"], "--lr"),  # overflows a float: was a traceback with exit 1
        (["--gain", "1e400"], "--gain"),
    ],
)
def test_invalid_values_exit_nonzero_with_one_line_naming_the_option(args, option, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["tables", *args])
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip()
    assert option in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_data_file_is_one_line(tmp_path):
    result = run_cli("tables", "--data", str(tmp_path / "nope.txt"))
    assert result.returncode != 0 and "not found" in result.stderr and "Traceback" not in result.stderr


def test_prints_every_table_and_the_loss():
    result = run_cli("tables", "--steps", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for heading in ["# activations", "# gradients", "# weight gradients", "# update:data at the last step"]:
        assert heading in out
    assert out.count("grad:data ratio") == 7 and out.count("update:data log10") == 7
    assert out.strip().splitlines()[-1].startswith("loss ")


def test_diverged_run_exits_nonzero_and_says_where():
    result = run_cli("tables", "--activation", "linear", "--lr", "1000", "--steps", "30")
    assert result.returncode == 1 and "diverged at step" in result.stdout


def test_a_linear_sandwich_prints_no_saturation_figure():
    """A Linear layer has no flat part: its rows said 'saturated: 55.12%' (tanh's |t| > 0.97 count)."""
    result = run_cli("tables", "--activation", "linear")
    rows = [line for line in result.stdout.splitlines() if "(    Linear): mean" in line and "std 1.65" in line]
    assert rows and rows[0].endswith("saturated: n/a") and "%" not in rows[0]
