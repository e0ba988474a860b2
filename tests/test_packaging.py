"""What a pip-installed vsrtn holds and how it behaves where a piece is missing. (The wheel
installed outside the repository is exercised end to end by scripts/wheel_smoke.sh in CI.)"""
from __future__ import annotations

import subprocess
import sys
import zipfile

import vsrtn
from tests.conftest import ROOT
from vsrtn import data, doctor, weights

# Runs `code` in a Python where `import torch` fails as it does where torch is not installed.
NO_TORCH = "import sys; sys.modules['torch'] = None\n"


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_version_everywhere_is_the_package_version():
    out = subprocess.run([sys.executable, "-m", "vsrtn.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"vsrtn {vsrtn.__version__}"
    from importlib.metadata import version

    assert version("vsrtn") == vsrtn.__version__


def test_shipped_files_are_found_in_the_package_not_the_checkout():
    assert data.path().parent == ROOT / "vsrtn"  # the package folder, whatever the working directory
    assert weights.weights_dirs()[-1] == data.path("weights")
    from vsrtn.presets import available

    assert available() == ["heavy", "light", "medium"]
    assert {e.name for e in weights.list_weights()} >= {"rtn-compact", "rtn-compact-heavy", "rtn-color-compact"}


def test_wheel_holds_what_restore_colorize_and_doctor_need(tmp_path):
    out = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(tmp_path), str(ROOT)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("vsrtn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"vsrtn/data/{p.relative_to(data.path()).as_posix()}" for p in data.path().rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped - names == set()
    for needed in ("vsrtn/data/presets/medium.yaml", "vsrtn/data/weights/manifest.json",
                   "vsrtn/data/weights/rtn-compact.safetensors", "vsrtn/data/features/vgg16-relu3_3.safetensors",
                   "vsrtn/data/features/LICENSE.md", "vsrtn/data/sample/frame0.png"):
        assert needed in names
    assert not any(n.endswith((".pt", ".pth", ".jsonl")) or "/runs/" in n for n in names)
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_without_torch_the_plugin_says_how_to_install_it():
    out = run_python(NO_TORCH + "import vsrtn\ntry:\n    vsrtn.Restore\nexcept ImportError as e:\n    print(e)\n")
    assert out.returncode == 0, out.stderr
    assert "vsrtn needs PyTorch" in out.stdout and "pip install torch" in out.stdout


def test_without_torch_the_command_fails_with_the_install_advice(tmp_path):
    code = NO_TORCH + f"from vsrtn.cli import main; sys.exit(main(['restore', 'in.mkv', {str(tmp_path / 'o.mkv')!r}]))"
    out = run_python(code)
    assert out.returncode == 2
    assert "vsrtn restore: error: vsrtn needs PyTorch" in out.stderr
    assert "Traceback" not in out.stderr


def test_without_torch_doctor_fails_naming_it():
    out = run_python(NO_TORCH + "from vsrtn import doctor; sys.exit(doctor.run())")
    assert out.returncode == 1
    torch_line = next(l for l in out.stdout.splitlines() if l.split()[1:2] == ["torch"])
    assert torch_line.startswith("[FAIL]") and "pip install torch" in torch_line
    assert any(l.startswith("[FAIL] restore") for l in out.stdout.splitlines())


def test_doctor_restores_and_colorizes_the_sample():
    restore, colorize = doctor.check_restore(), doctor.check_colorize()
    assert restore.ok, restore.detail
    assert colorize.ok, colorize.detail


def test_doctor_fails_naming_a_damaged_installation(monkeypatch, tmp_path):
    broken = tmp_path / "weights"
    broken.mkdir()
    shipped = data.path("weights")
    (broken / "manifest.json").write_bytes((shipped / "manifest.json").read_bytes())
    (broken / "rtn-compact.safetensors").write_bytes(b"not the shipped file")
    monkeypatch.setattr(weights, "SHIPPED_WEIGHTS", broken)
    lines = []
    assert doctor.run(lines.append) == 1
    failed = {l.split()[1]: l for l in lines if l.startswith("[FAIL]")}
    assert "checksum mismatch" in failed["weights:rtn-compact"]
    assert "file is missing" in failed["weights:rtn-color-compact"]
    assert "restore" in failed  # the default weights cannot be loaded
