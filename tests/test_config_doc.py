"""The example configuration in docs/configuration.md is valid and means the defaults."""

from __future__ import annotations

import re
from pathlib import Path

from faxout.ops.settings import Settings, load_settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_documented_example_loads(tmp_path: Path) -> None:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    text = (
        block.group(1)
        .replace('"/etc/faxout/cert.pem"', f'"{tmp_path}/c"')
        .replace('"/etc/faxout/key.pem"', f'"{tmp_path}/k"')
    )
    config = tmp_path / "faxout.toml"
    config.write_text(text)
    loaded = load_settings(config)
    assert loaded == Settings()
